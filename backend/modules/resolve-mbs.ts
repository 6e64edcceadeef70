/**
 * Resolving a module compose's N:S[:V[:C]] list through MBS, as ODCS's resolve_compose does
 * (reference §5.2):
 *  - each item: the builds of the highest version in state ready (ready or done with the
 *    `include_done_modules` flag, or when the item is a full N:S:V:C), all contexts of it,
 *    filtered by the compose's base_module_br_* fields;
 *  - the same N:S at two versions is a conflict; the same context twice is one;
 *  - unless no_deps: the runtime module dependencies, recursively, each as the latest build of
 *    that N:S built against the same base module major version as the module requiring it
 *    (base modules themselves are never looked up).
 */
import { ComposeError } from '../../common/errors';
import { parseModulemd, unionDeps, type MbsModuleBuild, type ModuleBuildQuery } from '../mbs/client';
import { develModulemd } from './modulemd';

/** What resolution needs of MbsClient (narrow, so tests can hand a real client or a fixed table). */
export interface MbsLookup {
  getLatestModuleBuilds(query: ModuleBuildQuery, options?: { signal?: AbortSignal }): Promise<MbsModuleBuild[]>;
}

export interface BaseModuleFilter {
  name?: string | null;
  stream?: string | null;
  lte?: number | null;
  gte?: number | null;
}

export interface MbsResolveOptions {
  includeDone: boolean;
  noDeps: boolean;
  baseModuleNames: readonly string[];
  /** The compose's base_module_br_* fields: they filter the requested items. */
  baseModuleBr?: BaseModuleFilter;
  signal?: AbortSignal;
  /** Told about each lookup, for the compose log. */
  onLookup?: (nsvc: string, found: readonly MbsModuleBuild[]) => void;
}

/** A module could not be found, or two of them conflict. */
export class ModuleLookupError extends ComposeError {
  override name = 'ModuleLookupError';
}

export type Nsvc = Pick<MbsModuleBuild, 'name' | 'stream' | 'version' | 'context'>;

export function nsvcOf(m: Nsvc): string {
  return `${m.name}:${m.stream}:${m.version}:${m.context}`;
}

/**
 * The base-module stream version range a dependency of `build` is looked up in: at most the
 * stream version of the base module `build` was built against, at least its major version
 * padded with zeros to the same number of digits (el8.2.0 -> 80200 .. 80000, f30 -> 300000 ..
 * 300000). Null when MBS told no stream version.
 */
export function dependencyBaseRange(build: Pick<MbsModuleBuild, 'baseModuleBuildrequires'>): { name: string; lte: number; gte: number } | null {
  for (const base of build.baseModuleBuildrequires) {
    if (base.stream_version === null || base.stream_version === undefined) continue;
    const major = /\d+/.exec(base.stream)?.[0];
    const lte = base.stream_version;
    if (!major) continue;
    const digits = String(lte).length;
    const gte = Number(major.replace(/^0+(?=\d)/, '').padEnd(digits, '0'));
    return { name: base.name, lte, gte: Math.min(gte, lte) };
  }
  return null;
}

/** The runtime module dependencies as `name:stream` keys, base modules and "any stream" left out. */
export function runtimeDependencyKeys(build: Pick<MbsModuleBuild, 'mmd'>, baseModuleNames: readonly string[]): string[] {
  const keys: string[] = [];
  for (const block of build.mmd?.runtimeDeps ?? []) {
    for (const [name, streams] of Object.entries(block)) {
      if (baseModuleNames.includes(name)) continue;
      // An empty list means any stream and `-s` excludes one: ODCS looks up only streams named
      // positively (MBS writes the concrete streams into the modulemd of a finished build).
      for (const stream of streams) {
        if (stream.startsWith('-')) continue;
        const key = `${name}:${stream}`;
        if (!keys.includes(key)) keys.push(key);
      }
    }
  }
  return keys;
}

/**
 * Deduplicates `modules` as ODCS's validate_module_list does: the first build of each N:S
 * decides the version; another version is a conflict; a context seen before is dropped.
 * `map` (N:S -> builds) is filled in.
 */
export function mergeModules(modules: readonly MbsModuleBuild[], map: Map<string, MbsModuleBuild[]>): MbsModuleBuild[] {
  const out: MbsModuleBuild[] = [];
  for (const m of modules) {
    const key = `${m.name}:${m.stream}`;
    const old = map.get(key);
    if (!old || old.length === 0) {
      map.set(key, [m]);
      out.push(m);
      continue;
    }
    if (m.version !== old[0]!.version) throw new ModuleLookupError(`${nsvcOf(m)} conflicts with ${nsvcOf(old[0]!)}`);
    if (old.some((o) => o.context === m.context)) continue;
    old.push(m);
    out.push(m);
  }
  return out;
}

async function latest(mbs: MbsLookup, nsvc: string, includeDone: boolean, filter: BaseModuleFilter, options: MbsResolveOptions): Promise<MbsModuleBuild[]> {
  const query: ModuleBuildQuery = { nsvc, states: includeDone ? [3, 5] : [5] };
  if (filter.name) query.baseModuleBrName = filter.name;
  if (filter.stream) query.baseModuleBrStream = filter.stream;
  // ODCS passes the range only when set and non-zero.
  if (filter.lte) query.baseModuleBrStreamVersionLte = filter.lte;
  if (filter.gte) query.baseModuleBrStreamVersionGte = filter.gte;
  let found = await mbs.getLatestModuleBuilds(query, { signal: options.signal });
  const name = nsvc.split(':')[0]!;
  if (found.length === 0 && name.endsWith('-devel')) {
    // A -devel module is a Koji content generator build MBS does not list: its MBS build is
    // the module without the suffix, relabelled.
    const plain = await mbs.getLatestModuleBuilds({ ...query, nsvc: name.slice(0, -'-devel'.length) + nsvc.slice(name.length) }, { signal: options.signal });
    found = plain.map(develBuild);
  }
  options.onLookup?.(nsvc, found);
  if (found.length === 0) {
    throw new ModuleLookupError(`Failed to find module ${nsvc} in ${includeDone ? 'ready or done' : 'ready'} state in the MBS.`);
  }
  return found;
}

/** Whether a build is the `-devel` relabelling of an MBS build (see develBuild). */
export function isDevelBuild(b: Pick<MbsModuleBuild, 'name' | 'raw'>): boolean {
  return b.raw['name'] !== b.name && b.name.endsWith('-devel');
}

/** The `-devel` module of an MBS build: renamed, and requiring the module at runtime. */
export function develBuild(b: MbsModuleBuild): MbsModuleBuild {
  const modulemd = b.modulemd === null ? null : develModulemd(b.modulemd);
  const mmd = modulemd === null ? null : parseModulemd(modulemd);
  return { ...b, name: `${b.name}-devel`, modulemd, mmd, runtimeDeps: mmd ? unionDeps(mmd.runtimeDeps) : { [b.name]: [b.stream] } };
}

/** The module builds of a module compose, requested ones first, then dependencies as found. */
export async function resolveThroughMbs(items: readonly string[], mbs: MbsLookup, options: MbsResolveOptions): Promise<MbsModuleBuild[]> {
  const requested: MbsModuleBuild[] = [];
  for (const item of items) {
    // A full N:S:V:C is taken in "done" state too: the submitter asked for exactly that build.
    const complete = item.split(':').length - 1 === 3;
    requested.push(...(await latest(mbs, item, options.includeDone || complete, options.baseModuleBr ?? {}, options)));
  }
  const map = new Map<string, MbsModuleBuild[]>();
  const result = mergeModules(requested, map);
  if (options.noDeps) return result;
  let added = result;
  while (added.length > 0) {
    const next: MbsModuleBuild[] = [];
    for (const module of added) {
      const range = dependencyBaseRange(module);
      for (const key of runtimeDependencyKeys(module, options.baseModuleNames)) {
        if (map.has(key)) continue;
        const found = await latest(mbs, key, options.includeDone, range ?? {}, options);
        map.set(key, found);
        next.push(...found);
      }
    }
    result.push(...next);
    added = next;
  }
  return result;
}

/** The compose's new `source`: the resolved N:S:V:C, sorted, base modules left out. */
export function resolvedSource(modules: readonly Nsvc[], baseModuleNames: readonly string[]): string {
  const uids = new Set(modules.filter((m) => !baseModuleNames.includes(m.name)).map(nsvcOf));
  return [...uids].sort().join(' ');
}
