import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ODCS data model (reference §2.2) plus what we need beyond it: worker heartbeats,
 * the transactional outbox, and constraints that make impossible rows and illegal state
 * transitions fail in the database itself rather than in each caller.
 */
export class InitialSchema1763683200000 implements MigrationInterface {
  name = 'InitialSchema1763683200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id serial PRIMARY KEY,
        username text NOT NULL UNIQUE
      )`);

    await q.query(`
      CREATE TABLE composes (
        id serial PRIMARY KEY,
        owner text NOT NULL,
        source_type smallint NOT NULL CONSTRAINT composes_source_type_known CHECK (source_type BETWEEN 1 AND 7),
        source text NOT NULL,
        modular_koji_tags text[],
        module_defaults_url text,
        koji_event bigint,
        sigkeys text[] NOT NULL DEFAULT '{}',
        state smallint NOT NULL CONSTRAINT composes_state_known CHECK (state BETWEEN 0 AND 4),
        state_reason text,
        results integer NOT NULL DEFAULT 1 CONSTRAINT composes_results_has_repository CHECK (results & 1 = 1),
        packages text[],
        builds text[],
        flags integer NOT NULL DEFAULT 0,
        time_to_expire timestamptz NOT NULL,
        time_submitted timestamptz NOT NULL,
        time_started timestamptz,
        time_done timestamptz,
        time_removed timestamptz,
        removed_by text,
        reused_id integer REFERENCES composes (id),
        koji_task_id bigint,
        arches text[] NOT NULL,
        multilib_arches text[] NOT NULL DEFAULT '{}',
        multilib_method integer NOT NULL DEFAULT 0,
        lookaside_repos text[],
        label text,
        compose_type text,
        pungi_compose_id text,
        pungi_config_dump text,
        celery_task_id text,
        target_dir text,
        scratch_modules text[],
        scratch_build_tasks text[],
        parent_pungi_compose_ids text[],
        modules text[],
        respin_of text,
        base_module_br_name text,
        base_module_br_stream text,
        base_module_br_stream_version_lte bigint,
        base_module_br_stream_version_gte bigint,
        traceparent text,
        heartbeat_at timestamptz,
        worker text,
        queued_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        CONSTRAINT composes_generating_has_time_started CHECK (state <> 1 OR time_started IS NOT NULL),
        CONSTRAINT composes_done_has_time_done CHECK (state <> 2 OR time_done IS NOT NULL),
        CONSTRAINT composes_removed_has_time_removed CHECK (state <> 3 OR time_removed IS NOT NULL),
        CONSTRAINT composes_not_reusing_itself CHECK (reused_id IS NULL OR reused_id <> id)
      )`);

    // Only these moves exist (reference §6.1); anything else is a bug in a caller.
    await q.query(`
      CREATE FUNCTION composes_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state <> OLD.state AND NOT (
             (OLD.state = 0 AND NEW.state IN (1, 4)) OR
             (OLD.state = 1 AND NEW.state IN (0, 2, 4)) OR
             (OLD.state IN (2, 4) AND NEW.state = 3)) THEN
          RAISE EXCEPTION 'illegal state transition of compose %: % -> %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER composes_state_transition BEFORE UPDATE OF state ON composes
      FOR EACH ROW EXECUTE FUNCTION composes_check_transition()`);

    // List filters (reference §1.3) and the beat's queries (§6.4). Every index costs each
    // INSERT, so columns that are nearly always NULL or nearly always the same value get
    // partial indexes, which cost nothing for those rows. Free-form strings that a request can
    // make arbitrarily long get hash indexes, which have no key size limit.
    await q.query(`CREATE INDEX composes_active_idx ON composes (state, id) WHERE state IN (0, 1)`);
    await q.query(`CREATE INDEX composes_time_to_expire_idx ON composes (time_to_expire)`);
    await q.query(`CREATE INDEX composes_source_type_state_idx ON composes (source_type, state)`);
    await q.query(`CREATE INDEX composes_reused_id_idx ON composes (reused_id) WHERE reused_id IS NOT NULL`);
    await q.query(`CREATE INDEX composes_owner_idx ON composes (owner, state, id)`);
    await q.query(`CREATE INDEX composes_source_idx ON composes USING hash (source)`);
    await q.query(`CREATE INDEX composes_label_idx ON composes USING hash (label) WHERE label IS NOT NULL`);
    await q.query(`CREATE INDEX composes_compose_type_idx ON composes (compose_type) WHERE compose_type <> 'test'`);
    await q.query(`CREATE INDEX composes_pungi_compose_id_idx ON composes (pungi_compose_id) WHERE pungi_compose_id IS NOT NULL`);
    await q.query(`CREATE INDEX composes_koji_task_id_idx ON composes (koji_task_id) WHERE koji_task_id IS NOT NULL`);

    // Messages to publish, written in the same transaction as the change they announce and
    // deleted once the broker confirmed them.
    await q.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CONSTRAINT outbox_kind_known CHECK (kind IN ('work', 'event')),
        compose_id integer NOT NULL,
        payload jsonb,
        message_id uuid NOT NULL DEFAULT gen_random_uuid(),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT outbox_event_has_payload CHECK (kind <> 'event' OR payload IS NOT NULL)
      )`);

    // Exact list totals without counting 100,000 rows per request: triggers append +1/-1 per
    // (source_type, state, owner) to a log, which is folded into compose_counts every second.
    // Appending never contends on a hot counter row, and a total read in one statement (counts
    // plus log) is exact.
    await q.query(`
      CREATE TABLE compose_counts (
        source_type smallint NOT NULL,
        state smallint NOT NULL,
        owner text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (source_type, state, owner)
      )`);
    await q.query(`
      CREATE TABLE compose_count_deltas (
        id bigserial PRIMARY KEY,
        source_type smallint NOT NULL,
        state smallint NOT NULL,
        owner text NOT NULL,
        delta integer NOT NULL
      )`);
    await q.query(`
      CREATE FUNCTION composes_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO compose_count_deltas (source_type, state, owner, delta)
          SELECT source_type, state, owner, count(*) FROM new_rows GROUP BY 1, 2, 3;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO compose_count_deltas (source_type, state, owner, delta)
          SELECT source_type, state, owner, -count(*) FROM old_rows GROUP BY 1, 2, 3;
        ELSE
          INSERT INTO compose_count_deltas (source_type, state, owner, delta)
          SELECT source_type, state, owner, sum(d) FROM (
            SELECT source_type, state, owner, -1 AS d FROM old_rows
            UNION ALL SELECT source_type, state, owner, 1 FROM new_rows) changes
          GROUP BY 1, 2, 3 HAVING sum(d) <> 0;
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER composes_count_insert AFTER INSERT ON composes REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION composes_count_changes()`);
    await q.query(`
      CREATE TRIGGER composes_count_update AFTER UPDATE ON composes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION composes_count_changes()`);
    await q.query(`
      CREATE TRIGGER composes_count_delete AFTER DELETE ON composes REFERENCING OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION composes_count_changes()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE compose_count_deltas`);
    await q.query(`DROP TABLE compose_counts`);
    await q.query(`DROP TABLE outbox`);
    await q.query(`DROP TABLE composes`);
    await q.query(`DROP FUNCTION composes_count_changes()`);
    await q.query(`DROP FUNCTION composes_check_transition()`);
    await q.query(`DROP TABLE users`);
  }
}
