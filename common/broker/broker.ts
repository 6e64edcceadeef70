/**
 * The narrow message-broker interface everything else uses. Two implementations: RabbitMQ
 * (amqplib) for real deployments and an in-process one for the embedded default; both pass the
 * same conformance tests (tests/integration/broker.test.ts).
 */

export interface PublishOptions {
  messageId?: string;
  contentType?: string;
  contentEncoding?: string;
  headers?: Record<string, unknown>;
  /** Survive a broker restart (AMQP delivery_mode 2). */
  persistent?: boolean;
  priority?: number;
}

export interface OutgoingMessage {
  /** '' is the default exchange, which routes to the queue named by the routing key. */
  exchange: string;
  routingKey: string;
  body: Buffer;
  options?: PublishOptions;
}

export interface Delivery {
  body: Buffer;
  routingKey: string;
  messageId?: string;
  headers: Record<string, unknown>;
  contentType?: string;
  contentEncoding?: string;
  persistent: boolean;
  /** True if the broker delivered this message before (to anyone) without an ack. */
  redelivered: boolean;
  ack(): void;
  /** Gives the message back; with requeue it will be delivered again. */
  nack(requeue: boolean): void;
}

export interface Consumer {
  cancel(): Promise<void>;
}

export interface ConsumeOptions {
  /** How many unacknowledged deliveries this consumer may hold at once. */
  prefetch: number;
}

export interface Broker {
  /** Declares a durable queue (idempotent). */
  assertQueue(name: string): Promise<void>;
  /** Declares a durable topic exchange (idempotent); `amq.topic` always exists. */
  assertTopicExchange(name: string): Promise<void>;
  /** Binds `queue` to a topic exchange with a routing pattern (`*` one word, `#` any words). */
  bindQueue(queue: string, exchange: string, pattern: string): Promise<void>;
  /**
   * Publishes the messages in order and resolves once the broker has confirmed every one of
   * them; rejects if any was refused or the connection failed (then some may have been sent).
   */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Delivers messages of `queue` to `handler` until cancelled; survives reconnects. */
  consume(queue: string, options: ConsumeOptions, handler: (d: Delivery) => void): Promise<Consumer>;
  /** Number of ready (not yet delivered) messages in a queue. */
  queueLength(queue: string): Promise<number>;
  deleteQueue(queue: string): Promise<void>;
  close(): Promise<void>;
}

export class BrokerUnavailable extends Error {
  override name = 'BrokerUnavailable';
}

/** Whether `key` matches an AMQP topic binding pattern. */
export function topicMatches(pattern: string, key: string): boolean {
  const p = pattern.split('.');
  const k = key.split('.');
  const match = (i: number, j: number): boolean => {
    if (i === p.length) return j === k.length;
    if (p[i] === '#') {
      for (let n = j; n <= k.length; n++) if (match(i + 1, n)) return true;
      return false;
    }
    if (j === k.length) return false;
    return (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}
