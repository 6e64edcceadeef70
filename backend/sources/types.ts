import type { Config } from '../../common/config';
import type { ComposeRow } from '../../common/db/entities';
import type { TransitionExtras } from '../../common/db/compose-store';
import type { ComposeLog } from '../compose-log';
import type { DepsolveResult } from '../rpm/depsolve';
import type { RpmPackage } from '../rpm/model';
import type { MetadataCache } from '../store/metadata-cache';
import type { RpmOrigin } from '../store/package-store';

/** One repository packages come from. */
export interface PackageRepo {
  /** How the repository is named in logs and in depsolve.json. */
  name: string;
  packages: RpmPackage[];
  /** Where to read each package's bytes. */
  origin(pkg: RpmPackage): RpmOrigin;
  /**
   * A local directory holding repodata/ that describes these packages, so createrepo_c can
   * reuse it instead of reading every RPM again.
   */
  metadataDir?: string;
  /** Place packages where this repository has them (it has metadata createrepo_c can reuse). */
  keepLayout?: boolean;
  /**
   * Fails the compose when packages the compose takes cannot be had (Koji RPMs without a copy
   * signed with an acceptable key), naming all of them; called once the selection is known.
   */
  checkSelection?(selected: readonly RpmPackage[]): void;
}

/** What a source handler found for a compose: the candidate package pool and what resolution decided. */
export interface ResolvedSource {
  repos: PackageRepo[];
  /** Packages that satisfy dependencies without being included. */
  lookaside: RpmPackage[];
  /** Compose columns the resolution fixed (koji_event, a rewritten source, …). */
  extras: TransitionExtras;
  /**
   * The packages of each arch when the source decides them itself (module composes: every
   * module RPM, no selection or dependency resolution); otherwise the engine's depsolve runs.
   */
  selection?: DepsolveResult;
  /** Compose arch -> modules.yaml to add to that arch's repodata (module composes). */
  modulemd?: Record<string, string>;
}

export interface SourceContext {
  cfg: Config;
  log: ComposeLog;
  metadata: MetadataCache;
  signal: AbortSignal;
  /**
   * Records compose columns resolution has fixed so far (a tag compose's koji_event), before
   * resolution ends: a compose that fails afterwards keeps them. The pipeline records
   * ResolvedSource.extras in any case.
   */
  recordExtras?(extras: TransitionExtras): Promise<void>;
}

/** One per source type (backend/sources/<type>.ts): turns a compose into its package pool. */
export interface SourceHandler {
  resolve(compose: ComposeRow, ctx: SourceContext): Promise<ResolvedSource>;
  /**
   * Whether `candidate` (identical in every other respect, reference §5.9) still gives what
   * `compose` would: for `tag`, that no tag of the inheritance changed since the candidate's
   * koji_event. Without it, reuse requires equal koji_event values.
   */
  unchangedSince?(compose: ComposeRow, candidate: ComposeRow, ctx: SourceContext): Promise<boolean>;
}
