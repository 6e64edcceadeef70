import { ComposeError } from '../../common/errors';
import { FLAGS } from '../../common/enums';
import { pyRepr } from '../../common/python-repr';
import type { ComposeRow } from '../../common/db/entities';
import { groupSignatureRows, type RpmWithSignatures } from '../koji/signatures';
import type { KojiRpm, KojiTaggedRpm } from '../koji/types';
import { KojiFault, XmlRpcTransportError } from '../koji/xmlrpc';
import { UnknownKojiTagError } from '../koji/client';
import { askKoji, kojiPackageRepo, openKoji, poolArches, rpmsOfBuilds, uniqueRpms, type KojiSession } from './koji-pool';
import { loadLookaside } from './repositories';
import { scratchBuildTasksRepo } from './scratch-tasks';
import type { SourceHandler } from './types';

/**
 * Reference §5.2's per-worker cache: Koji hub + tag -> the event the last compose of the tag
 * used. Kept while neither the tag nor any tag it inherits from changes, so composes of an
 * unchanged tag get the same koji_event (and reuse can recognise them).
 */
const lastEvents = new Map<string, number>();

/** ODCS wraps Koji errors of this step in a tuple and prints its repr (reference §5.2). */
function kojiConnectionFailed(err: unknown): never {
  if (err instanceof UnknownKojiTagError) throw new ComposeError(err.message);
  if (err instanceof KojiFault) throw new ComposeError(`('Koji connection has failed: %s', GenericError(${pyRepr(err.faultString)}))`);
  if (err instanceof XmlRpcTransportError) throw new ComposeError(`('Koji connection has failed: %s', ${pyRepr(err.message)})`);
  throw err;
}

/**
 * The event a tag compose is built at: the one it was given (request or renewal); else, for a
 * tag this worker has seen, the cached event unless the tag or a tag it inherits from changed
 * since; else Koji's last event, after checking that the tag exists.
 */
export async function resolveTagEvent(session: KojiSession, compose: Pick<ComposeRow, 'source' | 'koji_event'>): Promise<number> {
  const { koji } = session;
  if (compose.koji_event !== null) {
    // Pungi asks Koji for the event it is given, and Koji refuses one it does not have (a
    // future event): building today's content under that label would let later identical
    // requests reuse it after the tag changed.
    await koji.getEvent(compose.koji_event).catch((err: unknown) => {
      if (err instanceof KojiFault) throw new ComposeError(`Koji event ${compose.koji_event} is unknown to Koji: ${err.faultString}`);
      return kojiConnectionFailed(err);
    });
    return compose.koji_event;
  }
  const key = `${koji.hubUrl}\0${compose.source}`;
  try {
    const cached = lastEvents.get(key);
    if (cached !== undefined && !(await koji.tagOrParentsChangedSince(compose.source, cached))) return cached;
    if (cached === undefined && (await koji.getTag(compose.source)) === null) throw new UnknownKojiTagError(compose.source);
    const event = (await koji.getLastEvent()).id;
    lastEvents.set(key, event);
    return event;
  } catch (err) {
    return kojiConnectionFailed(err);
  }
}

/**
 * The tag's RPMs minus those of builds whose package (build name) the compose's `builds` name:
 * as Pungi's `pkgset_koji_builds`, an extra build replaces the tag's build of its package,
 * older or newer (pinning or downgrading a package is why people pass them).
 */
function withoutPackagesOf<T extends RpmWithSignatures<KojiRpm | KojiTaggedRpm>>(fromTag: readonly T[], extra: ReadonlyArray<RpmWithSignatures<KojiRpm>>): T[] {
  const replaced = new Set(extra.map((e) => e.build.name));
  return fromTag.filter((r) => !replaced.has(r.build.name));
}

/**
 * `tag` (reference §5.2–§5.3): the latest build of every package in the tag at the compose's
 * event (with inheritance unless `no_inheritance`), plus the compose's `builds`, as one pool;
 * `packages`, dependencies, multilib and lookaside are the engine's. The event is recorded as
 * the compose's koji_event as soon as it is known. A build of `builds` replaces the tag's build
 * of the same package.
 */
export const tagSource: SourceHandler = {
  async resolve(compose, ctx) {
    const targetDir = compose.target_dir ?? ctx.cfg.target_dir;
    const session = openKoji(ctx, targetDir);
    const tag = compose.source;
    const event = await resolveTagEvent(session, compose);
    // Recorded at once: a compose that fails from here on keeps its event, so regenerating it
    // resolves the tag as it was then.
    await ctx.recordExtras?.({ koji_event: event });
    const inherit = (compose.flags & FLAGS.no_inheritance) === 0;
    const arches = poolArches(compose);
    ctx.log.info(`Koji tag ${tag} at event ${event}${inherit ? '' : ' without inheritance'}, arches ${arches.join(' ')}`);
    const tagged = await askKoji(`listing of tag ${tag}`, () =>
      // SRPMs too: their ExclusiveArch / ExcludeArch apply to noarch RPMs (kojiPackageRepo).
      session.koji.listTaggedRPMS(tag, { inherit, latest: true, event, arch: [...arches, 'src'], rpmsigs: true }),
    ).catch((err: unknown) => {
      // Only a tag given with its event can be unknown here; ODCS says so the same way.
      if (err instanceof ComposeError && /No such tagInfo/.test(err.message)) throw new ComposeError(`Unknown Koji tag ${tag}.`);
      throw err;
    });
    const extra = await rpmsOfBuilds(session, compose.builds ?? [], [...arches, 'src']);
    const fromTag = withoutPackagesOf(groupSignatureRows(tagged.rpms, tagged.builds), extra);
    ctx.log.info(`${tagged.builds.length} builds (${fromTag.length} RPMs kept) in the tag, ${extra.length} RPMs from ${compose.builds?.length ?? 0} extra builds`);
    const repo = await kojiPackageRepo(session, { name: `koji-tag-${tag}`, candidates: uniqueRpms([fromTag, extra]), sigkeys: compose.sigkeys });
    // scratch_build_tasks join the package set (Pungi's pkgset_koji_scratch_tasks).
    const scratch = await scratchBuildTasksRepo(session, ctx, compose, arches);
    return { repos: scratch ? [repo, scratch] : [repo], lookaside: await loadLookaside(compose, ctx, targetDir), extras: { koji_event: event } };
  },

  /** Reference §5.9: an earlier compose of the tag still stands if no tag of the inheritance changed after its event. */
  async unchangedSince(compose, candidate, ctx) {
    if (candidate.koji_event === null) return false;
    const session = openKoji(ctx, compose.target_dir ?? ctx.cfg.target_dir);
    try {
      return !(await session.koji.tagOrParentsChangedSince(compose.source, candidate.koji_event));
    } catch (err) {
      return kojiConnectionFailed(err);
    }
  },
};
