import { MemoryBroker } from '../../common/broker/memory-broker';
import { loadConfig } from '../../common/config';
import { ComposeStore } from '../../common/db/compose-store';
import { Database } from '../../common/db/database';
import { STATES } from '../../common/enums';
import { silentLogger } from '../../common/log';
import { Worker } from '../../backend/worker';
import { newCompose } from '../support/composes';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { eventually } from '../support/listener';
import { uniqueName } from '../support/stack';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * A build asks the database things on its way (record the resolved source, look for a compose
 * to reuse, the versions to repeat). When the database is unreachable at that moment, the
 * compose must wait for it, not fail with the connection error as its reason. Found by the
 * database restart test (tests/e2e/database-restart.test.ts). The outage is a TcpProxy in front
 * of the shared PostgreSQL, cut while the build runs.
 */

let t: TestDatabase;
let proxy: TcpProxy;
let db: Database;
let worker: Worker;
const broker = new MemoryBroker();

beforeAll(async () => {
  t = await createTestDatabase();
  const target = new URL(t.url);
  proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
  const viaProxy = new URL(t.url);
  viaProxy.port = String(await proxy.up());
  db = await Database.connect({ url: viaProxy.toString(), poolSize: 3 });
});
afterAll(async () => {
  await worker?.stop();
  await broker.close();
  await db?.close();
  await proxy?.down();
  await t?.drop();
});

it('waits for the database during the build instead of failing the compose', async () => {
  const cfg = loadConfig({}, { database_url: t.url, work_queue: uniqueName('odcs.test.db-outage'), heartbeat_interval: 1, log_level: 'silent' });
  const store = new ComposeStore(db, false);
  let stepsDuringOutage = 0;
  worker = new Worker({
    cfg,
    store,
    broker,
    log: silentLogger(),
    build: async (_compose, _signal, hooks) => {
      // The database goes away just before the build records what it resolved, and returns 1.5 s later.
      await proxy.down();
      const back = new Promise<void>((resolve) => setTimeout(() => void proxy.up().then(() => resolve()), 1500));
      stepsDuringOutage += 1;
      // The first step of the engine, before it touches the target dir (common/target-dir-owner.ts).
      expect(await hooks.databaseIdentity()).toMatch(/^[0-9a-f-]{36}$/);
      await hooks.resolved({ koji_event: 1700000000 });
      stepsDuringOutage += 1;
      expect(await hooks.pinnedNevras()).toBeUndefined();
      await back;
      return {};
    },
  });
  await broker.assertQueue(cfg.work_queue);
  await worker.start();
  const row = await store.create(newCompose(), new Date());
  await broker.publish([{ exchange: '', routingKey: cfg.work_queue, body: Buffer.from(JSON.stringify({ compose_id: row.id })) }]);

  const final = await eventually(
    async () => {
      const r = await store.get(row.id).catch(() => undefined);
      return r && (r.state === STATES.done || r.state === STATES.failed) ? r : undefined;
    },
    30000,
    'the compose to finish',
  );
  expect({ state: final.state, reason: final.state_reason, koji_event: final.koji_event }).toEqual({
    state: STATES.done,
    reason: 'Compose is generated successfully',
    koji_event: 1700000000,
  });
  expect(stepsDuringOutage).toBe(2);
});
