/**
 * Which packages go into which tree of a compose, as Pungi's gather lays them out:
 *  - `Temporary/<arch>/os`: the gathered binary packages of that arch;
 *  - `Temporary/<arch>/debug/tree`: the debuginfo/debugsource packages of the gathered builds
 *    (and any debug package the request named: it never goes to os/);
 *  - `Temporary/source/tree`: the source RPM of every gathered binary package.
 * Source and debug packages come from the source's own pool (repos hand them over with the
 * binaries: arch `src`/`nosrc` for SRPMs, Pungi's debug name patterns for debuginfo). A pool
 * without them gives empty trees, never a failure.
 */
import { archSet, SOURCE_ARCHES } from '../rpm/arches';
import type { DepsolveResult } from '../rpm/depsolve';
import type { Dep, RpmPackage } from '../rpm/model';
import { isDebugName } from '../rpm/multilib';
import { latestPerNameArch } from '../rpm/package-index';
import { formatDep } from '../rpm/richdeps';
import { rangesOverlap } from '../rpm/vercmp';

export interface ComposeTrees {
  /** Compose arch -> binary packages for its os/ tree, in the solution's order. */
  os: Map<string, RpmPackage[]>;
  /** Compose arch -> debug packages for its debug/tree. */
  debug: Map<string, RpmPackage[]>;
  /** The source RPMs, each once. */
  source: RpmPackage[];
  /** Source RPM file names some placed package names but the pool does not hold. */
  sourcesMissing: string[];
}

/** The file name a source RPM has, as binary packages name it in their `sourcerpm`. */
function srpmFileName(pkg: RpmPackage): string {
  return `${pkg.name}-${pkg.version}-${pkg.release}.${pkg.arch}.rpm`;
}

/** Pungi's order among debug providers: best arch, then shortest name, then alphabetical. */
function betterProvider(order: readonly string[]): (a: RpmPackage, b: RpmPackage) => number {
  return (a, b) => order.indexOf(a.arch) - order.indexOf(b.arch) || a.name.length - b.name.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function provides(pkg: RpmPackage, dep: Dep): boolean {
  if (dep.name.startsWith('/') && pkg.files.includes(dep.name)) return true;
  return pkg.provides.some((p) => p.name === dep.name && rangesOverlap(p, dep));
}

export interface PlanOptions {
  /** Compose arches whose multilib arches take part (the compose's multilib_arches). */
  multilibArches?: readonly string[];
  /** `no_deps`: requirements of debug packages are not resolved either. */
  noDeps?: boolean;
}

/**
 * Splits a solution into the compose's trees with the rules of Pungi's gather (4.3,
 * `add_source_packages`, `add_debug_packages`, `add_debug_package_deps`):
 *  - the source RPM of every gathered *binary* package (matched by name-version-release, the
 *    one of the binary's own repository first);
 *  - for every gathered binary package, the debug packages built from the same source RPM with
 *    the same arch that are its own `<name>-debuginfo` or a `*-debugsource` (so a noarch
 *    package brings none, and `foo-libs` does not bring `foo-debuginfo`);
 *  - debug packages the request named (the depsolver selected them), never in os/;
 *  - unless `no_deps`, the requirements of the debug packages, resolved among the debug
 *    packages only (Pungi's best provider: native before multilib, best arch, shortest name,
 *    then alphabetical; greedy `build` siblings). Rich requirements are not evaluated there.
 */
export function planTrees(solution: DepsolveResult, pool: readonly RpmPackage[], options: PlanOptions = {}): ComposeTrees {
  const sourcesByFile = new Map<string, RpmPackage[]>();
  for (const pkg of pool) {
    if (!SOURCE_ARCHES.has(pkg.arch)) continue;
    const list = sourcesByFile.get(srpmFileName(pkg));
    if (list) list.push(pkg);
    else sourcesByFile.set(srpmFileName(pkg), [pkg]);
  }
  // Only the latest build of each name.arch is visible, as for binary packages.
  const debugPool = latestPerNameArch(pool.filter((p) => isDebugName(p.name)));
  const multilibArches = new Set(options.multilibArches ?? []);

  const os = new Map<string, RpmPackage[]>();
  const debug = new Map<string, RpmPackage[]>();
  const sources = new Map<string, RpmPackage>();
  const sourcesMissing = new Set<string>();
  for (const arch of solution.arches) {
    const set = archSet(arch.arch, multilibArches.has(arch.arch));
    const visible = debugPool.filter((p) => set.native.has(p.arch) || set.multilib.has(p.arch));
    const bySource = new Map<string, RpmPackage[]>();
    for (const d of visible) {
      if (d.sourcerpm === null) continue;
      const list = bySource.get(d.sourcerpm);
      if (list) list.push(d);
      else bySource.set(d.sourcerpm, [d]);
    }
    const binaries: RpmPackage[] = [];
    const debugPkgs: RpmPackage[] = [];
    // By NEVRA: two repositories may hold the same debug package.
    const inDebug = new Set<string>();
    const addDebug = (pkg: RpmPackage): void => {
      const key = `${pkg.name}-${pkg.epoch}:${pkg.version}-${pkg.release}.${pkg.arch}`;
      if (inDebug.has(key)) return;
      inDebug.add(key);
      debugPkgs.push(pkg);
    };
    for (const { package: pkg } of arch.packages) {
      if (SOURCE_ARCHES.has(pkg.arch)) continue;
      if (isDebugName(pkg.name)) addDebug(pkg);
      else binaries.push(pkg);
    }
    for (const pkg of binaries) {
      if (pkg.sourcerpm === null) continue;
      for (const d of bySource.get(pkg.sourcerpm) ?? []) {
        if (d.arch === pkg.arch && (d.name === `${pkg.name}-debuginfo` || d.name.includes('-debugsource'))) addDebug(d);
      }
      const candidates = sourcesByFile.get(pkg.sourcerpm);
      if (!candidates) sourcesMissing.add(pkg.sourcerpm);
      else if (!sources.has(pkg.sourcerpm)) sources.set(pkg.sourcerpm, candidates.find((c) => c.repoId === pkg.repoId) ?? candidates[0]!);
    }
    if (!options.noDeps) resolveDebugDeps(debugPkgs, addDebug, visible, set.order, set.native);
    os.set(arch.arch, binaries);
    debug.set(arch.arch, debugPkgs);
  }
  const source = [...sources.keys()].sort().map((file) => sources.get(file)!);
  return { os, debug, source, sourcesMissing: [...sourcesMissing].sort() };
}

/** Pungi's add_debug_package_deps: grows `selected` (through `add`) until nothing is added. */
function resolveDebugDeps(
  selected: RpmPackage[],
  add: (pkg: RpmPackage) => void,
  visible: readonly RpmPackage[],
  order: readonly string[],
  native: ReadonlySet<string>,
): void {
  const resolved = new Map<string, RpmPackage[]>();
  const byBest = betterProvider(order);
  // Candidates by provided name (and every package for file requirements): a big pool has
  // tens of thousands of debug packages.
  const byName = new Map<string, RpmPackage[]>();
  for (const p of visible) {
    for (const name of new Set(p.provides.map((d) => d.name))) {
      const list = byName.get(name);
      if (list) list.push(p);
      else byName.set(name, [p]);
    }
  }
  // `selected` grows while it is walked: every added package has its requirements resolved too.
  for (let i = 0; i < selected.length; i++) {
    for (const req of selected[i]!.requires) {
      if (req.name.startsWith('rpmlib(') || req.name.startsWith('(')) continue;
      const key = formatDep(req);
      let chosen = resolved.get(key);
      if (!chosen) {
        const providers = (req.name.startsWith('/') ? visible : (byName.get(req.name) ?? [])).filter((p) => provides(p, req));
        const nativeSide = providers.filter((p) => native.has(p.arch));
        const side = nativeSide.length ? nativeSide : providers.filter((p) => !native.has(p.arch));
        const best = [...side].sort(byBest)[0];
        chosen = best ? side.filter((p) => p.sourcerpm !== null && p.sourcerpm === best.sourcerpm) : [];
        if (best && !chosen.includes(best)) chosen.push(best);
        resolved.set(key, chosen);
      }
      for (const p of chosen) add(p);
    }
  }
}
