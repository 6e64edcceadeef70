import { createHash, randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { RpmPackage } from '../rpm/model';

/** Bump when the createrepo_c options or the tree layout change, so old entries stop matching. */
const VERSION = 'createrepo-v1';

async function linkAll(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const file of await readdir(from)) {
    await link(path.join(from, file), path.join(to, file)).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'EXDEV' || err.code === 'EPERM') await copyFile(path.join(from, file), path.join(to, file));
      else throw err;
    });
  }
}

/**
 * repodata/ of arch trees already built, by the exact set of files in them (path and checksum
 * of every package): the same packages in the same layout give the same metadata, so another
 * compose with that set links the cached files instead of running createrepo_c again.
 */
export class RepodataCache {
  constructor(readonly root: string) {}

  /** `extra`: other content of the repodata (a module compose's modules.yaml), hashed in when given. */
  key(placed: ReadonlyArray<{ pkg: RpmPackage; path: string }>, extra?: string): string {
    const lines = placed.map(({ pkg, path: p }) => `${path.posix.basename(p)}\t${pkg.checksum.type}:${pkg.checksum.value}`).sort();
    const hash = createHash('sha256').update(VERSION).update('\n').update(lines.join('\n'));
    if (extra !== undefined) hash.update('\0modules\0').update(extra);
    return hash.digest('hex');
  }

  /** Puts the cached repodata/ for `key` into `repoDir`; false when there is none. */
  async restore(key: string, repoDir: string): Promise<boolean> {
    try {
      await linkAll(path.join(this.root, key), path.join(repoDir, 'repodata'));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        await rm(path.join(repoDir, 'repodata'), { recursive: true, force: true });
        return false;
      }
      throw err;
    }
  }

  /** Remembers `repoDir`'s repodata/ under `key`. */
  async save(key: string, repoDir: string): Promise<void> {
    const dest = path.join(this.root, key);
    const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await linkAll(path.join(repoDir, 'repodata'), tmp);
      await rename(tmp, dest).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}
