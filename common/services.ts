import { AmqpBroker } from './broker/amqp-broker';
import type { Broker } from './broker/broker';
import { MemoryBroker } from './broker/memory-broker';
import type { Config } from './config';
import { ComposeStore } from './db/compose-store';
import { Database } from './db/database';
import { createLogger, type Logger } from './log';
import { OutboxRelay, type RelayOptions } from './messaging/outbox-relay';

/** The outside world of one process: database, broker, the outbox relay and a logger. */
export interface Services {
  cfg: Config;
  log: Logger;
  db: Database;
  store: ComposeStore;
  broker: Broker;
  relay: OutboxRelay;
  close(): Promise<void>;
}

export interface ServiceOptions {
  role: string;
  /** 'memory' is the embedded default's in-process broker; a Broker is used as given (the embedded worker's IPC one). */
  broker?: 'amqp' | 'memory' | Broker;
  log?: Logger;
  /** Retry the first database connection this long before giving up (ms). */
  waitForDatabaseMs?: number;
  relay?: RelayOptions;
}

/** Connects to PostgreSQL, retrying while it starts up (containers start in any order). */
async function connectDatabase(cfg: Config, role: string, log: Logger, waitMs: number): Promise<Database> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await Database.connect({ url: cfg.database_url, poolSize: cfg.database_pool_size, applicationName: `odcs-${role}` });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      log.warn({ err: (err as Error).message }, 'database not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export async function connectServices(cfg: Config, options: ServiceOptions): Promise<Services> {
  const log = options.log ?? createLogger(options.role, cfg.log_level);
  const db = await connectDatabase(cfg, options.role, log, options.waitForDatabaseMs ?? 60000);
  const store = new ComposeStore(db, cfg.messaging_backend !== '');
  const broker: Broker =
    typeof options.broker === 'object' ? options.broker : options.broker === 'memory' ? new MemoryBroker() : new AmqpBroker(cfg.amqp_url, log);
  const relay = new OutboxRelay(db, broker, cfg, log, options.relay);
  return {
    cfg,
    log,
    db,
    store,
    broker,
    relay,
    async close() {
      await relay.stop();
      await broker.close();
      await db.close();
    },
  };
}
