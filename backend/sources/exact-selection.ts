import { productmdNevra } from '../repo/productmd';
import type { DepsolveResult, SelectedPackage } from '../rpm/depsolve';
import type { RpmPackage } from '../rpm/model';

/**
 * Exactly the listed packages of each arch (productmd NEVRAs, `name-epoch:version-release.arch`)
 * taken from `pool`, without selection or dependency resolution: what a `pungi_compose` source
 * lists, or what a regenerated compose repeats. `why` says, per NEVRA, why it is there (for
 * depsolve.json). Returns the NEVRAs the pool does not have, sorted, for the caller's message.
 */
export function exactSelection(
  byArch: Iterable<readonly [string, Iterable<string>]>,
  pool: readonly RpmPackage[],
  why: (nevra: string) => string,
): { solution: DepsolveResult; missing: string[] } {
  const byNevra = new Map<string, RpmPackage>();
  for (const pkg of pool) {
    const n = productmdNevra(pkg);
    // The first repository that has a package is the one it is taken from (as for any compose).
    if (!byNevra.has(n)) byNevra.set(n, pkg);
  }
  const missing = new Set<string>();
  const all = new Map<RpmPackage, SelectedPackage>();
  const arches = [...byArch].map(([arch, nevras]) => {
    const packages: SelectedPackage[] = [];
    for (const n of nevras) {
      const pkg = byNevra.get(n);
      if (!pkg) {
        missing.add(n);
        continue;
      }
      const selected: SelectedPackage = { package: pkg, reason: { kind: 'requested', pattern: why(n) } };
      packages.push(selected);
      if (!all.has(pkg)) all.set(pkg, selected);
    }
    return { arch, packages, lookaside: [], unresolved: [], missing: [] };
  });
  return {
    solution: { arches, packages: [...all.values()], unresolved: [], missing: [], notInCompose: [] },
    missing: [...missing].sort(),
  };
}
