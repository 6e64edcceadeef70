import { AmqpBroker } from '../../common/broker/amqp-broker';
import type { Broker, Consumer, Delivery } from '../../common/broker/broker';
import { silentLogger } from '../../common/log';
import { AMQP_URL } from './env';
import { uniqueName } from './stack';

/**
 * Reads messages from RabbitMQ the way an outside consumer would: its own connection and a
 * queue of its own (bound to a topic exchange, or an existing work queue).
 */
export class Listener {
  readonly deliveries: Delivery[] = [];
  private consumer?: Consumer;
  private ownQueue?: string;

  private constructor(private readonly broker: Broker) {}

  /** Listens on a fresh queue bound to `exchange` with `pattern`. */
  static async topic(exchange: string, pattern: string): Promise<Listener> {
    const l = new Listener(new AmqpBroker(AMQP_URL, silentLogger(), { reconnectDelayMs: 100 }));
    l.ownQueue = uniqueName('odcs.test.listener');
    await l.broker.bindQueue(l.ownQueue, exchange, pattern);
    await l.start(l.ownQueue);
    return l;
  }

  /** Consumes (and acks) what arrives on an existing queue. */
  static async queue(name: string): Promise<Listener> {
    const l = new Listener(new AmqpBroker(AMQP_URL, silentLogger(), { reconnectDelayMs: 100 }));
    await l.start(name);
    return l;
  }

  private async start(queue: string): Promise<void> {
    this.consumer = await this.broker.consume(queue, { prefetch: 100 }, (d) => {
      this.deliveries.push(d);
      d.ack();
    });
  }

  /** Decoded JSON bodies received so far. */
  bodies<T = Record<string, unknown>>(): T[] {
    return this.deliveries.map((d) => JSON.parse(d.body.toString('utf8')) as T);
  }

  /** Waits until `predicate` holds for what has arrived (polling), or fails after `timeoutMs`. */
  async waitFor(predicate: (l: Listener) => boolean, timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) throw new Error(`timed out; received ${this.deliveries.length} message(s)`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    await this.consumer?.cancel();
    if (this.ownQueue) await this.broker.deleteQueue(this.ownQueue).catch(() => undefined);
    await this.broker.close();
  }
}

/** Waits until `check` resolves truthy (polling), e.g. for a compose to reach a state. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
