import { Client } from 'pg';
import { ADMIN_DATABASE_URL, templateDatabase } from './env';

/** Drops this run's template database (global-setup.ts made it). */
export default async function globalTeardown(): Promise<void> {
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase()} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
