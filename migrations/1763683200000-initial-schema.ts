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

    // List filters (reference §1.3) and the beat's queries (§6.4). Free-form strings that a
    // request can make arbitrarily long get hash indexes, which have no key size limit.
    await q.query(`CREATE INDEX composes_state_idx ON composes (state)`);
    await q.query(`CREATE INDEX composes_time_to_expire_idx ON composes (time_to_expire)`);
    await q.query(`CREATE INDEX composes_source_type_state_idx ON composes (source_type, state)`);
    await q.query(`CREATE INDEX composes_reused_id_idx ON composes (reused_id) WHERE reused_id IS NOT NULL`);
    await q.query(`CREATE INDEX composes_owner_idx ON composes (owner, id)`);
    await q.query(`CREATE INDEX composes_source_idx ON composes USING hash (source)`);
    await q.query(`CREATE INDEX composes_label_idx ON composes USING hash (label)`);
    await q.query(`CREATE INDEX composes_compose_type_idx ON composes (compose_type)`);
    await q.query(`CREATE INDEX composes_pungi_compose_id_idx ON composes (pungi_compose_id)`);
    await q.query(`CREATE INDEX composes_koji_task_id_idx ON composes (koji_task_id)`);

    await q.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CONSTRAINT outbox_kind_known CHECK (kind IN ('work', 'event')),
        compose_id integer NOT NULL,
        payload jsonb,
        message_id uuid NOT NULL DEFAULT gen_random_uuid(),
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        CONSTRAINT outbox_event_has_payload CHECK (kind <> 'event' OR payload IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL`);
    await q.query(`CREATE INDEX outbox_compose_id_idx ON outbox (compose_id)`);
    await q.query(`CREATE INDEX outbox_sent_at_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE outbox`);
    await q.query(`DROP TABLE composes`);
    await q.query(`DROP FUNCTION composes_check_transition()`);
    await q.query(`DROP TABLE users`);
  }
}
