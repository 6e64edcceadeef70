import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { httpGet, readRepomd, resolveLocation } from '../rpm/repodata';

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
      const response = await httpGet(where, signal);
      await mkdir(path.join(tmp, 'repodata'), { recursive: true });
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(path.join(tmp, record.location)), { signal });
    }
    const xml = await httpGet(resolveLocation(baseUrl, 'repodata/repomd.xml') as URL, signal);
    await mkdir(path.join(tmp, 'repodata'), { recursive: true });
    await writeFile(path.join(tmp, 'repodata', 'repomd.xml'), Buffer.from(await xml.arrayBuffer()));
    await mkdir(cacheRoot, { recursive: true });
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}
