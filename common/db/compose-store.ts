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

  /** Creates a compose in `wait` and queues its work, atomically. */
  async create(compose: NewCompose, now: Date, tx: Queryable = this.db): Promise<ComposeRow> {
    const values = NEW_COMPOSE_COLUMNS.map((c) => compose[c]);
    const n = values.length;
    const placeholders = values.map((_, i) => `$${i + 1}`).join(', ');
    const sql = this.withOutbox(
      `INSERT INTO composes (${NEW_COMPOSE_COLUMNS.join(', ')}, state, time_submitted, time_to_expire)
       VALUES (${placeholders}, 0, $${n + 1}, $${n + 1}::timestamptz + make_interval(secs => $${n + 2}))`,
      { event: true, work: true },
    );
    const [row] = await tx.query<ComposeRow>(sql, [...values, now, compose.seconds_to_live]);
    return row;
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
    const pageSql = `SELECT ${SUMMARY_COLUMNS} FROM composes ${whereSql} ORDER BY ${order} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`;
    const countSql = `SELECT count(*) AS total FROM composes ${whereSql}`;
    const [rows, [{ total }]] = await Promise.all([
      q.limit > 0 ? this.db.query<ComposeRow>(pageSql, [...params, q.limit, q.offset]) : Promise.resolve([]),
      this.db.query<{ total: number }>(countSql, params),
    ]);
    return { rows, total };
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
   * Queues again the work of `wait` composes submitted before `before` whose work was not queued
   * since then either: the broker may have lost it. Returns their ids.
   */
  async requeueWaitingSubmittedBefore(before: Date, now: Date): Promise<number[]> {
    const rows = await this.db.query<{ compose_id: number }>(
      `INSERT INTO outbox (kind, compose_id, created_at)
       SELECT 'work', c.id, $2 FROM composes c
       WHERE c.state = ${STATES.wait} AND c.time_submitted < $1
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.compose_id = c.id AND o.kind = 'work' AND o.created_at >= $1)
       RETURNING compose_id`,
      [before, now],
    );
    return rows.map((r) => r.compose_id);
  }

  /** Forgets outbox rows sent before `before`; they are kept a while only to answer "was it sent?". */
  async purgeSentOutbox(before: Date): Promise<number> {
    const rows = await this.db.query(`DELETE FROM outbox WHERE sent_at < $1 RETURNING id`, [before]);
    return rows.length;
  }

  /** Count of composes per (source_type, state), for metrics. */
  async countsByTypeAndState(): Promise<Array<{ source_type: number; state: number; count: number }>> {
    return this.db.query(`SELECT source_type, state, count(*) AS count FROM composes GROUP BY source_type, state`);
  }
}

/**
 * Rebuilds a ComposeRow from its JSON snapshot (the outbox payload written with to_jsonb):
 * timestamps arrive as ISO strings there.
 */
export function composeRowFromSnapshot(snapshot: Record<string, unknown>): ComposeRow {
  const row = { ...snapshot } as Record<string, unknown>;
  for (const key of ['time_to_expire', 'time_submitted', 'time_started', 'time_done', 'time_removed', 'heartbeat_at']) {
    const v = row[key];
    if (typeof v === 'string') row[key] = new Date(v);
  }
  return row as unknown as ComposeRow;
}
