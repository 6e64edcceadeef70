import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Database } from '../../common/db/database';
import { ADMIN_DATABASE_URL, databaseUrl, templateDatabase } from './env';

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database (closing whatever still uses it). */
  drop(): Promise<void>;
}

/** A fresh database of this test file: migrated (a copy of the template) unless `empty`. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `odcs_t_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(options.empty ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${templateDatabase()}`));
  return {
    name,
    url: databaseUrl(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A connected Database on a fresh migrated database; `drop` closes and removes it. */
export async function connectTestDatabase(): Promise<{ db: Database; url: string; drop(): Promise<void> }> {
  const t = await createTestDatabase();
  const db = await Database.connect({ url: t.url, poolSize: 5 });
  return {
    db,
    url: t.url,
    drop: async () => {
      await db.close();
      await t.drop();
    },
  };
}
