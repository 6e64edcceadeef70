/**
 * The embedded default as a real process: its worker runs in a child process the API survives,
 * and its PostgreSQL never outlives it (issue 10, items 3 and 11).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AmqpBroker } from '../../common/broker/amqp-broker';
import { silentLogger } from '../../common/log';
import { postmastersOf, processAlive, workerPids } from '../support/embedded-default';
import { AMQP_URL } from '../support/env';
import { eventually } from '../support/listener';
import { buildDist, freePort, ROOT, ServiceProcess, serviceEnv } from '../support/processes';
import { uniqueName } from '../support/stack';

const getJson = async (url: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

beforeAll(() => buildDist(), 120000);

describe('the embedded default', () => {
  let dir: string;
  let pgDir: string;
  let port: number;
  let app: ServiceProcess | undefined;
  let stranger: ChildProcess | undefined;

  const start = async (): Promise<ServiceProcess> => {
    const p = new ServiceProcess(path.join(ROOT, 'bin', 'odcs-embedded'), [], serviceEnv({ PORT: String(port), ODCS_DATA_DIR: dir }));
    app = p;
    await p.waitFor('worker consuming', 120000);
    return p;
  };
  const base = (): string => `http://127.0.0.1:${port}`;
  const composeOfSample = async (): Promise<Record<string, unknown>> => {
    const res = await fetch(`${base()}/api/1/composes/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: { type: 'repo', source: path.join(dir, 'sample-repo') } }),
    });
    expect(res.status).toBe(200);
    const id = ((await res.json()) as { id: number }).id;
    return eventually(async () => {
      const r = await getJson(`${base()}/api/1/composes/${id}`);
      return r.body.state_name === 'done' || r.body.state_name === 'failed' ? r.body : undefined;
    }, 60000, `compose ${id} to finish`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'odcs-embedded-'));
    // The cluster of a non-root run is <data_dir>/pg (as root it may live elsewhere; then the
    // checks below that look for it by directory are the weaker ones).
    pgDir = path.join(dir, 'pg');
    port = await freePort();
  });
  afterAll(async () => {
    await app?.stop();
    stranger?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the API up when its worker process is killed, and a new worker process takes the work', async () => {
    const p = await start();
    const [first] = workerPids(p.output);
    expect(first).toBeGreaterThan(0);
    expect(first).not.toBe(p.child.pid);

    process.kill(first, 'SIGKILL');
    // The API never went away with it.
    expect((await getJson(`${base()}/api/1/about/`)).status).toBe(200);
    await p.waitFor('worker process died');
    expect(p.output).toContain('"reason":"killed by SIGKILL"');
    await eventually(async () => workerPids(p.output).length === 2 && p.output.split('worker consuming').length === 3, 60000, 'a new worker process');
    expect(workerPids(p.output)[1]).not.toBe(first);

    const compose = await composeOfSample();
    expect(compose.state_reason).toBe('Compose is generated successfully');
    expect(compose.state_name).toBe('done');
  });

  it('leaves no PostgreSQL behind when it is killed, and comes back on the next start', async () => {
    const killed = app as ServiceProcess;
    expect(postmastersOf(pgDir)).toHaveLength(1);
    killed.child.kill('SIGKILL');
    await killed.exited;
    await eventually(async () => postmastersOf(pgDir).length === 0, 30000, 'the orphaned PostgreSQL to stop');
    const worker = workerPids(killed.output).at(-1) as number;
    await eventually(async () => !processAlive(worker), 30000, 'the orphaned worker process to end');

    const again = await start();
    expect(postmastersOf(pgDir)).toHaveLength(1);
    expect((await getJson(`${base()}/api/1/composes/`)).body.meta).toMatchObject({ total: 1 });
    expect(await again.stop()).toBe(0);
    expect(postmastersOf(pgDir)).toEqual([]);
  }, 180000);

  it('removes a stale postmaster.pid whose pid is now another process, without touching that process', async () => {
    stranger = spawn('sleep', ['600'], { stdio: 'ignore' });
    const pid = stranger.pid as number;
    // What a PostgreSQL killed with the machine leaves behind, its pid since reused.
    writeFileSync(path.join(pgDir, 'postmaster.pid'), `${pid}\n${pgDir}\n1700000000\n5432\n\n127.0.0.1\n  1234567     0\nready   \n`);
    const p = await start();
    expect(processAlive(pid)).toBe(true);
    expect(p.output).toContain('not a PostgreSQL of this data dir');
    expect(postmastersOf(pgDir)).toHaveLength(1);
    expect(readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]).toBe(String(postmastersOf(pgDir)[0]));
    expect(await p.stop()).toBe(0);
    expect(postmastersOf(pgDir)).toEqual([]);
  }, 180000);
});

describe('the embedded default with AMQP_URL set', () => {
  it('lets its worker process use RabbitMQ, and stops cleanly', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'odcs-embedded-amqp-'));
    const port = await freePort();
    const queue = uniqueName('odcs.e2e.embedded');
    const env = serviceEnv({ PORT: String(port), ODCS_DATA_DIR: dir, AMQP_URL, ODCS_WORK_QUEUE: queue, ODCS_MESSAGING_TOPIC_PREFIX: uniqueName('e2e') });
    const p = new ServiceProcess(path.join(ROOT, 'bin', 'odcs-embedded'), [], env);
    try {
      await p.waitFor('worker consuming', 120000);
      const res = await fetch(`http://127.0.0.1:${port}/api/1/composes/`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ source: { type: 'repo', source: path.join(dir, 'sample-repo') } }),
      });
      const { id } = (await res.json()) as { id: number };
      const done = await eventually(async () => {
        const r = await getJson(`http://127.0.0.1:${port}/api/1/composes/${id}`);
        return r.body.state_name === 'done' || r.body.state_name === 'failed' ? r.body : undefined;
      }, 60000, 'the compose to finish');
      expect(done.state_name).toBe('done');
      expect(await p.stop()).toBe(0);
      expect(postmastersOf(path.join(dir, 'pg'))).toEqual([]);
    } finally {
      await p.stop();
      const broker = new AmqpBroker(AMQP_URL, silentLogger());
      await broker.deleteQueue(queue).catch(() => undefined);
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180000);
});
