import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readAll } from '../../common/http/client';
import { httpStream, readRepomd, resolveLocation } from '../rpm/repodata';

/** repomd.xml is a few KiB; anything near this is not one. */
const REPOMD_MIRROR_MAX_BYTES = 16 * 1024 * 1024;

/**
 * A local copy of a remote repository's metadata files (repomd.xml and what it lists), kept
 * by the same key as the parsed metadata, so that createrepo_c can reuse what the remote
 * repository already says about its packages instead of reading every RPM.
 */
export async function mirrorRepodata(baseUrl: string, cacheRoot: string, key: string, signal?: AbortSignal): Promise<string> {
  const dir = path.join(cacheRoot, key.replace(/[^A-Za-z0-9]+/g, '_').slice(0, 150));
  if (existsSync(path.join(dir, 'repodata', 'repomd.xml'))) return dir;
  const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    const repomd = await readRepomd(baseUrl, signal);
    for (const record of Object.values(repomd.records)) {
      if (!/^repodata\/[^/]+$/.test(record.location)) continue; // only files inside repodata/
      const where = resolveLocation(baseUrl, record.location);
      if (typeof where === 'string') continue;
      const body = await httpStream(where, signal);
      await mkdir(path.join(tmp, 'repodata'), { recursive: true });
      await pipeline(body, createWriteStream(path.join(tmp, record.location)), { signal });
    }
    const xml = await httpStream(resolveLocation(baseUrl, 'repodata/repomd.xml') as URL, signal, undefined, REPOMD_MIRROR_MAX_BYTES);
    await mkdir(path.join(tmp, 'repodata'), { recursive: true });
    await writeFile(path.join(tmp, 'repodata', 'repomd.xml'), await readAll(xml));
    await mkdir(cacheRoot, { recursive: true });
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}
