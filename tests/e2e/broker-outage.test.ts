import { existsSync } from 'node:fs';
import path from 'node:path';
import { Database } from '../../common/db/database';
import { STATES } from '../../common/enums';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { eventually } from '../support/listener';
import { PrivateRabbit } from '../support/private-services';
import { buildDist } from '../support/processes';
import { postJson, ProcessStack, RequestStream, repoComposeRequest } from '../support/process-stack';

/**
 * Crash safety (issue 4): RabbitMQ stops for 30 s while requests keep arriving. Every POST must
 * still answer 200 (PostgreSQL is the truth; the work message waits in the outbox) and every
 * compose must end `done` once the broker is back.
 *
 * The broker is a private RabbitMQ node of this test (tests/support/private-services.ts), which
 * it really stops (SIGTERM, a clean node shutdown) and starts again on the same port and data;
 * the machine's shared RabbitMQ serves the other test files and is never touched. PostgreSQL is
 * the shared server, with a database of this test. frontend, backend and beat are the real
 * bin/odcs-* processes; the composes are real `repo` composes over the fixture repositories.
 */

const OUTAGE_MS = 30000;
const REQUEST_INTERVAL_MS = 400;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let fixtures: FixtureRepos;
let rabbit: PrivateRabbit;
let db: TestDatabase;
let conn: Database;
let stack: ProcessStack;

beforeAll(async () => {
  buildDist();
  fixtures = await buildFixtureRepos();
  [rabbit, db] = await Promise.all([PrivateRabbit.create(), createTestDatabase()]);
  conn = await Database.connect({ url: db.url, poolSize: 2 });
  stack = await ProcessStack.start({
    databaseUrl: db.url,
    amqpUrl: rabbit.url,
    roles: ['frontend', 'backend', 'beat'],
    repoRoots: [fixtures.dir],
    env: { ODCS_BEAT_INTERVAL: '1' },
  });
}, 240000);

afterAll(async () => {
  await stack?.stop();
  await conn?.close();
  await rabbit?.destroy();
  await db?.drop();
});

it('answers every POST with 200 while RabbitMQ is down for 30 s, and every compose ends done after it returns', async () => {
  const stream = new RequestStream(REQUEST_INTERVAL_MS, (n) => ({
    label: n,
    send: () => postJson(`${stack.api}/api/1/composes/`, repoComposeRequest(fixtures, n)),
  })).start();
  await sleep(5000);

  const downAt = Date.now();
  await rabbit.stop();
  const stopSeconds = (Date.now() - downAt) / 1000;
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
  // Work accepted during the outage waits for the broker: proof that the outage was real.
  const [{ waiting }] = await conn.query<{ waiting: number }>(`SELECT count(*)::int AS waiting FROM composes WHERE state = $1`, [STATES.wait]);
  expect(waiting).toBeGreaterThan(0);
  const startingAt = Date.now();
  await rabbit.start();
  const upAt = Date.now();
  await sleep(5000);
  const sent = await stream.stop();

  const failures = sent.filter((s) => s.answer?.status !== 200).map((s) => ({ n: s.label, status: s.answer?.status, error: s.error, body: s.answer?.text }));
  expect(failures).toEqual([]);
  const ids = sent.map((s) => (s.answer?.body as { id: number }).id);
  expect(new Set(ids).size).toBe(sent.length);

  const rows = await eventually(
    async () => {
      const r = await conn.query<{ id: number; state: number; state_reason: string; reused_id: number | null; done_ms: number | null }>(
        `SELECT id, state, state_reason, reused_id, (extract(epoch FROM time_done) * 1000)::float8 AS done_ms
         FROM composes WHERE id = ANY($1::int[]) ORDER BY id`,
        [ids],
      );
      return r.length === ids.length && r.every((c) => c.state === STATES.done || c.state === STATES.failed) ? r : undefined;
    },
    300000,
    'every compose to finish',
  );
  expect(rows.filter((r) => r.state !== STATES.done).map(({ done_ms: _ms, ...r }) => r)).toEqual([]);
  // When the last compose was done, counted from the broker's return (the workers' clock is ours).
  const drainedSeconds = (Math.max(...rows.map((r) => r.done_ms ?? 0)) - upAt) / 1000;
  // Every compose built here (not reusing another) is on disk with its .repo file.
  const missing = rows
    .filter((r) => r.reused_id === null)
    .filter((r) => !existsSync(path.join(stack.targetDir, `odcs-${r.id}`, 'compose', 'Temporary', `odcs-${r.id}.repo`)));
  expect(missing).toEqual([]);
  // Every state change left the outbox: the relays resumed once the broker was back.
  await eventually(async () => (await conn.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox`))[0].n === 0, 60000, 'the outbox to empty');
  expect(stack.crashed()).toEqual([]);
  expect(stack.procs.get('frontend')?.output).toContain('outbox relay cannot publish');

  const during = sent.filter((s) => s.at >= downAt && s.at < upAt);
  const figures = {
    posts: sent.length,
    postsDuringOutage: during.length,
    allAnswered200: true,
    slowestPostMsDuringOutage: Math.max(...during.map((s) => s.ms)),
    outageSeconds: Number(((upAt - downAt) / 1000).toFixed(1)),
    brokerStopSeconds: Number(stopSeconds.toFixed(1)),
    brokerStartSeconds: Number(((upAt - startingAt) / 1000).toFixed(1)),
    composesWaitingForTheBroker: waiting,
    composesChecked: rows.length,
    composesDone: rows.filter((r) => r.state === STATES.done).length,
    builtNotReused: rows.filter((r) => r.reused_id === null).length,
    secondsFromBrokerBackToLastDone: Number(drainedSeconds.toFixed(1)),
  };
  console.log(`broker outage figures: ${JSON.stringify(figures)}`);
}, 600000);
