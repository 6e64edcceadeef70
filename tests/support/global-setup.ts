import { Client } from 'pg';
import { Database } from '../../common/db/database';
import { ADMIN_DATABASE_URL, databaseUrl, templateDatabase } from './env';

/**
 * Builds a fully migrated template database once per run; each test file then gets its own
 * copy (CREATE DATABASE … TEMPLATE), so files run in parallel without seeing each other.
 */
export default async function globalSetup(): Promise<void> {
  const TEMPLATE_DATABASE = templateDatabase();
  process.env.ODCS_TEST_TEMPLATE_DATABASE = TEMPLATE_DATABASE;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const db = await Database.connect({ url: databaseUrl(TEMPLATE_DATABASE), poolSize: 1 });
  try {
    await db.migrate();
  } finally {
    await db.close();
  }
}
