import { loadLookaside, openRepository } from './repositories';
import type { SourceHandler } from './types';

/**
 * `repo`: one or more repositories named by local path (under allowed_repo_roots) or URL (on
 * allowed_repo_hosts). koji_event is the first repository's repomd.xml revision, as in ODCS.
 */
export const repoSource: SourceHandler = {
  async resolve(compose, ctx) {
    const targetDir = compose.target_dir ?? ctx.cfg.target_dir;
    const repos = [];
    for (const location of compose.source.split(' ').filter(Boolean)) repos.push(await openRepository(location, ctx, targetDir));
    const revision = repos[0]?.revision ?? null;
    const koji_event = revision !== null && /^\d{1,15}$/.test(revision) ? Number(revision) : null;
    return { repos, lookaside: await loadLookaside(compose, ctx, targetDir), extras: { koji_event } };
  },
};
