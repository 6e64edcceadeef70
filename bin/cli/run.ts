import { type Config, loadConfigOrExit } from '../../common/config';
import { createLogger, type Logger } from '../../common/log';

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Runs one process role: loads the configuration (exiting with a message naming a bad option),
 * starts the role, and on SIGINT/SIGTERM stops its parts in reverse order of starting.
 */
export async function runRole(role: string, start: (cfg: Config, log: Logger) => Promise<Stoppable[]>): Promise<void> {
  const cfg = loadConfigOrExit();
  const log = createLogger(role, cfg.log_level);
  let parts: Stoppable[] = [];
  try {
    parts = await start(cfg, log);
  } catch (err) {
    log.fatal({ err }, `cannot start odcs-${role}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // A last resort if a part hangs: after the worker's grace for its builds, and time to abort them.
    const force = setTimeout(() => {
      log.error('parts did not stop in time; exiting');
      process.exit(1);
    }, (cfg.shutdown_grace_seconds + 30) * 1000);
    force.unref();
    for (const part of [...parts].reverse()) {
      await part.stop().catch((err) => log.warn({ err: (err as Error).message }, 'error while stopping'));
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
