import { createHash, randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ComposeError } from '../../common/errors';
import type { RpmPackage } from '../rpm/model';
import { placeLocalPackages } from './local-import';

/**
 * Where an RPM comes from: a file of a local repository (which must resolve inside `roots`,
 * the real paths of allowed_repo_roots), or a stream such as a download.
 */
export type RpmOrigin = { kind: 'local'; file: string; roots: readonly string[] } | { kind: 'stream'; open(signal?: AbortSignal): Promise<Readable> };

/** Node's names of the checksum types repository metadata uses. */
const HASHES: Record<string, string> = { sha256: 'sha256', sha: 'sha1', sha1: 'sha1', md5: 'md5', sha512: 'sha512', sha384: 'sha384', sha224: 'sha224' };

export class ChecksumMismatch extends ComposeError {
  override name = 'ChecksumMismatch';
}

function algorithmOf(pkg: RpmPackage): string {
  const algorithm = HASHES[pkg.checksum.type.toLowerCase()];
  if (!algorithm) throw new ChecksumMismatch(`${path.basename(pkg.location)}: unsupported checksum type ${pkg.checksum.type}`);
  return algorithm;
}

/** One package to put at `dest`. */
export interface Placement {
  pkg: RpmPackage;
  origin: RpmOrigin;
  dest: string;
}

/**
 * RPMs stored once, under their checksum (`<root>/<type>/<ab>/<checksum>.rpm`), verified when
 * they enter, and hard-linked into every compose that uses them (copied only across file
 * systems). Files of local repositories on the same file system enter as hard links too, so
 * their bytes exist once on disk; such a file must not be rewritten in place (RPM tooling never
 * does), and if it were, clients would notice: the compose's repodata has its checksum.
 */
export class PackageStore {
  private readonly dirs = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {}

  pathOf(checksum: { type: string; value: string }): string {
    const value = checksum.value.toLowerCase();
    return path.join(this.root, checksum.type.toLowerCase(), value.slice(0, 2), `${value}.rpm`);
  }

  /** Places every package; returns how many distinct packages had to enter the store. Fails on the first problem. */
  async placeAll(placements: readonly Placement[], signal?: AbortSignal): Promise<{ imported: number }> {
    const local = placements.filter((p): p is Placement & { origin: { kind: 'local' } } => p.origin.kind === 'local');
    const streamed = placements.filter((p) => p.origin.kind === 'stream');
    const imported = new Set<string>();
    const results = await placeLocalPackages(
      local.map(({ pkg, origin, dest }) => ({
        file: origin.file,
        roots: origin.roots,
        stored: this.pathOf(pkg.checksum),
        dest,
        algorithm: algorithmOf(pkg),
        expected: pkg.checksum.value.toLowerCase(),
        name: path.basename(pkg.location),
      })),
    );
    results.forEach((r, i) => {
      if ('error' in r) throw r.kind === 'checksum' ? new ChecksumMismatch(r.error) : new ComposeError(r.error);
      if (!r.reused) imported.add(local[i].pkg.checksum.value);
    });
    // Downloads: one at a time per package, several packages at once.
    const first = new Map<RpmPackage, Promise<unknown>>();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(8, streamed.length) }, async () => {
        while (next < streamed.length) {
          const { pkg, origin, dest } = streamed[next++];
          const earlier = first.get(pkg);
          if (earlier) await earlier.catch(() => undefined);
          const placing = this.placeStreamed(pkg, origin as Extract<RpmOrigin, { kind: 'stream' }>, dest, signal);
          if (!earlier) first.set(pkg, placing);
          if (!(await placing).reused) imported.add(pkg.checksum.value);
        }
      }),
    );
    return { imported: imported.size };
  }

  private ensureDir(dir: string): Promise<unknown> {
    let p = this.dirs.get(dir);
    if (!p) {
      p = mkdir(dir, { recursive: true });
      this.dirs.set(dir, p);
      p.catch(() => this.dirs.delete(dir));
    }
    return p;
  }

  private async placeStreamed(pkg: RpmPackage, origin: Extract<RpmOrigin, { kind: 'stream' }>, dest: string, signal?: AbortSignal): Promise<{ reused: boolean }> {
    const stored = this.pathOf(pkg.checksum);
    if (await linkOrCopy(stored, dest)) return { reused: true };
    const algorithm = algorithmOf(pkg);
    await this.ensureDir(path.dirname(stored));
    const tmp = path.join(path.dirname(stored), `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      const hash = createHash(algorithm);
      const source = await origin.open(signal);
      source.on('data', (chunk: Buffer) => hash.update(chunk));
      await pipeline(source, createWriteStream(tmp, { mode: 0o644 }), { signal });
      const actual = hash.digest('hex');
      if (actual !== pkg.checksum.value.toLowerCase()) {
        throw new ChecksumMismatch(`${path.basename(pkg.location)}: ${pkg.checksum.type} checksum is ${actual}, the repository metadata says ${pkg.checksum.value}`);
      }
      await rename(tmp, stored);
    } finally {
      await rm(tmp, { force: true });
    }
    if (!(await linkOrCopy(stored, dest))) throw new ComposeError(`${stored} vanished from the package store`);
    return { reused: false };
  }
}

/** Links (or, across file systems, copies) `from` to `to`; false if `from` does not exist. */
async function linkOrCopy(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    await copyFile(from, to, constants.COPYFILE_FICLONE);
    return true;
  }
}
