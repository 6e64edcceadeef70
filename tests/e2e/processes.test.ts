import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { AMQP_URL } from '../support/env';
import { eventually, Listener } from '../support/listener';
import { buildDist, freePort, ROOT, ServiceProcess, serviceEnv } from '../support/processes';
import { uniqueName } from '../support/stack';

const json = async (url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const post = (url: string, body: unknown) =>
  json(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(() => buildDist(), 120000);

describe('the separate process roles on real PostgreSQL and RabbitMQ', () => {
  let db: TestDatabase;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  const procs: ServiceProcess[] = [];
  let events: Listener;

  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    dir = mkdtempSync(path.join(tmpdir(), 'odcs-roles-'));
    port = await freePort();
    const prefix = uniqueName('e2e');
    env = serviceEnv({
      DATABASE_URL: db.url,
      AMQP_URL,
      PORT: String(port),
      ODCS_WORK_QUEUE: uniqueName('odcs.e2e.composes'),
      ODCS_TARGET_DIR: path.join(dir, 'composes'),
      ODCS_MESSAGING_TOPIC_PREFIX: prefix,
      ODCS_LOG_LEVEL: 'info',
    });
    events = await Listener.topic('amq.topic', `${prefix}.odcs.compose.state-changed`);
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await events.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start with an invalid configuration, naming the option', async () => {
    const p = new ServiceProcess(path.join(ROOT, 'bin', 'odcs-frontend'), [], { ...env, ODCS_MAX_SECONDS_TO_LIVE: 'soon' });
    expect(await p.exited).toBe(2);
    expect(p.output).toContain('Invalid configuration: max_seconds_to_live (from ODCS_MAX_SECONDS_TO_LIVE): expected a number, got "soon"');
  });

  it('migrates with odcs-manage, then frontend, backend and beat build a compose together', async () => {
    const out = execFileSync(path.join(ROOT, 'bin', 'odcs-manage'), ['migrate'], { env, cwd: ROOT }).toString();
    expect(out).toContain('applied: InitialSchema');
    const frontend = new ServiceProcess(path.join(ROOT, 'bin', 'odcs-frontend'), [], env);
    const backend = new ServiceProcess(path.join(ROOT, 'bin', 'odcs-backend'), [], env);
    const beat = new ServiceProcess(path.join(ROOT, 'bin', 'odcs-beat'), [], env);
    procs.push(frontend, backend, beat);
    await Promise.all([frontend.waitFor('API listening'), backend.waitFor('worker consuming'), beat.waitFor('beat started')]);

    const created = await post(`http://127.0.0.1:${port}/api/1/composes/`, { source: { type: 'pulp', source: 'content-set-1' }, arches: ['x86_64'] });
    expect(created.status).toBe(200);
    const id = created.body.id as number;
    const final = await eventually(async () => {
      const r = await json(`http://127.0.0.1:${port}/api/1/composes/${id}`);
      return r.body.state_name === 'failed' ? r.body : undefined;
    }, 20000, 'the backend to finish the compose');
    expect(final.state_reason).toBe('Error while generating compose: Source type "pulp" is not supported by this server yet.');
    await events.waitFor((l) => l.deliveries.length >= 3);
    expect(events.bodies<{ compose: { state_name: string } }>().map((b) => b.compose.state_name)).toEqual(['wait', 'generating', 'failed']);

    for (const p of [frontend, backend, beat]) expect(await p.stop()).toBe(0);
  });
});

describe('the embedded default (npm start)', () => {
  let dir: string;
  let app: ServiceProcess;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'odcs-embedded-'));
    port = await freePort();
    app = new ServiceProcess(process.execPath, [path.join(ROOT, 'bin', 'start.js')], serviceEnv({ PORT: String(port), ODCS_DATA_DIR: dir, ODCS_TARGET_DIR: path.join(dir, 'composes') }));
    await app.waitFor('ODCS is running', 120000);
  }, 150000);
  afterAll(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs API, worker and static files in one process with no outside service', async () => {
    expect(app.output).toContain(`http://127.0.0.1:${port}/`);
    const created = await post(`http://127.0.0.1:${port}/api/1/composes/`, { source: { type: 'tag', source: 'f40' } });
    expect(created.status).toBe(200);
    expect(created.body.result_repofile).toBe(`http://127.0.0.1:${port}/odcs/odcs-${created.body.id}/compose/Temporary/odcs-${created.body.id}.repo`);
    await eventually(async () => (await json(`http://127.0.0.1:${port}/api/1/composes/${created.body.id}`)).body.state_name === 'failed', 20000);

    // target_dir is served with Range support, as the Python client's --watch needs.
    mkdirSync(path.join(dir, 'composes', 'odcs-1'), { recursive: true });
    writeFileSync(path.join(dir, 'composes', 'odcs-1', 'pungi-stderr.log'), 'line one\nline two\n');
    const ranged = await fetch(`http://127.0.0.1:${port}/odcs/odcs-1/pungi-stderr.log`, { headers: { Range: 'bytes=9-' } });
    expect(ranged.status).toBe(206);
    expect(await ranged.text()).toBe('line two\n');
    const past = await fetch(`http://127.0.0.1:${port}/odcs/odcs-1/pungi-stderr.log`, { headers: { Range: 'bytes=100-' } });
    expect(past.status).toBe(416);
    const missing = await fetch(`http://127.0.0.1:${port}/odcs/odcs-2/pungi-stderr.log`);
    expect(missing.status).toBe(404);
  });

  it('keeps its data across a restart and stops cleanly', async () => {
    expect(await app.stop()).toBe(0);
    app = new ServiceProcess(process.execPath, [path.join(ROOT, 'bin', 'start.js')], serviceEnv({ PORT: String(port), ODCS_DATA_DIR: dir, ODCS_TARGET_DIR: path.join(dir, 'composes') }));
    await app.waitFor('ODCS is running', 120000);
    const list = await json(`http://127.0.0.1:${port}/api/1/composes/`);
    expect((list.body.meta as { total: number }).total).toBe(1);
  }, 150000);
});
