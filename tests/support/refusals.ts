/**
 * A refused API request changes nothing: no compose row, no outbox row, no work message. Shared
 * by the API tests that check what POST and PATCH refuse.
 */
import { STATUS_CODES } from 'node:http';
import type request from 'supertest';
import type { expect as jestExpect } from '@jest/globals';
import type { TestStack } from './stack';

// Jest's global `expect`, declared here because tests/support is also compiled without Jest's
// global types (tsconfig.build.json); the import above is erased, nothing is loaded at run time.
declare const expect: typeof jestExpect;

export interface Snapshot {
  composes: unknown[];
  outbox: unknown[];
  queued: number;
}

/** Everything a request could change: the compose rows, the outbox and the work queue. */
export async function snapshot(t: TestStack): Promise<Snapshot> {
  await t.s.relay.drain();
  return {
    composes: await t.s.db.query('SELECT * FROM composes ORDER BY id'),
    outbox: await t.s.db.query('SELECT id, kind, compose_id FROM outbox ORDER BY id'),
    queued: await t.s.broker.queueLength(t.cfg.work_queue),
  };
}

/**
 * Sends a request that must be refused with `status` and `message` in ODCS's JSON error shape,
 * and checks that nothing changed.
 */
export async function expectRefused(t: TestStack, send: () => request.Test, status: number, message: string | RegExp): Promise<void> {
  const before = await snapshot(t);
  const res = await send();
  expect({ status: res.status, type: res.type }).toEqual({ status, type: 'application/json' });
  expect(res.body).toEqual({
    status,
    error: STATUS_CODES[status],
    message: typeof message === 'string' ? message : expect.stringMatching(message),
  });
  expect(await snapshot(t)).toEqual(before);
}
