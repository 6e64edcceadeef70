/**
 * What a module compose contains on each arch: every RPM of the included modules whose arch
 * belongs there, nothing else, no dependency resolution. That is Pungi's `module` gather source
 * with the `nodeps` method, which ODCS configures for module composes (reference §5.3):
 * dependencies between modules are expressed as module dependencies, and `dnf module` resolves
 * them on the client.
 *
 * The engine's depsolver is not used on purpose: it keeps only the newest build of each
 * name.arch visible, whereas two contexts (or two modules) may ship the same package name in
 * different builds, and Pungi includes all of them.
 */
import type { ArchSolution, DepsolveResult, SelectedPackage } from '../rpm/depsolve';
import { archSet } from '../rpm/arches';
import type { RpmPackage } from '../rpm/model';

export interface ModulePackage {
  pkg: RpmPackage;
  /** N:S:V:C of the module(s) listing this RPM among their artifacts. */
  modules: readonly string[];
}

export interface ModuleSelectionRequest {
  packages: readonly ModulePackage[];
  arches: readonly string[];
  /** Compose arches whose multilib arches (i686 on x86_64, …) are included too. */
  multilibArches?: readonly string[];
  /**
   * Whether a module (N:S:V:C) is in the compose on a compose arch: Pungi leaves a module out
   * of an arch it was not built for, noarch RPMs included. Default: everywhere.
   */
  moduleOnArch?: (module: string, arch: string) => boolean;
}

export function selectModulePackages(request: ModuleSelectionRequest): DepsolveResult {
  const multilib = new Set(request.multilibArches ?? []);
  const all: SelectedPackage[] = [];
  const seen = new Set<RpmPackage>();
  const arches: ArchSolution[] = [...new Set(request.arches)].map((arch) => {
    const set = archSet(arch, multilib.has(arch));
    const packages: SelectedPackage[] = [];
    for (const { pkg, modules } of request.packages) {
      if (!set.native.has(pkg.arch) && !set.multilib.has(pkg.arch)) continue;
      if (request.moduleOnArch && !modules.some((m) => request.moduleOnArch!(m, arch))) continue;
      const selected: SelectedPackage = { package: pkg, reason: { kind: 'requested', pattern: `module ${modules.join(', ')}` } };
      packages.push(selected);
      if (!seen.has(pkg)) {
        seen.add(pkg);
        all.push(selected);
      }
    }
    return { arch, packages, lookaside: [], unresolved: [], missing: [] };
  });
  return { arches, packages: all, unresolved: [], missing: [], notInCompose: [] };
}
