/**
 * Graceful stop of a real odcs-backend process (issue 10 item 6): on SIGTERM it stops taking
 * work, waits shutdown_grace_seconds for its composes, then aborts them (killing their tools,
 * even tools that ignore SIGTERM), leaves their work messages unacked and exits. The compose is
 * later taken over by the next worker, after the beat sees its heartbeat stopped.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from '../../common/db/database';
import type { ComposeRow } from '../../common/db/entities';
import { STATES } from '../../common/enums';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { AMQP_URL } from '../support/env';
import { eventually } from '../support/listener';
import { buildDist } from '../support/processes';
import { postJson, ProcessStack } from '../support/process-stack';

let fixtures: FixtureRepos;
let db: TestDatabase;
let conn: Database;
let stack: ProcessStack;
let scratch: string;
let pidFile: string;

beforeAll(async () => {
  buildDist();
  fixtures = await buildFixtureRepos();
  db = await createTestDatabase();
  conn = await Database.connect({ url: db.url, poolSize: 2 });
  scratch = mkdtempSync(path.join(tmpdir(), 'odcs-graceful-'));
  pidFile = path.join(scratch, 'pids');
  const marker = path.join(scratch, 'hung-once');
  const createrepo = path.join(scratch, 'createrepo_c');
  // The first run hangs and ignores SIGTERM (so does its child); later runs are the real tool.
  writeFileSync(
    createrepo,
    [
      '#!/bin/sh',
      `if [ ! -e '${marker}' ]; then`,
      `  : > '${marker}'; trap '' TERM; echo $$ > '${pidFile}'; sleep 1000 & echo $! >> '${pidFile}'; wait`,
      'fi',
      'exec createrepo_c "$@"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  stack = await ProcessStack.start({
    databaseUrl: db.url,
    amqpUrl: AMQP_URL,
    roles: ['frontend', 'backend', 'beat'],
    repoRoots: [fixtures.dir],
    env: {
      ODCS_BEAT_INTERVAL: '1',
      ODCS_HEARTBEAT_INTERVAL: '1',
      ODCS_HEARTBEAT_TIMEOUT: '3',
      ODCS_SHUTDOWN_GRACE_SECONDS: '2',
      ODCS_CREATEREPO_C: createrepo,
    },
  });
}, 240000);

afterAll(async () => {
  await stack?.stop();
  await conn?.close();
  await db?.drop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Whether process `pid` still runs (a zombie has ended: it only waits to be reaped). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

async function composeRow(id: number): Promise<ComposeRow> {
  const [row] = await conn.query<ComposeRow>('SELECT * FROM composes WHERE id = $1', [id]);
  return row;
}

it('SIGTERM with a hung compose: the backend kills its tools and exits after the grace; the compose is taken over', async () => {
  const posted = await postJson(`${stack.api}/api/1/composes/`, { source: { type: 'repo', source: fixtures.main, packages: ['app'] } });
  expect(posted.status).toBe(200);
  const id = (posted.body as { id: number }).id;
  // The compose is in its createrepo_c step, which hangs.
  await eventually(async () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().split('\n').length === 2, 60000, 'createrepo_c to hang');
  const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
  expect((await composeRow(id)).state).toBe(STATES.generating);

  const code = await stack.halt('backend');
  // It stopped on its own (the runner's last-resort exit would be code 1), leaving no tool behind.
  expect(code).toBe(0);
  await eventually(async () => pids.every((pid) => !running(pid)), 10000, 'the hung tool and its child to be gone');

  await stack.run('backend');
  const row = await eventually(
    async () => {
      const r = await composeRow(id);
      return r.state === STATES.done || r.state === STATES.failed ? r : undefined;
    },
    90000,
    'the compose to be taken over and finished',
  );
  expect(row.state_reason).toBe('Compose is generated successfully');
  expect(row.state).toBe(STATES.done);
  expect(row.attempts).toBe(2);
}, 240000);
