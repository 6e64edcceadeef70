import { kojiPackageRepo, openKoji, poolArches, rpmsOfBuilds } from './koji-pool';
import { loadLookaside } from './repositories';
import { scratchBuildTasksRepo } from './scratch-tasks';
import type { SourceHandler } from './types';

/**
 * `build` (reference §5.2–§5.3): exactly the compose's `builds` (its source is empty), with
 * `packages` choosing among them and dependencies resolved within them (and the lookaside).
 * Nothing is resolved against a tag, so koji_event stays null.
 */
export const buildSource: SourceHandler = {
  async resolve(compose, ctx) {
    const targetDir = compose.target_dir ?? ctx.cfg.target_dir;
    const session = openKoji(ctx, targetDir);
    const builds = compose.builds ?? [];
    ctx.log.info(`Koji builds ${builds.join(' ') || '(none)'}`);
    // SRPMs too: their ExclusiveArch / ExcludeArch apply to noarch RPMs (kojiPackageRepo).
    const candidates = await rpmsOfBuilds(session, builds, [...poolArches(compose), 'src']);
    const repo = await kojiPackageRepo(session, { name: 'koji-builds', candidates, sigkeys: compose.sigkeys });
    // scratch_build_tasks join the package set (Pungi's pkgset_koji_scratch_tasks).
    const scratch = await scratchBuildTasksRepo(session, ctx, compose, poolArches(compose));
    return { repos: scratch ? [repo, scratch] : [repo], lookaside: await loadLookaside(compose, ctx, targetDir), extras: {} };
  },
};
