import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../common/config';
import type { Logger } from '../../common/log';

const run = promisify(execFile);

/** share/sample-repo of the checkout: two tiny noarch RPMs (and their spec), from bin/cli or dist/bin/cli. */
function shippedPackages(): string | undefined {
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'share', 'sample-repo');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The first-run example of the embedded default: `<data_dir>/sample-repo`, a repository made at
 * first start from the RPMs shipped in share/sample-repo, so that a `repo` compose of it
 * succeeds with no Koji and no settings. Returns its path, or undefined (with a warning) when
 * it cannot be made; the service runs without it.
 */
export async function ensureSampleRepo(cfg: Config, log: Logger): Promise<string | undefined> {
  const dir = path.join(cfg.data_dir, 'sample-repo');
  if (existsSync(path.join(dir, 'repodata', 'repomd.xml'))) return dir;
  const source = shippedPackages();
  if (!source) {
    log.warn('share/sample-repo is missing; no sample repository');
    return undefined;
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    for (const name of (await readdir(source)).filter((n) => n.endsWith('.rpm'))) {
      await copyFile(path.join(source, name), path.join(tmp, name));
    }
    await run(cfg.createrepo_c, ['--quiet', '--no-database', tmp]);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    log.info({ dir }, 'made the sample repository');
    return dir;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    log.warn({ err: (err as Error).message }, 'cannot make the sample repository');
    return undefined;
  }
}
