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
import { stopStoreThreads } from './store/store-threads';

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

/**
 * Consumes `{compose_id}` messages. A message is acked only once its compose is in a final
 * state (or was never ours to build), so a worker killed mid-compose leaves the message to be
 * redelivered; a duplicate delivery claims nothing and is acked.
 */
export class Worker {
  readonly name: string;
  private consumer?: Consumer;
  private readonly inFlight = new Map<number, AbortController>();
  private readonly settled = new Set<Promise<void>>();
  private stopping = false;
  private readonly clock: () => Date;

  constructor(private readonly deps: WorkerDeps) {
    this.name = deps.name ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.clock = deps.clock ?? (() => new Date());
  }

  async start(): Promise<void> {
    const { cfg, broker } = this.deps;
    this.consumer = await broker.consume(cfg.work_queue, { prefetch: cfg.num_concurrent_composes }, (d) => {
      const p = this.handle(d).catch((err) => this.deps.log.error({ err }, 'work message handling failed'));
      this.settled.add(p);
      void p.finally(() => this.settled.delete(p));
    });
  }

  /** Stops taking work and waits for the composes in progress to end. */
  async stop(options: { abort?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (options.abort) for (const c of this.inFlight.values()) c.abort(new Error('worker shutting down'));
    await Promise.allSettled([...this.settled]);
    await this.consumer?.cancel();
    // No builds left here: the store threads would only keep the process alive.
    stopStoreThreads();
  }

  /** Composes this worker is building now. */
  get busy(): number[] {
    return [...this.inFlight.keys()];
  }

  private async handle(delivery: Delivery): Promise<void> {
    const id = parseWorkMessage(delivery.body);
    if (id === undefined) {
      this.deps.log.warn({ body: delivery.body.toString('utf8').slice(0, 200) }, 'dropping a malformed work message');
      delivery.ack();
      return;
    }
    let compose: ComposeRow | undefined;
    try {
      compose = await this.deps.store.claim(id, this.name, this.clock());
    } catch (err) {
      // The database is the truth; without it we cannot know, so let the broker keep the message.
      this.deps.log.warn({ compose: id, err: (err as Error).message }, 'cannot claim compose; will retry');
      await sleep(RETRY_DELAY_MS);
      delivery.nack(true);
      return;
    }
    if (!compose) {
      this.deps.log.debug({ compose: id, redelivered: delivery.redelivered }, 'nothing to claim');
      delivery.ack();
      return;
    }
    this.deps.outboxWritten?.();
    const afterDone = await this.run(compose);
    delivery.ack();
    await afterDone?.().catch((err: unknown) => this.deps.log.warn({ compose: id, err: (err as Error).message }, 'work after the compose ended failed'));
  }

  /** Builds the compose and records its end; returns its afterDone work, if any. */
  private async run(compose: ComposeRow): Promise<BuildResult['afterDone']> {
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
          return;
        }
        outcome = { state: STATES.done, reason: 'Compose is generated successfully', extras };
      } catch (err) {
        if (controller.signal.aborted) {
          log.warn({ compose: compose.id, reason: String(controller.signal.reason) }, 'compose abandoned');
          return;
        }
        const message = failureMessage(cfg, err);
        log.warn({ compose: compose.id, reason: message }, 'compose failed');
        outcome = { state: STATES.failed, reason: `Error while generating compose: ${message}`, extras: {} };
      }
      const recorded = await this.finish(compose.id, outcome.state, outcome.reason, outcome.extras);
      return recorded ? outcome.extras.afterDone : undefined;
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
      pinnedNevras: () =>
        step('cannot read the package versions to repeat', async () =>
          compose.renewed_from === null ? undefined : store.resolvedNevras(compose.renewed_from),
        ),
    };
  }

  /** Records the final state, retrying while the database is away: the message stays unacked meanwhile. */
  private async finish(id: number, state: typeof STATES.done | typeof STATES.failed, reason: string, result: BuildResult): Promise<boolean> {
    const { nevras, settled: _settled, afterDone: _afterDone, ...extras } = result;
    const row = await this.untilDatabaseAnswers(id, 'cannot record result', () =>
      this.deps.store.finish(id, this.name, state, reason, this.clock(), extras, nevras),
    );
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
    return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The reason shown to users; paths under target_dir are shown as their public URLs (reference §5.1). */
export function failureMessage(cfg: Config, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(cfg.target_dir).join(cfg.target_dir_url);
}

