import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { Logger } from '../log';
import { type Broker, BrokerUnavailable, type ConsumeOptions, type Consumer, type Delivery, type OutgoingMessage } from './broker';

interface ConsumerState {
  queue: string;
  prefetch: number;
  handler: (d: Delivery) => void;
  channel?: Channel;
  cancelled: boolean;
}

export interface AmqpBrokerOptions {
  /** Delay before reconnecting after the connection was lost (ms). */
  reconnectDelayMs?: number;
  /** Give up waiting for publisher confirms after this long (ms); the relay then retries. */
  confirmTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * RabbitMQ through amqplib. One connection per process, re-established on demand for
 * publishing and in the background for consumers; durable queues, persistent messages and
 * publisher confirms so that a confirmed message survives a broker restart.
 */
export class AmqpBroker implements Broker {
  private conn?: ChannelModel;
  private connecting?: Promise<ChannelModel>;
  private confirmChannel?: Promise<ConfirmChannel>;
  private readonly consumers = new Set<ConsumerState>();
  private reconnectTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly reconnectDelayMs: number;
  private readonly confirmTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    options: AmqpBrokerOptions = {},
  ) {
    this.reconnectDelayMs = options.reconnectDelayMs ?? 1000;
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 15000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  }

  private connection(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new BrokerUnavailable('broker connection closed'));
    if (this.conn) return Promise.resolve(this.conn);
    if (!this.connecting) {
      this.connecting = this.open().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private async open(): Promise<ChannelModel> {
    let conn: ChannelModel;
    try {
      conn = await amqp.connect(this.url, { timeout: this.connectTimeoutMs });
    } catch (err) {
      throw new BrokerUnavailable(`cannot connect to RabbitMQ: ${(err as Error).message}`);
    }
    if (this.closed) {
      await conn.close().catch(() => undefined);
      throw new BrokerUnavailable('broker connection closed');
    }
    conn.on('error', (err: Error) => this.log.warn({ err: err.message }, 'RabbitMQ connection error'));
    conn.on('blocked', (reason: string) => this.log.warn({ reason }, 'RabbitMQ blocked the connection'));
    conn.on('close', () => this.onConnectionClosed(conn));
    this.conn = conn;
    this.log.info('connected to RabbitMQ');
    for (const state of this.consumers) this.startConsumer(conn, state).catch((err) => this.consumerFailed(state, err));
    return conn;
  }

  private onConnectionClosed(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.confirmChannel = undefined;
    for (const state of this.consumers) state.channel = undefined;
    if (!this.closed) {
      this.log.warn('lost the RabbitMQ connection');
      if (this.consumers.size > 0) this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connection().catch((err) => {
        this.log.debug({ err: (err as Error).message }, 'RabbitMQ reconnect failed');
        this.scheduleReconnect();
      });
    }, this.reconnectDelayMs);
  }

  private consumerFailed(state: ConsumerState, err: unknown): void {
    this.log.warn({ queue: state.queue, err: (err as Error).message }, 'consumer could not start');
    state.channel = undefined;
    // A channel-level failure leaves the connection up; retry this consumer on its own.
    if (!state.cancelled && !this.closed) {
      setTimeout(() => {
        if (state.cancelled || this.closed || state.channel) return;
        this.connection()
          .then((conn) => this.startConsumer(conn, state))
          .catch((e) => this.consumerFailed(state, e));
      }, this.reconnectDelayMs);
    }
  }

  private async startConsumer(conn: ChannelModel, state: ConsumerState): Promise<void> {
    if (state.cancelled) return;
    const channel = await conn.createChannel();
    state.channel = channel;
    channel.on('error', (err: Error) => this.log.warn({ queue: state.queue, err: err.message }, 'consumer channel error'));
    channel.on('close', () => {
      if (state.channel === channel) {
        state.channel = undefined;
        if (!state.cancelled && !this.closed && this.conn === conn) this.consumerFailed(state, new Error('channel closed'));
      }
    });
    await channel.assertQueue(state.queue, { durable: true });
    await channel.prefetch(state.prefetch);
    await channel.consume(
      state.queue,
      (msg: ConsumeMessage | null) => {
        if (!msg) return; // cancelled by the broker (queue deleted); the close handler restarts us
        state.handler(this.toDelivery(channel, msg));
      },
      { noAck: false },
    );
  }

  private toDelivery(channel: Channel, msg: ConsumeMessage): Delivery {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      try {
        fn();
      } catch (err) {
        // The channel is gone; the broker redelivers the message to someone else.
        this.log.debug({ err: (err as Error).message }, 'could not settle a delivery');
      }
    };
    const p = msg.properties;
    return {
      body: msg.content,
      routingKey: msg.fields.routingKey,
      messageId: p.messageId ?? undefined,
      headers: (p.headers ?? {}) as Record<string, unknown>,
      contentType: p.contentType ?? undefined,
      contentEncoding: p.contentEncoding ?? undefined,
      persistent: p.deliveryMode === 2,
      redelivered: msg.fields.redelivered,
      ack: () => settle(() => channel.ack(msg)),
      nack: (requeue) => settle(() => channel.nack(msg, false, requeue)),
    };
  }

  private async withChannel<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const conn = await this.connection();
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async assertQueue(name: string): Promise<void> {
    await this.withChannel((ch) => ch.assertQueue(name, { durable: true }));
  }

  async assertTopicExchange(name: string): Promise<void> {
    await this.withChannel((ch) => ch.assertExchange(name, 'topic', { durable: true }));
  }

  async bindQueue(queue: string, exchange: string, pattern: string): Promise<void> {
    await this.withChannel(async (ch) => {
      await ch.assertQueue(queue, { durable: true });
      await ch.bindQueue(queue, exchange, pattern);
    });
  }

  private getConfirmChannel(): Promise<ConfirmChannel> {
    if (!this.confirmChannel) {
      const p = this.connection().then(async (conn) => {
        const ch = await conn.createConfirmChannel();
        ch.on('error', (err: Error) => this.log.warn({ err: err.message }, 'publish channel error'));
        ch.on('close', () => {
          if (this.confirmChannel === p) this.confirmChannel = undefined;
        });
        return ch;
      });
      this.confirmChannel = p;
      p.catch(() => {
        if (this.confirmChannel === p) this.confirmChannel = undefined;
      });
    }
    return this.confirmChannel;
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const ch = await this.getConfirmChannel();
    const confirmations = messages.map(
      (m) =>
        new Promise<void>((resolve, reject) => {
          const o = m.options ?? {};
          try {
            ch.publish(
              m.exchange,
              m.routingKey,
              m.body,
              {
                messageId: o.messageId,
                contentType: o.contentType,
                contentEncoding: o.contentEncoding,
                headers: o.headers,
                persistent: o.persistent ?? true,
                priority: o.priority,
              },
              (err: unknown) => (err ? reject(new BrokerUnavailable(`RabbitMQ refused a message: ${String(err)}`)) : resolve()),
            );
          } catch (err) {
            reject(new BrokerUnavailable(`cannot publish: ${(err as Error).message}`));
          }
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BrokerUnavailable('RabbitMQ did not confirm in time')), this.confirmTimeoutMs);
    });
    try {
      await Promise.race([Promise.all(confirmations), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async consume(queue: string, options: ConsumeOptions, handler: (d: Delivery) => void): Promise<Consumer> {
    const state: ConsumerState = { queue, prefetch: Math.max(1, options.prefetch), handler, cancelled: false };
    this.consumers.add(state);
    try {
      const conn = await this.connection();
      await this.startConsumer(conn, state);
    } catch (err) {
      // Not fatal: the consumer starts as soon as the broker can be reached.
      this.log.warn({ queue, err: (err as Error).message }, 'RabbitMQ unavailable; consumer will start when it is back');
      this.scheduleReconnect();
    }
    return {
      cancel: async () => {
        state.cancelled = true;
        this.consumers.delete(state);
        const ch = state.channel;
        state.channel = undefined;
        // Closing the channel returns its unacked messages to the queue.
        if (ch) await ch.close().catch(() => undefined);
      },
    };
  }

  async queueLength(queue: string): Promise<number> {
    return this.withChannel(async (ch) => (await ch.checkQueue(queue)).messageCount);
  }

  async deleteQueue(queue: string): Promise<void> {
    await this.withChannel((ch) => ch.deleteQueue(queue));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const state of this.consumers) state.cancelled = true;
    this.consumers.clear();
    const conn = this.conn ?? (await this.connecting?.catch(() => undefined));
    this.conn = undefined;
    if (conn) await conn.close().catch(() => undefined);
  }
}
