import { STATES, type State } from '../enums';
import { databaseIdentity } from '../target-dir-owner';
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
  'renewed_from',
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
  renewed_from: 'integer',
};

const MAX_CREATE_BATCH = 200;
const MAX_CREATE_BATCHES_IN_FLIGHT = 3;

/** What a create may ask besides the row: a quota on the owner's composes. */
export interface CreateOptions {
  /**
   * The owner may have at most this many composes in wait+generating, this one included; over
   * it the create rejects with ActiveLimitReached. Undefined: no limit.
   */
  maxActive?: number;
}

/** A create refused by CreateOptions.maxActive; `active` is what the owner had then. */
export class ActiveLimitReached extends Error {
  override name = 'ActiveLimitReached';
  constructor(
    readonly owner: string,
    readonly active: number,
  ) {
    super(`${owner} has ${active} composes waiting or generating`);
  }
}

interface PendingCreate {
  compose: NewCompose;
  now: Date;
  options: CreateOptions;
  resolve(row: ComposeRow): void;
  reject(err: unknown): void;
}

/**
 * Inserts a batch of composes given as one JSON array, with their outbox rows, in one
 * statement. Ids are drawn in input order in a materialised CTE, so each row maps back to its
 * request through `ord`. A row with `max_active` is written only if its owner's composes in
 * wait+generating, plus the rows of the same owner before it in the batch, stay within it
 * (the caller holds the owner's advisory lock, so the count cannot change meanwhile); every
 * input row comes back, rejected ones with a NULL id and the count they met.
 */
function INSERT_BATCH_SQL(messaging: boolean): string {
  const cols = NEW_COMPOSE_COLUMNS.join(', ');
  const defs = NEW_COMPOSE_COLUMNS.map((c) => `${c} ${NEW_COMPOSE_TYPES[c]}`).join(', ');
  return `WITH raw AS MATERIALIZED (
      SELECT x.*,
        CASE WHEN x.max_active IS NULL THEN NULL ELSE
          (SELECT count(*) FROM composes k WHERE k.owner = x.owner AND k.state IN (${STATES.wait}, ${STATES.generating}))::int END AS active,
        row_number() OVER (PARTITION BY x.owner, x.max_active IS NULL ORDER BY x.ord)::int AS nth
      FROM jsonb_to_recordset($1::jsonb)
        AS x(ord integer, time_submitted timestamptz, seconds_to_live integer, max_active integer, ${defs})),
    input AS MATERIALIZED (
      SELECT nextval('composes_id_seq'::regclass)::int AS id, r.*
      FROM (SELECT * FROM raw WHERE max_active IS NULL OR active + nth <= max_active ORDER BY ord) r),
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
    SELECT raw.ord AS ord, greatest(raw.active, raw.max_active) AS quota_active, c.*
    FROM raw LEFT JOIN input USING (ord) LEFT JOIN c ON c.id = input.id ORDER BY raw.ord`;
}

/**
 * The owners with `wait` composes, in the order the workers serve them: fewest composes being
 * built, then served least recently (latest time_started; never served first), then waiting
 * longest. Owners and their oldest waiting compose come from a skip scan of
 * composes_waiting_idx, one probe per owner with waiting composes. (Ordering by (owner, id)
 * rather than asking for min(id) of an owner keeps the planner on that index: with the owner
 * fixed it may walk the primary key instead, through every older compose.)
 */
const FAIR_OWNER_ORDER_SQL = `WITH RECURSIVE waiting(owner, oldest) AS (
    (SELECT owner, id FROM composes WHERE state = ${STATES.wait} ORDER BY owner, id LIMIT 1)
    UNION ALL
    SELECT n.owner, n.id FROM waiting w CROSS JOIN LATERAL (
      SELECT owner, id FROM composes WHERE state = ${STATES.wait} AND owner > w.owner ORDER BY owner, id LIMIT 1) n)
  SELECT w.owner FROM waiting w
  ORDER BY
    (SELECT count(*) FROM composes g WHERE g.owner = w.owner AND g.state = ${STATES.generating} AND g.worker IS NOT NULL),
    (SELECT max(time_started) FROM composes s WHERE s.owner = w.owner AND s.time_started IS NOT NULL) NULLS FIRST,
    w.oldest`;

/**
 * `column = $n` for each extra, its value appended to `params`. The columns are the keys of
 * TransitionExtras, set by our own code, never by a request.
 */
function assignments(extras: TransitionExtras, params: unknown[]): string[] {
  return Object.entries(extras).map(([column, value]) => {
    params.push(value);
    return `${column} = $${params.length}`;
  });
}

/** The packages of a built compose: arch -> NEVRAs (`name-epoch:version-release.arch`). */
export type ResolvedNevras = Record<string, string[]>;

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
  private identity?: string;

  constructor(
    private readonly db: Database,
    private readonly messaging: boolean,
  ) {}

  /** The identity of this database (common/target-dir-owner.ts); it never changes, so it is read once. */
  async databaseIdentity(): Promise<string> {
    this.identity ??= await databaseIdentity(this.db);
    return this.identity;
  }

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
  create(compose: NewCompose, now: Date, tx?: Queryable, options: CreateOptions = {}): Promise<ComposeRow> {
    if (tx) return this.insertBatch([{ compose, now, options }], tx).then(([row]) => settle(row, compose));
    return new Promise((resolve, reject) => {
      this.pendingCreates.push({ compose, now, options, resolve, reject });
      if (this.createsInFlight < MAX_CREATE_BATCHES_IN_FLIGHT) void this.flushCreates();
    });
  }

  private readonly pendingCreates: PendingCreate[] = [];
  private createsInFlight = 0;

  private async flushCreates(): Promise<void> {
    this.createsInFlight += 1;
    const deliver = (p: PendingCreate, row: InsertedRow): void => {
      try {
        p.resolve(settle(row, p.compose));
      } catch (err) {
        p.reject(err);
      }
    };
    try {
      while (this.pendingCreates.length > 0) {
        const batch = this.pendingCreates.splice(0, MAX_CREATE_BATCH);
        try {
          const rows = await this.insertBatch(batch);
          batch.forEach((p, i) => deliver(p, rows[i]));
        } catch (err) {
          if (batch.length === 1) {
            batch[0].reject(err);
            continue;
          }
          // One bad row must not fail its neighbours: write them one by one.
          await Promise.all(batch.map((p) => this.insertBatch([p]).then(([row]) => deliver(p, row), p.reject)));
        }
      }
    } finally {
      this.createsInFlight -= 1;
    }
  }

  private async insertBatch(items: ReadonlyArray<{ compose: NewCompose; now: Date; options: CreateOptions }>, tx?: Queryable): Promise<InsertedRow[]> {
    const input = items.map(({ compose, now, options }, ord) => {
      const row: Record<string, unknown> = {
        ord,
        time_submitted: now.toISOString(),
        seconds_to_live: compose.seconds_to_live,
        max_active: options.maxActive ?? null,
      };
      for (const c of NEW_COMPOSE_COLUMNS) row[c] = compose[c];
      return row;
    });
    const insert = async (q: Queryable): Promise<InsertedRow[]> => {
      const rows = await q.query<ComposeRow & { ord: number; quota_active: number | null }>(INSERT_BATCH_SQL(this.messaging), [JSON.stringify(input)]);
      return rows.map(({ ord: _ord, quota_active, ...row }) => (row.id === null ? { refusedAt: quota_active ?? 0 } : (row as ComposeRow)));
    };
    const limited = [...new Set(items.filter((i) => i.options.maxActive !== undefined).map((i) => i.compose.owner))];
    if (limited.length === 0) return insert(tx ?? this.db);
    // Counting and inserting under each limited owner's lock, held to the commit, serialises
    // the creates of one owner across batches and processes; the statement after the lock sees
    // everything committed before it. Locks in one order: two batches cannot deadlock.
    const locked = async (q: Queryable): Promise<InsertedRow[]> => {
      await q.query(
        `SELECT pg_advisory_xact_lock(hashtextextended('odcs-quota:' || o, 0)) FROM (SELECT o FROM unnest($1::text[]) o ORDER BY o COLLATE "C") s`,
        [limited],
      );
      return insert(q);
    };
    return tx ? locked(tx) : this.db.transaction(locked);
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
   * Moves a `wait` compose to `generating` for `worker`, or takes over a `generating` compose
   * the beat released because its worker stopped heart-beating. Returns undefined otherwise
   * (already claimed, cancelled, unknown): a duplicate delivery claims nothing.
   */
  async claim(id: number, worker: string, now: Date): Promise<ComposeRow | undefined> {
    const sql = this.withOutbox(
      `UPDATE composes SET state = ${STATES.generating}, state_reason = 'Compose thread started',
         time_started = $2, heartbeat_at = $2, worker = $3, attempts = attempts + 1
       WHERE id = $1 AND state = ${STATES.wait}`,
      { event: true, work: false },
    );
    const [row] = await this.db.query<ComposeRow>(sql, [id, now, worker]);
    if (row) return row;
    // A takeover is no state change, so nothing is announced.
    const [taken] = await this.db.query<ComposeRow>(
      `UPDATE composes SET state_reason = 'Compose thread started', heartbeat_at = $2, worker = $3, attempts = attempts + 1
       WHERE id = $1 AND state = ${STATES.generating} AND worker IS NULL AND reused_id IS NULL RETURNING *`,
      [id, now, worker],
    );
    return taken;
  }

  /**
   * What a work message leads to (fair scheduling across owners): the released compose it names
   * is taken over (the beat queued it again for that); otherwise a worker claims the oldest `wait`
   * compose of the owner with the fewest composes being built, ties going to the owner served
   * least recently (latest time_started oldest, never served first), then to the one waiting
   * longest. So with one free slot, a tenant's first compose goes before the next of a tenant
   * who has 1,000 queued. A message only wakes a worker: the compose built may not be the one it names, and
   * every message still claims one compose while any waits (one message was written per
   * compose). Rows other claimers hold are skipped, never waited for.
   */
  async claimWork(messageId: number, worker: string, now: Date): Promise<ComposeRow | undefined> {
    const [taken] = await this.db.query<ComposeRow>(
      `UPDATE composes SET state_reason = 'Compose thread started', heartbeat_at = $2, worker = $3, attempts = attempts + 1
       WHERE id = $1 AND state = ${STATES.generating} AND worker IS NULL AND reused_id IS NULL RETURNING *`,
      [messageId, now, worker],
    );
    if (taken) return taken;
    // Owners in the order they are served; then the oldest compose of the first one that still
    // has one no other claimer holds. Every step is an index probe (composes_waiting_idx,
    // composes_owner_started_idx), so the cost follows the number of waiting owners, not of
    // waiting composes (sorting 126,000 waiting rows took 2 s).
    const owners = await this.db.query<{ owner: string }>(FAIR_OWNER_ORDER_SQL);
    const claim = this.withOutbox(
      `UPDATE composes SET state = ${STATES.generating}, state_reason = 'Compose thread started',
         time_started = $1, heartbeat_at = $1, worker = $2, attempts = attempts + 1
       WHERE state = ${STATES.wait} AND id = (
         SELECT id FROM composes WHERE state = ${STATES.wait} AND (owner, id) >= ($3, 0) AND owner <= $3
         ORDER BY owner, id LIMIT 1 FOR UPDATE SKIP LOCKED)`,
      { event: true, work: false },
    );
    for (const { owner } of owners) {
      const [row] = await this.db.query<ComposeRow>(claim, [now, worker, owner]);
      if (row) return row;
    }
    return undefined;
  }

  /**
   * Counts one renewal of compose `id` unless it already had `limit` (null: no limit). Returns
   * the new count, or `{ refused }` with the count that refused it.
   */
  async countRenewal(id: number, limit: number | null, tx: Queryable = this.db): Promise<{ renewals: number } | { refused: number }> {
    const [row] = await tx.query<{ renewals: number }>(
      `INSERT INTO compose_renewals (compose_id, renewals) SELECT $1::int, 1 WHERE $2::int IS NULL OR $2::int > 0
       ON CONFLICT (compose_id) DO UPDATE SET renewals = compose_renewals.renewals + 1
         WHERE $2::int IS NULL OR compose_renewals.renewals < $2::int
       RETURNING renewals`,
      [id, limit],
    );
    if (row) return { renewals: row.renewals };
    const [current] = await tx.query<{ renewals: number }>(`SELECT renewals FROM compose_renewals WHERE compose_id = $1`, [id]);
    return { refused: current?.renewals ?? 0 };
  }

  /** A regenerated copy carries its original's renewal count on (max_renewals). */
  async carryRenewals(copyId: number, renewals: number, tx: Queryable = this.db): Promise<void> {
    await tx.query(`INSERT INTO compose_renewals (compose_id, renewals) VALUES ($1, $2)`, [copyId, renewals]);
  }

  /**
   * Ends a compose `worker` is building in `to` (done or failed), records its resolved package
   * list, and gives the composes reusing it the same end, in one transaction. Undefined if
   * the compose is no longer this worker's (the beat released it, or it was failed meanwhile).
   */
  async finish(
    id: number,
    worker: string,
    to: typeof STATES.done | typeof STATES.failed,
    reason: string,
    now: Date,
    extras: TransitionExtras = {},
    nevras?: ResolvedNevras,
  ): Promise<ComposeRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await this.transitionWhere(`id = $1 AND state = ${STATES.generating} AND worker = $2`, [id, worker], to, reason, now, extras, tx);
      if (!row) return undefined;
      if (nevras) {
        await tx.query(
          `INSERT INTO compose_rpms (compose_id, nevras) VALUES ($1, $2::jsonb)
           ON CONFLICT (compose_id) DO UPDATE SET nevras = excluded.nevras`,
          [id, JSON.stringify(nevras)],
        );
      }
      await this.finishReusersOf(row, now, tx);
      return row;
    });
  }

  /** Composes still `generating` while reusing `row` take its final state and reason (§5.9). */
  private async finishReusersOf(row: ComposeRow, now: Date, tx: Queryable): Promise<ComposeRow[]> {
    if (row.state !== STATES.done && row.state !== STATES.failed && row.state !== STATES.removed) return [];
    // A reuser never was done, so it cannot be `removed`: it fails with the reason instead.
    const to = row.state === STATES.done ? STATES.done : STATES.failed;
    return this.transitionWhere(
      `reused_id = $1 AND state = ${STATES.generating}`,
      [row.id],
      to,
      row.state_reason ?? '',
      row.time_done ?? now,
      { pungi_compose_id: row.pungi_compose_id },
      tx,
    );
  }

  /** Records the resolved fields of a compose being built and marks it reusable while in progress (§5.6). */
  async markGenerating(id: number, worker: string, extras: TransitionExtras): Promise<boolean> {
    const params: unknown[] = [id, worker];
    const sets = [`state_reason = 'Compose is generating'`, ...assignments(extras, params)];
    const rows = await this.db.query(
      `UPDATE composes SET ${sets.join(', ')} WHERE id = $1 AND worker = $2 AND state = ${STATES.generating} RETURNING id`,
      params,
    );
    return rows.length > 0;
  }

  /**
   * Composes `compose` (with its resolved fields) may reuse, best first (reference §5.9): `done`
   * ones newest first, then `generating` ones past resolution oldest first. `sameEvent` asks for
   * an equal koji_event (every type but `tag`, whose handler checks the tags instead).
   */
  async reuseCandidates(compose: ComposeRow, sameEvent: boolean): Promise<ComposeRow[]> {
    const setEq = (column: string, n: number): string =>
      `coalesce(${column}, '{}') @> $${n}::text[] AND coalesce(${column}, '{}') <@ $${n}::text[]`;
    const list = (v: string[] | null): string[] => v ?? [];
    return this.db.query<ComposeRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM composes
       WHERE source_type = $1 AND id < $2 AND reused_id IS NULL
         AND (state = ${STATES.done} OR (state = ${STATES.generating} AND state_reason = 'Compose is generating'))
         AND source = $3 AND flags = $4 AND results = $5 AND multilib_method = $6
         AND module_defaults_url IS NOT DISTINCT FROM $7 AND respin_of IS NOT DISTINCT FROM $8
         AND target_dir IS NOT DISTINCT FROM $9 AND renewed_from IS NOT DISTINCT FROM $10
         AND ${setEq('packages', 11)} AND ${setEq('builds', 12)} AND ${setEq('sigkeys', 13)} AND ${setEq('arches', 14)}
         AND ${setEq('lookaside_repos', 15)} AND ${setEq('multilib_arches', 16)} AND ${setEq('modular_koji_tags', 17)}
         AND ${setEq('scratch_modules', 18)} AND ${setEq('modules', 19)} AND ${setEq('scratch_build_tasks', 20)}
         AND ${setEq('parent_pungi_compose_ids', 21)}
         AND (CASE WHEN $23::boolean THEN koji_event IS NOT DISTINCT FROM $22::bigint
                   ELSE koji_event IS NULL OR $22::bigint IS NULL OR koji_event <= $22::bigint END)
       ORDER BY state DESC, CASE WHEN state = ${STATES.done} THEN -id ELSE id END
       LIMIT 20`,
      [
        compose.source_type,
        compose.id,
        compose.source,
        compose.flags,
        compose.results,
        compose.multilib_method,
        compose.module_defaults_url,
        compose.respin_of,
        compose.target_dir,
        compose.renewed_from,
        list(compose.packages),
        list(compose.builds),
        list(compose.sigkeys),
        list(compose.arches),
        list(compose.lookaside_repos),
        list(compose.multilib_arches),
        list(compose.modular_koji_tags),
        list(compose.scratch_modules),
        list(compose.modules),
        list(compose.scratch_build_tasks),
        list(compose.parent_pungi_compose_ids),
        compose.koji_event,
        sameEvent,
      ],
    );
  }

  /**
   * Makes the compose `worker` is building reuse `candidate` (reference §5.9), atomically with
   * respect to the candidate's own end: `done` at once if the candidate is done, still
   * `generating` (finished with the candidate) if it is generating, and 'gone' when the
   * candidate is neither any more, so the caller builds after all.
   */
  async reuse(id: number, worker: string, candidate: number, now: Date, extras: TransitionExtras = {}): Promise<'done' | 'waiting' | 'gone' | 'lost'> {
    return this.db.transaction(async (tx) => {
      const [target] = await tx.query<{ state: number; pungi_compose_id: string | null; time_to_expire: Date }>(
        `SELECT state, pungi_compose_id, time_to_expire FROM composes WHERE id = $1 AND reused_id IS NULL FOR UPDATE`,
        [candidate],
      );
      if (!target || (target.state !== STATES.done && target.state !== STATES.generating)) return 'gone';
      const reused = { ...extras, reused_id: candidate, pungi_compose_id: target.pungi_compose_id };
      let row: ComposeRow | undefined;
      if (target.state === STATES.done) {
        [row] = await this.transitionWhere(
          `id = $1 AND state = ${STATES.generating} AND worker = $2`,
          [id, worker],
          STATES.done,
          'Compose is generated successfully',
          now,
          reused,
          tx,
        );
      } else {
        const params: unknown[] = [id, worker];
        const sets = ['worker = NULL', 'heartbeat_at = NULL', ...assignments(reused, params)];
        [row] = await tx.query<ComposeRow>(
          `UPDATE composes SET ${sets.join(', ')} WHERE id = $1 AND worker = $2 AND state = ${STATES.generating} RETURNING *`,
          params,
        );
      }
      if (!row) return 'lost';
      // Both live as long as the later of the two (§5.9).
      await tx.query(
        `UPDATE composes SET time_to_expire = greatest($3::timestamptz, $4::timestamptz) WHERE id IN ($1, $2)`,
        [id, candidate, row.time_to_expire, target.time_to_expire],
      );
      return target.state === STATES.done ? 'done' : 'waiting';
    });
  }

  /** The resolved package list of a built compose (NEVRAs per arch), if it was recorded. */
  async resolvedNevras(id: number): Promise<ResolvedNevras | undefined> {
    // A compose that reused another has the other's packages.
    const [row] = await this.db.query<{ nevras: ResolvedNevras }>(
      `SELECT r.nevras FROM composes c JOIN compose_rpms r ON r.compose_id = coalesce(c.reused_id, c.id) WHERE c.id = $1`,
      [id],
    );
    return row?.nevras;
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
      ...assignments(extras, params),
    ];
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

  /**
   * `done`/`failed` composes whose time is up (reference §6.4 step 1), except those a live
   * compose still reuses: their directory is that compose's too.
   */
  async expired(now: Date, limit = 500): Promise<ComposeRow[]> {
    return this.db.query<ComposeRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM composes c
       WHERE state IN (${STATES.done}, ${STATES.failed}) AND time_to_expire < $1
         AND NOT EXISTS (SELECT 1 FROM composes r WHERE r.reused_id = c.id AND r.state <> ${STATES.removed} AND r.time_to_expire >= $1)
       ORDER BY time_to_expire LIMIT $2`,
      [now, limit],
    );
  }

  /**
   * Moves an expired compose to `removed`, appending `Removed by <user>.` or `Compose is
   * expired.` to its reason. Undefined if it was renewed or removed meanwhile.
   */
  async markRemoved(row: ComposeRow, now: Date): Promise<ComposeRow | undefined> {
    const why = row.removed_by ? `Removed by ${row.removed_by}.` : 'Compose is expired.';
    const reason = row.state_reason ? `${row.state_reason}\n${why}` : why;
    const [removed] = await this.transitionWhere(
      `id = $1 AND state = ANY($2::smallint[]) AND time_to_expire < $3`,
      [row.id, [STATES.done, STATES.failed], now],
      STATES.removed,
      reason,
      now,
    );
    return removed;
  }

  /**
   * Composes whose worker stopped heart-beating before `staleBefore` (killed, cut off): those
   * tried fewer than `maxAttempts` times are released (a worker may take them over, and their
   * work is queued again); the others fail with ODCS's "stuck" reason. Returns the ids of each.
   */
  async handleStaleGenerating(staleBefore: Date, maxAttempts: number, now: Date): Promise<{ released: number[]; failed: number[] }> {
    const released = await this.db.query<{ id: number }>(
      `WITH s AS (
         UPDATE composes SET worker = NULL, heartbeat_at = $2, queued_at = $2,
           state_reason = 'Compose thread stopped; queued again'
         WHERE state = ${STATES.generating} AND reused_id IS NULL AND heartbeat_at < $1 AND attempts < $3
         RETURNING id),
       w AS (
         INSERT INTO outbox (kind, compose_id, created_at)
         SELECT 'work', id, $2 FROM s WHERE id NOT IN (SELECT compose_id FROM outbox WHERE kind = 'work'))
       SELECT id FROM s`,
      [staleBefore, now, maxAttempts],
    );
    const stuck = await this.db.query<{ id: number; time_started: Date }>(
      `SELECT id, time_started FROM composes
       WHERE state = ${STATES.generating} AND reused_id IS NULL AND heartbeat_at < $1 AND attempts >= $2`,
      [staleBefore, maxAttempts],
    );
    const failed: number[] = [];
    for (const { id, time_started } of stuck) {
      const seconds = Math.max(0, Math.round((now.getTime() - time_started.getTime()) / 1000));
      const rows = await this.failGenerating(`id = $1 AND heartbeat_at < $2`, [id, staleBefore], `Compose stuck in 'generating' state for longer than ${seconds} seconds.`, now);
      failed.push(...rows.map((r) => r.id));
    }
    return { released: released.map((r) => r.id).sort((a, b) => a - b), failed };
  }

  /** Fails composes generating since before `before`, whoever builds them (reference §6.4 step 2). */
  async failGeneratingStartedBefore(before: Date, seconds: number, now: Date): Promise<number[]> {
    const rows = await this.failGenerating(`time_started < $1`, [before], `Compose stuck in 'generating' state for longer than ${seconds} seconds.`, now);
    return rows.map((r) => r.id);
  }

  private async failGenerating(condition: string, params: unknown[], reason: string, now: Date): Promise<ComposeRow[]> {
    return this.db.transaction(async (tx) => {
      const rows = await this.transitionWhere(
        `state = ${STATES.generating} AND reused_id IS NULL AND ${condition}`,
        params,
        STATES.failed,
        reason,
        now,
        {},
        tx,
      );
      for (const row of rows) await this.finishReusersOf(row, now, tx);
      return rows;
    });
  }

  /** Reusing composes whose reused compose ended without taking them along (reference §6.4 step 4). */
  async finishOrphanedReusers(now: Date): Promise<number[]> {
    return this.db.transaction(async (tx) => {
      const ended = await tx.query<ComposeRow>(
        `SELECT DISTINCT o.* FROM composes r JOIN composes o ON o.id = r.reused_id
         WHERE r.state = ${STATES.generating} AND o.state IN (${STATES.done}, ${STATES.failed}, ${STATES.removed})`,
      );
      const finished: number[] = [];
      for (const row of ended) finished.push(...(await this.finishReusersOf(row, now, tx)).map((r) => r.id));
      return finished.sort((a, b) => a - b);
    });
  }

  /** States of the given composes (for sweeping temporary trees of composes no longer being built). */
  async statesOf(ids: readonly number[]): Promise<Map<number, number>> {
    if (!ids.length) return new Map();
    const rows = await this.db.query<{ id: number; state: number }>(`SELECT id, state FROM composes WHERE id = ANY($1::int[])`, [ids]);
    return new Map(rows.map((r) => [r.id, r.state]));
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

  /**
   * Count of composes per (owner, state), for the per-tenant metrics: the `top` owners with the
   * most composes in wait+generating (then the most composes) by name, everyone else added up as
   * `other`, so the number of label values stays bounded however many owners there are.
   */
  async countsByOwnerAndState(top: number): Promise<Array<{ owner: string; state: number; count: number }>> {
    return this.db.query(
      `WITH counts AS (
         SELECT owner, state, sum(n)::bigint AS n FROM (
           SELECT owner, state, n FROM compose_counts
           UNION ALL SELECT owner, state, delta FROM compose_count_deltas) c
         GROUP BY owner, state HAVING sum(n) <> 0),
       ranked AS (
         SELECT owner, row_number() OVER (
           ORDER BY sum(n) FILTER (WHERE state IN (${STATES.wait}, ${STATES.generating})) DESC NULLS LAST, sum(n) DESC, owner) AS rank
         FROM counts GROUP BY owner)
       SELECT CASE WHEN r.rank <= $1 THEN c.owner ELSE 'other' END AS owner, c.state, sum(c.n)::int AS count
       FROM counts c JOIN ranked r USING (owner)
       GROUP BY 1, 2 ORDER BY 1, 2`,
      [top],
    );
  }
}

/** A row the batch insert wrote, or the active count of its owner that refused it. */
type InsertedRow = ComposeRow | { refusedAt: number };

function settle(row: InsertedRow, compose: NewCompose): ComposeRow {
  if ('refusedAt' in row) throw new ActiveLimitReached(compose.owner, row.refusedAt);
  return row;
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
