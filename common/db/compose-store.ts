import { STATES, type State } from '../enums';
import type { Database, Queryable } from './database';
import { COMPOSE_COLUMNS, type ComposeRow, type NewCompose } from './entities';

/** Columns shown in lists and messages: everything but the (possibly large) Pungi config dump. */
const SUMMARY_COLUMNS = COMPOSE_COLUMNS.filter((c) => c !== 'pungi_config_dump').join(', ');

/** Insertable columns of a new compose, in the order of the VALUES list. */
const NEW_COMPOSE_COLUMNS = [
  'owner',
  'source_type',
  'source',
  'modular_koji_tags',
  'module_defaults_url',
  'koji_event',
  'sigkeys',
  'results',
  'packages',
  'builds',
  'flags',
  'arches',
  'multilib_arches',
  'multilib_method',
  'lookaside_repos',
  'label',
  'compose_type',
  'pungi_config_dump',
  'target_dir',
  'scratch_modules',
  'scratch_build_tasks',
  'parent_pungi_compose_ids',
  'modules',
  'respin_of',
  'base_module_br_name',
  'base_module_br_stream',
  'base_module_br_stream_version_lte',
  'base_module_br_stream_version_gte',
] as const satisfies ReadonlyArray<keyof NewCompose>;

/** SQL types of the insertable columns, for reading a batch of new composes from JSON. */
const NEW_COMPOSE_TYPES: Record<(typeof NEW_COMPOSE_COLUMNS)[number], string> = {
  owner: 'text',
  source_type: 'smallint',
  source: 'text',
  modular_koji_tags: 'text[]',
  module_defaults_url: 'text',
  koji_event: 'bigint',
  sigkeys: 'text[]',
  results: 'integer',
  packages: 'text[]',
  builds: 'text[]',
  flags: 'integer',
  arches: 'text[]',
  multilib_arches: 'text[]',
  multilib_method: 'integer',
  lookaside_repos: 'text[]',
  label: 'text',
  compose_type: 'text',
  pungi_config_dump: 'text',
  target_dir: 'text',
  scratch_modules: 'text[]',
  scratch_build_tasks: 'text[]',
  parent_pungi_compose_ids: 'text[]',
  modules: 'text[]',
  respin_of: 'text',
  base_module_br_name: 'text',
  base_module_br_stream: 'text',
  base_module_br_stream_version_lte: 'bigint',
  base_module_br_stream_version_gte: 'bigint',
};

const MAX_CREATE_BATCH = 200;
const MAX_CREATE_BATCHES_IN_FLIGHT = 3;

interface PendingCreate {
  compose: NewCompose;
  now: Date;
  resolve(row: ComposeRow): void;
  reject(err: unknown): void;
}

/**
 * Inserts a batch of composes given as one JSON array, with their outbox rows, in one
 * statement. Ids are drawn in input order in a materialised CTE, so each row maps back to its
 * request through `ord`.
 */
function INSERT_BATCH_SQL(messaging: boolean): string {
  const cols = NEW_COMPOSE_COLUMNS.join(', ');
  const defs = NEW_COMPOSE_COLUMNS.map((c) => `${c} ${NEW_COMPOSE_TYPES[c]}`).join(', ');
  return `WITH input AS MATERIALIZED (
      SELECT nextval('composes_id_seq'::regclass)::int AS id, x.*
      FROM jsonb_to_recordset($1::jsonb) AS x(ord integer, time_submitted timestamptz, seconds_to_live integer, ${defs})),
    c AS (
      INSERT INTO composes (id, ${cols}, state, time_submitted, time_to_expire)
      SELECT id, ${cols}, ${STATES.wait}, time_submitted, time_submitted + make_interval(secs => seconds_to_live) FROM input
      RETURNING *)${
        messaging
          ? `,
    e AS (INSERT INTO outbox (kind, compose_id, payload) SELECT 'event', id, to_jsonb(c) - 'pungi_config_dump' FROM c)`
          : ''
      },
    w AS (INSERT INTO outbox (kind, compose_id) SELECT 'work', id FROM c)
    SELECT c.*, input.ord FROM c JOIN input USING (id) ORDER BY input.ord`;
}

/** Columns a transition may set besides state and times (results of the pipeline). */
export type TransitionExtras = Partial<
  Pick<ComposeRow, 'koji_event' | 'source' | 'pungi_compose_id' | 'arches' | 'sigkeys' | 'builds' | 'packages' | 'reused_id'>
>;

/** Keys of GET /composes/ that filter by exact match (reference §1.3). */
export const LIST_FILTER_KEYS = [
  'owner',
  'source_type',
  'source',
  'state',
  'koji_task_id',
  'pungi_compose_id',
  'compose_type',
  'label',
] as const;
export type ListFilters = Partial<Record<(typeof LIST_FILTER_KEYS)[number], string | number>>;

export const ORDER_BY_COLUMNS = [
  'id',
  'owner',
  'source_type',
  'koji_event',
  'state',
  'time_to_expire',
  'time_submitted',
  'time_done',
  'time_removed',
] as const;
export type OrderByColumn = (typeof ORDER_BY_COLUMNS)[number];

export interface ListQuery {
  filters: ListFilters;
  orderBy: OrderByColumn;
  descending: boolean;
  limit: number;
  offset: number;
}

/** What a change of a compose writes to the outbox besides the row itself. */
interface OutboxWrites {
  /** A state-change event for each changed row (only when messaging is enabled). */
  event: boolean;
  /** A work message for each changed row, for the workers' queue. */
  work: boolean;
}

/**
 * Every read and write of compose rows. Each write that changes a compose's state writes the
 * matching outbox rows in the same statement, so the change and its announcement commit
 * together or not at all (the transactional outbox).
 */
export class ComposeStore {
  constructor(
    private readonly db: Database,
    private readonly messaging: boolean,
  ) {}

  private withOutbox(modify: string, writes: OutboxWrites): string {
    const parts = [`WITH c AS (${modify} RETURNING *)`];
    if (writes.event && this.messaging) {
      parts.push(
        `, e AS (INSERT INTO outbox (kind, compose_id, payload) SELECT 'event', id, to_jsonb(c) - 'pungi_config_dump' FROM c)`,
      );
    }
    if (writes.work) parts.push(`, w AS (INSERT INTO outbox (kind, compose_id) SELECT 'work', id FROM c)`);
    parts.push(' SELECT * FROM c ORDER BY id');
    return parts.join('');
  }

  /**
   * Creates a compose in `wait` and queues its work, atomically. Concurrent calls share one
   * statement (and one commit): while a batch is being written, new composes wait for the next
   * one. Nothing waits when the service is quiet; under load this divides the per-request cost
   * of round trips, parsing and WAL flushes by the batch size.
   */
  create(compose: NewCompose, now: Date, tx?: Queryable): Promise<ComposeRow> {
    if (tx) return this.insertBatch([{ compose, now }], tx).then(([row]) => row);
    return new Promise((resolve, reject) => {
      this.pendingCreates.push({ compose, now, resolve, reject });
      if (this.createsInFlight < MAX_CREATE_BATCHES_IN_FLIGHT) void this.flushCreates();
    });
  }

  private readonly pendingCreates: PendingCreate[] = [];
  private createsInFlight = 0;

  private async flushCreates(): Promise<void> {
    this.createsInFlight += 1;
    try {
      while (this.pendingCreates.length > 0) {
        const batch = this.pendingCreates.splice(0, MAX_CREATE_BATCH);
        try {
          const rows = await this.insertBatch(batch);
          batch.forEach((p, i) => p.resolve(rows[i]));
        } catch (err) {
          if (batch.length === 1) {
            batch[0].reject(err);
            continue;
          }
          // One bad row must not fail its neighbours: write them one by one.
          await Promise.all(batch.map((p) => this.insertBatch([p]).then(([row]) => p.resolve(row), p.reject)));
        }
      }
    } finally {
      this.createsInFlight -= 1;
    }
  }

  private async insertBatch(items: ReadonlyArray<{ compose: NewCompose; now: Date }>, tx: Queryable = this.db): Promise<ComposeRow[]> {
    const input = items.map(({ compose, now }, ord) => {
      const row: Record<string, unknown> = { ord, time_submitted: now.toISOString(), seconds_to_live: compose.seconds_to_live };
      for (const c of NEW_COMPOSE_COLUMNS) row[c] = compose[c];
      return row;
    });
    const rows = await tx.query<ComposeRow & { ord: number }>(INSERT_BATCH_SQL(this.messaging), [JSON.stringify(input)]);
    return rows.map(({ ord: _ord, ...row }) => row as ComposeRow);
  }

  async get(id: number): Promise<ComposeRow | undefined> {
    const [row] = await this.db.query<ComposeRow>(`SELECT * FROM composes WHERE id = $1`, [id]);
    return row;
  }

  /** One page of composes and the total number matching the filters. */
  async list(q: ListQuery): Promise<{ rows: ComposeRow[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const key of LIST_FILTER_KEYS) {
      if (q.filters[key] === undefined) continue;
      params.push(q.filters[key]);
      where.push(`${key} = $${params.length}`);
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const dir = q.descending ? 'DESC' : 'ASC';
    // PostgreSQL's own NULL placement, as ODCS has it; the id tie-breaker keeps pages stable.
    const order = q.orderBy === 'id' ? `id ${dir}` : `${q.orderBy} ${dir}, id ${dir}`;
    const n = params.length;
    const total = countsCover(q.filters)
      ? `((SELECT coalesce(sum(n), 0) FROM compose_counts ${whereSql})
          + (SELECT coalesce(sum(delta), 0) FROM compose_count_deltas ${whereSql}))::bigint`
      : `(SELECT count(*) FROM composes ${whereSql})`;
    // One round trip for the page and the total; an empty page still brings the total.
    const result = await this.db.query<ComposeRow & { total: number }>(
      `SELECT t.total, p.* FROM (SELECT ${total} AS total) t
       LEFT JOIN LATERAL (SELECT ${SUMMARY_COLUMNS} FROM composes ${whereSql} ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2}) p ON true`,
      [...params, Math.max(0, q.limit), q.offset],
    );
    const rows = result.filter((r) => r.id !== null).map(({ total: _total, ...row }) => row as ComposeRow);
    return { rows, total: result[0]?.total ?? 0 };
  }

  /**
   * Moves a `wait` compose to `generating` for `worker`. Returns undefined when the compose is
   * not in `wait` (already claimed, cancelled, or unknown): a duplicate delivery claims nothing.
   */
  async claim(id: number, worker: string, now: Date): Promise<ComposeRow | undefined> {
    const sql = this.withOutbox(
      `UPDATE composes SET state = ${STATES.generating}, state_reason = 'Compose thread started',
         time_started = $2, heartbeat_at = $2, worker = $3, attempts = attempts + 1
       WHERE id = $1 AND state = ${STATES.wait}`,
      { event: true, work: false },
    );
    const [row] = await this.db.query<ComposeRow>(sql, [id, now, worker]);
    return row;
  }

  /**
   * Moves a compose from one of `from` to `to` with `reason`, setting the time columns of
   * reference §6.1 (and re-basing the lifetime on done/failed). Returns undefined if the compose
   * was not in one of `from`.
   */
  async transition(
    id: number,
    from: readonly State[],
    to: State,
    reason: string,
    now: Date,
    extras: TransitionExtras = {},
    tx: Queryable = this.db,
  ): Promise<ComposeRow | undefined> {
    const [row] = await this.transitionWhere(`id = $1 AND state = ANY($2::smallint[])`, [id, from], to, reason, now, extras, tx);
    return row;
  }

  /** The same move for every compose matching `condition` (whose parameters come first). */
  private transitionWhere(
    condition: string,
    conditionParams: unknown[],
    to: State,
    reason: string,
    now: Date,
    extras: TransitionExtras = {},
    tx: Queryable = this.db,
  ): Promise<ComposeRow[]> {
    const params: unknown[] = [...conditionParams, to, reason, now];
    const [pTo, pReason, pNow] = [params.length - 2, params.length - 1, params.length].map((n) => `$${n}`);
    const to_ = `${pTo}::smallint`;
    const now_ = `${pNow}::timestamptz`;
    const sets = [
      `state = ${to_}`,
      `state_reason = ${pReason}`,
      `time_started = CASE WHEN ${to_} = ${STATES.generating} THEN ${now_} ELSE time_started END`,
      `time_done = CASE WHEN ${to_} = ${STATES.done} THEN ${now_} ELSE time_done END`,
      `time_removed = CASE WHEN ${to_} = ${STATES.removed} THEN ${now_} ELSE time_removed END`,
      `time_to_expire = CASE WHEN ${to_} IN (${STATES.done}, ${STATES.failed})
         THEN ${now_} + (time_to_expire - time_submitted) ELSE time_to_expire END`,
      `heartbeat_at = CASE WHEN ${to_} = ${STATES.generating} THEN ${now_} ELSE NULL END`,
    ];
    for (const [column, value] of Object.entries(extras)) {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    }
    return tx.query<ComposeRow>(this.withOutbox(`UPDATE composes SET ${sets.join(', ')} WHERE ${condition}`, { event: true, work: false }), params);
  }

  /** Fails `wait` composes submitted before `before` (reference §6.4 step 3). */
  async failWaitingSubmittedBefore(before: Date, reason: string, now: Date): Promise<ComposeRow[]> {
    return this.transitionWhere(`state = ${STATES.wait} AND time_submitted < $1`, [before], STATES.failed, reason, now);
  }

  /** Records that `worker` is still working on a generating compose. False if it is no longer ours. */
  async heartbeat(id: number, worker: string, now: Date): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE composes SET heartbeat_at = $3 WHERE id = $1 AND worker = $2 AND state = ${STATES.generating} RETURNING id`,
      [id, worker, now],
    );
    return rows.length > 0;
  }

  /** Cancels a `wait` compose (reference §1.6 step 2). Undefined if it left `wait` meanwhile. */
  async cancel(id: number, user: string, now: Date): Promise<ComposeRow | undefined> {
    const sql = this.withOutbox(
      `UPDATE composes SET state = ${STATES.failed}, state_reason = $2, removed_by = $3,
         time_to_expire = $4::timestamptz + (time_to_expire - time_submitted)
       WHERE id = $1 AND state = ${STATES.wait}`,
      { event: true, work: false },
    );
    const [row] = await this.db.query<ComposeRow>(sql, [id, `Canceled by ${user}`, user, now]);
    return row;
  }

  /** Marks a done/failed compose for removal by the beat (reference §1.6 step 5). */
  async requestRemoval(id: number, user: string, now: Date): Promise<ComposeRow | undefined> {
    const [row] = await this.db.query<ComposeRow>(
      `UPDATE composes SET time_to_expire = $3, removed_by = $2
       WHERE id = $1 AND state IN (${STATES.done}, ${STATES.failed}) RETURNING *`,
      [id, user, now],
    );
    return row;
  }

  /**
   * Extends a done compose to live at least until `until`, together with the compose it reuses
   * and the composes reusing it (reference §1.7 step 7). Never shortens. Undefined if the
   * compose is no longer `done`.
   */
  async extend(id: number, until: Date): Promise<ComposeRow | undefined> {
    const rows = await this.db.query<ComposeRow>(
      `WITH target AS (SELECT id, reused_id FROM composes WHERE id = $1 AND state = ${STATES.done} FOR UPDATE)
       UPDATE composes c SET time_to_expire = greatest(c.time_to_expire, $2)
       FROM target t
       WHERE c.id = t.id OR c.id = t.reused_id OR (c.reused_id = t.id AND c.state <> ${STATES.removed})
       RETURNING c.*`,
      [id, until],
    );
    return rows.find((r) => r.id === id);
  }

  /**
   * Queues again the work of `wait` composes submitted before `before` whose work was not
   * queued again since then and is not still waiting in the outbox: the broker may have lost it.
   * Returns their ids.
   */
  async requeueWaitingSubmittedBefore(before: Date, now: Date): Promise<number[]> {
    const rows = await this.db.query<{ id: number }>(
      `WITH lost AS (
         UPDATE composes SET queued_at = $2
         WHERE state = ${STATES.wait} AND time_submitted < $1 AND (queued_at IS NULL OR queued_at < $1)
           AND id NOT IN (SELECT compose_id FROM outbox WHERE kind = 'work')
         RETURNING id)
       INSERT INTO outbox (kind, compose_id, created_at) SELECT 'work', id, $2 FROM lost RETURNING compose_id AS id`,
      [before, now],
    );
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /** Folds the count log into compose_counts; exact totals stay exact while it runs. */
  async compactCounts(): Promise<void> {
    await this.db.query(
      `WITH moved AS (DELETE FROM compose_count_deltas RETURNING source_type, state, owner, delta)
       INSERT INTO compose_counts (source_type, state, owner, n)
       SELECT source_type, state, owner, sum(delta) FROM moved GROUP BY 1, 2, 3
       ON CONFLICT (source_type, state, owner) DO UPDATE SET n = compose_counts.n + excluded.n`,
    );
  }

  /** Count of composes per (source_type, state), for metrics. */
  async countsByTypeAndState(): Promise<Array<{ source_type: number; state: number; count: number }>> {
    return this.db.query(
      `SELECT source_type, state, sum(n)::bigint AS count FROM (
         SELECT source_type, state, n FROM compose_counts
         UNION ALL SELECT source_type, state, delta FROM compose_count_deltas) c
       GROUP BY source_type, state HAVING sum(n) <> 0 ORDER BY source_type, state`,
    );
  }
}

/** Whether compose_counts can answer the total for these filters (only its three dimensions are used). */
function countsCover(filters: ListFilters): boolean {
  return LIST_FILTER_KEYS.every((k) => filters[k] === undefined || k === 'source_type' || k === 'state' || k === 'owner');
}

/**
 * Rebuilds a ComposeRow from its JSON snapshot (the outbox payload written with to_jsonb):
 * timestamps arrive as ISO strings there.
 */
export function composeRowFromSnapshot(snapshot: Record<string, unknown>): ComposeRow {
  const row = { ...snapshot } as Record<string, unknown>;
  for (const key of ['time_to_expire', 'time_submitted', 'time_started', 'time_done', 'time_removed', 'heartbeat_at', 'queued_at']) {
    const v = row[key];
    if (typeof v === 'string') row[key] = new Date(v);
  }
  return row as unknown as ComposeRow;
}
