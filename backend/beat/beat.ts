import type { Config } from '../../common/config';
import type { ComposeStore } from '../../common/db/compose-store';
import type { Database } from '../../common/db/database';
import type { Logger } from '../../common/log';

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
}

/**
 * The periodic maintenance jobs (reference §6.4). Each job is a plain function of the current
 * time, so tests call `runOnce(now)` with the clock they want instead of waiting for timers.
 */
export class Beat {
  private timer?: NodeJS.Timeout;
  private round?: Promise<unknown>;

  constructor(private readonly deps: BeatDeps) {}

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
    const report: BeatReport = { ran: false, requeued: [], failedWaiting: [] };
    const result = await this.deps.db.withAdvisoryLock(BEAT_LOCK_KEY, async () => {
      report.ran = true;
      await this.job('lost waiting composes', async () => Object.assign(report, await this.handleLostWaiting(now)));
      await this.job('count compaction', () => this.deps.store.compactCounts());
      return report;
    });
    if (result && (report.requeued.length || report.failedWaiting.length)) {
      this.deps.outboxWritten?.();
      this.deps.log.info({ requeued: report.requeued.length, failed: report.failedWaiting.length }, 'beat round');
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
