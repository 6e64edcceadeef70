import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { loadConfigOrExit } from '../../common/config';
import { startEmbeddedPostgres } from '../../common/db/embedded-postgres';
import { createLogger } from '../../common/log';
import { connectServices } from '../../common/services';
import { startFrontend } from '../../frontend/main';
import { runRole } from './run';
import { ensureSampleRepo } from './sample-repo';
import { WorkerProcess } from './worker-process';

/**
 * The all-in-one default: API, a static file server for target_dir, and (in a child process,
 * see worker-process.ts) worker and beat, on an embedded PostgreSQL and an in-process broker
 * unless DATABASE_URL / AMQP_URL point at real ones.
 */
void runRole('embedded', async (initialCfg, log) => {
  const parts: Array<{ stop(): Promise<void> }> = [];
  // What the worker process is told: the same settings, plus what this process decided.
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  if (!process.env.DATABASE_URL) {
    const pg = await startEmbeddedPostgres(initialCfg.data_dir, log);
    parts.push({ stop: () => pg.stop() });
    childEnv.DATABASE_URL = pg.url;
  }
  // First run: a repository that a compose can be made of with no Koji and no settings.
  const sample = await ensureSampleRepo(initialCfg, log);
  if (sample && initialCfg.allowed_repo_roots.length === 0) childEnv.ODCS_ALLOWED_REPO_ROOTS = JSON.stringify([sample]);
  const cfg = loadConfigOrExit(childEnv);
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
  const worker = new WorkerProcess({
    entry: path.join(__dirname, 'embedded-worker.js'),
    heapMb: cfg.embedded_worker_heap_mb,
    env: childEnv,
    broker: process.env.AMQP_URL ? undefined : s.broker,
    log,
  });
  worker.start();
  parts.push({ stop: () => worker.stop() });
  const api = await startFrontend(s);
  parts.push({ stop: () => api.close() });
  const tryIt = sample
    ? `\n  First compose:\n    curl -s -X POST ${api.url}/api/1/composes/ -H 'Content-Type: application/json' \\\n      -d '{"source": {"type": "repo", "source": "${sample}"}}'\n`
    : '';
  process.stdout.write(
    `\nODCS is running at ${api.url}/\n  API:      ${api.url}/api/1/composes/\n  composes: ${cfg.target_dir_url}/ (files in ${cfg.target_dir})\n${tryIt}  Stop with Ctrl-C.\n\n`,
  );
  return parts;
});
