import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { checkRepoLocation, expandBasearch, resolveLocalRepo } from '../../common/repo-location';
import { ComposeError } from '../../common/errors';
import type { ComposeRow } from '../../common/db/entities';
import { httpGet, resolveLocation } from '../rpm/repodata';
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
  const parsed = await ctx.metadata.read(where.url, ctx.signal).catch((err: Error) => {
    throw new ComposeError(`Cannot read repository ${text}: ${err.message}`);
  });
  return {
    name: text,
    packages: parsed.packages,
    revision: parsed.repomd.revision,
    keepLayout: true,
    metadataDir: await mirrorRepodata(where.url, path.join(targetDir, REPODATA_CACHE_DIR), parsed.key, ctx.signal).catch(() => undefined),
    origin: (pkg) => remoteOrigin(ctx, where.url, pkg),
  };
}

/** A package file of a local repository; the store checks that it stays inside the allowed roots too. */
function localOrigin(dir: string, roots: readonly string[], pkg: RpmPackage): RpmOrigin {
  if (pkg.locationBase && !pkg.locationBase.startsWith('file:')) {
    throw new ComposeError(`Package ${pkg.location} of ${dir} points to ${pkg.locationBase}, outside the repository.`);
  }
  return { kind: 'local', file: path.resolve(dir, pkg.location), roots };
}

function remoteOrigin(ctx: SourceContext, base: string, pkg: RpmPackage): RpmOrigin {
  const url = resolveLocation(pkg.locationBase ?? base, pkg.location);
  const href = typeof url === 'string' ? url : url.href;
  const checked = checkRepoLocation(ctx.cfg, href);
  if ('problem' in checked || typeof url === 'string') throw new ComposeError(`Package ${pkg.location} of ${base}: ${'problem' in checked ? checked.problem : 'not a URL'}`);
  return {
    kind: 'stream',
    open: async (signal) => {
      const response = await httpGet(url, signal);
      return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    },
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
