import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { composeName, composeUrls } from '../common/compose-json';
import type { Config } from '../common/config';
import type { ComposeRow } from '../common/db/entities';
import { bitNames, FLAGS, MULTILIB_METHODS, RESULTS, sourceTypeName } from '../common/enums';
import { ComposeError } from '../common/errors';
import { refuseForeignTargetDir } from '../common/target-dir-owner';
import { ComposeLog } from './compose-log';
import { describeTree, type Placed } from './repo/describe-tree';
import { checkArch, ComposePaths, composeTopDir } from './repo/compose-paths';
import { hashedPath, packageRelativePath, VARIANT } from './repo/layout';
import { composeIdentity, composeinfoJson, productmdNevra, type RpmEntry, rpmsJson } from './repo/productmd';
import { type ComposeTrees, planTrees } from './repo/trees';
import { RepodataCache } from './repo/repodata-cache';
import { repoFile } from './repo/repofile';
import { DepsolveError, type DepsolveResult, depsolve, describeReason, type MultilibMethod } from './rpm/depsolve';
import { nevra, type RpmPackage } from './rpm/model';
import { SOURCE_HANDLERS } from './sources';
import { exactSelection } from './sources/exact-selection';
import type { PackageRepo, ResolvedSource, SourceContext, SourceHandler } from './sources/types';
import { MetadataCache } from './store/metadata-cache';
import { PackageStore, type Placement, type Unchecked } from './store/package-store';
import type { BuildCompose, BuildHooks, BuildResult } from './worker';
import type { ResolvedNevras } from '../common/db/compose-store';

/** Directory (under each target dir) of the content-addressed package store. */
export const STORE_DIR = '.store';
/** Directory (under each target dir) of repodata built before, by package set. */
export const REPODATA_CACHE_DIR = '.cache/createrepo';
/** Prefix of a compose tree being built, beside its final place. */
export const TEMP_PREFIX = '.compose.tmp-';

export interface PipelineDeps {
  cfg: Config;
  metadata?: MetadataCache;
  clock?: () => Date;
}

function flagSet(compose: ComposeRow, flag: keyof typeof FLAGS): boolean {
  return (compose.flags & FLAGS[flag]) !== 0;
}

/**
 * The compose engine: resolve the source into a package pool, select and resolve dependencies
 * (Pungi's `deps` semantics), materialise the packages from the store into a temporary tree,
 * run createrepo_c per arch, write the .repo file and productmd metadata, and rename the tree
 * into place in one step. Every failure becomes the compose's reason; the logs stay.
 */
export function createBuildCompose(deps: PipelineDeps): BuildCompose {
  const metadata = deps.metadata ?? MetadataCache.fromConfig(deps.cfg);
  const clock = deps.clock ?? (() => new Date());
  return async (compose, signal, hooks) => {
    // Before anything touches the disk: a row names its target dir, and a row may come from
    // an older server or a hostile work message.
    const targetDir = configuredTargetDir(deps.cfg, compose);
    // A target dir of another database holds other composes under our ids (target-dir-owner.ts).
    await refuseForeignTargetDir(targetDir, await hooks.databaseIdentity());
    return buildCompose(deps.cfg, metadata, clock, compose, signal, hooks);
  };
}

/** The compose's target dir, refused unless it is target_dir or one of extra_target_dirs. */
function configuredTargetDir(cfg: Config, compose: ComposeRow): string {
  const dir = compose.target_dir ?? cfg.target_dir;
  if (dir !== cfg.target_dir && !Object.values(cfg.extra_target_dirs).includes(dir)) {
    throw new ComposeError('The target directory of this compose is not one this server is configured with (target_dir, extra_target_dirs)');
  }
  return dir;
}

async function buildCompose(
  cfg: Config,
  metadata: MetadataCache,
  clock: () => Date,
  compose: ComposeRow,
  workerSignal: AbortSignal,
  hooks: BuildHooks,
): Promise<BuildResult> {
  const targetDir = configuredTargetDir(cfg, compose);
  const name = composeName(compose);
  const topDir = composeTopDir(targetDir, name);
  const log = await ComposeLog.open(topDir);
  const timeout = AbortSignal.timeout(cfg.compose_timeout * 1000);
  const signal = AbortSignal.any([workerSignal, timeout]);
  const started = Date.now();
  log.info(`Compose ${name} (source type ${sourceTypeName(compose.source_type)}, source "${compose.source}") started`);
  try {
    // A step that does not heed the signal (a read of a FIFO, say) must not hold the slot past
    // the timeout: the compose ends when the signal fires; the step's leftovers cannot publish
    // (publishTree checks the signal) and its tree is removed when it ends.
    const result = await untilAborted(generate(cfg, metadata, clock, compose, { topDir, targetDir, name, log, signal, hooks }), signal);
    log.info(`Compose ${name} finished in ${((Date.now() - started) / 1000).toFixed(2)} s`);
    // Logs the user cannot read fail the compose (a full disk, say): closing flushes them, so
    // a write error shows now.
    await log.close();
    if (log.failure) throw new ComposeError(`Cannot write the compose's log files: ${errnoText(log.failure)}`);
    return result;
  } catch (err) {
    const reason = timeout.aborted
      ? new ComposeError(`Compose has taken more time than allowed by configuration (${cfg.compose_timeout} seconds)`)
      : err;
    log.error(reason instanceof Error ? reason.message : String(reason));
    throw reason;
  } finally {
    await log.close();
  }
}

interface Job {
  topDir: string;
  targetDir: string;
  name: string;
  log: ComposeLog;
  signal: AbortSignal;
  hooks: BuildHooks;
}

async function generate(cfg: Config, metadata: MetadataCache, clock: () => Date, compose: ComposeRow, job: Job): Promise<BuildResult> {
  const { log, signal } = job;
  // Arches become directory names: refuse unknown ones before anything is written.
  for (const arch of [...compose.arches, ...compose.multilib_arches]) checkArch(arch);
  const unsupported = bitNames(RESULTS, compose.results).filter((r) => r !== 'repository');
  if (unsupported.length) throw new ComposeError(`Results other than "repository" are not supported yet: ${unsupported.join(' ')}`);
  const typeName = sourceTypeName(compose.source_type) ?? String(compose.source_type);
  const handler = SOURCE_HANDLERS[typeName as keyof typeof SOURCE_HANDLERS];
  if (!handler) throw new ComposeError(`Source type "${typeName}" is not supported by this server yet.`);

  const phase = phaseTimer(log);
  const ctx: SourceContext = { cfg, log, metadata, signal, recordExtras: (extras) => job.hooks.resolved(extras) };
  const resolved = await handler.resolve(compose, ctx);
  phase('source resolved');
  await job.hooks.resolved(resolved.extras);
  if (reuseApplies(compose)) {
    const reused = await tryReuse(compose, resolved, handler, ctx, job.hooks);
    if (reused) return reused;
  }
  const pinned = await job.hooks.pinnedNevras();
  const solution = pinned ? pinnedSolution(compose, resolved, pinned) : (resolved.selection ?? solve(compose, resolved, log));
  phase(pinned ? `the package versions of compose ${compose.renewed_from} selected` : 'dependencies resolved');
  // The os/, debug and source trees (Pungi's gather): the selection, the debuginfo of its
  // builds and their source RPMs, from the same pool.
  const trees = planTrees(solution, resolved.repos.flatMap((r) => r.packages), {
    multilibArches: compose.multilib_arches,
    noDeps: flagSet(compose, 'no_deps'),
  });
  if (trees.sourcesMissing.length) {
    const shown = trees.sourcesMissing.slice(0, 20).join(' ');
    log.info(`${trees.sourcesMissing.length} source RPM(s) are not in the source, so not in the source tree: ${shown}${trees.sourcesMissing.length > 20 ? ' …' : ''}`);
  }
  // Only what the compose takes must be obtainable (Pungi's package set allows the rest).
  const taken = [...new Set([...trees.os.values(), ...trees.debug.values(), trees.source].flat())];
  for (const repo of resolved.repos) repo.checkSelection?.(taken);

  // A fresh tree beside the final one; leftovers of an attempt that died are removed first.
  for (const entry of await readdir(job.topDir)) {
    if (entry.startsWith(TEMP_PREFIX)) await rm(path.join(job.topDir, entry), { recursive: true, force: true });
  }
  const tmp = path.join(job.topDir, `${TEMP_PREFIX}${randomBytes(4).toString('hex')}`);
  const paths = new ComposePaths(tmp);
  try {
    const store = new PackageStore(path.join(job.targetDir, STORE_DIR));
    const jobs = treeJobs(trees, paths, resolved.modulemd);
    const { placed, unchecked } = await materialize(resolved.repos, jobs, store, paths, log, signal);
    phase('packages linked');
    const { afterDone } = await describeTree({
      cfg,
      tmp,
      published: path.join(job.topDir, 'compose'),
      trees: jobs.map((j) => ({ dir: j.dir, placed: placed.get(j) ?? [], modulesYaml: j.modulesYaml })),
      unchecked,
      store,
      repos: resolved.repos,
      repodataCache: new RepodataCache(path.join(job.targetDir, REPODATA_CACHE_DIR)),
      log,
      signal,
      phase,
    });

    const identity = composeIdentity(job.name, compose.compose_type, clock());
    const urls = composeUrls(cfg, compose);
    const resultRepo = urls.result_repo || `file://${path.join(job.topDir, 'compose', VARIANT)}`;
    await writeFile(paths.repoFile(job.name), repoFile(job.name, resultRepo), { signal });
    await mkdir(path.dirname(paths.metadata('rpms.json')), { recursive: true });
    await writeJson(paths.metadata('rpms.json'), rpmsJson(identity, rpmsByArch(trees, jobs, placed)), signal);
    await writeJson(paths.metadata('composeinfo.json'), composeinfoJson(identity, compose.arches), signal);
    await writeJson(paths.metadata('depsolve.json'), depsolveReport(solution), signal);

    // A compose that timed out or was abandoned meanwhile must not appear published.
    signal.throwIfAborted();
    await publishTree(tmp, path.join(job.topDir, 'compose'));
    phase('metadata written and tree published');
    log.info(
      `Compose tree ready: ${solution.packages.length} packages in ${trees.os.size} arch(es), ` +
        `${new Set([...trees.debug.values()].flat()).size} debug packages, ${trees.source.length} source RPMs`,
    );
    // What a regenerated copy must select again: the solution (requested debug packages
    // included); the debug and source trees follow from it.
    const nevras = Object.fromEntries(solution.arches.map((a) => [a.arch, a.packages.map((p) => productmdNevra(p.package)).sort()]));
    return { ...resolved.extras, pungi_compose_id: identity.id, nevras, afterDone };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Reference §5.9: every Pungi-built type but raw_config, unless the request said no_reuse. */
function reuseApplies(compose: ComposeRow): boolean {
  const type = sourceTypeName(compose.source_type);
  return type !== 'raw_config' && type !== 'pulp' && !flagSet(compose, 'no_reuse');
}

/**
 * Reuses an identical compose (reference §5.9) if there is one: the best candidate the
 * database offers that the source handler agrees has not changed since (for `tag`, no tag in
 * the inheritance changed after the candidate's event; for other types an equal koji_event).
 */
async function tryReuse(
  compose: ComposeRow,
  resolved: ResolvedSource,
  handler: SourceHandler,
  ctx: SourceContext,
  hooks: BuildHooks,
): Promise<BuildResult | undefined> {
  const current: ComposeRow = { ...compose, ...resolved.extras };
  const candidates = await hooks.reuseCandidates(current, handler.unchangedSince === undefined);
  for (const candidate of candidates) {
    if (handler.unchangedSince && !(await handler.unchangedSince(current, candidate, ctx))) continue;
    const outcome = await hooks.reuse(candidate.id, resolved.extras);
    if (outcome === 'gone') continue;
    const what = outcome === 'done' ? 'done' : outcome === 'waiting' ? 'still generating; this one ends with it' : 'lost';
    ctx.log.info(`Reusing compose ${candidate.id} (${what})`);
    return { ...resolved.extras, reused_id: candidate.id, settled: true };
  }
  return undefined;
}

/**
 * A regenerated copy gets exactly the package versions of the compose it repeats, per arch,
 * from today's pool; what the pool no longer has fails the compose by name.
 */
function pinnedSolution(compose: ComposeRow, resolved: ResolvedSource, pinned: ResolvedNevras): DepsolveResult {
  const pool = resolved.repos.flatMap((r) => r.packages);
  const { solution, missing } = exactSelection(Object.entries(pinned), pool, (n) => `${n} (as in compose ${compose.renewed_from})`);
  if (missing.length) {
    throw new ComposeError(`The following packages of compose ${compose.renewed_from} are no longer available: ${missing.join(' ')}`);
  }
  return solution;
}

/** Logs how long each step took since the previous one. */
function phaseTimer(log: ComposeLog): (what: string) => void {
  let last = process.hrtime.bigint();
  return (what) => {
    const now = process.hrtime.bigint();
    log.info(`${what} (${(Number(now - last) / 1e6).toFixed(0)} ms)`);
    last = now;
  };
}

/** Selection and dependency resolution, with ODCS's failures for missing packages and broken deps. */
function solve(compose: ComposeRow, resolved: ResolvedSource, log: ComposeLog): DepsolveResult {
  const pool = resolved.repos.flatMap((r) => r.packages);
  log.info(`Resolving dependencies in a pool of ${pool.length} packages (${resolved.lookaside.length} in lookaside repositories)`);
  let solution: DepsolveResult;
  try {
    solution = depsolve({
      pool,
      lookaside: resolved.lookaside,
      packages: compose.packages ?? [],
      arches: compose.arches,
      multilibArches: compose.multilib_arches,
      multilibMethods: bitNames(MULTILIB_METHODS, compose.multilib_method) as MultilibMethod[],
      noDeps: flagSet(compose, 'no_deps'),
      reportUnresolved: true,
    });
  } catch (err) {
    if (err instanceof DepsolveError) throw new ComposeError(err.message);
    throw err;
  }
  for (const u of solution.unresolved) log.warning(`Unresolved dependency: ${u.package} requires ${u.requirement}`);
  if (flagSet(compose, 'check_deps') && solution.unresolved.length) {
    const list = solution.unresolved.map((u) => `${u.package} requires ${u.requirement}`).join(', ');
    throw new ComposeError(`Unresolved dependencies detected: ${list}`);
  }
  if (solution.notInCompose.length) {
    for (const missing of solution.notInCompose) log.error(`No package matches the requested "${missing}"`);
    throw new ComposeError(`The following requested packages are not present in the generated compose: ${solution.notInCompose.join(' ')}.`);
  }
  return solution;
}

/** Which repository each package came from (the first that has it, for packages seen twice). */
function originsOf(repos: readonly PackageRepo[]): Map<RpmPackage, PackageRepo> {
  const map = new Map<RpmPackage, PackageRepo>();
  for (const repo of repos) for (const pkg of repo.packages) if (!map.has(pkg)) map.set(pkg, repo);
  return map;
}

/** One repository directory of the compose tree and the packages it gets. */
interface TreeJob {
  /** Absolute directory (from ComposePaths) the repository is written in. */
  dir: string;
  /** The same directory relative to the compose dir, as rpms.json names paths. */
  rel: string;
  packages: readonly RpmPackage[];
  /** modules.yaml to add to its repodata (module composes' os trees). */
  modulesYaml?: string;
}

/** The compose's repositories: os/ and debug/tree of every arch, and the source tree. */
function treeJobs(trees: ComposeTrees, paths: ComposePaths, modulemd: Readonly<Record<string, string>> | undefined): TreeJob[] {
  const jobs: TreeJob[] = [];
  for (const [arch, packages] of trees.os) {
    jobs.push({ dir: paths.archRepo(arch), rel: path.posix.join(VARIANT, arch, 'os'), packages, modulesYaml: modulemd?.[arch] });
    jobs.push({ dir: paths.debugRepo(arch), rel: path.posix.join(VARIANT, arch, 'debug', 'tree'), packages: trees.debug.get(arch) ?? [] });
  }
  jobs.push({ dir: paths.sourceRepo(), rel: path.posix.join(VARIANT, 'source', 'tree'), packages: trees.source });
  return jobs;
}

/** Stores every package once and links it into each tree that has it; the placed packages per tree. */
async function materialize(
  repos: readonly PackageRepo[],
  jobs: readonly TreeJob[],
  store: PackageStore,
  paths: ComposePaths,
  log: ComposeLog,
  signal: AbortSignal,
): Promise<{ placed: Map<TreeJob, Placed[]>; unchecked: Unchecked[] }> {
  const origins = originsOf(repos);
  const placed = new Map<TreeJob, Placed[]>();
  const dirs = new Set<string>();
  const placements: Placement[] = [];
  let count = 0;
  const distinct = new Set<RpmPackage>();
  for (const job of jobs) {
    // Only the tree itself: package folders are made below for the packages placed in them.
    await mkdir(job.dir, { recursive: true });
    const list: Placed[] = [];
    const taken = new Set<string>();
    for (const pkg of job.packages) {
      const repo = origins.get(pkg);
      if (!repo) throw new ComposeError(`No repository holds ${nevra(pkg)}`);
      let rel = packageRelativePath(pkg, repo.keepLayout === true);
      // Two repositories may keep different packages at the same path.
      if (taken.has(rel)) rel = hashedPath(pkg);
      if (taken.has(rel)) throw new ComposeError(`Two different packages would both be ${job.rel}/${rel}`);
      taken.add(rel);
      const dest = paths.packageIn(job.dir, rel);
      dirs.add(path.dirname(dest));
      placements.push({ pkg, origin: repo.origin(pkg), dest });
      list.push({ pkg, path: path.posix.join(job.rel, rel) });
      count++;
      distinct.add(pkg);
    }
    list.sort((a, b) => a.path.localeCompare(b.path));
    placed.set(job, list);
  }
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  const { imported, unchecked } = await store.placeAll(placements, signal);
  log.info(`Linked ${count} packages (${distinct.size} distinct, ${imported} newly stored, ${distinct.size - imported} from the store)`);
  return { placed, unchecked };
}

/**
 * rpms.json's entries per compose arch: its os/ packages (binary), its debug packages (debug),
 * and the source RPMs of both (source), as Pungi lists them.
 */
function rpmsByArch(trees: ComposeTrees, jobs: readonly TreeJob[], placed: ReadonlyMap<TreeJob, Placed[]>): Map<string, RpmEntry[]> {
  const placedOf = (pkgs: readonly RpmPackage[] | undefined): Placed[] => {
    const job = jobs.find((j) => j.packages === pkgs);
    return job ? (placed.get(job) ?? []) : [];
  };
  const sourcePlaced = new Map(placedOf(trees.source).map((p) => [`${p.pkg.name}-${p.pkg.version}-${p.pkg.release}.${p.pkg.arch}.rpm`, p]));
  const out = new Map<string, RpmEntry[]>();
  for (const arch of trees.os.keys()) {
    const entries: RpmEntry[] = [];
    const sources = new Set<Placed>();
    for (const [category, list] of [['binary', placedOf(trees.os.get(arch))], ['debug', placedOf(trees.debug.get(arch))]] as const) {
      for (const p of list) {
        entries.push({ ...p, category });
        const src = p.pkg.sourcerpm === null ? undefined : sourcePlaced.get(p.pkg.sourcerpm);
        if (src) sources.add(src);
      }
    }
    for (const src of sources) entries.push({ ...src, category: 'source' });
    out.set(arch, entries);
  }
  return out;
}

/** compose/metadata/depsolve.json: why each package is in the compose, and what stayed unresolved. */
function depsolveReport(solution: DepsolveResult): unknown {
  return {
    arches: Object.fromEntries(
      solution.arches.map((a) => [
        a.arch,
        {
          packages: Object.fromEntries(a.packages.map((s) => [productmdNevra(s.package), describeReason(s.reason)])),
          lookaside: a.lookaside.map(productmdNevra),
          unresolved: a.unresolved,
        },
      ]),
    ),
  };
}

async function writeJson(file: string, data: unknown, signal: AbortSignal): Promise<void> {
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`, { signal });
}

/** Settles like `work`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** "ENOSPC: no space left on device" from an fs error, without the path it names. */
function errnoText(err: NodeJS.ErrnoException): string {
  return err.message.split(',')[0];
}

/**
 * Puts the finished tree at `dest` with a rename, so nobody ever sees half of it. A tree left
 * by an earlier attempt is renamed away first and deleted after.
 */
async function publishTree(tmp: string, dest: string): Promise<void> {
  const old = `${path.dirname(dest)}/${TEMP_PREFIX}old-${randomBytes(4).toString('hex')}`;
  let moved = false;
  try {
    await rename(dest, old);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await rename(tmp, dest);
  if (moved) await rm(old, { recursive: true, force: true });
}
