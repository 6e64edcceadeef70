/**
 * The packages a depsolve can see, with what they provide indexed once: only the latest
 * version of each (name, arch) is visible (as in Pungi, where an older build can never satisfy
 * a dependency), decided over the main pool and the lookaside together (Pungi's gather filters
 * one query over all its repositories with hawkey's latest(), so a newer lookaside build hides
 * the main pool's older one; a build present in both stays visible twice, and the solver takes
 * the lookaside copy), source packages are left out, and files are indexed only when some
 * package requires them (as libsolv does), which keeps a large pool's index small.
 *
 * Every package provides itself (`foo = E:V-R`) and most arched ones their ISA form too
 * (`foo(x86-64) = E:V-R`). Those are half of all provides and unique per package, so instead
 * of indexing them they are answered from the by-name map, through a flag saying the package
 * really carries that provide.
 */
import { SOURCE_ARCHES } from './arches';
import { isRichDepName, type Dep, type RpmPackage } from './model';
import { isDebugName } from './multilib';
import { formatDep, parseRichDep, simpleDepsOf, type RichExpr } from './richdeps';
import { compareEvr, rangesOverlap } from './vercmp';

interface ProvideEntry {
  id: number;
  dep: Dep;
}

const SELF_PROVIDE = 1;
const ISA_PROVIDE = 2;

/** rpm's %{_isa} suffix by package arch. */
const ISA: Record<string, string> = {
  x86_64: 'x86-64',
  amd64: 'x86-64',
  ia32e: 'x86-64',
  i386: 'x86-32',
  i486: 'x86-32',
  i586: 'x86-32',
  i686: 'x86-32',
  athlon: 'x86-32',
  aarch64: 'aarch-64',
  ppc64le: 'ppc-64',
  ppc64: 'ppc-64',
  ppc64p7: 'ppc-64',
  ppc: 'ppc-32',
  s390x: 's390-64',
  s390: 's390-32',
  armv7hl: 'arm-32',
  armv7hnl: 'arm-32',
  armv6hl: 'arm-32',
  riscv64: 'riscv-64',
};
const ISA_NAME = /^(.+)\(([a-z0-9]+-(?:32|64))\)$/;

export class PackageIndex {
  /** Visible packages by id: the main pool's first, then the lookaside's. */
  readonly packages: RpmPackage[];
  readonly isLookaside: Uint8Array;
  readonly isDebug: Uint8Array;
  /** Ids of the main pool's packages. */
  readonly mainCount: number;
  readonly hasLookaside: boolean;
  /** Binary (non-debug) packages by name; debug packages by name. */
  readonly byName = new Map<string, number[]>();
  readonly debugByName = new Map<string, number[]>();
  private readonly selfProvides: Uint8Array;
  /** Names some main-pool package requires (rich operands included). */
  private readonly required: Set<string>;
  private readonly provides = new Map<string, ProvideEntry[]>();
  private readonly fileProviders = new Map<string, number[]>();
  private readonly cache = new Map<string, readonly number[]>();
  private readonly richCache = new Map<string, RichExpr | Error>();
  /** name-epoch:version-release.arch of lookaside packages, to spot main copies of them. */
  private readonly lookasideNevras = new Set<string>();

  /**
   * `latestPerPool` keeps each pool's latest builds visible even when the other pool has a newer
   * one (for `nodeps`, which in Pungi never looks at the lookaside's versions).
   */
  constructor(main: readonly RpmPackage[], lookaside: readonly RpmPackage[], options: { latestPerPool?: boolean } = {}) {
    let mainVisible = latestPerNameArch(main);
    this.hasLookaside = lookaside.length > 0;
    let lookasideVisible = this.hasLookaside ? latestPerNameArch(lookaside) : [];
    if (this.hasLookaside && !options.latestPerPool) {
      [mainVisible, lookasideVisible] = [
        withoutOlderThan(mainVisible, lookasideVisible),
        withoutOlderThan(lookasideVisible, mainVisible),
      ];
    }
    this.mainCount = mainVisible.length;
    this.packages = this.hasLookaside ? mainVisible.concat(lookasideVisible) : mainVisible;
    const n = this.packages.length;
    this.isLookaside = new Uint8Array(n);
    this.isDebug = new Uint8Array(n);
    this.selfProvides = new Uint8Array(n);
    for (let id = this.mainCount; id < n; id++) {
      this.isLookaside[id] = 1;
      this.lookasideNevras.add(nevraKey(this.packages[id]!));
    }

    // Only what some package requires is ever looked up: index just that. Lookaside packages'
    // own requirements are never resolved, so they do not count.
    this.required = new Set<string>();
    const requiredFiles = new Set<string>();
    for (let id = 0; id < n; id++) {
      const pkg = this.packages[id]!;
      if (isDebugName(pkg.name)) {
        this.isDebug[id] = 1;
        pushTo(this.debugByName, pkg.name, id);
        continue;
      }
      pushTo(this.byName, pkg.name, id);
      if (id < this.mainCount) for (const req of pkg.requires) this.noteRequired(req, requiredFiles);
    }
    for (let id = 0; id < n; id++) {
      if (this.isDebug[id]) continue;
      const pkg = this.packages[id]!;
      const isa = ISA[pkg.arch];
      for (const dep of pkg.provides) {
        if (isOwnEvr(pkg, dep)) {
          if (dep.name === pkg.name) {
            this.selfProvides[id]! |= SELF_PROVIDE;
            continue;
          }
          if (isa !== undefined && isIsaName(dep.name, pkg.name, isa)) {
            this.selfProvides[id]! |= ISA_PROVIDE;
            continue;
          }
        }
        if (!this.required.has(dep.name)) continue;
        const list = this.provides.get(dep.name);
        if (list) list.push({ id, dep });
        else this.provides.set(dep.name, [{ id, dep }]);
      }
    }
    if (requiredFiles.size > 0) this.indexFiles(requiredFiles);
  }

  /** Every visible binary package that provides `dep` (by Provides or, for paths, by file). */
  whatProvides(dep: Dep): readonly number[] {
    const key = dep.flags ? formatDep(dep) : dep.name;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const result: number[] = [];
    this.selfProvidersOf(dep, result);
    const fromSelf = result.length;
    const entries = this.required.has(dep.name) ? this.provides.get(dep.name) : this.scanProvides(dep.name);
    if (entries) {
      for (const e of entries) {
        if (result[result.length - 1] === e.id) continue;
        if (!dep.flags || rangesOverlap(e.dep, dep)) result.push(e.id);
      }
    }
    if (dep.name.charCodeAt(0) === 47) {
      const owners = this.fileProviders.get(dep.name);
      if (owners) for (const id of owners) result.push(id);
    }
    const unique = fromSelf > 0 && result.length > fromSelf ? [...new Set(result)] : result;
    this.cache.set(key, unique);
    return unique;
  }

  /** The parsed form of a rich dependency, or the error parsing it gave (cached either way). */
  richDep(text: string): RichExpr | Error {
    let parsed = this.richCache.get(text);
    if (!parsed) {
      try {
        parsed = parseRichDep(text);
      } catch (err) {
        parsed = err as Error;
      }
      this.richCache.set(text, parsed);
    }
    return parsed;
  }

  /** Whether the main-pool package `id` also exists, same NEVRA, in the lookaside. */
  hasLookasideCopy(id: number): boolean {
    return this.hasLookaside && this.lookasideNevras.has(nevraKey(this.packages[id]!));
  }

  private selfProvidersOf(dep: Dep, out: number[]): void {
    const collect = (name: string, flag: number, isa?: string): void => {
      for (const id of this.byName.get(name) ?? []) {
        if (!(this.selfProvides[id]! & flag)) continue;
        const p = this.packages[id]!;
        if (isa !== undefined && ISA[p.arch] !== isa) continue;
        if (!dep.flags || rangesOverlap({ flags: 'EQ', epoch: p.epoch, version: p.version, release: p.release }, dep)) {
          out.push(id);
        }
      }
    };
    collect(dep.name, SELF_PROVIDE);
    if (dep.name.charCodeAt(dep.name.length - 1) === 41) {
      const m = ISA_NAME.exec(dep.name);
      if (m) collect(m[1]!, ISA_PROVIDE, m[2]!);
    }
  }

  private noteRequired(req: Dep, files: Set<string>): void {
    if (!isRichDepName(req.name)) {
      this.required.add(req.name);
      if (req.name.charCodeAt(0) === 47) files.add(req.name);
      return;
    }
    const expr = this.richDep(req.name);
    if (expr instanceof Error) return;
    for (const d of simpleDepsOf(expr)) {
      this.required.add(d.name);
      if (d.name.charCodeAt(0) === 47) files.add(d.name);
    }
  }

  /** For names nobody requires (not indexed): a full scan, cached by whatProvides. */
  private scanProvides(name: string): ProvideEntry[] {
    const out: ProvideEntry[] = [];
    this.packages.forEach((pkg, id) => {
      if (this.isDebug[id]) return;
      for (const dep of pkg.provides) if (dep.name === name) out.push({ id, dep });
    });
    return out;
  }

  private indexFiles(requiredFiles: ReadonlySet<string>): void {
    // Hashing every path of a big pool is the cost here: a cheap (length, last char) sieve
    // lets only plausible paths reach the set.
    const sieve = new Uint8Array(1 << 16);
    const slot = (f: string): number => ((f.length << 7) ^ f.charCodeAt(f.length - 1)) & 0xffff;
    for (const f of requiredFiles) sieve[slot(f)] = 1;
    for (let id = 0; id < this.packages.length; id++) {
      if (this.isDebug[id]) continue;
      for (const file of this.packages[id]!.files) {
        if (sieve[slot(file)] && requiredFiles.has(file)) pushTo(this.fileProviders, file, id);
      }
    }
  }
}

/** `name(isa)` without building the string. */
function isIsaName(depName: string, pkgName: string, isa: string): boolean {
  const n = pkgName.length;
  return (
    depName.length === n + isa.length + 2 &&
    depName.charCodeAt(n) === 40 &&
    depName.charCodeAt(depName.length - 1) === 41 &&
    depName.startsWith(pkgName) &&
    depName.startsWith(isa, n + 1)
  );
}

/** A provide of exactly the package's own EVR (or unversioned). */
function isOwnEvr(pkg: RpmPackage, dep: Dep): boolean {
  if (!dep.flags) return true;
  return (
    dep.flags === 'EQ' &&
    Number(dep.epoch ?? 0) === pkg.epoch &&
    dep.version === pkg.version &&
    (dep.release === undefined || dep.release === pkg.release)
  );
}

function pushTo(map: Map<string, number[]>, key: string, id: number): void {
  const list = map.get(key);
  if (list) list.push(id);
  else map.set(key, [id]);
}

function nevraKey(p: RpmPackage): string {
  return `${p.name}-${p.epoch}:${p.version}-${p.release}.${p.arch}`;
}

/**
 * `pool` without the packages `other` has a newer build of (same name and arch); both are
 * already one build per (name, arch). Equal builds stay in both.
 */
function withoutOlderThan(pool: RpmPackage[], other: readonly RpmPackage[]): RpmPackage[] {
  const newest = new Map<string, RpmPackage>();
  for (const p of other) newest.set(`${p.name}.${p.arch}`, p);
  const kept = pool.filter((p) => {
    const rival = newest.get(`${p.name}.${p.arch}`);
    return rival === undefined || compareEvr(p, rival) >= 0;
  });
  return kept.length === pool.length ? pool : kept;
}

/**
 * Keeps the highest EVR of each (name, arch), the first seen on ties; drops source packages.
 * Keeps pool order. Grouping by the name string alone avoids building a key per package.
 */
export function latestPerNameArch(pool: readonly RpmPackage[]): RpmPackage[] {
  const first = new Map<string, RpmPackage | RpmPackage[]>();
  let duplicates = false;
  for (const pkg of pool) {
    if (SOURCE_ARCHES.has(pkg.arch)) continue;
    const seen = first.get(pkg.name);
    if (seen === undefined) first.set(pkg.name, pkg);
    else {
      duplicates = true;
      if (Array.isArray(seen)) seen.push(pkg);
      else first.set(pkg.name, [seen, pkg]);
    }
  }
  if (!duplicates && first.size === pool.length) return pool.slice();
  const dropped = new Set<RpmPackage>();
  for (const group of first.values()) {
    if (!Array.isArray(group)) continue;
    const best = new Map<string, RpmPackage>();
    for (const pkg of group) {
      const current = best.get(pkg.arch);
      if (!current) best.set(pkg.arch, pkg);
      else if (compareEvr(pkg, current) > 0) {
        dropped.add(current);
        best.set(pkg.arch, pkg);
      } else dropped.add(pkg);
    }
  }
  return pool.filter((pkg) => !SOURCE_ARCHES.has(pkg.arch) && !dropped.has(pkg));
}
