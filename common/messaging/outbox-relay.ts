import type { Broker, OutgoingMessage } from '../broker/broker';
import type { Config } from '../config';
import { sleep } from '../sleep';
import { type Database, pgErrorCode } from '../db/database';
import type { OutboxRow } from '../db/entities';
import type { Logger } from '../log';
import { outboxMessage } from './outbox-messages';

/** Only one relay in the whole deployment publishes at a time, which keeps messages in order. */
const RELAY_LOCK_KEY = 0x0dc5_0001;

export interface RelayOptions {
  batchSize?: number;
  /** How often to look for rows written by other processes (ms). */
  pollMs?: number;
  /** Retry delay while the broker or the database is unreachable (ms, doubled up to maxBackoffMs). */
  backoffMs?: number;
  maxBackoffMs?: number;
  clock?: () => Date;
}

/** -1: another relay held the lock too long; otherwise how many rows this round relayed. */
type RoundResult = number;

/**
 * Publishes outbox rows to the broker in id order and deletes them, in the same transaction
 * that holds the relay lock, so a row is gone only after the broker confirmed it. At least
 * once: a crash between confirm and commit publishes the row again (consumers dedupe by
 * message_id or, for work, by the compose's state).
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly clock: () => Date;
  private running = false;
  private loopDone?: Promise<void>;
  private wake?: () => void;
  private stopWaiting?: () => void;
  private kicked = false;
  private failures = 0;
  private queueDeclared = false;
  /** Rows relayed by this process since start, for metrics and tests. */
  relayed = 0;

  constructor(
    private readonly db: Database,
    private readonly broker: Broker,
    private readonly cfg: Config,
    private readonly log: Logger,
    options: RelayOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.pollMs = options.pollMs ?? 1000;
    this.backoffMs = options.backoffMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.clock = options.clock ?? (() => new Date());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopWaiting?.();
    await this.loopDone;
  }

  /** Asks for a round now: called after this process wrote outbox rows. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** One round: relays up to one batch. Throws if the broker or the database fails. */
  async relayOnce(): Promise<RoundResult> {
    return this.db.transaction(async (tx) => {
      // Wait for the lock rather than poll for it: a round of another process takes milliseconds,
      // and rows written meanwhile are then relayed at once instead of after a poll interval.
      try {
        await tx.query(`SELECT set_config('lock_timeout', '5s', true), pg_advisory_xact_lock($1)`, [RELAY_LOCK_KEY]);
      } catch (err) {
        if (pgErrorCode(err) === '55P03') return -1;
        throw err;
      }
      const rows = await tx.query<OutboxRow>(
        `SELECT id, kind, compose_id, payload, message_id, created_at FROM outbox ORDER BY id LIMIT $1`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      const now = this.clock();
      const messages = rows.map((r) => outboxMessage(this.cfg, r, now)).filter((m): m is OutgoingMessage => m !== undefined);
      if (!this.queueDeclared) {
        // A work message sent to a queue that does not exist would be dropped silently.
        await this.broker.assertQueue(this.cfg.work_queue);
        this.queueDeclared = true;
      }
      await this.broker.publish(messages);
      await tx.query(`DELETE FROM outbox WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
      return rows.length;
    });
  }

  /** Relays until nothing is left (for tests and shutdown); returns how many rows were relayed. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.relayOnce();
      if (n === 0) return total;
      if (n < 0) {
        await sleep(20);
        continue;
      }
      total += n;
    }
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      let n: RoundResult;
      try {
        n = await this.relayOnce();
        if (this.failures > 0) this.log.info({ after: this.failures }, 'outbox relay recovered');
        this.failures = 0;
      } catch (err) {
        this.queueDeclared = false;
        this.failures += 1;
        const delay = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** Math.min(this.failures - 1, 10));
        const log = this.failures === 1 ? this.log.warn.bind(this.log) : this.log.debug.bind(this.log);
        log({ err: (err as Error).message, retryInMs: delay }, 'outbox relay cannot publish; will retry');
        // Kicks do not shorten this wait: during an outage every request would kick.
        await this.idle(delay, false);
        continue;
      }
      if (n > 0) {
        this.relayed += n;
        continue;
      }
      if (n < 0) {
        // Another process is relaying; it may have missed rows we just wrote, so look again soon.
        await this.idle(this.kicked ? 20 : this.pollMs, true);
        continue;
      }
      if (!this.kicked) await this.idle(this.pollMs, true);
    }
  }

  /** Waits `ms`, or less if stopped (or kicked, when `wakeOnKick`). */
  private idle(ms: number, wakeOnKick: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        this.stopWaiting = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopWaiting = done;
      if (wakeOnKick) this.wake = done;
    });
  }
}

