import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { sleep } from '../common/sleep';
import type { Broker, Consumer, Delivery } from '../common/broker/broker';
import type { Config } from '../common/config';
import type { ComposeStore, ResolvedNevras, TransitionExtras } from '../common/db/compose-store';
import { isDatabaseUnavailable } from '../common/db/database';
import type { ComposeRow } from '../common/db/entities';
import { STATES } from '../common/enums';
import type { Logger } from '../common/log';
import type { WorkMessage } from '../common/messaging/outbox-messages';
import { failureReason, internalFailureReason } from './failure-reason';
import { stopStoreThreads } from './store/store-threads';
import { toolsExited } from './tools';

/** What building a compose produced: columns to record with the `done` transition. */
export interface BuildResult extends TransitionExtras {
  /** The packages of the compose, kept so a renewal can ask for the same versions. */
  nevras?: ResolvedNevras;
  /** The compose's state was already written (it reuses another compose): nothing to record. */
  settled?: boolean;
  /**
   * Work that may follow the recorded end, such as filling caches for later composes: the
   * worker runs it after `done` is written; a failure there is only logged.
   */
  afterDone?: () => Promise<void>;
}

/** What a build may ask of the worker's database about the compose it builds. */
export interface BuildHooks {
  /** Records the fields resolution fixed and marks the compose reusable while in progress. */
  resolved(extras: TransitionExtras): Promise<void>;
  /** Composes this one (with its resolved fields) may reuse, best first (reference §5.9). */
  reuseCandidates(resolved: ComposeRow, sameEvent: boolean): Promise<ComposeRow[]>;
  /** Makes this compose reuse `candidate`; 'gone' when the candidate can no longer be reused. */
  reuse(candidate: number, extras: TransitionExtras): Promise<'done' | 'waiting' | 'gone' | 'lost'>;
  /** For a regenerated copy: the package versions of the compose it repeats. */
  pinnedNevras(): Promise<ResolvedNevras | undefined>;
  /** The identity of this worker's database, which names the target dirs it may build in. */
  databaseIdentity(): Promise<string>;
}

/**
 * Builds one claimed compose. Throws to fail it; the error's message becomes the reason
 * (`Error while generating compose: <message>`). `signal` aborts when the compose is no
 * longer ours (cancelled, failed by the beat) or the worker is shutting down.
 */
export type BuildCompose = (compose: ComposeRow, signal: AbortSignal, hooks: BuildHooks) => Promise<BuildResult>;

export interface WorkerDeps {
  cfg: Config;
  store: ComposeStore;
  broker: Broker;
  log: Logger;
  build: BuildCompose;
  clock?: () => Date;
  /** Called after this worker wrote outbox rows (state changes), so they are published at once. */
  outboxWritten?: () => void;
  name?: string;
}

const RETRY_DELAY_MS = 1000;

/** The largest compose id there can be: ids are PostgreSQL `integer`s. */
export const MAX_COMPOSE_ID = 2147483647;

/** How a work message ends: acked (done with), or given back to be delivered again. */
type Settlement = 'ack' | 'requeue';

/**
 * Consumes `{compose_id}` messages. Each message wakes the worker to build one compose, chosen
 * fairly across owners (ComposeStore.claimWork): the message's own compose when the beat
 * released it, else the oldest waiting compose of the least busy owner. A message is acked only
 * once the compose it led to is in a final state (or there was nothing to claim), so a worker
 * killed mid-compose leaves the message to be redelivered; a delivery finding nothing waiting
 * claims nothing and is acked.
 */
export class Worker {
  readonly name: string;
  private consumer?: Consumer;
  private readonly inFlight = new Map<number, AbortController>();
  private readonly settled = new Set<Promise<void>>();
  private stopping = false;
  /** Set when a graceful stop gives up waiting: the builds it aborts leave their messages unacked. */
  private shuttingDown = false;
  private readonly clock: () => Date;

  constructor(private readonly deps: WorkerDeps) {
    this.name = deps.name ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.clock = deps.clock ?? (() => new Date());
  }

  async start(): Promise<void> {
    const { cfg, broker } = this.deps;
    this.consumer = await broker.consume(cfg.work_queue, { prefetch: cfg.num_concurrent_composes }, (d) => {
      // A stopping worker takes nothing new; the message stays unacked and goes back to the
      // queue when the consumer is cancelled.
      if (this.stopping) return;
      const p = this.handle(d).catch((err) => this.deps.log.error({ err }, 'work message handling failed'));
      this.settled.add(p);
      void p.finally(() => this.settled.delete(p));
    });
  }

  /**
   * Stops taking work and waits for the composes in progress to end, at most `graceMs`
   * (default shutdown_grace_seconds; 0 with `abort`). Builds still running then are aborted:
   * their tools are killed, their messages given back unacked, and the beat hands their
   * composes to another worker once their heartbeat stops.
   */
  async stop(options: { abort?: boolean; graceMs?: number } = {}): Promise<void> {
    this.stopping = true;
    const graceMs = options.abort ? 0 : (options.graceMs ?? this.deps.cfg.shutdown_grace_seconds * 1000);
    const all = Promise.allSettled([...this.settled]);
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([all.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(timer);
    if (!ended) {
      this.deps.log.warn({ composes: this.busy, graceSeconds: graceMs / 1000 }, 'composes still running at shutdown; aborting them');
      this.shuttingDown = true;
      for (const c of this.inFlight.values()) c.abort(new Error('worker shutting down'));
      await all;
      // An aborted compose ends at once; its tools are killed a little later and must not outlive us.
      await toolsExited();
    }
    await this.consumer?.cancel();
    // No builds left here: the store threads would only keep the process alive.
    stopStoreThreads();
  }

  /** Composes this worker is building now. */
  get busy(): number[] {
    return [...this.inFlight.keys()];
  }

  /**
   * Handles one work message. Every path ends in exactly one ack or nack (the finally below):
   * a message left unsettled would hold one of the consumer's prefetch slots for ever.
   */
  private async handle(delivery: Delivery): Promise<void> {
    let settlement: Settlement = 'ack';
    let afterDone: BuildResult['afterDone'];
    let id: number | undefined;
    try {
      id = parseWorkMessage(delivery.body);
      if (id === undefined) {
        this.deps.log.warn({ body: delivery.body.toString('utf8').slice(0, 200) }, 'dropping a malformed work message');
        return;
      }
      let compose: ComposeRow | undefined;
      try {
        // The message wakes us; which compose we build is chosen fairly across owners.
        compose = await this.deps.store.claimWork(id, this.name, this.clock());
      } catch (err) {
        if (!isDatabaseUnavailable(err)) {
          // Not an outage: the same message would fail the same way for ever.
          this.deps.log.error({ compose: id, err }, 'cannot claim compose for a reason that will not pass; dropping its work message');
          return;
        }
        // The database is the truth; without it we cannot know, so let the broker keep the message.
        this.deps.log.warn({ compose: id, err: (err as Error).message }, 'cannot claim compose; will retry');
        await sleep(RETRY_DELAY_MS);
        settlement = 'requeue';
        return;
      }
      if (!compose) {
        this.deps.log.debug({ compose: id, redelivered: delivery.redelivered }, 'nothing to claim');
        return;
      }
      if (compose.id !== id) this.deps.log.debug({ message: id, compose: compose.id }, 'claimed the next compose in fair order');
      id = compose.id;
      this.deps.outboxWritten?.();
      const ended = await this.run(compose);
      settlement = ended.settlement;
      afterDone = ended.afterDone;
    } catch (err) {
      // A database that went away while the worker stops: the message must come back. Anything
      // else would fail again on redelivery.
      settlement = isDatabaseUnavailable(err) ? 'requeue' : 'ack';
      this.deps.log.error({ compose: id, err }, 'work message handling failed');
    } finally {
      if (settlement === 'ack') delivery.ack();
      else delivery.nack(true);
    }
    await afterDone?.().catch((err: unknown) => this.deps.log.warn({ compose: id, err: (err as Error).message }, 'work after the compose ended failed'));
  }

  /** Builds the compose and records its end; returns its afterDone work, if any, and how its message ends. */
  private async run(compose: ComposeRow): Promise<{ settlement: Settlement; afterDone?: BuildResult['afterDone'] }> {
    const { store, log, cfg } = this.deps;
    const controller = new AbortController();
    this.inFlight.set(compose.id, controller);
    const beat = setInterval(() => {
      store
        .heartbeat(compose.id, this.name, this.clock())
        .then((ours) => {
          if (!ours) controller.abort(new Error('the compose is no longer assigned to this worker'));
        })
        .catch((err) => log.warn({ compose: compose.id, err: (err as Error).message }, 'heartbeat failed'));
    }, cfg.heartbeat_interval * 1000);
    log.info({ compose: compose.id, source_type: compose.source_type }, 'generating compose');
    try {
      let outcome: { state: typeof STATES.done | typeof STATES.failed; reason: string; extras: BuildResult };
      try {
        const extras = await this.deps.build(compose, controller.signal, this.hooksFor(compose, controller.signal));
        if (extras.settled) {
          this.deps.outboxWritten?.();
          log.info({ compose: compose.id, reused: extras.reused_id }, 'compose reuses another');
          return { settlement: 'ack' };
        }
        outcome = { state: STATES.done, reason: 'Compose is generated successfully', extras };
      } catch (err) {
        if (controller.signal.aborted) {
          log.warn({ compose: compose.id, reason: String(controller.signal.reason) }, 'compose abandoned');
          // Aborted by a shutdown: the message goes back, the compose is taken over later.
          return { settlement: this.shuttingDown ? 'requeue' : 'ack' };
        }
        const { text, internal } = failureReason(cfg, compose.id, err);
        // The operator's log keeps the real message (paths and all), and the stack of an internal error.
        if (internal) log.error({ compose: compose.id, err }, 'compose failed with an internal error');
        else log.warn({ compose: compose.id, reason: err instanceof Error ? err.message : String(err) }, 'compose failed');
        outcome = { state: STATES.failed, reason: `Error while generating compose: ${text}`, extras: {} };
      }
      const recorded = await this.finish(compose.id, outcome.state, outcome.reason, outcome.extras);
      return { settlement: 'ack', afterDone: recorded ? outcome.extras.afterDone : undefined };
    } finally {
      clearInterval(beat);
      this.inFlight.delete(compose.id);
    }
  }

  /** The database steps of a build; each waits while the database is away (a restart must not fail the compose). */
  private hooksFor(compose: ComposeRow, signal: AbortSignal): BuildHooks {
    const { store } = this.deps;
    const step = <T>(what: string, fn: () => Promise<T>): Promise<T> => this.untilDatabaseAnswers(compose.id, what, fn, signal);
    return {
      resolved: (extras) =>
        step('cannot record the resolved source', async () => {
          if (!(await store.markGenerating(compose.id, this.name, extras))) throw new Error('the compose is no longer assigned to this worker');
        }),
      reuseCandidates: (resolved, sameEvent) => step('cannot look for a compose to reuse', () => store.reuseCandidates(resolved, sameEvent)),
      reuse: (candidate, extras) => step('cannot record the reuse', () => store.reuse(compose.id, this.name, candidate, this.clock(), extras)),
      databaseIdentity: () => step('cannot read the database identity', () => store.databaseIdentity()),
      pinnedNevras: () =>
        step('cannot read the package versions to repeat', async () =>
          compose.renewed_from === null ? undefined : store.resolvedNevras(compose.renewed_from),
        ),
    };
  }

  /**
   * Records the final state, retrying while the database is away: the message stays unacked
   * meanwhile. A result the database refuses for good (a package name PostgreSQL cannot store,
   * say) fails the compose without its extras instead; false then, so nothing follows it.
   */
  private async finish(id: number, state: typeof STATES.done | typeof STATES.failed, reason: string, result: BuildResult): Promise<boolean> {
    const { nevras, settled: _settled, afterDone: _afterDone, ...extras } = result;
    let row: ComposeRow | undefined;
    try {
      row = await this.untilDatabaseAnswers(id, 'cannot record result', () =>
        this.deps.store.finish(id, this.name, state, reason, this.clock(), extras, nevras),
      );
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err;
      this.deps.log.error({ compose: id, err }, 'the database refused the compose result; failing the compose without it');
      const failed = await this.untilDatabaseAnswers(id, 'cannot record failure', () =>
        this.deps.store.finish(id, this.name, STATES.failed, `Error while generating compose: ${internalFailureReason(id)}`, this.clock()),
      );
      if (failed) this.deps.outboxWritten?.();
      return false;
    }
    if (row) {
      this.deps.outboxWritten?.();
      this.deps.log.info({ compose: id, state: row.state }, 'compose finished');
      return true;
    }
    this.deps.log.warn({ compose: id }, 'compose is no longer ours (cancelled, failed or taken over); result dropped');
    return false;
  }

  /**
   * Runs a database step of compose `id` again and again while the database cannot be reached
   * (restart, failover): that delays a compose, it must not fail it. Other errors, a stopping
   * worker or an abandoned compose end the wait.
   */
  private async untilDatabaseAnswers<T>(id: number, what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isDatabaseUnavailable(err) || this.stopping || signal?.aborted) throw err;
        if (attempt === 0) this.deps.log.warn({ compose: id, err: (err as Error).message }, `${what}; retrying`);
        await sleep(Math.min(10000, RETRY_DELAY_MS * 2 ** Math.min(attempt, 4)));
      }
    }
  }
}

/** The compose id of a work message, or undefined if the message is not one. */
export function parseWorkMessage(body: Buffer): number | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Partial<WorkMessage>;
    const id = parsed?.compose_id;
    // Ids are PostgreSQL integers: a larger one could never be claimed (the query itself fails).
    return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 && id <= MAX_COMPOSE_ID ? id : undefined;
  } catch {
    return undefined;
  }
}

