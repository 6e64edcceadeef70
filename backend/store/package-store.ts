import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RpmPackage } from '../rpm/model';

/** Where an RPM can be read from. */
export interface RpmOrigin {
  open(signal?: AbortSignal): Promise<Readable>;
  /** The local file it is, if it is one: the stored copy keeps its modification time. */
  file?: string;
}

const HASHES: Record<string, string> = { sha256: 'sha256', sha: 'sha1', sha1: 'sha1', md5: 'md5', sha512: 'sha512', sha384: 'sha384', sha224: 'sha224' };

export class ChecksumMismatch extends Error {
  override name = 'ChecksumMismatch';
}

/**
 * RPMs stored once, under their checksum (`<root>/<type>/<ab>/<checksum>.rpm`), verified when
 * they enter, and hard-linked into every compose that uses them (copied only across file
 * systems). A package whose link count falls to 1 is used by no compose any more.
 */
export class PackageStore {
  constructor(readonly root: string) {}

  pathOf(checksum: { type: string; value: string }): string {
    const value = checksum.value.toLowerCase();
    return path.join(this.root, checksum.type.toLowerCase(), value.slice(0, 2), `${value}.rpm`);
  }

  /**
   * The store path of `pkg`, importing it from `origin` first if it is not there: the bytes are
   * hashed as they are copied and must match the checksum of the package's metadata.
   * Returns whether it was already stored.
   */
  async ensure(pkg: RpmPackage, origin: RpmOrigin, signal?: AbortSignal): Promise<{ path: string; reused: boolean }> {
    const target = this.pathOf(pkg.checksum);
    try {
      await stat(target);
      return { path: target, reused: true };
    } catch {
      // not stored yet
    }
    const algorithm = HASHES[pkg.checksum.type.toLowerCase()];
    if (!algorithm) throw new ChecksumMismatch(`${path.basename(pkg.location)}: unsupported checksum type ${pkg.checksum.type}`);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(path.dirname(target), `.tmp-${randomBytes(6).toString('hex')}`);
    const hash = createHash(algorithm);
    try {
      const source = await origin.open(signal);
      source.on('data', (chunk: Buffer) => hash.update(chunk));
      await pipeline(source, createWriteStream(tmp, { mode: 0o644 }), { signal });
      const actual = hash.digest('hex');
      if (actual !== pkg.checksum.value.toLowerCase()) {
        throw new ChecksumMismatch(
          `${path.basename(pkg.location)}: ${pkg.checksum.type} checksum is ${actual}, the repository metadata says ${pkg.checksum.value}`,
        );
      }
      if (origin.file) {
        // Same modification time as the source, so createrepo_c can reuse its metadata.
        const s = await stat(origin.file);
        await utimes(tmp, s.atime, s.mtime);
      }
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { path: target, reused: false };
  }

  /** Puts a stored package at `dest` (a hard link; a copy across file systems). */
  async place(storePath: string, dest: string): Promise<void> {
    try {
      await link(storePath, dest);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
      await copyFile(storePath, dest);
    }
  }
}
