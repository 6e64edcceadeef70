/**
 * Scratch module builds (`scratch_modules`, reference §5.3: ODCS passes them to Pungi as
 * `pkgset_scratch_modules` with `mbs_api_url`). MBS keeps them like other module builds, but
 * they never become "ready" and Koji has neither a content generator build nor tagged RPMs of
 * them: their components are Koji scratch builds. So, as Pungi does:
 *  - the build is looked up in MBS by its exact N:S:V:C, any state (it must have finished:
 *    done, or ready);
 *  - its modulemd per arch is MBS's `final-modulemd` (artifacts included);
 *  - its RPMs are the outputs of its components' Koji tasks (`tasks.rpms.<component>.task_id`),
 *    limited to the artifacts.
 * Pungi includes scratch modules only in composes of type `test` (ODCS's default) and ignores
 * them with a warning otherwise; we fail such a compose instead of building it without them.
 */
import { ComposeError } from '../../common/errors';
import { MBS_STATES, type MbsModuleBuild } from '../mbs/client';
import { nsvcOf } from './resolve-mbs';

/** What scratch resolution needs of MbsClient. */
export interface MbsScratchLookup {
  getModuleBuildByNsvc(nsvc: string, options?: { signal?: AbortSignal }): Promise<MbsModuleBuild | null>;
  getFinalModulemd(id: number, options?: { signal?: AbortSignal }): Promise<Record<string, string>>;
}

export interface ScratchModule {
  build: MbsModuleBuild;
  nsvc: string;
  /** Arch -> the final modulemd of that arch. */
  modulemds: Record<string, string>;
  /** The Koji task ids of its component builds. */
  taskIds: number[];
}

/** The Koji task ids MBS lists for the module's RPM components (`tasks.rpms.<name>.task_id`). */
export function componentTaskIds(build: Pick<MbsModuleBuild, 'raw'>): number[] {
  const tasks = build.raw['tasks'];
  const rpms = typeof tasks === 'object' && tasks !== null ? (tasks as Record<string, unknown>)['rpms'] : undefined;
  if (typeof rpms !== 'object' || rpms === null) return [];
  const ids: number[] = [];
  for (const info of Object.values(rpms as Record<string, unknown>)) {
    const id = typeof info === 'object' && info !== null ? (info as Record<string, unknown>)['task_id'] : undefined;
    if (typeof id === 'number' && Number.isInteger(id) && id > 0 && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

export async function resolveScratchModules(
  nsvcs: readonly string[],
  mbs: MbsScratchLookup,
  options: { composeType: string | null; signal?: AbortSignal },
): Promise<ScratchModule[]> {
  if (nsvcs.length === 0) return [];
  if ((options.composeType ?? 'test') !== 'test') {
    throw new ComposeError('Only test composes could include scratch module builds.');
  }
  const out: ScratchModule[] = [];
  for (const nsvc of nsvcs) {
    if (nsvc.split(':').length !== 4) throw new ComposeError(`Scratch module ${nsvc} must be given as N:S:V:C.`);
    const build = await mbs.getModuleBuildByNsvc(nsvc, { signal: options.signal });
    if (!build) throw new ComposeError(`Failed to find scratch module ${nsvc} in the MBS.`);
    if (build.state !== MBS_STATES.done && build.state !== MBS_STATES.ready) {
      throw new ComposeError(`Scratch module ${nsvc} has not finished building in the MBS (state ${build.stateName}).`);
    }
    const modulemds = await mbs.getFinalModulemd(build.id, { signal: options.signal });
    if (Object.keys(modulemds).length === 0) throw new ComposeError(`MBS gave no final modulemd for scratch module ${nsvc}.`);
    out.push({ build, nsvc: nsvcOf(build), modulemds, taskIds: componentTaskIds(build) });
  }
  return out;
}
