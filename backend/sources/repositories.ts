import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { checkRepoLocation, expandBasearch, resolveLocalRepo } from '../../common/repo-location';
import { ComposeError } from '../../common/errors';
import type { ComposeRow } from '../../common/db/entities';
import { netOptionsOf } from '../../common/http/client';
import type { Config } from '../../common/config';
import { httpStream, resolveLocation, withRemoteAccess, type RemoteAccess } from '../rpm/repodata';
import type { RpmPackage } from '../rpm/model';
import { mirrorRepodata } from '../store/repodata-mirror';
import type { RpmOrigin } from '../store/package-store';
import type { PackageRepo, SourceContext } from './types';

/** Directory (under target_dir) of local copies of remote repodata. */
export const REPODATA_CACHE_DIR = '.cache/repodata';

/**
 * Opens a repository a compose names (a `repo` source or a lookaside), checking it against the
 * configuration again (it may have changed since the request) and, for local paths, against
 * the file system: neither the directory nor any package may lead outside the allowed roots.
 */
export async function openRepository(text: string, ctx: SourceContext, targetDir: string): Promise<PackageRepo & { revision: string | null }> {
  const checked = checkRepoLocation(ctx.cfg, text);
  if ('problem' in checked) throw new ComposeError(checked.problem);
  const where = checked.location;
  ctx.log.info(`Reading repository ${text}`);
  if (where.kind === 'path') {
    const dir = await resolveLocalRepo(ctx.cfg, where.path);
    const parsed = await ctx.metadata.read(dir, ctx.signal).catch((err: Error) => {
      throw new ComposeError(`Cannot read repository ${text}: ${err.message}`);
    });
    const roots = await Promise.all(ctx.cfg.allowed_repo_roots.map((r) => realpath(r).catch(() => r)));
    return {
      name: text,
      packages: parsed.packages,
      revision: parsed.repomd.revision,
      metadataDir: dir,
      keepLayout: true,
      origin: (pkg) => localOrigin(dir, roots, pkg),
    };
  }
  const access = repoHostAccess(ctx);
  const parsed = await withRemoteAccess(access, () => ctx.metadata.read(where.url, ctx.signal)).catch((err: Error) => {
    throw new ComposeError(`Cannot read repository ${text}: ${err.message}`);
  });
  const cache = path.join(targetDir, REPODATA_CACHE_DIR);
  return {
    name: text,
    packages: parsed.packages,
    revision: parsed.repomd.revision,
    keepLayout: true,
    metadataDir: await withRemoteAccess(access, () => mirrorRepodata(where.url, cache, parsed.key, ctx.signal)).catch(() => undefined),
    origin: (pkg) => remoteOrigin(ctx, access, where.url, pkg),
  };
}

/**
 * Remote `repo` sources and lookasides: every request and every redirect only to
 * allowed_repo_hosts (a redirect elsewhere fails the compose before anything connects there),
 * bounded by net_timeout / net_retry_interval / net_min_rate_bytes.
 */
export function repoHostAccess(ctx: { cfg: Config; log: { warning(message: string): void } }): RemoteAccess {
  return {
    allow: { hosts: ctx.cfg.allowed_repo_hosts, name: 'allowed_repo_hosts' },
    net: netOptionsOf(ctx.cfg),
    log: (message) => ctx.log.warning(message),
  };
}

/** A package file of a local repository; the store checks that it stays inside the allowed roots too. */
function localOrigin(dir: string, roots: readonly string[], pkg: RpmPackage): RpmOrigin {
  if (pkg.locationBase && !pkg.locationBase.startsWith('file:')) {
    throw new ComposeError(`Package ${pkg.location} of ${dir} points to ${pkg.locationBase}, outside the repository.`);
  }
  return { kind: 'local', file: path.resolve(dir, pkg.location), roots };
}

function remoteOrigin(ctx: SourceContext, access: RemoteAccess, base: string, pkg: RpmPackage): RpmOrigin {
  const url = resolveLocation(pkg.locationBase ?? base, pkg.location);
  const href = typeof url === 'string' ? url : url.href;
  const checked = checkRepoLocation(ctx.cfg, href);
  if ('problem' in checked || typeof url === 'string') throw new ComposeError(`Package ${pkg.location} of ${base}: ${'problem' in checked ? checked.problem : 'not a URL'}`);
  return {
    kind: 'stream',
    // The metadata says how large the file is: a server sending more is cut off there.
    open: (signal) => httpStream(url, signal, access, pkg.size > 0 ? pkg.size : undefined),
  };
}

/** Every package of the compose's lookaside repositories, `$basearch` expanded for each of its arches. */
export async function loadLookaside(compose: ComposeRow, ctx: SourceContext, targetDir: string): Promise<RpmPackage[]> {
  const locations = new Set<string>();
  for (const repo of compose.lookaside_repos ?? []) for (const arch of compose.arches) locations.add(expandBasearch(repo, arch));
  const packages: RpmPackage[] = [];
  for (const location of locations) packages.push(...(await openRepository(location, ctx, targetDir)).packages);
  return packages;
}
