import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Multi-tenancy (issue 11):
 *  - `compose_renewals`: how many times a compose (and, for a regenerated copy, the composes it
 *    repeats) was renewed, for the `max_renewals` quota; no row is 0. A table of its own: a
 *    renewal leaves the compose's row (and what is announced of it) as it was. Counting starts
 *    here.
 *  - for the workers' fair choice of the next compose (ComposeStore.claimWork): the queue of each
 *    owner (waiting composes by owner and id; one entry per new compose, gone from the index's
 *    reach once claimed), and each owner's latest start (partial: a new compose costs it
 *    nothing). Without them, choosing among 100,000 waiting composes took seconds.
 */
export class Tenancy1765152000000 implements MigrationInterface {
  name = 'Tenancy1765152000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE compose_renewals (
        compose_id integer PRIMARY KEY REFERENCES composes (id) ON DELETE CASCADE,
        renewals integer NOT NULL
      )`);
    await q.query(`CREATE INDEX composes_owner_started_idx ON composes (owner, time_started) WHERE time_started IS NOT NULL`);
    await q.query(`CREATE INDEX composes_waiting_idx ON composes (owner, id) WHERE state = 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX composes_waiting_idx`);
    await q.query(`DROP INDEX composes_owner_started_idx`);
    await q.query(`DROP TABLE compose_renewals`);
  }
}
