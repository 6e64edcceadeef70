import request from 'supertest';
import { STATES } from '../../common/enums';
import { OutboxRelay } from '../../common/messaging/outbox-relay';
import { AMQP_URL } from '../support/env';
import { eventually, Listener } from '../support/listener';
import { startTestStack, type TestStack } from '../support/stack';
import { TcpProxy } from '../support/tcp-proxy';

const tagCompose = { source: { type: 'tag', source: 'f40' } };

async function postCompose(t: TestStack): Promise<number> {
  const res = await request(t.app).post('/api/1/composes/').send(tagCompose);
  expect(res.status).toBe(200);
  return res.body.id as number;
}

describe('work and events through the outbox (RabbitMQ)', () => {
  let t: TestStack;
  let work: Listener;
  let events: Listener;

  beforeEach(async () => {
    t = await startTestStack();
    events = await Listener.topic('amq.topic', `${t.cfg.messaging_topic_prefix}.odcs.compose.state-changed`);
  });
  afterEach(async () => {
    await work?.close();
    await events.close();
    await t.close();
  });

  it('puts exactly one work message on the queue for a POSTed compose', async () => {
    const id = await postCompose(t);
    const outbox = await t.s.db.query<{ kind: string }>(`SELECT kind FROM outbox WHERE compose_id = $1 ORDER BY kind`, [id]);
    expect(outbox.map((r) => r.kind)).toEqual(['event', 'work']);

    await t.s.relay.drain();
    work = await Listener.queue(t.cfg.work_queue);
    await work.waitFor((l) => l.deliveries.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(work.bodies()).toEqual([{ compose_id: id }]);
    expect(work.deliveries[0].persistent).toBe(true);
    expect(work.deliveries[0].contentType).toBe('application/json');
    const left = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox`);
    expect(left[0].n).toBe(0);
    // Relaying again publishes nothing more.
    expect(await t.s.relay.drain()).toBe(0);
  });

  it('announces each state change in fedora-messaging format, in order', async () => {
    const id = await postCompose(t);
    const now = new Date();
    await t.s.store.claim(id, 'test-worker', now);
    await t.s.store.transition(id, [STATES.generating], STATES.failed, 'Error while generating compose: boom', now);
    await t.s.relay.drain();
    await events.waitFor((l) => l.deliveries.length >= 3);

    const bodies = events.bodies<{ event: string; compose: Record<string, unknown> }>();
    expect(bodies.map((b) => [b.event, b.compose.id, b.compose.state_name])).toEqual([
      ['state-changed', id, 'wait'],
      ['state-changed', id, 'generating'],
      ['state-changed', id, 'failed'],
    ]);
    expect(bodies[2].compose.state_reason).toBe('Error while generating compose: boom');
    expect(bodies[0].compose).not.toHaveProperty('pungi_config_dump');
    expect(bodies[0].compose.result_repofile).toBe(`http://localhost/odcs/odcs-${id}/compose/Temporary/odcs-${id}.repo`);

    const d = events.deliveries[0];
    expect(d.routingKey).toBe(`${t.cfg.messaging_topic_prefix}.odcs.compose.state-changed`);
    expect(d.contentType).toBe('application/json');
    expect(d.contentEncoding).toBe('utf-8');
    expect(d.persistent).toBe(true);
    expect(d.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(events.deliveries.map((x) => x.messageId)).size).toBe(3);
    expect(d.headers).toMatchObject({ fedora_messaging_schema: 'base.message', fedora_messaging_severity: 20, priority: 0 });
    expect(d.headers['sent-at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
  });

  it('publishes each row once when several relays run at the same time', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push(await postCompose(t));
    const relays = [t.s.relay, new OutboxRelay(t.s.db, t.s.broker, t.cfg, t.s.log, { batchSize: 7 }), new OutboxRelay(t.s.db, t.s.broker, t.cfg, t.s.log, { batchSize: 3 })];
    const counts = await Promise.all(relays.map((r) => r.drain()));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
    work = await Listener.queue(t.cfg.work_queue);
    await work.waitFor((l) => l.deliveries.length >= 30);
    await events.waitFor((l) => l.deliveries.length >= 30);
    await new Promise((r) => setTimeout(r, 300));
    expect(work.bodies<{ compose_id: number }>().map((b) => b.compose_id)).toEqual(ids);
    expect(events.deliveries).toHaveLength(30);
  });
});

describe('a RabbitMQ outage', () => {
  let proxy: TcpProxy;
  let t: TestStack;
  let work: Listener;

  beforeAll(async () => {
    const target = new URL(AMQP_URL);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5672));
    const port = await proxy.up();
    target.port = String(port);
    t = await startTestStack({
      relay: true,
      config: { amqp_url: target.toString() },
      // Short retries, so the test does not wait for the default backoff.
      relayOptions: { backoffMs: 50, maxBackoffMs: 200, pollMs: 100 },
    });
  });
  afterAll(async () => {
    await work?.close();
    await proxy.up();
    await t.close();
    await proxy.down();
  });

  it('loses no compose: POST answers 200 while the broker is down and the work arrives when it is back', async () => {
    await proxy.down();
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push(await postCompose(t));
    for (const id of ids) expect((await t.s.store.get(id))?.state).toBe(STATES.wait);
    await new Promise((r) => setTimeout(r, 500));
    const unsent = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE kind = 'work'`);
    expect(unsent[0].n).toBe(10);

    await proxy.up();
    work = await Listener.queue(t.cfg.work_queue);
    await work.waitFor((l) => l.deliveries.length >= 10, 20000);
    await eventually(async () => {
      const [{ n }] = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox`);
      return n === 0;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(work.bodies<{ compose_id: number }>().map((b) => b.compose_id).sort((a, b) => a - b)).toEqual(ids);
    for (const id of ids) expect((await t.s.store.get(id))?.state).toBe(STATES.wait);
  });
});
