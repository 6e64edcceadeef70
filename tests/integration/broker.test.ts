import { AmqpBroker } from '../../common/broker/amqp-broker';
import type { Broker, Delivery, OutgoingMessage } from '../../common/broker/broker';
import { topicMatches } from '../../common/broker/broker';
import { IpcBroker, serveBrokerToChild } from '../../common/broker/ipc-broker';
import { MemoryBroker } from '../../common/broker/memory-broker';
import { silentLogger } from '../../common/log';
import { AMQP_URL } from '../support/env';
import { ipcPair } from '../support/ipc-pair';
import { uniqueName } from '../support/stack';

/** One conformance suite, run against both implementations of the Broker interface. */
const implementations: Array<[string, () => Broker]> = [
  ['RabbitMQ', () => new AmqpBroker(AMQP_URL, silentLogger(), { reconnectDelayMs: 100 })],
  ['in-process', () => new MemoryBroker()],
  [
    // The embedded default's worker process, on its parent's in-process broker.
    'in-process over IPC',
    () => {
      const { parent, child } = ipcPair();
      serveBrokerToChild(new MemoryBroker(), parent);
      return new IpcBroker(child);
    },
  ],
];

const msg = (queue: string, text: string, headers: Record<string, unknown> = {}): OutgoingMessage => ({
  exchange: '',
  routingKey: queue,
  body: Buffer.from(text),
  options: { messageId: text, contentType: 'text/plain', persistent: true, headers },
});

/** Collects deliveries; `next(n)` waits until n have arrived. */
function collector() {
  const got: Delivery[] = [];
  const waiters: Array<() => void> = [];
  return {
    got,
    handler: (d: Delivery) => {
      got.push(d);
      waiters.splice(0).forEach((w) => w());
    },
    async next(n: number, timeoutMs = 5000): Promise<Delivery[]> {
      const deadline = Date.now() + timeoutMs;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} deliveries, got ${got.length}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return got.slice(0, n);
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 200));

describe.each(implementations)('%s broker', (_name, make) => {
  let broker: Broker;
  let queue: string;
  beforeEach(async () => {
    broker = make();
    queue = uniqueName('odcs.test.broker');
    await broker.assertQueue(queue);
  });
  afterEach(async () => {
    await broker.deleteQueue(queue).catch(() => undefined);
    await broker.close();
  });

  it('delivers in order with the properties that were published', async () => {
    await broker.publish([msg(queue, 'a', { x: 1 }), msg(queue, 'b'), msg(queue, 'c')]);
    const c = collector();
    await broker.consume(queue, { prefetch: 10 }, c.handler);
    const got = await c.next(3);
    expect(got.map((d) => d.body.toString())).toEqual(['a', 'b', 'c']);
    expect(got[0]).toMatchObject({ messageId: 'a', contentType: 'text/plain', persistent: true, redelivered: false });
    expect(got[0].headers).toMatchObject({ x: 1 });
    got.forEach((d) => d.ack());
    await settle();
    expect(await broker.queueLength(queue)).toBe(0);
  });

  it('never hands a consumer more than its prefetch of unacked messages', async () => {
    await broker.publish(['1', '2', '3', '4'].map((t) => msg(queue, t)));
    const c = collector();
    await broker.consume(queue, { prefetch: 2 }, c.handler);
    await c.next(2);
    await settle();
    expect(c.got).toHaveLength(2);
    c.got[0].ack();
    await c.next(3);
    await settle();
    expect(c.got).toHaveLength(3);
  });

  it('redelivers a nacked message, marked as redelivered', async () => {
    await broker.publish([msg(queue, 'x')]);
    const c = collector();
    await broker.consume(queue, { prefetch: 1 }, c.handler);
    const [first] = await c.next(1);
    first.nack(true);
    const [, second] = await c.next(2);
    expect(second.body.toString()).toBe('x');
    expect(second.redelivered).toBe(true);
    second.ack();
  });

  it('gives unacked messages of a cancelled consumer to the next one', async () => {
    await broker.publish([msg(queue, 'y')]);
    const a = collector();
    const consumerA = await broker.consume(queue, { prefetch: 1 }, a.handler);
    await a.next(1);
    await consumerA.cancel();
    const b = collector();
    await broker.consume(queue, { prefetch: 1 }, b.handler);
    const [d] = await b.next(1);
    expect(d.body.toString()).toBe('y');
    expect(d.redelivered).toBe(true);
    d.ack();
  });

  it('routes topic exchange messages by binding pattern', async () => {
    const prefix = uniqueName('t');
    await broker.bindQueue(queue, 'amq.topic', `${prefix}.odcs.#`);
    await broker.publish([
      { exchange: 'amq.topic', routingKey: `${prefix}.odcs.compose.state-changed`, body: Buffer.from('1') },
      { exchange: 'amq.topic', routingKey: `${prefix}.other.thing`, body: Buffer.from('2') },
    ]);
    const c = collector();
    await broker.consume(queue, { prefetch: 5 }, c.handler);
    await c.next(1);
    await settle();
    expect(c.got.map((d) => d.body.toString())).toEqual(['1']);
    expect(c.got[0].routingKey).toBe(`${prefix}.odcs.compose.state-changed`);
  });
});

describe('topic patterns', () => {
  it.each([
    ['a.b.c', 'a.b.c', true],
    ['a.*.c', 'a.b.c', true],
    ['a.*', 'a.b.c', false],
    ['a.#', 'a.b.c', true],
    ['#', 'x', true],
    ['#.c', 'a.b.c', true],
    ['a.#.c', 'a.c', true],
    ['a.b', 'a.b.c', false],
  ])('%s matches %s: %s', (pattern, key, expected) => {
    expect(topicMatches(pattern, key)).toBe(expected);
  });
});
