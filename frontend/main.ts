import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultTargetDirUrl } from '../common/config';
import type { Services } from '../common/services';
import { VERSION } from '../common/version';
import { createApp } from './app';
import { createAuthBackend } from './auth';
import type { FrontendContext } from './context';
import { FrontendMetrics } from './metrics';

export interface RunningFrontend {
  server: Server;
  /** http://host:port of the listening socket. */
  url: string;
  close(): Promise<void>;
}

export interface FrontendOptions {
  host?: string;
  port?: number;
  /**
   * Serve target_dir under the path of target_dir_url. By default it is served exactly when
   * target_dir_url is not configured, i.e. points at this server; a configured URL names another
   * server (nginx, the `static` service of docker-compose), which must serve it.
   */
  serveTargetDir?: boolean;
  context?: Partial<FrontendContext>;
}

export function frontendContext(s: Services, options: FrontendOptions = {}): FrontendContext {
  return {
    cfg: s.cfg,
    db: s.db,
    store: s.store,
    auth: createAuthBackend(s.cfg),
    log: s.log,
    metrics: new FrontendMetrics(s.store),
    clock: () => new Date(),
    outboxWritten: () => s.relay.kick(),
    version: VERSION,
    serveTargetDirAt: (options.serveTargetDir ?? servesOwnTargetDir(s.cfg))
      ? new URL(s.cfg.target_dir_url).pathname.replace(/\/+$/, '') || '/'
      : undefined,
    ...options.context,
  };
}

/** Whether target_dir_url is the default one, which points at this server. */
export function servesOwnTargetDir(cfg: Services['cfg']): boolean {
  return cfg.target_dir_url === defaultTargetDirUrl(cfg);
}

/** Starts the API on host:port. */
export async function startFrontend(s: Services, options: FrontendOptions = {}): Promise<RunningFrontend> {
  const app = createApp(frontendContext(s, options));
  const server = createServer(app);
  server.keepAliveTimeout = 65000;
  const host = options.host ?? s.cfg.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? s.cfg.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  s.log.info({ host, port }, 'API listening');
  // Keep the count log short, so that list totals stay cheap to read.
  const compactor = setInterval(() => {
    s.store.compactCounts().catch((err) => s.log.debug({ err: (err as Error).message }, 'count compaction failed'));
  }, 1000);
  compactor.unref();
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(compactor);
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
