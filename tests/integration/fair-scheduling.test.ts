/**
 * Issue 11, fair scheduling: a work message only wakes a worker, which claims the next compose
 * fairly across owners (ComposeStore.claimWork). One tenant's flood must not hold back another
 * tenant's first compose by more than the build in progress; and the usual guarantees stay: every
 * waiting compose is built exactly once, whichever message led to it.
 *
 * Real pipeline (repo composes of the fixture repository, real createrepo_c behind a wrapper that
 * makes each build take a little longer), real RabbitMQ, one worker with ONE slot, so the order
 * of `time_started` is the order of service.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { AmqpBroker } from '../../common/broker/amqp-broker';
import { FLAGS, SOURCE_TYPES, STATES } from '../../common/enums';
import { silentLogger } from '../../common/log';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { newCompose } from '../support/composes';
import { AMQP_URL } from '../support/env';
import { headerAuth } from '../support/header-auth';
import { eventually } from '../support/listener';
import { startTestStack, type TestStack } from '../support/stack';

let fixtures: FixtureRepos;
let scratch: string;
let t: TestStack;

beforeAll(async () => {
  fixtures = await buildFixtureRepos();
  scratch = await mkdtemp(path.join(tmpdir(), 'odcs-fair-'));
  const slow = path.join(scratch, 'createrepo_c');
  // A build long enough that tenant B's compose arrives while one of A's is being built.
  await writeFile(slow, '#!/bin/sh\nsleep 0.3\nexec createrepo_c "$@"\n');
  await chmod(slow, 0o755);
  t = await startTestStack({
    worker: true,
    relay: true,
    context: { auth: headerAuth },
    config: {
      num_concurrent_composes: 1,
      createrepo_c: slow,
      allowed_repo_roots: [fixtures.dir],
      allowed_source_types: ['tag', 'module', 'build', 'repo'],
      allowed_clients: { users: { 'tenant-b': { source_types: ['repo'] } }, groups: {} },
    },
  });
}, 180000);
afterAll(async () => {
  await t?.worker?.stop({ abort: true });
  await t?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A's composes: repo composes that cannot reuse each other, so each one is a real build. */
const floodCompose = (owner: string, label: string) =>
  newCompose({ owner, source_type: SOURCE_TYPES.repo, source: fixtures.main, packages: ['app'], flags: FLAGS.no_reuse, label });

const startedSince = async (since: Date, owner: string): Promise<number> => {
  const [{ n }] = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM composes WHERE owner = $1 AND time_started > $2`, [owner, since]);
  return n;
};

it("starts tenant B's single compose within one build of tenant A's flood of 200", async () => {
  const now = new Date();
  await Promise.all(Array.from({ length: 200 }, (_, i) => t.s.store.create(floodCompose('tenant-a', `flood-${i}`), now)));
  t.s.relay.kick();
  await eventually(async () => (await t.s.db.query(`SELECT 1 FROM composes WHERE owner = 'tenant-a' AND state = ${STATES.generating}`)).length > 0, 60000, "A's first build");

  const res = await request(t.app)
    .post('/api/1/composes/')
    .set('X-Test-User', 'tenant-b')
    .send({ source: { type: 'repo', source: fixtures.main, packages: ['app'] }, flags: ['no_reuse'] })
    .expect(200);
  // Posted = answered: the compose is committed (and claimable) from here on.
  const posted = new Date();
  // Wait until B's compose started, or until A got three more builds started after B was posted
  // (which is already unfair: B must come right after the build in progress).
  await eventually(
    async () => (await t.s.store.get(res.body.id as number))?.time_started != null || (await startedSince(posted, 'tenant-a')) >= 3,
    120000,
    "B's compose to start",
  );
  const b = await t.s.store.get(res.body.id as number);
  expect(b?.time_started).not.toBeNull();
  // Nothing of A's was started between B's arrival and B's start: at most the build already
  // in progress delayed it.
  const [{ n }] = await t.s.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM composes WHERE owner = 'tenant-a' AND time_started > $1 AND time_started < $2`,
    [posted, b?.time_started],
  );
  expect(n).toBe(0);
  const done = await eventually(async () => {
    const row = await t.s.store.get(res.body.id as number);
    return row?.state === STATES.done || row?.state === STATES.failed ? row : undefined;
  }, 60000, "B's compose to finish");
  expect(done.state_reason).toBe('Compose is generated successfully');
}, 240000);

it('builds every waiting compose exactly once, whichever message woke the worker (duplicates and strays included)', async () => {
  // Stop the flood: what A still has waiting is cancelled, so this test sees only its own composes.
  await t.s.db.query(`UPDATE composes SET state = ${STATES.failed}, state_reason = 'Canceled by test' WHERE state = ${STATES.wait}`);
  await eventually(async () => (t.worker?.busy.length ?? 0) === 0, 60000, 'the build in progress to end');
  const publisher = new AmqpBroker(AMQP_URL, silentLogger());
  try {
    const now = new Date();
    // One transaction: all six become claimable at once, ids in this order.
    const rows = await t.s.db.transaction(async (tx) => {
      const out = [];
      for (const [i, o] of ['tenant-c', 'tenant-d', 'tenant-c', 'tenant-e', 'tenant-d', 'tenant-c'].entries()) {
        out.push(await t.s.store.create(floodCompose(o, `exact-${i}`), now, tx));
      }
      return out;
    });
    // Besides the six messages of the outbox: duplicates of one of them and a message naming a
    // compose long finished. Each wakes the worker; none may build anything twice.
    const body = (id: number): Buffer => Buffer.from(JSON.stringify({ compose_id: id }));
    await publisher.publish([rows[0].id, rows[0].id, 1].map((id) => ({ exchange: '', routingKey: t.cfg.work_queue, body: body(id) })));
    t.s.relay.kick();
    const ended = await eventually(async () => {
      const all = await Promise.all(rows.map((r) => t.s.store.get(r.id)));
      return all.every((r) => r?.state === STATES.done) ? all : undefined;
    }, 120000, 'all six composes to be built');
    for (const row of ended) expect({ id: row?.id, attempts: row?.attempts }).toEqual({ id: row?.id, attempts: 1 });
    // Owners alternate: c, d, e were each served before any owner got a second compose.
    const order = [...ended].sort((x, y) => (x?.time_started?.getTime() ?? 0) - (y?.time_started?.getTime() ?? 0)).map((r) => r?.owner);
    expect(new Set(order.slice(0, 3))).toEqual(new Set(['tenant-c', 'tenant-d', 'tenant-e']));
    await eventually(async () => (await publisher.queueLength(t.cfg.work_queue)) === 0 && t.worker?.busy.length === 0, 30000, 'the queue to drain');
  } finally {
    await publisher.close();
  }
}, 240000);
