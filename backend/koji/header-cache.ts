/**
 * RPM header fields read through Koji's `getRPMHeaders`, kept on disk so that a package seen by
 * one compose costs nothing in the next: `<dir>/<ab>/<rpm id>-<payloadhash>.json`.
 *
 * The key is immutable: Koji never reuses an rpm id, and payloadhash (RPM's SIGMD5 over header
 * and payload) changes with any change of content; signing adds a signature header but leaves
 * the header fields read here alone. Files are written to a temporary name and renamed, so a
 * reader sees a whole entry or none, and two workers writing the same entry write the same bytes.
 *
 * Entries are many small files (one per RPM ever seen), so the beat deletes those no compose read
 * for `koji_header_cache_max_age_seconds` (pruneKojiHeaderCache): a read marks an entry used by
 * moving its modification time to now, at most once an hour per entry.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KojiClient } from './client';
import { PACKAGE_HEADERS } from './package';
import type { KojiRpm, RpmHeaderFields } from './types';
import type { XmlRpcValue } from './xmlrpc';
import { eachLimit } from '../../common/concurrency';

/** Bump when PACKAGE_HEADERS or the stored form changes, so old entries stop matching. */
// Not bumped for exclusivearch/excludearch: they are read from SRPMs only, which no earlier
// version cached, and an entry of a binary RPM without them stays right.
const VERSION = 'v1';

export interface HeaderFetchStats {
  /** RPMs whose headers came from the disk cache. */
  cached: number;
  /** RPMs whose headers were asked of the hub. */
  fetched: number;
}

export class KojiHeaderCache {
  constructor(readonly dir: string) {}

  /** Where the entry of `rpm` lives, or null when the rpm has no payloadhash to key it by. */
  private fileOf(rpm: Pick<KojiRpm, 'id' | 'payloadhash'>): string | null {
    if (!/^[0-9a-f]{16,}$/i.test(rpm.payloadhash)) return null;
    const name = `${rpm.id}-${rpm.payloadhash.toLowerCase()}`;
    return path.join(this.dir, VERSION, name.slice(-2), `${name}.json`);
  }

  /** The header fields rpmPackageFromKoji needs for every rpm: from disk, the rest from the hub in batches. */
  async headersOf(koji: KojiClient, rpms: ReadonlyArray<Pick<KojiRpm, 'id' | 'payloadhash'>>): Promise<{ headers: Map<number, RpmHeaderFields>; stats: HeaderFetchStats }> {
    const headers = new Map<number, RpmHeaderFields>();
    const missing: Array<Pick<KojiRpm, 'id' | 'payloadhash'>> = [];
    await eachLimit(rpms, 32, async (rpm) => {
      const file = this.fileOf(rpm);
      const cached = file ? await readEntry(file) : null;
      if (cached) headers.set(rpm.id, cached);
      else missing.push(rpm);
    });
    if (missing.length) {
      const fetched = await koji.getRPMHeadersMany(
        missing.map((r) => r.id),
        PACKAGE_HEADERS,
      );
      await eachLimit(missing, 16, async (rpm) => {
        const fields = fetched.get(rpm.id);
        // An empty answer is Koji's "no such rpm": nothing to remember.
        if (!fields || Object.keys(fields).length === 0) return;
        headers.set(rpm.id, fields);
        const file = this.fileOf(rpm);
        if (file) await writeEntry(file, fields);
      });
    }
    return { headers, stats: { cached: rpms.length - missing.length, fetched: missing.length } };
  }
}

/** A read entry whose modification time is older than this is marked used again (see pruneKojiHeaderCache). */
const MARK_USED_AFTER_MS = 3600 * 1000;

async function readEntry(file: string): Promise<RpmHeaderFields | null> {
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      const info = await handle.stat();
      text = await handle.readFile('utf8');
      // File times are the real clock's. A failure to mark costs at most a fetch from Koji later.
      const now = Date.now();
      if (now - info.mtimeMs > MARK_USED_AFTER_MS) await handle.utimes(info.atime, new Date(now)).catch(() => undefined);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as RpmHeaderFields) : null;
  } catch {
    // A damaged entry is fetched again and overwritten.
    return null;
  }
}

async function writeEntry(file: string, fields: RpmHeaderFields): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, JSON.stringify(fields, jsonSafe));
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Header values are strings and small integers; a 64-bit integer (bigint) is kept as a number when safe. */
function jsonSafe(_key: string, value: XmlRpcValue): unknown {
  if (typeof value === 'bigint') return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

/**
 * Deletes the entries of the header cache at `dir` (every version's, and temporary files left
 * by a writer that died) that nobody read or wrote for `maxAgeMs` of the real clock; an entry
 * deleted while still useful is fetched from Koji again. Returns how many files were deleted.
 */
export async function pruneKojiHeaderCache(dir: string, maxAgeMs: number): Promise<number> {
  const cutoff = Date.now() - maxAgeMs;
  let deleted = 0;
  const walk = async (at: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(at, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw err;
    }
    for (const entry of entries) {
      const p = path.join(at, entry.name);
      if (entry.isDirectory()) {
        await walk(p);
        continue;
      }
      const info = await lstat(p).catch(() => undefined);
      if (!info || info.mtimeMs >= cutoff) continue;
      await rm(p, { force: true });
      deleted += 1;
    }
  };
  await walk(dir);
  return deleted;
}
