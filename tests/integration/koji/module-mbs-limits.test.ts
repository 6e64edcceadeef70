/**
 * Module composes and an MBS that is not there (issue 10, item 13): with no mbs_url the compose
 * fails at once saying so; a failing MBS holds at most max_slots_per_service of the worker's
 * slots, so `repo` composes still run and a further module compose fails at once naming the limit.
 */
import request from 'supertest';
import { STATES } from '../../../common/enums';
import { buildFixtureRepos, type FixtureRepos } from '../../fixtures/build-repos';
import { recordingServer, type RecordingServer } from '../../servers/misbehaving-http';
import { composeFinished, requestCompose } from '../../support/compose-e2e';
import { eventually } from '../../support/listener';
import { startTestStack, type TestStack } from '../../support/stack';

let fixtures: FixtureRepos;

beforeAll(async () => {
  fixtures = await buildFixtureRepos();
}, 300_000);

describe('no MBS configured', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ worker: true, relay: true });
  });
  afterAll(() => t?.close());

  it('fails a module compose at once, saying MBS is not configured', async () => {
    expect(t.cfg.mbs_url).toBe('');
    const row = await requestCompose(t, { source: { type: 'module', source: 'modapp:1' } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe(
      'Error while generating compose: MBS is not configured on this server: mbs_url must be set (or the compose must give modular_koji_tags).',
    );
  });
});

describe('a failing MBS', () => {
  let t: TestStack;
  let mbs: RecordingServer;
  beforeAll(async () => {
    mbs = await recordingServer((_req, res) => res.writeHead(503, { 'Content-Type': 'text/plain' }).end('down for maintenance'));
    t = await startTestStack({
      worker: true,
      relay: true,
      config: {
        mbs_url: `${mbs.url}/module-build-service`,
        num_concurrent_composes: 2,
        max_slots_per_service: 1,
        net_timeout: 20,
        net_retry_interval: 1,
        allowed_repo_roots: [fixtures.dir],
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await mbs?.close();
  });

  it('holds one slot: a repo compose still completes, a second module compose fails at once naming the limit', async () => {
    const waiting = await request(t.app).post('/api/1/composes/').send({ source: { type: 'module', source: 'modapp:1' } });
    expect(waiting.status).toBe(200);
    // Its second request means it met the failure and waits to retry.
    await eventually(async () => mbs.requests.length >= 2, 30_000, 'the module compose to retry MBS');

    const repo = await requestCompose(t, { source: { type: 'repo', source: fixtures.main, packages: ['app'] }, flags: ['no_deps'] });
    expect(repo.state_reason).toBe('Compose is generated successfully');

    const second = await requestCompose(t, { source: { type: 'module', source: 'modapp:2' } });
    expect(second.state).toBe(STATES.failed);
    expect(second.state_reason).toContain('HTTP 503 Service Unavailable');
    expect(second.state_reason).toContain(`1 compose of this worker already wait on 127.0.0.1:${mbs.port}; max_slots_per_service`);
    // The first one was still waiting on MBS when the second failed.
    expect((await t.s.store.get(waiting.body.id as number))?.state).toBe(STATES.generating);

    const first = await composeFinished(t, waiting.body.id as number, 60_000);
    expect(first.state).toBe(STATES.failed);
    expect(first.state_reason).toMatch(/HTTP 503 Service Unavailable \(gave up after \d+ attempts in/);
  }, 120_000);
});
