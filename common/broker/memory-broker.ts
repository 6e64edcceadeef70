import {
  type Broker,
  type ConsumeOptions,
  type Consumer,
  type Delivery,
  type OutgoingMessage,
  topicMatches,
} from './broker';

interface StoredMessage {
  message: OutgoingMessage;
  redelivered: boolean;
}

interface MemoryConsumer {
  prefetch: number;
  unacked: Set<StoredMessage>;
  handler: (d: Delivery) => void;
  active: boolean;
}

interface MemoryQueue {
  ready: StoredMessage[];
  consumers: MemoryConsumer[];
  next: number;
}

/**
 * An in-process broker with RabbitMQ's semantics for what we use: durable queues, the default
 * exchange, topic exchanges with bindings, prefetch, ack/nack, redelivery of unacked messages
 * when a consumer goes away. It keeps nothing across restarts; the database is the truth and
 * the beat re-queues `wait` composes, so the embedded default loses no work with it.
 */
export class MemoryBroker implements Broker {
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly bindings = new Map<string, Array<{ queue: string; pattern: string }>>([['amq.topic', []]]);
  private closed = false;

  private queue(name: string): MemoryQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = { ready: [], consumers: [], next: 0 };
      this.queues.set(name, q);
    }
    return q;
  }

  async assertQueue(name: string): Promise<void> {
    this.queue(name);
  }

  async assertTopicExchange(name: string): Promise<void> {
    if (!this.bindings.has(name)) this.bindings.set(name, []);
  }

  async bindQueue(queue: string, exchange: string, pattern: string): Promise<void> {
    this.queue(queue);
    await this.assertTopicExchange(exchange);
    this.bindings.get(exchange)?.push({ queue, pattern });
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('broker closed');
    for (const message of messages) {
      const targets =
        message.exchange === ''
          ? this.queues.has(message.routingKey)
            ? [message.routingKey]
            : []
          : [...new Set((this.bindings.get(message.exchange) ?? []).filter((b) => topicMatches(b.pattern, message.routingKey)).map((b) => b.queue))];
      // Like RabbitMQ without the mandatory flag, an unroutable message is dropped.
      for (const name of targets) this.queue(name).ready.push({ message: { ...message, body: Buffer.from(message.body) }, redelivered: false });
      for (const name of targets) this.dispatchSoon(name);
    }
  }

  async consume(queueName: string, options: ConsumeOptions, handler: (d: Delivery) => void): Promise<Consumer> {
    const q = this.queue(queueName);
    const consumer: MemoryConsumer = { prefetch: Math.max(1, options.prefetch), unacked: new Set(), handler, active: true };
    q.consumers.push(consumer);
    this.dispatchSoon(queueName);
    return {
      cancel: async () => {
        if (!consumer.active) return;
        consumer.active = false;
        q.consumers = q.consumers.filter((c) => c !== consumer);
        // Unacked messages go back to the front of the queue, marked as redelivered.
        const back = [...consumer.unacked].map((m) => ({ ...m, redelivered: true }));
        consumer.unacked.clear();
        q.ready.unshift(...back);
        this.dispatchSoon(queueName);
      },
    };
  }

  async queueLength(queue: string): Promise<number> {
    return this.queues.get(queue)?.ready.length ?? 0;
  }

  async deleteQueue(queue: string): Promise<void> {
    this.queues.delete(queue);
    for (const list of this.bindings.values()) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i].queue === queue) list.splice(i, 1);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queues.clear();
  }

  private dispatchSoon(name: string): void {
    // Deliver asynchronously, as a real broker does, so publishers never run handlers inline.
    setImmediate(() => this.dispatch(name));
  }

  private dispatch(name: string): void {
    const q = this.queues.get(name);
    if (!q) return;
    while (q.ready.length > 0) {
      const free = q.consumers.filter((c) => c.active && c.unacked.size < c.prefetch);
      if (free.length === 0) return;
      const consumer = free[q.next++ % free.length];
      const stored = q.ready.shift() as StoredMessage;
      consumer.unacked.add(stored);
      let settled = false;
      const settle = (requeue: boolean): void => {
        if (settled || !consumer.unacked.has(stored)) return;
        settled = true;
        consumer.unacked.delete(stored);
        if (requeue) q.ready.unshift({ ...stored, redelivered: true });
        this.dispatchSoon(name);
      };
      const o = stored.message.options ?? {};
      const delivery: Delivery = {
        body: stored.message.body,
        routingKey: stored.message.routingKey,
        messageId: o.messageId,
        headers: o.headers ?? {},
        contentType: o.contentType,
        contentEncoding: o.contentEncoding,
        persistent: o.persistent ?? false,
        redelivered: stored.redelivered,
        ack: () => settle(false),
        nack: (requeue) => settle(requeue),
      };
      try {
        consumer.handler(delivery);
      } catch {
        settle(true);
      }
    }
  }
}
