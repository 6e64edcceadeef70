import type { OutgoingMessage } from '../broker/broker';

/** fedora-messaging severities (its `message.py`). */
export const SEVERITY = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40 } as const;

/** `sent-at` as fedora-messaging writes it: UTC ISO 8601, no fraction, `+00:00`. */
export function sentAtHeader(d: Date): string {
  return `${d.toISOString().slice(0, 19)}+00:00`;
}

export interface FedoraMessage {
  exchange: string;
  /** The topic; the routing key is `<prefix>.<topic>` when a prefix is configured. */
  topic: string;
  topicPrefix: string;
  body: Record<string, unknown>;
  messageId: string;
  sentAt: Date;
  severity?: number;
}

/**
 * A message in fedora-messaging's wire format (docs/api/wire-format.rst): JSON body, the base
 * schema (ODCS publishes with no schema class of its own), severity, sent-at and priority headers,
 * persistent delivery.
 */
export function fedoraMessage(m: FedoraMessage): OutgoingMessage {
  return {
    exchange: m.exchange,
    routingKey: m.topicPrefix ? `${m.topicPrefix}.${m.topic}` : m.topic,
    body: Buffer.from(JSON.stringify(m.body), 'utf8'),
    options: {
      messageId: m.messageId,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      persistent: true,
      headers: {
        fedora_messaging_schema: 'base.message',
        fedora_messaging_severity: m.severity ?? SEVERITY.INFO,
        'sent-at': sentAtHeader(m.sentAt),
        priority: 0,
      },
    },
  };
}
