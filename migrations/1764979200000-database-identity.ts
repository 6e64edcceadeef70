import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `database_identity`: one row naming this database for good, so that a target dir can say which
 * database's composes it holds (its `.odcs-owner` marker, common/target-dir-owner.ts). The row is
 * made at first use, not here: a database copied from a migrated template (CREATE DATABASE …
 * TEMPLATE, as the tests do) must not share an identity with its siblings. A uuid in a table,
 * unlike PostgreSQL's system_identifier and the database's oid, survives a dump and restore or
 * pg_upgrade, and needs no privilege to read.
 */
export class DatabaseIdentity1764979200000 implements MigrationInterface {
  name = 'DatabaseIdentity1764979200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE database_identity (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE database_identity`);
  }
}
