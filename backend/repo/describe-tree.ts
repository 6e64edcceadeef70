import path from 'node:path';
import { bothOrNeither, eachLimit } from '../../common/concurrency';
import type { Config } from '../../common/config';
import { ComposeError } from '../../common/errors';
import type { ComposeLog } from '../compose-log';
import type { RpmPackage } from '../rpm/model';
import { readPackageChecksums } from '../rpm/repodata';
import type { PackageRepo } from '../sources/types';
import { checkAgainst, type PackageStore, type Unchecked } from '../store/package-store';
import { createrepo } from './createrepo';
import { addModulesMetadata } from './modifyrepo';
import type { RepodataCache } from './repodata-cache';

/** A package in a tree: `path` relative to the compose dir (as rpms.json has it). */
export type Placed = { pkg: RpmPackage; path: string };

/** One repository of the compose: its directory and the packages placed in it. */
export interface TreeToDescribe {
  dir: string;
  placed: readonly Placed[];
  /** modules.yaml to add to its repodata (module composes). */
  modulesYaml?: string;
}

export interface DescribeTreeJob {
  cfg: Config;
  /** The tree being built and where it will be published. */
  tmp: string;
  published: string;
  /** Every repository of the tree (os/, debug/tree of each arch, the source tree). */
  trees: readonly TreeToDescribe[];
  /** Local packages linked straight from their repository, not checked yet. */
  unchecked: readonly Unchecked[];
  store: PackageStore;
  repos: readonly PackageRepo[];
  repodataCache: RepodataCache;
  log: ComposeLog;
  signal: AbortSignal;
  phase(what: string): void;
}

/**
 * Writes repodata/ for every arch tree and checks the bytes of the unchecked packages, in the
 * cheaper of two ways. When they are most of the compose's bytes (and their metadata gives
 * sha256), createrepo_c describes the tree afresh, reading and hashing every file as it must
 * then anyway, and its checksums are compared with the metadata's: a first compose hashes its
 * bytes once, not twice. Otherwise the few new files are hashed (and stored) in the store
 * threads while createrepo_c describes the tree from the metadata it can reuse, reading none of
 * the files. Any difference throws, naming the package. Returns the work left for after the
 * compose is done: entering the files createrepo_c checked into the store.
 */
export async function describeTree(job: DescribeTreeJob): Promise<{ afterDone?: () => Promise<void> }> {
  const { trees, unchecked, store, log, signal } = job;
  // Repodata enters the cache only once the packages it describes are checked.
  const built: Array<{ key: string; dir: string }> = [];
  const repodata = async (tree: TreeToDescribe, reuseFrom: readonly string[] | undefined, stop: AbortSignal): Promise<void> => {
    const made = await buildRepodata(tree, job, reuseFrom, stop);
    if (made) built.push(made);
  };
  let afterDone: (() => Promise<void>) | undefined;
  if (checkWithCreaterepo(unchecked, trees)) {
    log.info(`Checking ${unchecked.length} new packages against the checksums createrepo_c computes`);
    await eachLimit(trees, 2, (tree) => repodata(tree, undefined, signal));
    job.phase('repodata written');
    const sums = await describedChecksums(trees);
    const undescribed = unchecked.filter((u) => !sums.has(u.file));
    if (undescribed.length) {
      // createrepo_c skips what it cannot read as an RPM (and says so in the log); hashing
      // those tells a file that differs from its metadata from one that is merely unreadable.
      await store.checkAndStore(undescribed);
      throw new ComposeError(`createrepo_c could not read ${undescribed.map((u) => path.basename(u.pkg.location)).join(' ')}`);
    }
    checkAgainst(unchecked, sums);
    // The store only serves later composes: it is filled from the published tree once done.
    afterDone = () => store.enter(unchecked.map((u) => ({ ...u, file: job.published + u.file.slice(job.tmp.length) })));
  } else {
    if (unchecked.length) log.info(`Checking ${unchecked.length} new packages while createrepo_c runs`);
    await bothOrNeither(
      () => store.checkAndStore(unchecked),
      (stop) => eachLimit(trees, 2, (tree) => repodata(tree, reusableMetadata(job.repos, tree.placed), stop)),
      signal,
    );
  }
  for (const { key, dir } of built) await job.repodataCache.save(key, dir);
  job.phase(afterDone ? 'new packages checked' : unchecked.length ? 'repodata written, new packages checked and stored' : 'repodata written');
  return { afterDone };
}

/**
 * Whether createrepo_c's own checksums should check the new packages: when they are most of
 * the compose's bytes (createrepo_c then hashes every file, the stored ones too) and the
 * metadata gives sha256 for each, the checksum createrepo_c computes.
 */
function checkWithCreaterepo(unchecked: readonly Unchecked[], trees: readonly TreeToDescribe[]): boolean {
  if (!unchecked.length || unchecked.some((u) => u.pkg.checksum.type.toLowerCase() !== 'sha256')) return false;
  let all = 0;
  for (const pkg of new Set(trees.flatMap((tree) => tree.placed.map((p) => p.pkg)))) all += pkg.size;
  const fresh = unchecked.reduce((sum, u) => sum + u.pkg.size, 0);
  return fresh * 2 >= all;
}

/** sha256 of every package file createrepo_c described in the trees, by absolute path. */
async function describedChecksums(trees: readonly TreeToDescribe[]): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  for (const { dir } of trees) {
    for (const [location, sum] of await readPackageChecksums(dir)) if (sum.type === 'sha256') sums.set(path.join(dir, location), sum.value);
  }
  return sums;
}

/**
 * repodata/ of one tree: from the cache when the same packages had it before (only when
 * reusing metadata), else createrepo_c (and modifyrepo_c for modules); then the cache key and
 * repository to save once checked. `reuseFrom` undefined: describe every file afresh.
 */
async function buildRepodata(
  tree: TreeToDescribe,
  job: DescribeTreeJob,
  reuseFrom: readonly string[] | undefined,
  signal: AbortSignal,
): Promise<{ key: string; dir: string } | undefined> {
  const { dir, placed, modulesYaml } = tree;
  // modules.yaml is part of the repodata: the same packages with other (or no) module
  // metadata must not share a cache entry.
  const key = job.repodataCache.key(placed, modulesYaml);
  if (reuseFrom && (await job.repodataCache.restore(key, dir))) {
    job.log.info(`Reusing the repodata of an earlier tree with the same ${placed.length} packages for ${path.relative(job.tmp, dir)}`);
    return undefined;
  }
  await createrepo(dir, { command: job.cfg.createrepo_c, log: job.log, signal, reuseFrom });
  if (modulesYaml !== undefined) await addModulesMetadata(dir, modulesYaml, { command: job.cfg.modifyrepo_c, log: job.log, signal });
  return { key, dir };
}

/**
 * The repositories whose metadata createrepo_c may reuse for one arch tree. createrepo_c
 * matches packages by file name, so this is only safe when no two repositories have different
 * packages under the same file name.
 */
function reusableMetadata(repos: readonly PackageRepo[], placed: readonly Placed[]): string[] {
  const dirs = repos.map((r) => r.metadataDir).filter((d): d is string => d !== undefined);
  if (dirs.length <= 1) return dirs;
  const byFile = new Map<string, string>();
  for (const repo of repos) {
    for (const pkg of repo.packages) {
      const file = path.basename(pkg.location);
      const seen = byFile.get(file);
      if (seen !== undefined && seen !== pkg.checksum.value) return [];
      byFile.set(file, pkg.checksum.value);
    }
  }
  return placed.length ? dirs : [];
}
