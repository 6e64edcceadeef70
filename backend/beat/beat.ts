import path from 'node:path';
import type { Config } from '../../common/config';
import type { ComposeStore } from '../../common/db/compose-store';
import type { Database } from '../../common/db/database';
import type { Logger } from '../../common/log';
import { claimTargetDir, databaseIdentity, OWNER_MARKER, type TargetDirOwnership } from '../../common/target-dir-owner';
import { REPODATA_CACHE_DIR, STORE_DIR } from '../pipeline';
import { pruneKojiHeaderCache } from '../koji/header-cache';
import { KOJI_HEADER_CACHE_DIR } from '../sources/koji-pool';
import { REPODATA_CACHE_DIR as MIRROR_CACHE_DIR } from '../sources/repositories';
import { type CollectReport, collectStore, pathExists, removeTree, sweepTargetDir } from './cleanup';

/** Only one beat round runs at a time across all replicas. */
export const BEAT_LOCK_KEY = 0x0dc5_0002;
const WAIT_LIMIT_SECONDS = 3 * 24 * 3600;

export interface BeatDeps {
  cfg: Config;
  db: Database;
  store: ComposeStore;
  log: Logger;
  /** Called after a job wrote outbox rows. */
  outboxWritten?: () => void;
}

/** What one round did, for logs and tests. */
export interface BeatReport {
  /** False when another replica held the lock and this round did nothing. */
  ran: boolean;
  requeued: number[];
  failedWaiting: number[];
  /** Expired composes now `removed`. */
  removed: number[];
  /** Generating composes taken from workers that stopped heart-beating, queued again. */
  released: number[];
  /** Generating composes failed as stuck. */
  failedStuck: number[];
  /** Reusing composes given the end of the compose they reuse. */
  finishedReusers: number[];
  /** Directories and temporary trees deleted. */
  swept: string[];
  /** What store collection deleted (when it ran this round). */
  collected?: CollectReport;
}

/** Store collection walks every compose tree: not more often than this. */
const COLLECT_INTERVAL_MS = 3600 * 1000;

/**
 * The periodic maintenance jobs (reference §6.4). Each job is a plain function of the current
 * time, so tests call `runOnce(now)` with the clock they want instead of waiting for timers.
 */
export class Beat {
  private timer?: NodeJS.Timeout;
  private round?: Promise<unknown>;
  private lastCollect = -Infinity;
  /** Target dirs this beat refused to sweep, with why, so that each refusal is logged once. */
  private readonly refused = new Map<string, string>();

  constructor(private readonly deps: BeatDeps) {}

  /** Every target dir of the configuration: the default one and the extra ones. */
  private targetDirs(): string[] {
    return [...new Set([this.deps.cfg.target_dir, ...Object.values(this.deps.cfg.extra_target_dirs)])];
  }

  /**
   * Removes expired composes (reference §6.4 step 1): `removed` with ODCS's reason, then their
   * directory taken out of the served tree and deleted (a compose reusing another has none of
   * its own). A compose whose target dir is not mounted here is left for a beat that has it.
   */
  async removeExpired(now: Date): Promise<number[]> {
    const { store, cfg, log } = this.deps;
    const removed: number[] = [];
    const ownership = new Map<string, TargetDirOwnership>();
    for (const row of await store.expired(now)) {
      const targetDir = row.target_dir ?? cfg.target_dir;
      if (!(await pathExists(targetDir))) continue;
      const done = await store.markRemoved(row, now);
      if (!done) continue;
      removed.push(row.id);
      if (!ownership.has(targetDir)) ownership.set(targetDir, await this.ownershipOf(targetDir));
      // In another database's target dir, `odcs-<id>` is that database's compose of the same
      // id (our workers never build there): the compose is removed, its namesake stays.
      if (ownership.get(targetDir)?.status === 'foreign') continue;
      // Its own directory: the whole compose, or only the logs of a compose that reused another
      // (whose tree belongs to that one).
      {
        await removeTree(targetDir, `odcs-${row.id}`).catch((err) =>
          log.warn({ compose: row.id, err: (err as Error).message }, 'cannot delete compose directory; the sweep will retry'),
        );
      }
    }
    return removed;
  }

  /**
   * Generating composes whose worker died (reference §6.4 step 2, with heartbeats): released
   * for another worker up to max_attempts, then failed as stuck; and any compose generating for
   * longer than twice compose_timeout failed, as ODCS does.
   */
  async handleStuckGenerating(now: Date): Promise<Pick<BeatReport, 'released' | 'failedStuck'>> {
    const { store, cfg } = this.deps;
    const { released, failed } = await store.handleStaleGenerating(new Date(now.getTime() - cfg.heartbeat_timeout * 1000), cfg.max_attempts, now);
    const limit = 2 * cfg.compose_timeout;
    const tooLong = await store.failGeneratingStartedBefore(new Date(now.getTime() - limit * 1000), limit, now);
    return { released, failedStuck: [...failed, ...tooLong].sort((a, b) => a - b) };
  }

  /** Reusing composes whose reused compose ended without taking them along (reference §6.4 step 4). */
  finishReusers(now: Date): Promise<number[]> {
    return this.deps.store.finishOrphanedReusers(now);
  }

  /**
   * Whether `dir` is this database's (claiming it when new), logging once why a dir is not:
   * the sweep judges directories by this database's compose ids, which mean nothing in another
   * database's target dir.
   */
  private async ownershipOf(dir: string): Promise<TargetDirOwnership> {
    const { db, log } = this.deps;
    const identity = await databaseIdentity(db);
    const ownership = await claimTargetDir(dir, identity);
    if (ownership.status === 'ours' || ownership.status === 'missing') {
      if (ownership.status === 'ours' && ownership.claimed) log.info({ targetDir: dir, database: identity }, `target dir claimed for this database (${OWNER_MARKER} written)`);
      if (this.refused.delete(dir)) log.info({ targetDir: dir }, 'target dir is this database\'s again; sweeping it');
      return ownership;
    }
    const why = ownership.status === 'foreign' ? `foreign:${ownership.owner}` : 'unmarked';
    if (this.refused.get(dir) !== why) {
      this.refused.set(dir, why);
      if (ownership.status === 'foreign') {
        log.warn(
          { targetDir: dir, owner: ownership.owner, database: identity },
          `target dir belongs to another database (${OWNER_MARKER}): not sweeping it nor deleting compose directories there`,
        );
      } else {
        log.warn(
          { targetDir: dir, database: identity },
          `target dir holds compose directories but no ${OWNER_MARKER} marker: not sweeping it. If its composes are this database's, ` +
            `write this database's identity into ${OWNER_MARKER} there (see README, "Target dir ownership")`,
        );
      }
    }
    return ownership;
  }

  /**
   * Directories without a live compose, and temporary trees nobody is building, in every target
   * dir this database owns (a new, empty one is claimed first).
   */
  async sweep(): Promise<string[]> {
    const swept: string[] = [];
    for (const dir of this.targetDirs()) {
      if ((await this.ownershipOf(dir)).status !== 'ours') continue;
      const report = await sweepTargetDir(dir, (ids) => this.deps.store.statesOf(ids));
      swept.push(...[...report.strays, ...report.temporaries].map((n) => path.join(dir, n)));
    }
    return swept;
  }

  /**
   * Deletes what the caches under every target dir hold for nobody (at most hourly from the
   * timer): store entries no compose links and the key links to them, cached repodata
   * (`.cache/createrepo`, `.cache/repodata`) nothing restored lately, and Koji header entries
   * no compose read for koji_header_cache_max_age_seconds.
   */
  async collect(): Promise<CollectReport> {
    const { cfg } = this.deps;
    const total: CollectReport = { packages: 0, bytes: 0, repodata: 0, keyLinks: 0, kojiHeaders: 0 };
    const grace = cfg.store_grace_seconds * 1000;
    for (const dir of this.targetDirs()) {
      const r = await collectStore(dir, path.join(dir, STORE_DIR), [path.join(dir, REPODATA_CACHE_DIR), path.join(dir, MIRROR_CACHE_DIR)], grace);
      r.kojiHeaders = await pruneKojiHeaderCache(path.join(dir, KOJI_HEADER_CACHE_DIR), cfg.koji_header_cache_max_age_seconds * 1000);
      for (const key of Object.keys(total) as Array<keyof CollectReport>) total[key] += r[key];
    }
    return total;
  }

  /** Fails `wait` composes older than 3 days; queues again the work of those nobody claimed. */
  async handleLostWaiting(now: Date): Promise<Pick<BeatReport, 'requeued' | 'failedWaiting'>> {
    const { store, cfg } = this.deps;
    const failed = await store.failWaitingSubmittedBefore(
      new Date(now.getTime() - WAIT_LIMIT_SECONDS * 1000),
      "Compose stuck in 'wait' state for longer than 3 days.",
      now,
    );
    const requeued = await store.requeueWaitingSubmittedBefore(new Date(now.getTime() - cfg.lost_wait_seconds * 1000), now);
    return { failedWaiting: failed.map((r) => r.id), requeued };
  }

  /** One round of every job, unless another replica is running one. Job errors are logged, not fatal. */
  async runOnce(now: Date = new Date()): Promise<BeatReport> {
    const report: BeatReport = { ran: false, requeued: [], failedWaiting: [], removed: [], released: [], failedStuck: [], finishedReusers: [], swept: [] };
    const result = await this.deps.db.withAdvisoryLock(BEAT_LOCK_KEY, async () => {
      report.ran = true;
      await this.job('expired composes', async () => (report.removed = await this.removeExpired(now)));
      await this.job('stuck generating composes', async () => Object.assign(report, await this.handleStuckGenerating(now)));
      await this.job('lost waiting composes', async () => Object.assign(report, await this.handleLostWaiting(now)));
      await this.job('reusing composes', async () => (report.finishedReusers = await this.finishReusers(now)));
      await this.job('stray directories', async () => (report.swept = await this.sweep()));
      if (Date.now() - this.lastCollect >= COLLECT_INTERVAL_MS) {
        this.lastCollect = Date.now();
        await this.job('package store collection', async () => (report.collected = await this.collect()));
      }
      await this.job('count compaction', () => this.deps.store.compactCounts());
      return report;
    });
    const changed = [report.requeued, report.failedWaiting, report.removed, report.released, report.failedStuck, report.finishedReusers];
    if (result && changed.some((l) => l.length)) this.deps.outboxWritten?.();
    const collected = report.collected && Object.values(report.collected).some((n) => n > 0);
    if (result && (changed.some((l) => l.length) || report.swept.length || collected)) {
      this.deps.log.info(
        {
          removed: report.removed.length,
          released: report.released.length,
          failedStuck: report.failedStuck.length,
          requeued: report.requeued.length,
          failedWaiting: report.failedWaiting.length,
          finishedReusers: report.finishedReusers.length,
          swept: report.swept.length,
          collected: report.collected,
        },
        'beat round',
      );
    }
    return report;
  }

  private async job(name: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.deps.log.warn({ job: name, err: (err as Error).message }, 'beat job failed');
    }
  }

  start(): void {
    const tick = (): void => {
      this.round = this.runOnce()
        .catch((err) => this.deps.log.warn({ err: (err as Error).message }, 'beat round failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.deps.cfg.beat_interval * 1000);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
  }
}
