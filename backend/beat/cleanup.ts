import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { STATES } from '../../common/enums';
import { composeIdOfEntry } from '../../common/target-dir-owner';
import { TEMP_PREFIX as BUILDING_PREFIX } from '../pipeline';
import { KEYS_DIR } from '../store/package-store';

/** Prefix of a tree renamed away to be deleted: never served, swept if a deletion was cut short. */
export const REMOVING_PREFIX = '.removing-';

/** Whether `p` exists (a target dir may be mounted on some hosts only). */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Deletes `<targetDir>/<name>` so that nobody ever reads half of it: one rename takes it out
 * of the served tree, then the renamed copy is deleted. A missing directory is not an error.
 */
export async function removeTree(targetDir: string, name: string): Promise<boolean> {
  const away = path.join(targetDir, `${REMOVING_PREFIX}${name}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(path.join(targetDir, name), away);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await rm(away, { recursive: true, force: true });
  return true;
}

/** Lives beside the target-dir owner marker, which needs it too. */
export { composeIdOfEntry };

export interface SweepReport {
  /** Compose directories without a live compose, deleted. */
  strays: string[];
  /** Temporary trees (interrupted builds and removals) deleted. */
  temporaries: string[];
}

/**
 * Deletes what no live compose owns in a target dir: `odcs-<id>` / `latest-odcs-<id>…`
 * directories whose compose is unknown or removed, trees a removal renamed away but did not
 * finish deleting, and build trees left in compose directories by workers that died, unless
 * their compose is being built right now.
 */
export async function sweepTargetDir(targetDir: string, statesOf: (ids: number[]) => Promise<Map<number, number>>): Promise<SweepReport> {
  const report: SweepReport = { strays: [], temporaries: [] };
  let entries: Dirent[];
  try {
    entries = await readdir(targetDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw err;
  }
  const owned = new Map<string, number>();
  for (const entry of entries) {
    if (entry.name.startsWith(REMOVING_PREFIX)) {
      await rm(path.join(targetDir, entry.name), { recursive: true, force: true });
      report.temporaries.push(entry.name);
      continue;
    }
    const id = composeIdOfEntry(entry.name);
    if (id !== undefined && entry.isDirectory()) owned.set(entry.name, id);
  }
  const states = await statesOf([...new Set(owned.values())]);
  for (const [name, id] of owned) {
    const state = states.get(id);
    if (state === undefined || state === STATES.removed) {
      if (await removeTree(targetDir, name)) report.strays.push(name);
      continue;
    }
    if (state === STATES.generating || !name.startsWith('odcs-')) continue;
    const dir = path.join(targetDir, name);
    for (const inner of await readdir(dir).catch(() => [] as string[])) {
      if (!inner.startsWith(BUILDING_PREFIX)) continue;
      await rm(path.join(dir, inner), { recursive: true, force: true });
      report.temporaries.push(path.join(name, inner));
    }
  }
  return report;
}

/** Every regular file below `dir` (not following symbolic links). */
async function* filesBelow(dir: string): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw err;
  }
  for (const entry of entries) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* filesBelow(p);
    else if (entry.isFile()) yield p;
  }
}

export interface CollectReport {
  /** Store entries deleted. */
  packages: number;
  bytes: number;
  /** Cached repodata entries deleted. */
  repodata: number;
  /** Links of the store's keys deleted (their store file was collected). */
  keyLinks: number;
  /** Koji header cache entries deleted (unread for koji_header_cache_max_age_seconds). */
  kojiHeaders: number;
}

/**
 * Deletes the symbolic links below `dir` whose target no longer exists (the store file a key
 * gave was collected), and temporary links (`*.tmp-*`) a writer that died left, once older
 * than `cutoff`. A link replaced meanwhile (rememberKey renames a new one over it) is a new
 * inode with a live target, so it is not touched.
 */
async function removeDanglingLinks(dir: string, cutoff: number): Promise<number> {
  let deleted = 0;
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 0;
    throw err;
  }
  for (const entry of entries) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      deleted += await removeDanglingLinks(p, cutoff);
      continue;
    }
    if (!entry.isSymbolicLink()) continue;
    const leftover = entry.name.includes('.tmp-') && ((await lstat(p).catch(() => undefined))?.ctimeMs ?? Infinity) < cutoff;
    const dangling = !(await pathExists(p).catch(() => true));
    if (!leftover && !dangling) continue;
    await rm(p, { force: true });
    deleted += 1;
  }
  return deleted;
}

/**
 * Deletes package store entries no compose uses and cached repodata nothing links to.
 *
 * A store entry is in use when a compose tree in the target dir links its inode. The link
 * count alone cannot tell, because an RPM of a local repository enters the store as a hard
 * link of the repository's own file. So the compose trees are walked for the inodes they
 * hold, and an entry is deleted only if none holds it and its inode did not change within the
 * grace period: linking a file changes its ctime, so an entry a build linked after the walk
 * began is never deleted.
 */
export async function collectStore(
  targetDir: string,
  storeDir: string,
  cacheDirs: readonly string[],
  graceMs: number,
): Promise<CollectReport> {
  const report: CollectReport = { packages: 0, bytes: 0, repodata: 0, keyLinks: 0, kojiHeaders: 0 };
  // File times are the real clock's, whatever clock the caller runs the beat on.
  const cutoff = Date.now() - graceMs;
  const inUse = new Set<string>();
  for (const entry of await readdir(targetDir, { withFileTypes: true }).catch(() => [] as Dirent[])) {
    if (!entry.isDirectory() || composeIdOfEntry(entry.name) === undefined) continue;
    for await (const file of filesBelow(path.join(targetDir, entry.name))) {
      if (!file.endsWith('.rpm')) continue;
      const info = await lstat(file).catch(() => undefined);
      if (info) inUse.add(`${info.dev}:${info.ino}`);
    }
  }
  for await (const file of filesBelow(storeDir)) {
    const info = await lstat(file).catch(() => undefined);
    if (!info || inUse.has(`${info.dev}:${info.ino}`) || info.ctimeMs >= cutoff) continue;
    await rm(file, { force: true });
    report.packages += 1;
    report.bytes += info.size;
  }
  report.keyLinks = await removeDanglingLinks(path.join(storeDir, KEYS_DIR), cutoff);
  // Cached repodata: an entry whose files nothing links any more (no tree restored it lately).
  for (const cacheDir of cacheDirs) {
    for (const entry of await readdir(cacheDir, { withFileTypes: true }).catch(() => [] as Dirent[])) {
      if (!entry.isDirectory()) continue;
      const dir = path.join(cacheDir, entry.name);
      let unused = true;
      for await (const file of filesBelow(dir)) {
        const info = await lstat(file).catch(() => undefined);
        if (info && (info.nlink > 1 || info.ctimeMs >= cutoff)) {
          unused = false;
          break;
        }
      }
      if (!unused) continue;
      await rm(dir, { recursive: true, force: true });
      report.repodata += 1;
    }
  }
  return report;
}
