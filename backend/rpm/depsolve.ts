/**
 * Dependency resolution with the semantics of Pungi's `deps` gather method as ODCS configures
 * it (dnf backend, greedy_method = "build"): an iterative closure, not a SAT solve.
 *
 * Per compose arch, starting from the requested packages (all packages when none are named):
 * every selected package's Requires (pre/post included; weak deps ignored) is looked up among
 * the visible packages and the best provider is added, until a pass adds nothing; then
 * multilib packages are added and the closure continues. Details that follow Pungi:
 *  - only the latest version of each (name, arch) is visible, decided over the main pool and
 *    the lookaside together (a newer lookaside build hides the main pool's older one);
 *  - the providers of all requirements of one package are chosen against the selection as it
 *    stood before that package, then added together (Pungi's _get_package_deps returns them
 *    all before add_binary_package_deps adds any), so a provider pulled in by one requirement
 *    is not "already selected" for its sibling requirements;
 *  - the best provider: with lookaside repos configured, only the newest build of each name
 *    among the providers is considered (versions are compared among builds of one name, never
 *    across names) and a main-pool package is dropped when the lookaside has the same
 *    name-EVR; then already-selected native packages, then already-selected multilib ones,
 *    then native, then multilib; among those the first by (arch order, name length, name) —
 *    Pungi applies these as successive stable sorts, so arch order decides first;
 *  - greedy "build": with the best provider come the other providers of the same requirement
 *    built from the same source RPM (same native/multilib side);
 *  - a requirement string resolved once is not resolved again for later packages;
 *  - lookaside packages satisfy requirements but are not part of the result, and their own
 *    requirements are not followed;
 *  - `noDeps` selects exactly the matching packages (all visible arches), like Pungi's
 *    `nodeps` method.
 * Rich dependencies are resolved by their meaning (see resolveExpr), where Pungi would hand
 * them to libsolv's whatprovides; an `or` picks one alternative with the same heuristic.
 */
import { archSet, excludedFromArch, type ArchSet } from './arches';
import { isRichDepName, nevra, type Dep, type RpmPackage } from './model';
import { multilibMethodFor, isDebugName, type MultilibMethod } from './multilib';
import { matchesName, parseNamePattern, type NamePattern } from './name-patterns';
import { PackageIndex } from './package-index';
import { evaluateRichDep, formatDep, isSetExpression, providerSet, type RichExpr } from './richdeps';
import { compareEvr } from './vercmp';

export type { MultilibMethod } from './multilib';

/** A requirement of a selected package is written in a way we cannot evaluate. */
export class DepsolveError extends Error {
  override name = 'DepsolveError';
}

export interface DepsolveRequest {
  /** Candidate packages (all versions; only the latest of each name.arch is used). */
  pool: readonly RpmPackage[];
  /** Packages that satisfy dependencies but never become part of the result. */
  lookaside?: readonly RpmPackage[];
  /** Names, fnmatch globs or `name.arch`; empty or missing = every package ("everything"). */
  packages?: readonly string[];
  /** Compose arches; each is solved on its own (its packages plus noarch). */
  arches: readonly string[];
  /** Compose arches on which multilib packages are considered. */
  multilibArches?: readonly string[];
  multilibMethods?: readonly MultilibMethod[];
  /** Select only what was asked for. */
  noDeps?: boolean;
  /** Collect unresolvable requirements (default true). */
  reportUnresolved?: boolean;
}

export type SelectionReason =
  | { kind: 'requested'; pattern: string }
  | { kind: 'dependency'; by: string; requirement: string }
  | { kind: 'multilib'; method: MultilibMethod; of: string };

export interface SelectedPackage {
  package: RpmPackage;
  reason: SelectionReason;
}

export interface UnresolvedDependency {
  /** NEVRA of the package whose requirement nothing satisfies. */
  package: string;
  requirement: string;
}

export interface ArchSolution {
  arch: string;
  /** Selected packages, in the order they were selected; lookaside packages excluded. */
  packages: SelectedPackage[];
  /** Lookaside packages that satisfied something (or were requested) — not in the compose. */
  lookaside: RpmPackage[];
  unresolved: UnresolvedDependency[];
  /** Requested patterns that matched no package for this arch. */
  missing: string[];
}

export interface DepsolveResult {
  arches: ArchSolution[];
  /** Union over the arches, each package once (noarch packages appear in several arches). */
  packages: SelectedPackage[];
  unresolved: UnresolvedDependency[];
  /** Requested patterns that matched no package (main or lookaside) on any arch. */
  missing: string[];
  /**
   * Requested patterns matching no selected package on any arch: `missing` plus what exists
   * only in a lookaside — what ODCS's post-compose check reports as not present.
   */
  notInCompose: string[];
}

export function depsolve(request: DepsolveRequest): DepsolveResult {
  // Pungi's nodeps method never reads the lookaside, so its versions hide nothing there.
  const index = new PackageIndex(request.pool, request.lookaside ?? [], { latestPerPool: request.noDeps === true });
  const patterns = (request.packages ?? []).map(parseNamePattern);
  const everything = patterns.length === 0;
  const methods = (request.multilibMethods ?? []).filter((m) => m !== 'none');
  const multilibArches = new Set(request.multilibArches ?? []);
  const arches = [...new Set(request.arches)];

  const solutions = arches.map((arch) => {
    const set = archSet(arch, methods.length > 0 && multilibArches.has(arch));
    const solver = new ArchSolver(index, set, methods, request.reportUnresolved !== false);
    if (request.noDeps) solver.selectOnly(patterns, everything);
    else solver.solve(patterns, everything);
    return solver.result();
  });
  return combine(solutions, patterns, everything);
}

/** "requested", "pulled by <nevra> for requirement <dep>", or "multilib (<method>) of <nevra>". */
export function describeReason(reason: SelectionReason): string {
  switch (reason.kind) {
    case 'requested':
      return reason.pattern === '*' ? 'requested (everything)' : `requested as ${reason.pattern}`;
    case 'dependency':
      return `pulled by ${reason.by} for requirement ${reason.requirement}`;
    case 'multilib':
      return `multilib (${reason.method}) of ${reason.of}`;
  }
}

const NONE = 0;
const NATIVE = 1;
const MULTILIB = 2;

/** Providers chosen for one requirement, added once all of the package's are chosen. */
interface ChosenProviders {
  ids: readonly number[];
  by: number;
  requirement: string;
}

interface PendingConditional {
  by: number;
  expr: Extract<RichExpr, { kind: 'if' | 'unless' }>;
  text: string;
}

class ArchSolver {
  /** NATIVE (native arches and noarch), MULTILIB (multilib arches) or NONE, by package id. */
  private readonly side: Uint8Array;
  private readonly rank = new Map<string, number>();
  private readonly selected: Uint8Array;
  private readonly order: number[] = [];
  private readonly reasons = new Map<number, SelectionReason>();
  private readonly resolved = new Set<string>();
  private pending: PendingConditional[] = [];
  private readonly unresolved: UnresolvedDependency[] = [];
  private readonly missing: string[] = [];
  private multilibByNvr: Map<string, number[]> | null = null;
  private multilibCursor = 0;
  /** While one package's requirements are looked up: the providers chosen so far, not yet added. */
  private chosen: ChosenProviders[] | null = null;

  constructor(
    private readonly index: PackageIndex,
    private readonly arches: ArchSet,
    private readonly methods: readonly MultilibMethod[],
    private readonly reportUnresolved: boolean,
  ) {
    const n = index.packages.length;
    this.side = new Uint8Array(n);
    this.selected = new Uint8Array(n);
    for (let id = 0; id < n; id++) {
      const pkg = index.packages[id]!;
      const arch = pkg.arch;
      this.side[id] = excludedFromArch(pkg, arches) ? NONE : arches.native.has(arch) ? NATIVE : arches.multilib.has(arch) ? MULTILIB : NONE;
    }
    arches.order.forEach((a, i) => this.rank.set(a, i));
  }

  solve(patterns: readonly NamePattern[], everything: boolean): void {
    const initial = new Map<number, string>();
    for (const pattern of everything ? [parseNamePattern('*')] : patterns) {
      const matches = this.match(pattern);
      if (matches.length === 0 && !everything) this.missing.push(pattern.text);
      // A glob can match several names: the best package of each name is taken.
      const byName = new Map<string, number[]>();
      for (const id of matches) {
        const name = this.index.packages[id]!.name;
        const list = byName.get(name);
        if (list) list.push(id);
        else byName.set(name, [id]);
      }
      for (const ids of byName.values()) {
        for (const id of this.best(ids, false)) if (!initial.has(id)) initial.set(id, pattern.text);
      }
    }
    for (const [id, pattern] of initial) this.add(id, { kind: 'requested', pattern });

    let cursor = 0;
    for (;;) {
      const end = this.order.length;
      for (; cursor < end; cursor++) this.resolveRequires(this.order[cursor]!);
      if (this.order.length > end) continue;
      if (this.recheckConditionals()) continue;
      if (this.addMultilib()) continue;
      break;
    }
  }

  /** Pungi's nodeps: every visible package whose name matches, no dependencies. */
  selectOnly(patterns: readonly NamePattern[], everything: boolean): void {
    for (const pattern of everything ? [parseNamePattern('*')] : patterns) {
      const matches = this.match(pattern);
      if (matches.length === 0 && !everything) this.missing.push(pattern.text);
      for (const id of matches) {
        if (this.index.isLookaside[id] || !this.index.hasLookasideCopy(id)) {
          this.add(id, { kind: 'requested', pattern: pattern.text });
        }
      }
    }
  }

  result(): ArchSolution {
    const packages: SelectedPackage[] = [];
    const lookaside: RpmPackage[] = [];
    for (const id of this.order) {
      const pkg = this.index.packages[id]!;
      if (this.index.isLookaside[id]) lookaside.push(pkg);
      else packages.push({ package: pkg, reason: this.reasons.get(id)! });
    }
    return { arch: this.arches.arch, packages, lookaside, unresolved: this.unresolved, missing: this.missing };
  }

  // -- selection ------------------------------------------------------------------------------

  private match(pattern: NamePattern): number[] {
    const debug = isDebugName(pattern.exact ?? pattern.text);
    const byName = debug ? this.index.debugByName : this.index.byName;
    const out: number[] = [];
    const take = (ids: readonly number[]): void => {
      for (const id of ids) {
        if (this.side[id] === NONE) continue;
        if (pattern.arch && this.index.packages[id]!.arch !== pattern.arch) continue;
        out.push(id);
      }
    };
    if (pattern.exact !== undefined) {
      take(byName.get(pattern.exact) ?? []);
    } else {
      for (const [name, ids] of byName) if (matchesName(pattern, name)) take(ids);
    }
    return out;
  }

  private add(id: number, reason: SelectionReason): boolean {
    if (this.selected[id]) return false;
    this.selected[id] = 1;
    this.order.push(id);
    this.reasons.set(id, reason);
    return true;
  }

  private isNativeSide(id: number): boolean {
    return this.side[id] === NATIVE;
  }

  private isMultilibSide(id: number): boolean {
    return this.side[id] === MULTILIB || this.index.packages[id]!.arch === 'noarch';
  }

  /** Pungi's _get_best_package; `forRequirement` enables greedy "build". */
  private best(candidates: readonly number[], forRequirement: boolean): number[] {
    const pkgs = this.index.packages;
    let list = candidates.filter((id) => this.side[id] !== NONE);
    if (list.length === 0) return [];

    if (this.index.hasLookaside && list.length > 1) {
      // Only where one name has builds of different versions among the providers (arched in
      // one repository, noarch in the other): its newest. Providers of different names are
      // never compared by version; the name rules below choose between them.
      list = newestPerName(list, pkgs);
      const inLookaside = new Set<string>();
      for (const id of list) if (this.index.isLookaside[id]) inLookaside.add(nameEvr(pkgs[id]!));
      if (inLookaside.size > 0) {
        list = list.filter((id) => this.index.isLookaside[id] || !inLookaside.has(nameEvr(pkgs[id]!)));
      }
    }

    const native = latestOf(
      list.filter((id) => this.isNativeSide(id)),
      pkgs,
    );
    const multilib = latestOf(
      list.filter((id) => this.isMultilibSide(id)),
      pkgs,
    );
    let result = native.filter((id) => this.selected[id]);
    if (result.length === 0) result = multilib.filter((id) => this.selected[id]);
    if (result.length === 0) result = native;
    if (result.length === 0) result = multilib;
    if (result.length === 0) return [];

    let match = result[0]!;
    for (const id of result) if (this.better(id, match)) match = id;
    if (!forRequirement) return [match];
    const srpm = pkgs[match]!.sourcerpm;
    if (srpm === null) return [match];
    const side = this.isNativeSide(match) ? native : multilib;
    return side.filter((id) => pkgs[id]!.sourcerpm === srpm);
  }

  private better(a: number, b: number): boolean {
    const pa = this.index.packages[a]!;
    const pb = this.index.packages[b]!;
    const ra = this.rank.get(pa.arch)!;
    const rb = this.rank.get(pb.arch)!;
    if (ra !== rb) return ra < rb;
    if (pa.name.length !== pb.name.length) return pa.name.length < pb.name.length;
    return pa.name < pb.name;
  }

  // -- requirements ---------------------------------------------------------------------------

  /**
   * Chooses the providers of every requirement of the package against the selection as it was
   * before the package, then adds them all (Pungi's order: a provider one requirement brings
   * does not count as "already selected" for the package's other requirements).
   */
  private resolveRequires(id: number): void {
    if (this.index.isLookaside[id] || this.index.isDebug[id]) return;
    const requires = this.index.packages[id]!.requires;
    const chosen: ChosenProviders[] = [];
    this.chosen = chosen;
    // dnf lists Requires before Requires(pre)/(post); keep that order for the heuristics.
    for (const pass of [false, true]) {
      for (const req of requires) {
        if (Boolean(req.pre) !== pass || req.name.startsWith('rpmlib(')) continue;
        if (isRichDepName(req.name)) this.resolveRich(id, req.name);
        else if (!this.resolveSimple(id, req, formatDep(req))) this.report(id, formatDep(req));
      }
    }
    this.chosen = null;
    for (const c of chosen) this.addAll(c.ids, c.by, c.requirement);
  }

  private resolveSimple(by: number, dep: Dep, requirement: string): boolean {
    const key = dep.flags ? formatDep(dep) : dep.name;
    if (this.resolved.has(key)) return true;
    const chosen = this.best(this.index.whatProvides(dep), true);
    if (chosen.length === 0) return false;
    this.addAll(chosen, by, requirement);
    this.resolved.add(key);
    return true;
  }

  private resolveRich(by: number, text: string): void {
    if (this.resolved.has(text)) return;
    const expr = this.index.richDep(text);
    if (expr instanceof Error) {
      throw new DepsolveError(`${nevra(this.index.packages[by]!)}: ${expr.message}`);
    }
    let ok: boolean;
    try {
      ok = this.possible(expr, text) && this.resolveExpr(by, expr, text);
    } catch (err) {
      throw new DepsolveError(`${nevra(this.index.packages[by]!)}: ${(err as Error).message}`);
    }
    if (!ok) this.report(by, text);
    else if (!hasConditional(expr)) this.resolved.add(text);
  }

  /**
   * Adds what `expr` needs, returning false when it cannot be satisfied:
   *  - a simple dependency, `with`, `without`, and `or` of those: the best of the providers;
   *  - `and`: each operand;
   *  - other `or`: nothing if an alternative already holds, else the best provider among the
   *    simple alternatives, else the first alternative that can be satisfied;
   *  - `A if B [else C]`: A when B holds for the selection, else C; re-checked when the
   *    selection grows (B may come later). `A unless B [else C]` likewise, reversed.
   */
  private resolveExpr(by: number, expr: RichExpr, text: string): boolean {
    switch (expr.kind) {
      case 'dep':
        return this.resolveSimple(by, expr.dep, text);
      case 'and': {
        let ok = true;
        for (const operand of expr.operands) ok = this.resolveExpr(by, operand, text) && ok;
        return ok;
      }
      case 'with':
      case 'without':
        return this.resolveSet(by, expr, text);
      case 'or': {
        if (isSetExpression(expr)) return this.resolveSet(by, expr, text);
        if (expr.operands.some((op) => this.holds(op, text))) return true;
        const simple = expr.operands.filter(isSetExpression);
        if (simple.length > 0 && this.resolveSet(by, { kind: 'or', operands: simple }, text)) return true;
        for (const op of expr.operands) {
          if (!isSetExpression(op) && this.possible(op, text) && this.resolveExpr(by, op, text)) return true;
        }
        return false;
      }
      case 'if':
        if (this.holds(expr.cond, text)) return this.resolveExpr(by, expr.then, text);
        this.pending.push({ by, expr, text });
        return expr.else ? this.resolveExpr(by, expr.else, text) : true;
      case 'unless':
        if (this.holds(expr.cond, text)) return expr.else ? this.resolveExpr(by, expr.else, text) : true;
        if (expr.else) this.pending.push({ by, expr, text });
        return this.resolveExpr(by, expr.then, text);
    }
  }

  private resolveSet(by: number, expr: RichExpr, text: string): boolean {
    const chosen = this.best(
      providerSet(expr, (d) => this.index.whatProvides(d), text),
      true,
    );
    if (chosen.length === 0) return false;
    this.addAll(chosen, by, text);
    return true;
  }

  /** Whether the expression holds for the packages selected so far (lookaside ones included). */
  private holds(expr: RichExpr, text: string): boolean {
    return evaluateRichDep(expr, (d) => this.index.whatProvides(d).filter((id) => this.selected[id]), text);
  }

  /** Whether the visible packages could satisfy the expression (checked before adding any). */
  private possible(expr: RichExpr, text: string): boolean {
    const visible = (d: Dep): number[] => this.index.whatProvides(d).filter((id) => this.side[id] !== NONE);
    switch (expr.kind) {
      case 'dep':
      case 'with':
      case 'without':
        return providerSet(expr, visible, text).length > 0;
      case 'and':
        return expr.operands.every((op) => this.possible(op, text));
      case 'or':
        return expr.operands.some((op) => this.possible(op, text));
      case 'if':
        if (this.holds(expr.cond, text)) return this.possible(expr.then, text);
        return expr.else ? this.possible(expr.else, text) : true;
      case 'unless':
        if (this.holds(expr.cond, text)) return expr.else ? this.possible(expr.else, text) : true;
        return this.possible(expr.then, text);
    }
  }

  /** Conditionals whose condition was false may hold now that more packages are selected. */
  private recheckConditionals(): boolean {
    const before = this.order.length;
    const waiting = this.pending;
    this.pending = [];
    for (const p of waiting) {
      const { expr, by, text } = p;
      const cond = this.holds(expr.cond, text);
      const branch = expr.kind === 'if' ? (cond ? expr.then : null) : cond ? (expr.else ?? null) : null;
      if (!branch) {
        this.pending.push(p);
        continue;
      }
      if (!(this.possible(branch, text) && this.resolveExpr(by, branch, text))) this.report(by, text);
    }
    return this.order.length > before;
  }

  /** Adds the providers now, or, while a package's requirements are looked up, once they all are. */
  private addAll(ids: readonly number[], by: number, requirement: string): void {
    if (this.chosen) {
      this.chosen.push({ ids, by, requirement });
      return;
    }
    const pulledBy = nevra(this.index.packages[by]!);
    for (const id of ids) this.add(id, { kind: 'dependency', by: pulledBy, requirement });
  }

  private report(by: number, requirement: string): void {
    if (this.reportUnresolved) this.unresolved.push({ package: nevra(this.index.packages[by]!), requirement });
  }

  // -- multilib -------------------------------------------------------------------------------

  /** For each selected native arched package, its multilib twin (same name-version-release). */
  private addMultilib(): boolean {
    if (this.methods.length === 0 || this.arches.multilib.size === 0) return false;
    const twins = this.multilibTwins();
    const before = this.order.length;
    const end = this.order.length;
    for (; this.multilibCursor < end; this.multilibCursor++) {
      const id = this.order[this.multilibCursor]!;
      const pkg = this.index.packages[id]!;
      if (this.side[id] !== NATIVE || pkg.arch === 'noarch') continue;
      const candidates = twins.get(`${pkg.name}\0${pkg.version}\0${pkg.release}`);
      if (!candidates) continue;
      for (const twin of this.best(candidates, false)) {
        const method = multilibMethodFor(this.index.packages[twin]!, this.methods);
        if (method) this.add(twin, { kind: 'multilib', method, of: nevra(pkg) });
      }
    }
    return this.order.length > before;
  }

  private multilibTwins(): Map<string, number[]> {
    if (!this.multilibByNvr) {
      this.multilibByNvr = new Map();
      this.index.packages.forEach((p, id) => {
        if (this.side[id] !== MULTILIB || this.index.isDebug[id]) return;
        const key = `${p.name}\0${p.version}\0${p.release}`;
        const list = this.multilibByNvr!.get(key);
        if (list) list.push(id);
        else this.multilibByNvr!.set(key, [id]);
      });
    }
    return this.multilibByNvr;
  }
}

function nameEvr(p: RpmPackage): string {
  return `${p.name}-${p.epoch}:${p.version}-${p.release}`;
}

/** The newest build of each name among the candidates (all arches of that build). */
function newestPerName(ids: number[], pkgs: readonly RpmPackage[]): number[] {
  const best = new Map<string, number>();
  for (const id of ids) {
    const cur = best.get(pkgs[id]!.name);
    if (cur === undefined || compareEvr(pkgs[id]!, pkgs[cur]!) > 0) best.set(pkgs[id]!.name, id);
  }
  return ids.filter((id) => compareEvr(pkgs[id]!, pkgs[best.get(pkgs[id]!.name)!]!) === 0);
}

/** hawkey's latest(): the newest of each name.arch among the candidates. */
function latestOf(ids: number[], pkgs: readonly RpmPackage[]): number[] {
  if (ids.length < 2) return ids;
  const best = new Map<string, number>();
  for (const id of ids) {
    const key = `${pkgs[id]!.name}.${pkgs[id]!.arch}`;
    const cur = best.get(key);
    if (cur === undefined || compareEvr(pkgs[id]!, pkgs[cur]!) > 0) best.set(key, id);
  }
  return best.size === ids.length ? ids : ids.filter((id) => best.get(`${pkgs[id]!.name}.${pkgs[id]!.arch}`) === id);
}

function hasConditional(expr: RichExpr): boolean {
  switch (expr.kind) {
    case 'dep':
      return false;
    case 'and':
    case 'or':
    case 'with':
      return expr.operands.some(hasConditional);
    case 'without':
      return hasConditional(expr.left) || hasConditional(expr.right);
    case 'if':
    case 'unless':
      return true;
  }
}

function combine(solutions: ArchSolution[], patterns: readonly NamePattern[], everything: boolean): DepsolveResult {
  const packages: SelectedPackage[] = [];
  const seenPkgs = new Set<RpmPackage>();
  const unresolved: UnresolvedDependency[] = [];
  const seenUnresolved = new Set<string>();
  for (const s of solutions) {
    for (const sp of s.packages) {
      if (seenPkgs.has(sp.package)) continue;
      seenPkgs.add(sp.package);
      packages.push(sp);
    }
    for (const u of s.unresolved) {
      const key = `${u.package}\0${u.requirement}`;
      if (seenUnresolved.has(key)) continue;
      seenUnresolved.add(key);
      unresolved.push(u);
    }
  }
  const missing = everything
    ? []
    : patterns.filter((p) => solutions.every((s) => s.missing.includes(p.text))).map((p) => p.text);
  const notInCompose = everything
    ? []
    : patterns
        .filter(
          (p) => !packages.some(({ package: pkg }) => matchesName(p, pkg.name) && (!p.arch || p.arch === pkg.arch)),
        )
        .map((p) => p.text);
  return { arches: solutions, packages, unresolved, missing, notInCompose };
}
