import type { Config } from '../common/config';
import type { ComposeStore } from '../common/db/compose-store';
import type { Database } from '../common/db/database';
import type { Logger } from '../common/log';
import type { AuthBackend } from './auth';
import type { FrontendMetrics } from './metrics';

/** Everything the API needs from the outside world, passed in so tests choose what is real. */
export interface FrontendContext {
  cfg: Config;
  db: Database;
  store: ComposeStore;
  auth: AuthBackend;
  log: Logger;
  metrics: FrontendMetrics;
  clock: () => Date;
  /** Called after a request wrote outbox rows, so the relay publishes them right away. */
  outboxWritten: () => void;
  version: string;
  /** Serve target_dir at this URL path (the embedded default has no separate static server). */
  serveTargetDirAt?: string;
}
