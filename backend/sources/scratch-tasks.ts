/**
 * RPMs of Koji scratch builds, read from their tasks (Pungi's `pkgset_koji_scratch_tasks`,
 * which ODCS fills from `scratch_build_tasks`; also the component builds of MBS scratch
 * modules). A scratch build is never imported: it has no build or rpm ids, no signatures and
 * no `getRPMHeaders` by id, only the files its tasks left under Koji's `work/` tree.
 *
 * What Koji answers (and what we ask, as Pungi does):
 *  - `getTaskInfo(id)`: the task, nil when unknown; state CLOSED (2) once it succeeded. We
 *    check it first so that an unknown, failed or unfinished task fails the compose by name
 *    (Pungi's getTaskChildren of an unknown id is just an empty list);
 *  - `getTaskChildren(id)`: the per-arch `buildArch` tasks of a `build` task;
 *  - `getTaskResult(child)`: `{rpms: [...], srpms: [...], logs: [...], brootid}`, paths relative
 *    to `<topurl>/work` (`tasks/<id % 10000>/<id>/<file>`).
 * The RPMs of the compose's arches and the SRPMs are downloaded (they are unsigned: sigkeys do not
 * apply, as in Pungi) into the compose's own work directory, described by createrepo_c and
 * read like any local repository, so every package field is the file's own.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ComposeError } from '../../common/errors';
import { composeName } from '../../common/compose-json';
import type { ComposeRow } from '../../common/db/entities';
import { getWithRetry } from '../koji/download';
import { isStruct, type XmlRpcValue } from '../koji/xmlrpc';
import { composeTopDir } from '../repo/compose-paths';
import { createrepo } from '../repo/createrepo';
import { askKoji, netSettings, type KojiSession } from './koji-pool';
import type { PackageRepo, SourceContext } from './types';

/** Koji's task states (`koji.TASK_STATES`). */
export const TASK_STATES = { FREE: 0, OPEN: 1, CLOSED: 2, CANCELED: 3, ASSIGNED: 4, FAILED: 5 } as const;

/** Directory (under the compose's top directory) of the compose's own work files (removed with it). */
export const COMPOSE_WORK_DIR = 'work';

/** A task output path as Koji's buildArch reports it: nothing that can leave `work/tasks/`. */
const TASK_FILE = /^tasks\/\d+\/\d+\/([A-Za-z0-9][A-Za-z0-9._+~^-]*\.rpm)$/;

/** One RPM file a task produced. */
export interface TaskRpm {
  taskId: number;
  /** Relative to `<topurl>/work`. */
  relPath: string;
  fileName: string;
  arch: string;
}

function stateName(state: number): string {
  return Object.entries(TASK_STATES).find(([, v]) => v === state)?.[0] ?? String(state);
}

/** The task ids of a request (validated as digits at the API; checked again, rows may be old). */
export function taskIdsOf(values: readonly string[]): number[] {
  return values.map((v) => {
    if (!/^\d{1,18}$/.test(v)) throw new ComposeError(`Invalid Koji task id "${v}" in scratch_build_tasks`);
    return Number(v);
  });
}

/**
 * The RPM files (of `arches`, and the source RPMs, which the compose's source tree takes) that
 * the scratch build tasks produced: each task must exist and be closed; its children's results
 * name the files (`rpms` and `srpms`, as Pungi reads both).
 */
export async function taskRpms(session: KojiSession, taskIds: readonly number[], arches: readonly string[]): Promise<TaskRpm[]> {
  const { koji } = session;
  const archSet = new Set(arches);
  const out: TaskRpm[] = [];
  const seen = new Set<string>();
  for (const id of taskIds) {
    const info = await askKoji(`task lookup of ${id}`, () => koji.call('getTaskInfo', [id]));
    if (!isStruct(info)) throw new ComposeError(`Koji task ${id} does not exist.`);
    const state = Number(info['state']);
    if (state !== TASK_STATES.CLOSED) {
      throw new ComposeError(`Koji task ${id} has not finished successfully (state ${stateName(state)}); only closed scratch build tasks can be composed.`);
    }
    const children = await askKoji(`children of task ${id}`, () => koji.call('getTaskChildren', [id]));
    // A task without children (a buildArch task given directly) holds its RPMs itself.
    const ids = Array.isArray(children) && children.length > 0 ? children.filter(isStruct).map((c) => Number(c['id'])) : [id];
    for (const child of ids) {
      const result = await askKoji(`result of task ${child}`, () => koji.call('getTaskResult', [child]));
      for (const rel of resultRpms(result)) {
        const m = TASK_FILE.exec(rel);
        if (!m) throw new ComposeError(`Koji task ${child} names an unexpected output file ${JSON.stringify(rel)}.`);
        const fileName = m[1]!;
        const arch = /\.([^.]+)\.rpm$/.exec(fileName)?.[1] ?? '';
        // One SRPM may be reported by every buildArch child of the build.
        if (seen.has(`${id}/${fileName}`) || !(archSet.has(arch) || arch === 'src' || arch === 'nosrc')) continue;
        seen.add(`${id}/${fileName}`);
        out.push({ taskId: id, relPath: rel, fileName, arch });
      }
    }
  }
  return out;
}

function resultRpms(result: XmlRpcValue): string[] {
  if (!isStruct(result)) return [];
  const list = (key: string): string[] => {
    const v = result[key];
    return Array.isArray(v) ? v.map((r) => String(r)) : [];
  };
  return [...list('rpms'), ...list('srpms')];
}

/**
 * Downloads `rpms` into `dir` (one sub-directory per task) and reads them as a repository.
 * Null when there is nothing to read.
 */
export async function taskRpmRepo(
  session: KojiSession,
  ctx: SourceContext,
  rpms: readonly TaskRpm[],
  dir: string,
  name: string,
): Promise<PackageRepo | null> {
  if (rpms.length === 0) return null;
  const { koji, log } = session;
  // Koji serves the work tree under its topurl; a redirect elsewhere is refused (common/http).
  const net = { ...netSettings(ctx.cfg), allow: koji.allow, log: (message: string) => log.warning(message), signal: ctx.signal };
  await rm(dir, { recursive: true, force: true });
  for (const rpm of rpms) {
    const target = path.join(dir, String(rpm.taskId), rpm.fileName);
    await mkdir(path.dirname(target), { recursive: true });
    const url = `${koji.topurl.replace(/\/+$/, '')}/work/${rpm.relPath}`;
    const body = await askKoji(`download of ${rpm.relPath}`, () => getWithRetry(url, net)).catch((err: unknown) => {
      throw err instanceof ComposeError ? err : new ComposeError(`Cannot download ${url}: ${(err as Error).message}`);
    });
    if (!body) throw new ComposeError(`Koji task ${rpm.taskId} lists ${rpm.relPath}, but ${url} does not exist.`);
    const part = `${target}.part`;
    await pipeline(body, createWriteStream(part), { signal: ctx.signal });
    await rename(part, target);
  }
  await createrepo(dir, { command: ctx.cfg.createrepo_c, log, signal: ctx.signal });
  const parsed = await ctx.metadata.read(dir, ctx.signal);
  const roots = [await realpath(dir)];
  log.info(`${name}: ${parsed.packages.length} RPMs from Koji tasks`);
  return {
    name,
    packages: parsed.packages,
    origin: (pkg) => ({ kind: 'local', file: path.resolve(dir, pkg.location), roots }),
  };
}

/** A directory of the compose's work files (task RPMs, the module defaults checkout), removed with the compose. */
export function composeWorkDir(compose: Pick<ComposeRow, 'id' | 'reused_id' | 'target_dir'>, ctx: SourceContext, sub: string): string {
  const topDir = composeTopDir(compose.target_dir ?? ctx.cfg.target_dir, composeName(compose));
  return path.join(topDir, COMPOSE_WORK_DIR, sub);
}

/**
 * The package repository of a compose's `scratch_build_tasks` (null without any): they join
 * the package set as Pungi's `pkgset_koji_scratch_tasks` do, for `tag` and `build` composes.
 */
export async function scratchBuildTasksRepo(session: KojiSession, ctx: SourceContext, compose: ComposeRow, arches: readonly string[]): Promise<PackageRepo | null> {
  const ids = taskIdsOf(compose.scratch_build_tasks ?? []);
  if (ids.length === 0) return null;
  ctx.log.info(`Koji scratch build tasks ${ids.join(' ')}`);
  const rpms = await taskRpms(session, ids, arches);
  return taskRpmRepo(session, ctx, rpms, composeWorkDir(compose, ctx, 'scratch-build-tasks'), 'koji-scratch-tasks');
}
