import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Config, ConfigError, defaultTargetDirUrl } from '../common/config';
import type { Services } from '../common/services';
import { VERSION } from '../common/version';
import { createApp } from './app';
import { createAuthBackend } from './auth';
import type { FrontendContext } from './context';
import { FrontendMetrics } from './metrics';

export interface RunningFrontend {
  /** An HTTPS server (a subclass of tls.Server) when tls_cert_file is set. */
  server: Server | ReturnType<typeof createHttpsServer>;
  /** http(s)://host:port of the listening socket. */
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

/** The API's context; creates the auth backend (OIDC discovery, keytab check) unless one is given. */
export async function frontendContext(s: Services, options: FrontendOptions = {}): Promise<FrontendContext> {
  const auth = options.context?.auth ?? (await createAuthBackend(s.cfg, { log: s.log, db: s.db }));
  return {
    cfg: s.cfg,
    db: s.db,
    store: s.store,
    auth,
    log: s.log,
    metrics: new FrontendMetrics(s.store, { topOwners: s.cfg.metrics_top_owners }),
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

function readTlsFile(cfg: Config, key: 'tls_cert_file' | 'tls_key_file' | 'tls_client_ca_file' | 'tls_crl_file'): Buffer {
  try {
    return readFileSync(cfg[key]);
  } catch (err) {
    throw new ConfigError(`Invalid configuration: ${key}: cannot read ${cfg[key]} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * The HTTPS listener's options, or undefined for plain HTTP. With a client CA every client is
 * asked for a certificate, but the handshake never fails over it (rejectUnauthorized false):
 * GETs stay anonymous, and the `ssl` backend answers a missing, unknown-CA, expired or revoked
 * certificate with ODCS's 401 text (`Cannot verify client: FAILED:certificate revoked`) in
 * ODCS's JSON shape, where a TLS alert would tell the client nothing it can show.
 */
export function tlsOptions(cfg: Config): HttpsOptions | undefined {
  if (cfg.tls_cert_file === '') return undefined;
  const options: HttpsOptions = { cert: readTlsFile(cfg, 'tls_cert_file'), key: readTlsFile(cfg, 'tls_key_file') };
  if (cfg.tls_client_ca_file !== '') {
    Object.assign(options, { ca: readTlsFile(cfg, 'tls_client_ca_file'), requestCert: true, rejectUnauthorized: false });
    if (cfg.tls_crl_file !== '') options.crl = readTlsFile(cfg, 'tls_crl_file');
  }
  return options;
}

/** Starts the API on host:port, over HTTPS when tls_cert_file is set. */
export async function startFrontend(s: Services, options: FrontendOptions = {}): Promise<RunningFrontend> {
  const tls = tlsOptions(s.cfg);
  const app = createApp(await frontendContext(s, options));
  let server: RunningFrontend['server'];
  try {
    server = tls ? createHttpsServer(tls, app) : createServer(app);
  } catch (err) {
    // A key that does not match the certificate, or a file that is not PEM.
    throw new ConfigError(`Invalid configuration: tls_cert_file/tls_key_file/tls_client_ca_file/tls_crl_file: ${(err as Error).message}`);
  }
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
    url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(compactor);
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
