import { Client } from 'pg';
import { type Database, isDatabaseUnavailable } from '../../common/db/database';
import { connectTestDatabase } from '../support/db';
import { ADMIN_DATABASE_URL } from '../support/env';

/**
 * A connection the server ends while we hold it between two statements (PostgreSQL restarting,
 * an administrator terminating sessions) must fail only the work on that connection, as an
 * "unavailable" error, and never crash the process: node-postgres emits an 'error' event on
 * such a client, which nobody listens to once the pool has handed it out. Found by the database
 * restart test (tests/e2e/database-restart.test.ts), where it killed odcs-backend.
 */

let t: { db: Database; drop(): Promise<void> };
let admin: Client;

beforeAll(async () => {
  t = await connectTestDatabase();
  admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
});
afterAll(async () => {
  await admin.end();
  await t.drop();
});

/** Terminates the server session `pid` and waits until its FATAL message has had time to arrive. */
async function terminate(pid: number): Promise<void> {
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  await new Promise((r) => setTimeout(r, 300));
}

it('fails a transaction whose connection is ended between statements, and the pool recovers', async () => {
  const outcome = t.db.transaction(async (tx) => {
    const [{ pid }] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await terminate(pid);
    await tx.query('SELECT 1');
  });
  const err = await outcome.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeDefined();
  expect(isDatabaseUnavailable(err)).toBe(true);
  // The broken connection was not given back: every later statement works.
  for (let i = 0; i < 12; i++) expect(await t.db.query<{ x: number }>('SELECT 1 AS x')).toEqual([{ x: 1 }]);
});

it('survives losing the connection that holds an advisory lock while the locked work runs', async () => {
  const outcome = t.db.withAdvisoryLock(0x0dc5_7e57, async () => {
    const [{ pid }] = await t.db.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted`,
      [0x0dc5_7e57],
    );
    await terminate(pid);
    return 'done';
  });
  // The work itself did not need that connection; the lock died with it, which is what a crashed
  // holder does too. withAdvisoryLock swallows the failed unlock on the dead connection
  // (common/db/database.ts), so the work's own result comes back; the process is still here and
  // the pool still works.
  await expect(outcome).resolves.toBe('done');
  expect(await t.db.query<{ x: number }>('SELECT 1 AS x')).toEqual([{ x: 1 }]);
  expect(await t.db.withAdvisoryLock(0x0dc5_7e57, async () => 'again')).toBe('again');
});
