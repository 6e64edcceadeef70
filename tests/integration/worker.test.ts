import request from 'supertest';
import { AmqpBroker } from '../../common/broker/amqp-broker';
import { STATES } from '../../common/enums';
import { silentLogger } from '../../common/log';
import { AMQP_URL } from '../support/env';
import { eventually, Listener } from '../support/listener';
import { startTestStack, type TestStack } from '../support/stack';

describe('the worker skeleton', () => {
  let t: TestStack;
  let events: Listener;
  const publisher = new AmqpBroker(AMQP_URL, silentLogger());

  beforeAll(async () => {
    t = await startTestStack({ worker: true, relay: true });
    events = await Listener.topic('amq.topic', `${t.cfg.messaging_topic_prefix}.odcs.compose.state-changed`);
  });
  afterAll(async () => {
    await events.close();
    await publisher.close();
    await t.close();
  });

  const stateNames = (id: number): string[] =>
    events
      .bodies<{ compose: { id: number; state_name: string } }>()
      .filter((b) => b.compose.id === id)
      .map((b) => b.compose.state_name);

  const queueEmpty = async (): Promise<boolean> => (await publisher.queueLength(t.cfg.work_queue)) === 0 && t.worker?.busy.length === 0;

  it('fails a compose of a source type it cannot build yet, with a clear reason', async () => {
    const res = await request(t.app).post('/api/1/composes/').send({ source: { type: 'pulp', source: 'content-set-1' } });
    const id = res.body.id as number;
    const row = await eventually(async () => {
      const r = await t.s.store.get(id);
      return r?.state === STATES.failed ? r : undefined;
    });
    expect(row.state_reason).toBe('Error while generating compose: Source type "pulp" is not supported by this server yet.');
    expect(row.time_started).not.toBeNull();
    expect(row.time_done).toBeNull();
    expect(row.worker).toBe(t.worker?.name);
    await events.waitFor(() => stateNames(id).length >= 3);
    expect(stateNames(id)).toEqual(['wait', 'generating', 'failed']);
  });

  it('claims nothing on a duplicate delivery of the same work message', async () => {
    const res = await request(t.app).post('/api/1/composes/').send({ source: { type: 'pulp', source: 'content-set-41' } });
    const id = res.body.id as number;
    await eventually(async () => (await t.s.store.get(id))?.state === STATES.failed);
    const before = await t.s.store.get(id);
    // The same message again, twice, as a broker redelivery or a re-publishing beat would send it.
    const body = Buffer.from(JSON.stringify({ compose_id: id }));
    await publisher.publish([
      { exchange: '', routingKey: t.cfg.work_queue, body },
      { exchange: '', routingKey: t.cfg.work_queue, body },
    ]);
    await eventually(queueEmpty, 10000, 'the queue to drain');
    await new Promise((r) => setTimeout(r, 300));
    expect(await t.s.store.get(id)).toEqual(before);
    expect(before?.attempts).toBe(1);
    expect(stateNames(id)).toEqual(['wait', 'generating', 'failed']);
  });

  it('acks malformed work messages and messages for unknown composes, and keeps working', async () => {
    await publisher.publish([
      { exchange: '', routingKey: t.cfg.work_queue, body: Buffer.from('not json') },
      { exchange: '', routingKey: t.cfg.work_queue, body: Buffer.from('{"compose_id": "7"}') },
      { exchange: '', routingKey: t.cfg.work_queue, body: Buffer.from('{"compose_id": 999999}') },
    ]);
    // With prefetch 2, unacked garbage would leave the worker no room for the next compose.
    const res = await request(t.app).post('/api/1/composes/').send({ source: { type: 'pulp', source: 'content-set-43' } });
    await eventually(async () => (await t.s.store.get(res.body.id))?.state === STATES.failed, 10000, 'the next compose');
    await eventually(queueEmpty, 10000, 'the queue to drain');
    const [{ n }] = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM composes WHERE state = ${STATES.generating}`);
    expect(n).toBe(0);
  });

  it('does not touch a compose that left wait before its message arrived', async () => {
    const res = await request(t.app).post('/api/1/composes/').send({ source: { type: 'pulp', source: 'content-set-42' } });
    const id = res.body.id as number;
    await eventually(async () => (await t.s.store.get(id))?.state === STATES.failed);
    await request(t.app).delete(`/api/1/composes/${id}`).expect(202);
    const before = await t.s.store.get(id);
    await publisher.publish([{ exchange: '', routingKey: t.cfg.work_queue, body: Buffer.from(JSON.stringify({ compose_id: id })) }]);
    await eventually(queueEmpty, 10000, 'the queue to drain');
    expect(await t.s.store.get(id)).toEqual(before);
  });
});
