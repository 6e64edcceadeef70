import { composeJson } from '../../common/compose-json';
import { loadConfig } from '../../common/config';
import { ComposeStore } from '../../common/db/compose-store';
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
  it('keeps a compose and an outbox row written under the first migration readable after the rest', async () => {
    await db.revert(Infinity);
    expect(await db.migrate()).toHaveLength(MIGRATIONS.length);
    expect(await db.revert(MIGRATIONS.length - 1)).toBe(MIGRATIONS.length - 1);
    expect((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM migrations`))[0].n).toBe(1);

    const [{ id }] = await db.query<{ id: number }>(
      `INSERT INTO composes (owner, source_type, source, koji_event, sigkeys, state, state_reason, results, packages, flags,
         time_to_expire, time_submitted, time_started, time_done, arches, label, compose_type, target_dir)
       VALUES ('alice', 1, 'f40-build', 1700000000, '{12c944d0}', 2, 'Compose is generated successfully', 1, '{bash,coreutils}', 0,
         '2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:05Z', '2026-01-01T00:01:00Z', '{x86_64}', 'RC-1', 'test', 'default')
       RETURNING id`,
    );
    await db.query(`INSERT INTO outbox (kind, compose_id, payload) VALUES ('work', $1, NULL)`, [id]);

    expect(await db.migrate()).toHaveLength(MIGRATIONS.length - 1);
    const row = (await new ComposeStore(db, true).get(id))!;
    const json = composeJson(loadConfig({}, { target_dir: '/srv/odcs', target_dir_url: 'https://odcs.example.com/composes/' }), row);
    expect(json).toMatchObject({
      id,
      owner: 'alice',
      source_type: 1,
      source: 'f40-build',
      koji_event: 1700000000,
      sigkeys: '12c944d0',
      state: 2,
      state_name: 'done',
      state_reason: 'Compose is generated successfully',
      packages: 'bash coreutils',
      arches: 'x86_64',
      label: 'RC-1',
      compose_type: 'test',
      time_submitted: '2026-01-01T00:00:00Z',
      time_done: '2026-01-01T00:01:00Z',
      time_to_expire: '2026-01-02T00:00:00Z',
    });
    const outbox = await db.query<{ kind: string; compose_id: number }>(`SELECT kind, compose_id FROM outbox`);
    expect(outbox).toEqual([{ kind: 'work', compose_id: id }]);
  });
});
