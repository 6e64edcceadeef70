import { execFileSync } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { ComposeStore } from '../../common/db/compose-store';
import { Database } from '../../common/db/database';
import { SOURCE_TYPES, STATES } from '../../common/enums';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { newCompose } from '../support/composes';
import { AMQP_URL } from '../support/env';
import { eventually } from '../support/listener';
import { PrivatePostgres } from '../support/private-services';
import { buildDist, ROOT } from '../support/processes';
import { exchange, odcsErrorProblem, postJson, ProcessStack, RequestStream, repoComposeRequest, type Sent } from '../support/process-stack';

/**
 * Crash safety (issue 4): PostgreSQL restarts under load. While it is down the API answers 503
 * with ODCS's JSON error and never anything else; afterwards everything recovers by itself:
 * the API, the workers (composes building while the database was away wait for it, and are
 * recorded `done` once it is back), the outbox relays and the beat.
 *
 * PostgreSQL is a private cluster of this test (tests/support/private-services.ts) that it
 * really stops (fast shutdown, as `pg_ctl restart` does) and starts again on the same port; the
 * machine's shared server, used by the other test files, is never touched. RabbitMQ is the
 * shared broker with queues of this test. frontend, backend and beat are the real bin/odcs-*
 * processes; composes are real `repo` composes over the fixture repositories.
 */

const OUTAGE_MS = 15000;
const REQUEST_INTERVAL_MS = 150;
/**
 * How long the slow mirror holds each repomd.xml. A compose reads it three times per repository,
 * so composes from the mirror build for about 9 s: they start before the database stops and
 * finish while it is down.
 */
const SLOW_MIRROR_DELAY_MS = 1500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Kind = 'POST' | 'GET';

let fixtures: FixtureRepos;
let pg: PrivatePostgres;
let dbUrl: string;
let conn: Database;
let stack: ProcessStack;
let mirror: Server;
let mirrorBase: string;

beforeAll(async () => {
  buildDist();
  fixtures = await buildFixtureRepos();
  pg = await PrivatePostgres.create();
  dbUrl = await pg.createDatabase('odcs');
  // A slow copy of the fixture repositories over http: composes from it take seconds.
  const app = express();
  app.use((req, _res, next) => {
    if (req.path.endsWith('repomd.xml')) setTimeout(next, SLOW_MIRROR_DELAY_MS);
    else next();
  });
  app.use('/', express.static(fixtures.dir));
  mirror = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const mirrorPort = (mirror.address() as AddressInfo).port;
  mirrorBase = `http://127.0.0.1:${mirrorPort}`;

  stack = await ProcessStack.start({
    databaseUrl: dbUrl,
    amqpUrl: AMQP_URL,
    roles: [],
    repoRoots: [fixtures.dir],
    // A message claims the fairest waiting compose, not the one it names: when a stream
    // compose's message claims the lost compose below first, that stream compose is the one
    // left without a message, and the beat queues it again lost_wait_seconds after its own
    // submission (default 180 s, the test's whole wait).
    env: { ODCS_BEAT_INTERVAL: '1', ODCS_LOST_WAIT_SECONDS: '10', ODCS_ALLOWED_REPO_HOSTS: `127.0.0.1:${mirrorPort}`, ODCS_NUM_CONCURRENT_COMPOSES: '4' },
  });
  execFileSync(path.join(ROOT, 'bin', 'odcs-manage'), ['migrate'], { env: stack.env, cwd: ROOT, stdio: 'pipe' });
  await Promise.all([stack.run('frontend'), stack.run('backend'), stack.run('beat')]);
  conn = await Database.connect({ url: dbUrl, poolSize: 2 });
}, 240000);

afterAll(async () => {
  await stack?.stop();
  await conn?.close();
  if (mirror) await new Promise((resolve) => mirror.close(resolve));
  await pg?.destroy();
});

/** The JSON log lines of a process. */
function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const composeStates = (ids: number[]) =>
  conn.query<{ id: number; state: number; state_reason: string }>(`SELECT id, state, state_reason FROM composes WHERE id = ANY($1::int[]) ORDER BY id`, [ids]);

it('answers 503 JSON while PostgreSQL restarts and recovers by itself: API, workers, relays and beat', async () => {
  const stream = new RequestStream<Kind>(REQUEST_INTERVAL_MS, (n) =>
    n % 2 === 0
      ? { label: 'POST', send: () => postJson(`${stack.api}/api/1/composes/`, repoComposeRequest(fixtures, n / 2)) }
      : { label: 'GET', send: () => exchange(`${stack.api}/api/1/composes/?per_page=5`) },
  ).start();
  await sleep(3000);

  // Composes that are building when the database goes away and finish building while it is away.
  const slow: number[] = [];
  for (const packages of [['app'], ['toolx']]) {
    const a = await postJson(`${stack.api}/api/1/composes/`, {
      source: { type: 'repo', source: `${mirrorBase}/main`, packages },
      lookaside_repos: [`${mirrorBase}/lookaside`],
      flags: ['no_reuse'],
    });
    expect(a.status).toBe(200);
    slow.push((a.body as { id: number }).id);
  }
  await eventually(async () => (await composeStates(slow)).every((c) => c.state === STATES.generating), 30000, 'the slow composes to start');

  const downAt = Date.now();
  await pg.stop();
  const stoppedAt = Date.now();
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
  const startingAt = Date.now();
  await pg.start();
  const upAt = Date.now();

  // The API recovers by itself: the next requests of the stream succeed again.
  const recovered = await eventually(
    async () => stream.sent.find((s) => s.at >= upAt && s.answer?.status === 200),
    30000,
    'the API to answer 200 again',
  );
  const recoveredAt = recovered.at + recovered.ms;

  // The beat recovers: a `wait` compose whose work message was lost (none in the outbox, submitted
  // long ago) is queued again by the beat, and built.
  const store = new ComposeStore(conn, true);
  const lost = await conn.transaction(async (tx) => {
    const row = await store.create(
      newCompose({ source_type: SOURCE_TYPES.repo, source: fixtures.main, packages: ['app'], lookaside_repos: [fixtures.lookaside], flags: 64 }),
      new Date(Date.now() - 3600 * 1000),
      tx,
    );
    await tx.query(`DELETE FROM outbox WHERE compose_id = $1`, [row.id]);
    return row.id;
  });

  await sleep(5000);
  const sent = await stream.stop();
  // No process died on the way (a lost connection must never crash one).
  expect(stack.crashed()).toEqual([]);

  // Nothing but 200 and ODCS's 503 answers, and no request left without an answer.
  const odd = sent.filter((s) => !s.answer || (s.answer.status !== 200 && s.answer.status !== 503));
  expect(odd.map((s) => ({ kind: s.label, status: s.answer?.status, error: s.error, body: s.answer?.text.slice(0, 300) }))).toEqual([]);
  const unavailable = sent.filter((s) => s.answer?.status === 503);
  expect(unavailable.map((s) => odcsErrorProblem(s.answer as NonNullable<Sent<Kind>['answer']>)).filter(Boolean)).toEqual([]);
  // Every request sent while the database was down was answered 503, promptly.
  const whileDown = sent.filter((s) => s.at >= stoppedAt && s.at + s.ms < startingAt);
  expect(whileDown.length).toBeGreaterThan(20);
  expect(whileDown.filter((s) => s.answer?.status !== 503).map((s) => ({ kind: s.label, status: s.answer?.status }))).toEqual([]);
  // And once it is back (and the first answers came), everything succeeds again.
  const afterRecovery = sent.filter((s) => s.at > recoveredAt + 1000);
  expect(afterRecovery.length).toBeGreaterThan(10);
  expect(afterRecovery.filter((s) => s.answer?.status !== 200).map((s) => ({ kind: s.label, status: s.answer?.status }))).toEqual([]);

  // Every compose ends done: those accepted before, during (none) and after the outage, the slow
  // ones that met the outage mid-build, and the lost one the beat re-queued.
  const accepted = sent.filter((s) => s.label === 'POST' && s.answer?.status === 200).map((s) => (s.answer?.body as { id: number }).id);
  const ids = [...accepted, ...slow, lost];
  const rows = await eventually(
    async () => {
      const r = await composeStates(ids);
      return r.length === ids.length && r.every((c) => c.state === STATES.done || c.state === STATES.failed) ? r : undefined;
    },
    180000,
    'every compose to finish',
  );
  expect(rows.filter((r) => r.state !== STATES.done)).toEqual([]);
  // No compose is left behind anywhere, not even one whose POST got a 503 after its commit.
  const [{ unfinished }] = await conn.query<{ unfinished: number }>(`SELECT count(*)::int AS unfinished FROM composes WHERE state <> $1`, [STATES.done]);
  expect(unfinished).toBe(0);
  await eventually(async () => (await conn.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox`))[0].n === 0, 60000, 'the outbox to empty');
  // The slow composes met the outage mid-build: the worker waited for the database (to record
  // what the build resolved, or the result) instead of failing them, and they ended done above.
  const waits = logLines(stack.procs.get('backend')?.output ?? '').filter((l) => typeof l.msg === 'string' && l.msg.endsWith('; retrying'));
  const held = [...new Set(waits.map((l) => l.compose))];
  expect(held).toEqual(expect.arrayContaining(slow));
  expect(stack.crashed()).toEqual([]);

  const figures = {
    requests: sent.length,
    outageSeconds: Number(((upAt - downAt) / 1000).toFixed(1)),
    postgresStopSeconds: Number(((stoppedAt - downAt) / 1000).toFixed(1)),
    postgresStartSeconds: Number(((upAt - startingAt) / 1000).toFixed(1)),
    answered503: unavailable.length,
    requestsWhileDown: whileDown.length,
    slowest503Ms: Math.max(...unavailable.map((s) => s.ms)),
    secondsFromPostgresBackToFirst200: Number(((recoveredAt - upAt) / 1000).toFixed(1)),
    composesChecked: rows.length,
    composesThatWaitedForTheDatabaseMidBuild: held.length,
    databaseStepsWaitedFor: [...new Set(waits.map((l) => String(l.msg).replace(/; retrying$/, '')))],
    idOfLostComposeTheBeatRequeued: lost,
  };
  console.log(`database restart figures: ${JSON.stringify(figures)}`);
}, 600000);
