import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from '../../common/db/database';
import { STATES } from '../../common/enums';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { AMQP_URL } from '../support/env';
import { eventually, Listener } from '../support/listener';
import { buildDist } from '../support/processes';
import { postJson, ProcessStack, RequestStream, repoComposeRequest } from '../support/process-stack';

/**
 * Crash safety (issue 4): the worker process is killed with SIGKILL in the middle of a compose,
 * 20 times in a row, while requests keep arriving. Every compose must end `done`, each built
 * exactly once on disk, no temporary tree left once the beat ran, every state change announced.
 *
 * What recovers a killed compose: RabbitMQ redelivers the unacked work message (a claim of a
 * compose already `generating` claims nothing), the beat sees that its heartbeat stopped
 * (heartbeat_timeout) and releases it with a new work message, and a new worker takes it over
 * and builds it from scratch in a fresh temporary tree. createrepo_c is slowed down by a
 * wrapper so that each compose takes about a second and the kills land mid-build.
 */

const KILLS = 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let fixtures: FixtureRepos;
let db: TestDatabase;
let conn: Database;
let stack: ProcessStack;
let events: Listener;
let scratch: string;

beforeAll(async () => {
  buildDist();
  fixtures = await buildFixtureRepos();
  db = await createTestDatabase();
  conn = await Database.connect({ url: db.url, poolSize: 2 });
  scratch = mkdtempSync(path.join(tmpdir(), 'odcs-crash-'));
  const createrepo = path.join(scratch, 'createrepo_c');
  writeFileSync(createrepo, '#!/bin/sh\nsleep 0.8\nexec createrepo_c "$@"\n', { mode: 0o755 });
  stack = await ProcessStack.start({
    databaseUrl: db.url,
    amqpUrl: AMQP_URL,
    roles: ['frontend', 'backend', 'beat'],
    repoRoots: [fixtures.dir],
    env: {
      ODCS_BEAT_INTERVAL: '1',
      ODCS_HEARTBEAT_INTERVAL: '1',
      ODCS_HEARTBEAT_TIMEOUT: '3',
      ODCS_MAX_ATTEMPTS: '50',
      ODCS_LOST_WAIT_SECONDS: '10',
      ODCS_CREATEREPO_C: createrepo,
    },
  });
  events = await Listener.topic('amq.topic', `${stack.env.ODCS_MESSAGING_TOPIC_PREFIX}.odcs.compose.state-changed`);
}, 240000);

afterAll(async () => {
  await events?.close();
  await stack?.stop();
  await conn?.close();
  await db?.drop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

it('loses nothing when the worker is killed mid-compose 20 times under a stream of requests', async () => {
  const stream = new RequestStream(500, (n) => ({
    label: n,
    send: () => postJson(`${stack.api}/api/1/composes/`, repoComposeRequest(fixtures, n)),
  })).start();

  let killed = 0;
  let midBuild = 0;
  // Workers already killed: a compose they left generating is not being built by anyone.
  const dead: string[] = [];
  try {
    while (killed < KILLS) {
      // Wait for a compose being built by the current worker, let it get into the build, kill.
      const victim = await eventually(
        async () => {
          const [row] = await conn.query<{ id: number; worker: string }>(
            `SELECT id, worker FROM composes WHERE state = ${STATES.generating} AND worker IS NOT NULL AND NOT (worker = ANY($1::text[])) ORDER BY time_started DESC LIMIT 1`,
            [dead],
          );
          return row;
        },
        60000,
        'a compose being built',
      );
      await sleep(150 + ((killed * 137) % 500));
      const building = `SELECT 1 FROM composes WHERE id = $1 AND state = ${STATES.generating} AND worker = $2`;
      // Finished during the pause: pick another one rather than kill an idle worker.
      if ((await conn.query(building, [victim.id, victim.worker])).length === 0) continue;
      stack.procs.get('backend')!.child.kill('SIGKILL');
      await stack.procs.get('backend')!.exited;
      killed++;
      dead.push(victim.worker);
      // Evidence the kill landed mid-build: with the worker dead and none started yet, a compose
      // it was building (the victim, or another of its slots: the victim may have ended in the
      // instant between the check above and the kill) is still generating and owned by it.
      const orphaned = `SELECT 1 FROM composes WHERE state = ${STATES.generating} AND worker = $1`;
      if ((await conn.query(orphaned, [victim.worker])).length > 0) midBuild++;
      await stack.run('backend');
    }
  } finally {
    await stream.stop();
  }
  expect(midBuild).toBe(killed);
  const ids = stream.sent.map((s) => (s.answer?.body as { id?: number } | undefined)?.id);
  expect(stream.sent.every((s) => s.answer?.status === 200)).toBe(true);
  const composeIds = ids.filter((id): id is number => typeof id === 'number');

  // Every compose ends done.
  const rows = await eventually(
    async () => {
      const r = await conn.query<{ id: number; state: number; reused_id: number | null; attempts: number }>(
        `SELECT id, state, reused_id, attempts FROM composes WHERE id = ANY($1::int[]) ORDER BY id`,
        [composeIds],
      );
      return r.every((x) => x.state === STATES.done) ? r : undefined;
    },
    180000,
    'every compose to be done',
  );
  expect(rows).toHaveLength(composeIds.length);

  // Each exactly once on disk: one published tree per built compose, none for reusers, and no
  // temporary tree anywhere once the beat swept.
  const target = stack.targetDir;
  for (const row of rows) {
    const own = path.join(target, `odcs-${row.id}`, 'compose');
    if (row.reused_id === null) expect(existsSync(path.join(own, 'Temporary', 'x86_64', 'os', 'repodata', 'repomd.xml'))).toBe(true);
    else expect(existsSync(own)).toBe(false);
  }
  await eventually(
    async () => {
      const leftovers = readdirSync(target)
        .filter((n) => n.startsWith('odcs-'))
        .flatMap((n) => readdirSync(path.join(target, n)).filter((e) => e.startsWith('.compose.tmp-')).map((e) => `${n}/${e}`));
      const removing = readdirSync(target).filter((n) => n.startsWith('.removing-'));
      return leftovers.length === 0 && removing.length === 0;
    },
    20000,
    'the beat to sweep temporary trees',
  );

  // Every state change announced: wait, generating, done for each, done last.
  await events.waitFor(
    (l) => {
      const done = new Set(l.bodies<{ compose: { id: number; state_name: string } }>().filter((b) => b.compose.state_name === 'done').map((b) => b.compose.id));
      return composeIds.every((id) => done.has(id));
    },
    60000,
  );
  for (const id of composeIds) {
    const states = events.bodies<{ compose: { id: number; state_name: string } }>().filter((b) => b.compose.id === id).map((b) => b.compose.state_name);
    const firsts = [...new Set(states)];
    expect(firsts).toEqual(['wait', 'generating', 'done']);
  }

  const retried = rows.filter((r) => r.attempts > 1).length;
  process.stdout.write(
    `worker kill -9: ${killed} kills survived (${midBuild} mid-build), ${rows.length} composes checked (all done, ${retried} built again after a kill), ` +
      `${stream.sent.length} POSTs all answered 200\n`,
  );
}, 600000);
