import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import { Beat } from '../../backend/beat/beat';
import { startWorker } from '../../backend/main';
import type { Worker } from '../../backend/worker';
import { type Config, type ConfigInput, loadConfig } from '../../common/config';
import { silentLogger } from '../../common/log';
import type { RelayOptions } from '../../common/messaging/outbox-relay';
import { connectServices, type Services } from '../../common/services';
import { createApp } from '../../frontend/app';
import type { FrontendContext } from '../../frontend/context';
import { frontendContext, startFrontend } from '../../frontend/main';
import { freePort } from '../../common/net';
import { createTestDatabase, type TestDatabase } from './db';
import { AMQP_URL } from './env';

export interface TestStack {
  cfg: Config;
  s: Services;
  app: Express;
  ctx: FrontendContext;
  worker?: Worker;
  beat: Beat;
  /** Directory holding target_dir and anything else of this stack. */
  dir: string;
  /** http://127.0.0.1:<port> when started with `listen`. */
  url?: string;
  close(): Promise<void>;
}

export interface TestStackOptions {
  config?: ConfigInput;
  broker?: 'amqp' | 'memory';
  /** Start a worker consuming the work queue. */
  worker?: boolean;
  /** Start the outbox relay loop (otherwise tests call relay.drain()). */
  relay?: boolean;
  context?: Partial<FrontendContext>;
  relayOptions?: RelayOptions;
  /** Listen on a real port and serve target_dir there (target_dir_url points at it). */
  listen?: boolean;
}

/** A unique name for queues, topic prefixes and the like of one test file. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/**
 * The real stack of one test: its own database (a migrated copy of the template), real
 * RabbitMQ with its own work queue (or the in-process broker), and the Express app.
 */
export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const db: TestDatabase = await createTestDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), 'odcs-test-'));
  const workQueue = uniqueName('odcs.test.composes');
  const port = options.listen ? await freePort() : 0;
  const cfg = loadConfig(
    {},
    {
      database_url: db.url,
      amqp_url: AMQP_URL,
      work_queue: workQueue,
      target_dir: path.join(dir, 'composes'),
      target_dir_url: options.listen ? `http://127.0.0.1:${port}/odcs` : 'http://localhost/odcs',
      data_dir: dir,
      log_level: 'silent',
      messaging_topic_prefix: uniqueName('test'),
      ...options.config,
    },
  );
  const s = await connectServices(cfg, { role: 'test', broker: options.broker ?? 'amqp', log: silentLogger(), waitForDatabaseMs: 0, relay: options.relayOptions });
  await s.broker.assertQueue(workQueue);
  if (options.relay) s.relay.start();
  const worker = options.worker ? await startWorker(s) : undefined;
  const beat = new Beat({ cfg, db: s.db, store: s.store, log: s.log, outboxWritten: () => s.relay.kick() });
  const ctx = await frontendContext(s, { context: options.context, serveTargetDir: options.listen });
  const app = createApp(ctx);
  const server = options.listen ? await startFrontend(s, { port, serveTargetDir: true, context: options.context }) : undefined;
  return {
    cfg,
    s,
    app,
    ctx,
    worker,
    beat,
    dir,
    url: server?.url,
    async close() {
      await server?.close();
      await worker?.stop();
      await s.broker.deleteQueue(workQueue).catch(() => undefined);
      await s.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
