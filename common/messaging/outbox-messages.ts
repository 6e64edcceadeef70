import type { OutgoingMessage } from '../broker/broker';
import { composeJson } from '../compose-json';
import type { Config } from '../config';
import { composeRowFromSnapshot } from '../db/compose-store';
import type { OutboxRow } from '../db/entities';
import { fedoraMessage } from './fedora-messaging';

export const STATE_CHANGED_TOPIC = 'odcs.compose.state-changed';

/** The body of a work message: all a worker needs, since the database is the truth. */
export interface WorkMessage {
  compose_id: number;
}

/**
 * What an outbox row becomes on the wire: a work message for the workers' queue, or a
 * state-changed event rendered from the row snapshot taken when the state changed.
 */
export function outboxMessage(cfg: Config, row: OutboxRow, now: Date): OutgoingMessage | undefined {
  if (row.kind === 'work') {
    const body: WorkMessage = { compose_id: row.compose_id };
    return {
      exchange: '',
      routingKey: cfg.work_queue,
      body: Buffer.from(JSON.stringify(body)),
      options: { messageId: row.message_id, contentType: 'application/json', persistent: true },
    };
  }
  if (cfg.messaging_backend === '' || !row.payload) return undefined;
  const compose = composeJson(cfg, composeRowFromSnapshot(row.payload));
  return fedoraMessage({
    exchange: cfg.messaging_exchange,
    topic: STATE_CHANGED_TOPIC,
    topicPrefix: cfg.messaging_topic_prefix,
    body: { event: 'state-changed', compose },
    messageId: row.message_id,
    sentAt: now,
  });
}
