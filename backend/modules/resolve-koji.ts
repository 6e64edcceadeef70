/**
 * Resolving a module compose through Koji instead of MBS, when the compose names
 * `modular_koji_tags` (ODCS's depsolve_modules, reference §5.2), at Koji's last event:
 *  - N:S: the module builds of that name in the tags (with inheritance), a build of a stream
 *    counting only from the top-most tag of each tag's inheritance that has the stream, earlier
 *    tags in the list winning for a stream; of each stream the highest version, all contexts;
 *  - N:S:V and N:S:V:C: a Koji build search by NVR glob `<n>-<s with - as _>-<v>.<c or *>`;
 *  - the runtime module dependencies in each build's modulemd (Koji keeps it in the build's
 *    `extra.typeinfo.module`) are followed the same way, whatever `no_deps` says, as ODCS does.
 * A name or stream found nowhere contributes nothing (ODCS does not fail there either); the
 * compose log says so.
 */
import type { ComposeLog } from '../compose-log';
import type { KojiClient } from '../koji/client';
import type { KojiBuild, KojiEvent, KojiTaggedBuild } from '../koji/types';
import { isStruct, type XmlRpcValue } from '../koji/xmlrpc';
import { parseModulemd, unionDeps } from '../mbs/client';
import { modulemdIdentity } from './modulemd';
import { ModuleLookupError } from './resolve-mbs';

/** A module build a compose includes, whichever way it was found. */
export interface ResolvedModule {
  name: string;
  stream: string;
  version: string;
  context: string;
  /** The Koji tag holding the module's RPMs. */
  kojiTag: string | null;
  /** The modulemd YAML with the RPM artifacts of every arch. */
  modulemd: string;
  /** Arches the module was built for, when known. */
  arches: string[] | null;
  /**
   * A `-devel` module relabelled from its MBS build: its RPMs are those of the module's Koji tag
   * the module itself leaves out (its modulemd still lists the module's artifacts).
   */
  devel?: boolean;
}

export interface KojiModuleOptions {
  baseModuleNames: readonly string[];
  /** Ignored, as ODCS ignores it on this path; accepted so callers pass what they have. */
  noDeps?: boolean;
  log?: ComposeLog;
}

/** What resolution needs of KojiClient. */
export type KojiModuleLookup = Pick<KojiClient, 'getLastEvent' | 'listTagged' | 'getFullInheritance' | 'getBuild' | 'call'>;

interface Found {
  module: ResolvedModule;
  /** `name:stream` of its runtime module dependencies (base modules left out). */
  deps: string[];
}

const nsvcOf = (m: ResolvedModule): string => `${m.name}:${m.stream}:${m.version}:${m.context}`;

/** A module build's modulemd and N:S:V:C, from its Koji build extra. */
export function moduleFromKojiBuild(build: Pick<KojiBuild, 'nvr' | 'extra'>, baseModuleNames: readonly string[]): Found {
  const typeinfo = build.extra && isStruct(build.extra['typeinfo']) ? build.extra['typeinfo'] : null;
  const info = typeinfo && isStruct(typeinfo['module']) ? typeinfo['module'] : null;
  const text = info?.['modulemd_str'];
  if (!info || typeof text !== 'string') throw new ModuleLookupError(`Koji build ${build.nvr} is not a module build (no modulemd in its extra)`);
  const mmd = parseModulemd(text);
  const id = modulemdIdentity(text);
  const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? String(v) : '');
  const module: ResolvedModule = {
    name: id.name || str(info['name']),
    stream: id.stream || str(info['stream']),
    version: id.version || str(info['version']),
    context: id.context || str(info['context']),
    kojiTag: typeof info['content_koji_tag'] === 'string' ? info['content_koji_tag'] : null,
    modulemd: text,
    arches: null,
  };
  const deps: string[] = [];
  for (const [name, streams] of Object.entries(unionDeps(mmd.runtimeDeps))) {
    if (baseModuleNames.includes(name)) continue;
    for (const s of streams) if (!deps.includes(`${name}:${s}`)) deps.push(`${name}:${s}`);
  }
  return { module, deps };
}

/**
 * Keeps, of each name-stream, only the builds from the top-most tag of `topTag`'s inheritance
 * that has it (Koji's `latest` does not know streams, so ODCS does this itself).
 */
export function filterInherited(builds: readonly KojiTaggedBuild[], topTag: string, inheritance: readonly string[]): KojiTaggedBuild[] {
  const order = [topTag, ...inheritance];
  const groups = new Map<string, KojiTaggedBuild[]>();
  for (const b of builds) {
    const key = `${b.name}\0${b.version}`;
    const g = groups.get(key);
    if (g) g.push(b);
    else groups.set(key, [b]);
  }
  const out: KojiTaggedBuild[] = [];
  for (const g of groups.values()) {
    const available = new Set(g.map((b) => b.tag_name));
    const top = order.find((t) => available.has(t));
    out.push(...g.filter((b) => b.tag_name === top));
  }
  return out;
}

/** Of each name-stream, every context of the highest version (release = `<version>.<context>`). */
export function latestModuleBuilds<B extends Pick<KojiTaggedBuild, 'name' | 'version' | 'release'>>(builds: readonly B[]): B[] {
  const top = new Map<string, bigint>();
  const versionOf = (b: B): bigint => {
    const v = b.release.split('.')[0] ?? '';
    return /^\d+$/.test(v) ? BigInt(v) : -1n;
  };
  for (const b of builds) {
    const key = `${b.name}\0${b.version}`;
    const v = versionOf(b);
    if (!top.has(key) || v > top.get(key)!) top.set(key, v);
  }
  return builds.filter((b) => versionOf(b) === top.get(`${b.name}\0${b.version}`));
}

/** The module builds of a module compose found through Koji. */
export async function resolveThroughKoji(
  items: readonly string[],
  tags: readonly string[],
  koji: KojiModuleLookup,
  options: KojiModuleOptions,
): Promise<ResolvedModule[]> {
  const event = await koji.getLastEvent();
  const byName = new Map<string, Found[]>();

  const fromTags = async (name: string): Promise<Found[]> => fromKojiTags(koji, tags, event, name, options);
  for (const item of items) {
    const parts = item.split(':');
    if (parts.length < 2) throw new ModuleLookupError(`${item} is not in N:S[:V[:C]] format`);
    const name = parts[0]!;
    byName.set(name, parts.length > 2 ? await exactModule(koji, parts, options) : await fromTags(name));
  }
  const unresolved = new Set(items.map((i) => i.split(':').slice(0, 2).join(':')));
  const resolved = new Set<string>();
  const results = new Map<string, ResolvedModule>();
  while (unresolved.size > 0) {
    const ns = unresolved.values().next().value as string;
    unresolved.delete(ns);
    resolved.add(ns);
    const name = ns.split(':')[0]!;
    if (!byName.has(name)) byName.set(name, await fromTags(name));
    const matching = byName.get(name)!.filter((f) => nsvcOf(f.module).startsWith(`${ns}:`));
    if (matching.length === 0) options.log?.warning(`No module build of ${ns} found in Koji tags ${tags.join(' ')}`);
    for (const f of matching) {
      for (const dep of f.deps) if (!resolved.has(dep)) unresolved.add(dep);
      results.set(nsvcOf(f.module), f.module);
    }
  }
  return [...results.values()];
}

async function fromKojiTags(koji: KojiModuleLookup, tags: readonly string[], event: KojiEvent, name: string, options: KojiModuleOptions): Promise<Found[]> {
  const builds: KojiTaggedBuild[] = [];
  const streams = new Set<string>();
  for (const tag of tags) {
    const listed = await koji.listTagged(tag, { event: event.id, package: name, inherit: true, type: 'module' });
    const inheritance = (await koji.getFullInheritance(tag, { event: event.id })).map((l) => l.name);
    const kept = filterInherited(listed, tag, inheritance);
    // A stream found in an earlier tag is not taken again from a later one.
    for (const b of kept) if (!streams.has(b.version)) builds.push(b);
    for (const b of kept) streams.add(b.version);
  }
  const out: Found[] = [];
  for (const b of latestModuleBuilds(builds)) {
    const build = await koji.getBuild(b.build_id, { strict: true });
    out.push(moduleFromKojiBuild(build!, options.baseModuleNames));
  }
  options.log?.info(`Koji: module ${name} in ${tags.join(' ')} -> ${out.map((f) => nsvcOf(f.module)).join(' ') || 'nothing'}`);
  return out;
}

async function exactModule(koji: KojiModuleLookup, parts: readonly string[], options: KojiModuleOptions): Promise<Found[]> {
  const nvr = `${parts[0]}-${parts[1]!.replace(/-/g, '_')}-${parts[2]}.${parts[3] ?? '*'}`;
  const hits = await koji.call('search', [nvr, 'build', 'glob']);
  const out: Found[] = [];
  for (const hit of Array.isArray(hits) ? hits : []) {
    const id = isStruct(hit) ? (hit as Record<string, XmlRpcValue>)['id'] : undefined;
    if (typeof id !== 'number') continue;
    const build = await koji.getBuild(id, { strict: true });
    out.push(moduleFromKojiBuild(build!, options.baseModuleNames));
  }
  options.log?.info(`Koji: build search ${nvr} -> ${out.map((f) => nsvcOf(f.module)).join(' ') || 'nothing'}`);
  return out;
}
