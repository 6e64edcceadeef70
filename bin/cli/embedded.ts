import { mkdir } from 'node:fs/promises';
import { startBeat, startWorker } from '../../backend/main';
import { loadConfigOrExit } from '../../common/config';
import { startEmbeddedPostgres } from '../../common/db/embedded-postgres';
import { createLogger } from '../../common/log';
import { connectServices } from '../../common/services';
import { startFrontend } from '../../frontend/main';
import { runRole } from './run';

// Composes are many small file operations; libuv's default of 4 threads serialises them.
process.env.UV_THREADPOOL_SIZE ??= '16';

/**
 * The all-in-one default: API, worker, beat and a static file server for target_dir in one
 * process, on an embedded PostgreSQL and an in-process broker unless DATABASE_URL / AMQP_URL
 * point at real ones.
 */
void runRole('embedded', async (initialCfg, log) => {
  const parts: Array<{ stop(): Promise<void> }> = [];
  let cfg = initialCfg;
  if (!process.env.DATABASE_URL) {
    const pg = await startEmbeddedPostgres(cfg.data_dir, log);
    parts.push({ stop: () => pg.stop() });
    cfg = loadConfigOrExit({ ...process.env, DATABASE_URL: pg.url });
  }
  await mkdir(cfg.target_dir, { recursive: true });
  const s = await connectServices(cfg, {
    role: 'embedded',
    broker: process.env.AMQP_URL ? 'amqp' : 'memory',
    log: createLogger('embedded', cfg.log_level),
  });
  parts.push({ stop: () => s.close() });
  const applied = await s.db.migrate();
  if (applied.length) log.info({ applied }, 'database migrated');
  // An in-process broker starts empty: queue the work of every compose still waiting.
  const now = new Date();
  const requeued = await s.store.requeueWaitingSubmittedBefore(now, now);
  if (requeued.length) log.info({ count: requeued.length }, 'queued waiting composes again');
  s.relay.start();
  const worker = await startWorker(s);
  parts.push({ stop: () => worker.stop() });
  const beat = startBeat(s);
  parts.push({ stop: () => beat.stop() });
  const api = await startFrontend(s);
  parts.push({ stop: () => api.close() });
  process.stdout.write(
    `\nODCS is running at ${api.url}/\n  API:      ${api.url}/api/1/composes/\n  composes: ${cfg.target_dir_url}/ (files in ${cfg.target_dir})\n  Stop with Ctrl-C.\n\n`,
  );
  return parts;
});
