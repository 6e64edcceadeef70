import { Database } from '../../common/db/database';
import { MIGRATIONS } from '../../migrations';
import { createTestDatabase, type TestDatabase } from '../support/db';

const tablesOf = async (db: Database): Promise<string[]> =>
  (
    await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    )
  ).map((r) => r.table_name);

describe('migrations', () => {
  let t: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    t = await createTestDatabase({ empty: true });
    db = await Database.connect({ url: t.url, poolSize: 2 });
  });
  afterAll(async () => {
    await db.close();
    await t.drop();
  });

  it('migrates an empty database all the way up and back down, twice', async () => {
    for (let round = 0; round < 2; round++) {
      expect(await tablesOf(db)).toEqual(round === 0 ? [] : ['migrations']);
      const applied = await db.migrate();
      expect(applied).toHaveLength(MIGRATIONS.length);
      expect(await tablesOf(db)).toEqual(['compose_count_deltas', 'compose_counts', 'compose_renewals', 'compose_rpms', 'composes', 'database_identity', 'migrations', 'outbox', 'users']);
      expect(await db.migrate()).toEqual([]);

      const reverted = await db.revert(Infinity);
      expect(reverted).toBe(MIGRATIONS.length);
      expect(await tablesOf(db)).toEqual(['migrations']);
      const functions = await db.query(`SELECT proname FROM pg_proc WHERE proname = 'composes_check_transition'`);
      expect(functions).toEqual([]);
    }
  });
});
