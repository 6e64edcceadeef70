import { EntitySchema } from 'typeorm';

/**
 * A row of `composes`. Property names are the column names, which are also ODCS's JSON keys,
 * so raw query results, outbox snapshots and TypeORM entities all share this one shape.
 * List-valued attributes are arrays here; the API joins them with spaces (reference §2.1).
 */
export interface ComposeRow {
  id: number;
  owner: string;
  source_type: number;
  source: string;
  modular_koji_tags: string[] | null;
  module_defaults_url: string | null;
  koji_event: number | null;
  sigkeys: string[];
  state: number;
  state_reason: string | null;
  results: number;
  packages: string[] | null;
  builds: string[] | null;
  flags: number;
  time_to_expire: Date;
  time_submitted: Date;
  time_started: Date | null;
  time_done: Date | null;
  time_removed: Date | null;
  removed_by: string | null;
  reused_id: number | null;
  koji_task_id: number | null;
  arches: string[];
  multilib_arches: string[];
  multilib_method: number;
  lookaside_repos: string[] | null;
  label: string | null;
  compose_type: string | null;
  pungi_compose_id: string | null;
  pungi_config_dump: string | null;
  celery_task_id: string | null;
  target_dir: string | null;
  scratch_modules: string[] | null;
  scratch_build_tasks: string[] | null;
  parent_pungi_compose_ids: string[] | null;
  modules: string[] | null;
  respin_of: string | null;
  base_module_br_name: string | null;
  base_module_br_stream: string | null;
  base_module_br_stream_version_lte: number | null;
  base_module_br_stream_version_gte: number | null;
  traceparent: string | null;
  heartbeat_at: Date | null;
  worker: string | null;
  attempts: number;
  /** When the work of this compose was last queued again by the beat. */
  queued_at: Date | null;
  /** The compose whose resolved package versions this regenerated copy repeats. */
  renewed_from: number | null;
}

/** The columns a new compose is created with; the rest are set by the database or later transitions. */
export type NewCompose = Omit<
  ComposeRow,
  | 'id'
  | 'state'
  | 'state_reason'
  | 'time_submitted'
  | 'time_to_expire'
  | 'time_started'
  | 'time_done'
  | 'time_removed'
  | 'removed_by'
  | 'reused_id'
  | 'koji_task_id'
  | 'pungi_compose_id'
  | 'celery_task_id'
  | 'traceparent'
  | 'heartbeat_at'
  | 'worker'
  | 'attempts'
  | 'queued_at'
  | 'renewed_from'
> & { seconds_to_live: number; renewed_from?: number | null };

export interface UserRow {
  id: number;
  username: string;
}

export interface OutboxRow {
  id: string;
  kind: 'work' | 'event';
  compose_id: number;
  payload: Record<string, unknown> | null;
  message_id: string;
  created_at: Date;
}

const textArray = { type: 'text', array: true } as const;

export const ComposeEntity = new EntitySchema<ComposeRow>({
  name: 'Compose',
  tableName: 'composes',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    owner: { type: 'text' },
    source_type: { type: 'smallint' },
    source: { type: 'text' },
    modular_koji_tags: { ...textArray, nullable: true },
    module_defaults_url: { type: 'text', nullable: true },
    koji_event: { type: 'bigint', nullable: true },
    sigkeys: { ...textArray },
    state: { type: 'smallint' },
    state_reason: { type: 'text', nullable: true },
    results: { type: 'int' },
    packages: { ...textArray, nullable: true },
    builds: { ...textArray, nullable: true },
    flags: { type: 'int' },
    time_to_expire: { type: 'timestamptz' },
    time_submitted: { type: 'timestamptz' },
    time_started: { type: 'timestamptz', nullable: true },
    time_done: { type: 'timestamptz', nullable: true },
    time_removed: { type: 'timestamptz', nullable: true },
    removed_by: { type: 'text', nullable: true },
    reused_id: { type: 'int', nullable: true },
    koji_task_id: { type: 'bigint', nullable: true },
    arches: { ...textArray },
    multilib_arches: { ...textArray },
    multilib_method: { type: 'int' },
    lookaside_repos: { ...textArray, nullable: true },
    label: { type: 'text', nullable: true },
    compose_type: { type: 'text', nullable: true },
    pungi_compose_id: { type: 'text', nullable: true },
    pungi_config_dump: { type: 'text', nullable: true },
    celery_task_id: { type: 'text', nullable: true },
    target_dir: { type: 'text', nullable: true },
    scratch_modules: { ...textArray, nullable: true },
    scratch_build_tasks: { ...textArray, nullable: true },
    parent_pungi_compose_ids: { ...textArray, nullable: true },
    modules: { ...textArray, nullable: true },
    respin_of: { type: 'text', nullable: true },
    base_module_br_name: { type: 'text', nullable: true },
    base_module_br_stream: { type: 'text', nullable: true },
    base_module_br_stream_version_lte: { type: 'bigint', nullable: true },
    base_module_br_stream_version_gte: { type: 'bigint', nullable: true },
    traceparent: { type: 'text', nullable: true },
    heartbeat_at: { type: 'timestamptz', nullable: true },
    worker: { type: 'text', nullable: true },
    attempts: { type: 'int' },
    queued_at: { type: 'timestamptz', nullable: true },
    renewed_from: { type: 'int', nullable: true },
  },
});

export const UserEntity = new EntitySchema<UserRow>({
  name: 'User',
  tableName: 'users',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    username: { type: 'text', unique: true },
  },
});

export const OutboxEntity = new EntitySchema<OutboxRow>({
  name: 'OutboxMessage',
  tableName: 'outbox',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' },
    kind: { type: 'text' },
    compose_id: { type: 'int' },
    payload: { type: 'jsonb', nullable: true },
    message_id: { type: 'uuid' },
    created_at: { type: 'timestamptz' },
  },
});

export const ENTITIES = [ComposeEntity, UserEntity, OutboxEntity];

/** The compose columns as listed in SQL, in table order. */
export const COMPOSE_COLUMNS = Object.keys(ComposeEntity.options.columns) as Array<keyof ComposeRow>;
