import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What renewal with the same package versions and the beat's lifecycle jobs need:
 *  - `composes.renewed_from`: the compose whose resolved package list a regenerated copy repeats;
 *  - `compose_rpms`: the resolved package list of each built compose (NEVRAs per arch), kept
 *    after the compose's files are removed, so a renewal can ask for exactly the same versions;
 *  - an index for the beat's search of composes whose worker stopped heart-beating.
 */
export class RenewalAndReuse1763769600000 implements MigrationInterface {
  name = 'RenewalAndReuse1763769600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE composes ADD COLUMN renewed_from integer REFERENCES composes (id)`);
    await q.query(`
      CREATE TABLE compose_rpms (
        compose_id integer PRIMARY KEY REFERENCES composes (id) ON DELETE CASCADE,
        nevras jsonb NOT NULL
      )`);
    await q.query(`CREATE INDEX composes_heartbeat_idx ON composes (heartbeat_at) WHERE state = 1`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX composes_heartbeat_idx`);
    await q.query(`DROP TABLE compose_rpms`);
    await q.query(`ALTER TABLE composes DROP COLUMN renewed_from`);
  }
}
