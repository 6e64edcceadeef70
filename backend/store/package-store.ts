import { createHash, randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ComposeError } from '../../common/errors';
import type { RpmPackage } from '../rpm/model';
import { inStoreThreads, type StoreThreadResult } from './store-threads';

/**
 * Where an RPM comes from: a file of a local repository (which must resolve inside `roots`,
 * the real paths of allowed_repo_roots), a stream such as a download whose checksum the
 * metadata gives, or copies whose checksum is only known once downloaded (`keyed`).
 */
export type RpmOrigin =
  | { kind: 'local'; file: string; roots: readonly string[] }
  | { kind: 'stream'; open(signal?: AbortSignal): Promise<Readable> }
  | KeyedOrigin;

/**
 * One copy of a package whose file checksum nobody knows before it is downloaded (Koji gives
 * only payloadhash, which is not a checksum of the .rpm file).
 */
export interface KeyedCopy {
  /**
   * Names these exact bytes for good (e.g. `koji:<rpm id>:<payloadhash>:<sigkey>`): the store remembers
   * which file a key gave, so the next placement of the same key is a link, not a download.
   */
  key: string;
  /** The bytes, or null when this copy does not exist (the next copy is tried). */
  open(signal?: AbortSignal): Promise<Readable | null>;
}

/**
 * Acceptable copies in preference order. The store keeps the file under the sha256 it computes
 * while downloading and calls `placed` with the copy used and that checksum (before placeAll
 * returns), so the caller can give the package its real checksum.
 */
export interface KeyedOrigin {
  kind: 'keyed';
  copies: readonly KeyedCopy[];
  placed(copy: KeyedCopy, checksum: { type: 'sha256'; value: string }): void;
}

/**
 * Directory (under the store's root) of the links from keys to store files (KeyedOrigin). The
 * beat deletes a link whose store file it collected (backend/beat/cleanup.ts).
 */
export const KEYS_DIR = 'keys';

/** Node's names of the checksum types repository metadata uses. */
const HASHES: Record<string, string> = { sha256: 'sha256', sha: 'sha1', sha1: 'sha1', md5: 'md5', sha512: 'sha512', sha384: 'sha384', sha224: 'sha224' };

export class ChecksumMismatch extends ComposeError {
  override name = 'ChecksumMismatch';
}

/** A checksum type the store knows and a value of hex digits only: safe to name a file by. */
function storable(checksum: { type: string; value: string }): boolean {
  return Object.hasOwn(HASHES, checksum.type.toLowerCase()) && /^[0-9a-fA-F]{32,128}$/.test(checksum.value);
}

function algorithmOf(pkg: RpmPackage): string {
  const algorithm = HASHES[pkg.checksum.type.toLowerCase()];
  if (!algorithm) throw new ChecksumMismatch(`${path.basename(pkg.location)}: unsupported checksum type ${pkg.checksum.type}`);
  return algorithm;
}

/** A local package placed in a compose tree, straight from its repository, at `file` (and links of it). */
export interface Unchecked {
  pkg: RpmPackage;
  file: string;
}

/**
 * Compares unchecked files with the sha256 someone else computed from these very files
 * (createrepo_c, describing the tree): the first that differs from its metadata fails.
 */
export function checkAgainst(unchecked: readonly Unchecked[], sha256Of: ReadonlyMap<string, string>): void {
  for (const { pkg, file } of unchecked) {
    const actual = sha256Of.get(file);
    if (pkg.checksum.type.toLowerCase() !== 'sha256' || actual === undefined) throw new ComposeError(`No sha256 checksum was computed for ${file}`);
    if (actual !== pkg.checksum.value.toLowerCase()) {
      throw new ChecksumMismatch(`${path.basename(pkg.location)}: sha256 checksum is ${actual}, the repository metadata says ${pkg.checksum.value}`);
    }
  }
}

/**
 * Jobs per message to a store thread: linking takes microseconds, so many go together; hashing
 * takes long, so few, and a thread that drew large files does not hold up the rest.
 */
const LINK_BATCH = 128;
const HASH_BATCH = 8;

function throwIfFailed(r: StoreThreadResult): asserts r is { reused: boolean } {
  if ('error' in r) throw r.kind === 'checksum' ? new ChecksumMismatch(r.error) : new ComposeError(r.error);
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

  private readonly base: string;

  constructor(readonly root: string) {
    this.base = path.resolve(root);
  }

  /**
   * The store file of `checksum`. Metadata names it, so anything but hex digits of a known type
   * (it could lead out of the store) fails here, naming the package `name` when given.
   */
  pathOf(checksum: { type: string; value: string }, name?: string): string {
    if (!storable(checksum)) {
      throw new ChecksumMismatch(`${name ?? 'A package'}: the repository metadata gives no usable checksum ("${checksum.type}:${checksum.value.slice(0, 200)}")`);
    }
    const value = checksum.value.toLowerCase();
    // Concatenated, not path.join: called for every package of every compose, and both parts
    // are plain names (a checksum type and hex digits) below a resolved root.
    return `${this.base}/${checksum.type.toLowerCase()}/${value.slice(0, 2)}/${value}.rpm`;
  }

  /**
   * Puts every package at its dest. Packages the store has are linked from it; downloads are
   * checked on the way into the store. A local repository's package the store lacks is linked
   * straight from the repository and returned `unchecked`: its bytes must be checked, with
   * checkAndStore or checkAgainst, before the compose may be published. Fails on the first
   * problem. `imported`: how many distinct packages enter the store.
   */
  async placeAll(placements: readonly Placement[], signal?: AbortSignal): Promise<{ imported: number; unchecked: Unchecked[] }> {
    const streamed = placements.filter((p) => p.origin.kind !== 'local');
    const imported = new Set<string>();
    const local = new Map<RpmPackage, { file: string; roots: readonly string[]; dests: string[] }>();
    for (const { pkg, origin, dest } of placements) {
      if (origin.kind !== 'local') continue;
      const seen = local.get(pkg);
      if (seen) seen.dests.push(dest);
      else local.set(pkg, { file: origin.file, roots: origin.roots, dests: [dest] });
    }
    const staged = [...local];
    const results = await inStoreThreads(
      staged.map(([pkg, { file, roots, dests }]) => {
        const name = path.basename(pkg.location);
        return { op: 'stage' as const, file, roots, dests, stored: this.pathOf(pkg.checksum, name), name };
      }),
      LINK_BATCH,
    );
    const unchecked: Unchecked[] = [];
    results.forEach((r, i) => {
      throwIfFailed(r);
      const [pkg, { dests }] = staged[i];
      if (!r.reused) unchecked.push({ pkg, file: dests[0] });
    });
    for (const u of unchecked) imported.add(u.pkg.checksum.value);
    // Downloads: one at a time per package, several packages at once.
    const first = new Map<RpmPackage, Promise<unknown>>();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(8, streamed.length) }, async () => {
        while (next < streamed.length) {
          const { pkg, origin, dest } = streamed[next++];
          const earlier = first.get(pkg);
          if (earlier) await earlier.catch(() => undefined);
          const placing: Promise<{ reused: boolean; key?: string }> =
            origin.kind === 'keyed'
              ? this.placeKeyed(pkg, origin, dest, signal)
              : this.placeStreamed(pkg, origin as Extract<RpmOrigin, { kind: 'stream' }>, dest, signal);
          if (!earlier) first.set(pkg, placing);
          const done = await placing;
          if (!done.reused) imported.add(done.key ?? pkg.checksum.value);
        }
      }),
    );
    return { imported: imported.size, unchecked };
  }

  /** Hashes each unchecked file, compares it with the metadata, and enters it into the store. */
  async checkAndStore(unchecked: readonly Unchecked[]): Promise<void> {
    const results = await inStoreThreads(
      unchecked.map(({ pkg, file }) => ({
        op: 'store' as const,
        file,
        stored: this.pathOf(pkg.checksum),
        algorithm: algorithmOf(pkg),
        expected: pkg.checksum.value.toLowerCase(),
        name: path.basename(pkg.location),
      })),
      HASH_BATCH,
    );
    for (const r of results) throwIfFailed(r);
  }

  /** Enters unchecked files whose bytes were checked another way (see checkAgainst) into the store. */
  async enter(unchecked: readonly Unchecked[]): Promise<void> {
    const results = await inStoreThreads(
      unchecked.map(({ pkg, file }) => ({ op: 'store' as const, file, stored: this.pathOf(pkg.checksum), name: path.basename(pkg.location) })),
      LINK_BATCH,
    );
    for (const r of results) throwIfFailed(r);
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
    const stored = this.pathOf(pkg.checksum, path.basename(pkg.location));
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

  /** `<root>/keys/<ab>/<sha256 of key>`: a symbolic link to the store file the key gave. */
  private keyPath(key: string): string {
    const h = createHash('sha256').update(key).digest('hex');
    return path.join(this.root, KEYS_DIR, h.slice(0, 2), h);
  }

  /** The sha256 of the file `key` gave before, if the store remembers it. */
  private async lookupKey(key: string): Promise<string | null> {
    try {
      const target = await readlink(this.keyPath(key));
      const m = /([0-9a-f]{64})\.rpm$/.exec(target);
      return m ? m[1] : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /**
   * Remembers that `key` gave the file stored under `sha256`. Usually the link is new and made
   * in one call; one left over (its store file collected) is replaced atomically, a new link
   * renamed over it, so a reader never finds the key missing half-way.
   */
  private async rememberKey(key: string, sha256: string): Promise<void> {
    const file = this.keyPath(key);
    await this.ensureDir(path.dirname(file));
    const target = path.relative(path.dirname(file), this.pathOf({ type: 'sha256', value: sha256 }));
    try {
      await symlink(target, file);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
    await symlink(target, tmp);
    await rename(tmp, file).catch(async (err: unknown) => {
      await rm(tmp, { force: true });
      throw err;
    });
  }

  /**
   * The first copy, in preference order, that the store has seen under its key (a link) or that
   * exists (a download, hashed on the way into the store). A preferred copy that was never
   * stored is asked for even when a less preferred one is stored: preference decides, not cost.
   */
  private async placeKeyed(pkg: RpmPackage, origin: KeyedOrigin, dest: string, signal?: AbortSignal): Promise<{ reused: boolean; key: string }> {
    for (const copy of origin.copies) {
      const known = await this.lookupKey(copy.key);
      if (known && (await linkOrCopy(this.pathOf({ type: 'sha256', value: known }), dest))) {
        origin.placed(copy, { type: 'sha256', value: known });
        return { reused: true, key: copy.key };
      }
      const source = await copy.open(signal);
      if (!source) continue;
      const stored = await this.download(source, 'sha256', signal, (actual) => this.pathOf({ type: 'sha256', value: actual }));
      await this.rememberKey(copy.key, stored.checksum);
      if (!(await linkOrCopy(stored.file, dest))) throw new ComposeError(`${stored.file} vanished from the package store`);
      origin.placed(copy, { type: 'sha256', value: stored.checksum });
      return { reused: false, key: copy.key };
    }
    throw new ComposeError(`${path.basename(pkg.location)}: none of its acceptable copies exists (${origin.copies.map((c) => c.key).join(', ')})`);
  }

  /**
   * Streams `source` into a temporary file of the store while hashing it, then renames it to
   * `storedPath(checksum)`; a file already there has the same bytes, so renaming over it is harmless.
   */
  private async download(
    source: Readable,
    algorithm: string,
    signal: AbortSignal | undefined,
    storedPath: (checksum: string) => string,
  ): Promise<{ file: string; checksum: string }> {
    const tmpDir = path.join(this.root, 'tmp');
    await this.ensureDir(tmpDir);
    const tmp = path.join(tmpDir, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      const hash = createHash(algorithm);
      source.on('data', (chunk: Buffer) => hash.update(chunk));
      await pipeline(source, createWriteStream(tmp, { mode: 0o644 }), { signal });
      const checksum = hash.digest('hex');
      const file = storedPath(checksum);
      await this.ensureDir(path.dirname(file));
      await rename(tmp, file);
      return { file, checksum };
    } catch (err) {
      // Only a failed download leaves its temporary file (each file operation costs here).
      await rm(tmp, { force: true });
      throw err;
    }
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
