import type { Broker, ConsumeOptions, Consumer, Delivery, OutgoingMessage } from './broker';

/**
 * The embedded default runs its worker and beat in a child process (so a compose that eats
 * memory or the CPU cannot take the API down), while the in-process broker lives in the parent.
 * This is the Broker interface carried over the child's IPC channel: `IpcBroker` in the child,
 * `serveBrokerToChild` in the parent over the parent's real broker. Bodies travel as base64
 * because the channel speaks JSON. When the child dies, its consumers are cancelled, so the
 * broker redelivers whatever it held unacknowledged, as RabbitMQ does for a lost connection.
 */

/** Every message of ours on the channel carries this tag, so other IPC traffic is left alone. */
const TAG = 'odcs-broker';

interface WireOutgoing {
  exchange: string;
  routingKey: string;
  body: string;
  options?: OutgoingMessage['options'];
}

interface WireDelivery {
  body: string;
  routingKey: string;
  messageId?: string;
  headers: Record<string, unknown>;
  contentType?: string;
  contentEncoding?: string;
  persistent: boolean;
  redelivered: boolean;
}

type Call =
  | { method: 'assertQueue'; name: string }
  | { method: 'assertTopicExchange'; name: string }
  | { method: 'bindQueue'; queue: string; exchange: string; pattern: string }
  | { method: 'publish'; messages: WireOutgoing[] }
  | { method: 'consume'; queue: string; options: ConsumeOptions; consumer: number }
  | { method: 'cancel'; consumer: number }
  | { method: 'queueLength'; queue: string }
  | { method: 'deleteQueue'; queue: string };

type ToParent =
  | { tag: typeof TAG; type: 'call'; id: number; call: Call }
  | { tag: typeof TAG; type: 'settle'; delivery: number; ack: boolean; requeue: boolean };

type ToChild =
  | { tag: typeof TAG; type: 'reply'; id: number; ok: true; value?: number }
  | { tag: typeof TAG; type: 'reply'; id: number; ok: false; error: string }
  | { tag: typeof TAG; type: 'deliver'; consumer: number; delivery: number; message: WireDelivery };

function isOurs<T extends { tag: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && (m as { tag?: unknown }).tag === TAG;
}

/** One end of an IPC channel: `process` in the child, the ChildProcess in the parent. */
export interface IpcChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (m: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (m: unknown) => void): unknown;
  connected?: boolean;
}

/** The child's side: a Broker whose every operation runs on the parent's broker. */
export class IpcBroker implements Broker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: number | undefined) => void; reject: (e: Error) => void }>();
  private readonly handlers = new Map<number, (d: Delivery) => void>();
  private closed = false;

  constructor(private readonly channel: IpcChannel = process as unknown as IpcChannel) {
    if (!channel.send) throw new Error('IpcBroker needs a process started with an IPC channel');
    channel.on('message', this.onMessage);
    channel.on('disconnect', () => this.failAll(new Error('the IPC channel to the parent process closed')));
  }

  async assertQueue(name: string): Promise<void> {
    await this.call({ method: 'assertQueue', name });
  }

  async assertTopicExchange(name: string): Promise<void> {
    await this.call({ method: 'assertTopicExchange', name });
  }

  async bindQueue(queue: string, exchange: string, pattern: string): Promise<void> {
    await this.call({ method: 'bindQueue', queue, exchange, pattern });
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    const wire = messages.map((m) => ({ exchange: m.exchange, routingKey: m.routingKey, body: m.body.toString('base64'), options: m.options }));
    await this.call({ method: 'publish', messages: wire });
  }

  async consume(queue: string, options: ConsumeOptions, handler: (d: Delivery) => void): Promise<Consumer> {
    const consumer = this.nextId++;
    this.handlers.set(consumer, handler);
    try {
      await this.call({ method: 'consume', queue, options, consumer });
    } catch (err) {
      this.handlers.delete(consumer);
      throw err;
    }
    return {
      cancel: async () => {
        if (!this.handlers.delete(consumer)) return;
        if (!this.closed) await this.call({ method: 'cancel', consumer });
      },
    };
  }

  async queueLength(queue: string): Promise<number> {
    return (await this.call({ method: 'queueLength', queue })) ?? 0;
  }

  async deleteQueue(queue: string): Promise<void> {
    await this.call({ method: 'deleteQueue', queue });
  }

  /** Cancels this process's consumers; the parent's broker stays open for the others. */
  async close(): Promise<void> {
    const consumers = [...this.handlers.keys()];
    this.handlers.clear();
    if (this.channel.connected !== false) {
      await Promise.all(consumers.map((consumer) => this.call({ method: 'cancel', consumer }).catch(() => undefined)));
    }
    this.closed = true;
    this.channel.off('message', this.onMessage);
    this.failAll(new Error('broker closed'));
  }

  private call(call: Call): Promise<number | undefined> {
    if (this.closed) return Promise.reject(new Error('broker closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ tag: TAG, type: 'call', id, call }, (err) => {
        this.pending.delete(id);
        reject(err);
      });
    });
  }

  private send(message: ToParent, onError: (err: Error) => void): void {
    if (this.channel.connected === false) {
      onError(new Error('the IPC channel to the parent process is closed'));
      return;
    }
    try {
      // A false return means "queued behind others", not lost.
      this.channel.send?.(message);
    } catch (err) {
      onError(err as Error);
    }
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private readonly onMessage = (m: unknown): void => {
    if (!isOurs<ToChild>(m)) return;
    if (m.type === 'reply') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
      return;
    }
    const handler = this.handlers.get(m.consumer);
    const settle = (ack: boolean, requeue: boolean): void => this.send({ tag: TAG, type: 'settle', delivery: m.delivery, ack, requeue }, () => {});
    if (!handler) {
      // Delivered while our cancel was on its way: give it straight back.
      settle(false, true);
      return;
    }
    const w = m.message;
    handler({
      body: Buffer.from(w.body, 'base64'),
      routingKey: w.routingKey,
      messageId: w.messageId,
      headers: w.headers,
      contentType: w.contentType,
      contentEncoding: w.contentEncoding,
      persistent: w.persistent,
      redelivered: w.redelivered,
      ack: () => settle(true, false),
      nack: (requeue) => settle(false, requeue),
    });
  };
}

/** The parent's side for one child; `detach()` when the child is gone. */
export interface ServedChild {
  /** Cancels the child's consumers (their unacked messages are redelivered) and stops listening. */
  detach(): Promise<void>;
}

/** Answers the calls of `child`'s IpcBroker on `broker`, and passes it its deliveries. */
export function serveBrokerToChild(broker: Broker, child: IpcChannel): ServedChild {
  const consumers = new Map<number, Consumer>();
  const deliveries = new Map<number, Delivery>();
  let nextDelivery = 1;
  let detached = false;
  const send = (m: ToChild): void => {
    if (detached || !child.connected) return;
    try {
      child.send?.(m);
    } catch {
      // The child is going away; its exit detaches it and its messages are redelivered.
    }
  };

  const run = async (call: Call): Promise<number | undefined> => {
    switch (call.method) {
      case 'assertQueue':
        return void (await broker.assertQueue(call.name));
      case 'assertTopicExchange':
        return void (await broker.assertTopicExchange(call.name));
      case 'bindQueue':
        return void (await broker.bindQueue(call.queue, call.exchange, call.pattern));
      case 'publish':
        return void (await broker.publish(
          call.messages.map((m) => ({ exchange: m.exchange, routingKey: m.routingKey, body: Buffer.from(m.body, 'base64'), options: m.options })),
        ));
      case 'consume': {
        const consumer = await broker.consume(call.queue, call.options, (d) => {
          const tag = nextDelivery++;
          deliveries.set(tag, d);
          const { body, ack: _ack, nack: _nack, ...rest } = d;
          send({ tag: TAG, type: 'deliver', consumer: call.consumer, delivery: tag, message: { ...rest, body: body.toString('base64') } });
        });
        if (detached) await consumer.cancel();
        else consumers.set(call.consumer, consumer);
        return undefined;
      }
      case 'cancel': {
        const consumer = consumers.get(call.consumer);
        consumers.delete(call.consumer);
        await consumer?.cancel();
        return undefined;
      }
      case 'queueLength':
        return broker.queueLength(call.queue);
      case 'deleteQueue':
        return void (await broker.deleteQueue(call.queue));
    }
  };

  const onMessage = (m: unknown): void => {
    if (!isOurs<ToParent>(m)) return;
    if (m.type === 'settle') {
      const d = deliveries.get(m.delivery);
      deliveries.delete(m.delivery);
      if (m.ack) d?.ack();
      else d?.nack(m.requeue);
      return;
    }
    run(m.call).then(
      (value) => send({ tag: TAG, type: 'reply', id: m.id, ok: true, value }),
      (err: unknown) => send({ tag: TAG, type: 'reply', id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  };
  child.on('message', onMessage);

  return {
    async detach() {
      if (detached) return;
      detached = true;
      child.off('message', onMessage);
      const all = [...consumers.values()];
      consumers.clear();
      deliveries.clear();
      await Promise.all(all.map((c) => c.cancel().catch(() => undefined)));
    },
  };
}
