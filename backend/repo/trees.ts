/**
 * Which packages go into which tree of a compose, as Pungi's gather lays them out:
 *  - `Temporary/<arch>/os`: the gathered binary packages of that arch;
 *  - `Temporary/<arch>/debug/tree`: the debuginfo/debugsource packages of the gathered builds
 *    (and any debug package the request named: it never goes to os/);
 *  - `Temporary/source/tree`: the source RPM of every package of the other trees.
 * Source and debug packages come from the source's own pool (repos hand them over with the
 * binaries: arch `src`/`nosrc` for SRPMs, Pungi's debug name patterns for debuginfo). A pool
 * without them gives empty trees, never a failure.
 */
import { archSet, SOURCE_ARCHES } from '../rpm/arches';
import type { DepsolveResult } from '../rpm/depsolve';
import type { RpmPackage } from '../rpm/model';
import { isDebugName } from '../rpm/multilib';

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

function identity(pkg: RpmPackage): string {
  return `${pkg.name}-${pkg.epoch}:${pkg.version}-${pkg.release}.${pkg.arch}`;
}

/**
 * Splits a solution into the compose's trees. Debug packages of a gathered build are those of
 * the pool built from the same source RPM with the binary's arch (Pungi matches by sourcerpm
 * and arch); for a noarch binary, those of the compose arch's native arches.
 */
export function planTrees(solution: DepsolveResult, pool: readonly RpmPackage[]): ComposeTrees {
  const debugBySource = new Map<string, RpmPackage[]>();
  const sourceByFile = new Map<string, RpmPackage>();
  for (const pkg of pool) {
    if (SOURCE_ARCHES.has(pkg.arch)) {
      if (!sourceByFile.has(srpmFileName(pkg))) sourceByFile.set(srpmFileName(pkg), pkg);
    } else if (isDebugName(pkg.name) && pkg.sourcerpm !== null) {
      const list = debugBySource.get(pkg.sourcerpm);
      if (list) list.push(pkg);
      else debugBySource.set(pkg.sourcerpm, [pkg]);
    }
  }

  const os = new Map<string, RpmPackage[]>();
  const debug = new Map<string, RpmPackage[]>();
  const sourceFiles = new Set<string>();
  for (const arch of solution.arches) {
    const binaries: RpmPackage[] = [];
    const debugPkgs: RpmPackage[] = [];
    const seenDebug = new Set<string>();
    const addDebug = (pkg: RpmPackage): void => {
      if (seenDebug.has(identity(pkg))) return;
      seenDebug.add(identity(pkg));
      debugPkgs.push(pkg);
    };
    const native = archSet(arch.arch, false).native;
    for (const { package: pkg } of arch.packages) {
      if (SOURCE_ARCHES.has(pkg.arch)) continue;
      if (isDebugName(pkg.name)) addDebug(pkg);
      else binaries.push(pkg);
    }
    for (const pkg of binaries) {
      if (pkg.sourcerpm === null) continue;
      for (const d of debugBySource.get(pkg.sourcerpm) ?? []) {
        if (d.arch === pkg.arch || (pkg.arch === 'noarch' && native.has(d.arch))) addDebug(d);
      }
    }
    for (const pkg of [...binaries, ...debugPkgs]) if (pkg.sourcerpm !== null) sourceFiles.add(pkg.sourcerpm);
    os.set(arch.arch, binaries);
    debug.set(arch.arch, debugPkgs);
  }

  const source: RpmPackage[] = [];
  const sourcesMissing: string[] = [];
  for (const file of [...sourceFiles].sort()) {
    const srpm = sourceByFile.get(file);
    if (srpm) source.push(srpm);
    else sourcesMissing.push(file);
  }
  return { os, debug, source, sourcesMissing };
}
