import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../common/net';

/**
 * PostgreSQL and RabbitMQ servers of one test file, which the test may stop and start at will.
 * Crash tests need real outages, and the machine's shared servers are in use by every other
 * test file running in parallel, so they must never be stopped; these private ones are.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A spawned server with its output kept for error messages. */
class ServerProcess {
  output = '';
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20000)));
    child.stderr?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20000)));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** The unprivileged identity PostgreSQL must run as when we are root (it refuses to run as root). */
function postgresIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** The bin/ directory of the newest Debian PostgreSQL (the suite's machine has one: it runs the shared server). */
function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'postgres'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error(`no PostgreSQL server binaries under ${base}; install postgresql`);
  return path.join(base, versions[0], 'bin');
}

/**
 * A private PostgreSQL cluster in a temp dir, on a fixed port across restarts (clients keep
 * their URL, as they would with a restarted production server). Trust authentication on
 * 127.0.0.1 only: nothing but this test can reach it.
 */
export class PrivatePostgres {
  private server?: ServerProcess;
  private readonly bin = postgresBin();
  private readonly owner = postgresIdentity();

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb, then start. */
  static async create(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(tmpdir(), 'odcs-private-pg-'));
    const pg = new PrivatePostgres(dir, await freePort());
    const data = pg.dataDir;
    mkdirSync(data, { mode: 0o700 });
    if (pg.owner) {
      // mkdtemp makes a 0700 directory: the postgres user must be able to enter it.
      chmodSync(dir, 0o755);
      chownSync(data, pg.owner.uid, pg.owner.gid);
    }
    execFileSync(path.join(pg.bin, 'initdb'), [`--pgdata=${data}`, '--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C', '--no-sync'], {
      ...pg.owner,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: 'pipe',
    });
    await pg.start();
    return pg;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  /** URL of database `name` (default: the admin database). */
  url(name = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  async createDatabase(name: string): Promise<string> {
    const c = new Client({ connectionString: this.url() });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${name}`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  /** Starts the server and waits until it accepts connections. */
  async start(timeoutMs = 60000): Promise<void> {
    if (this.server?.running) return;
    const child = spawn(
      path.join(this.bin, 'postgres'),
      // fsync off: the cluster is thrown away after the test and the OS never crashes under it.
      ['-D', this.dataDir, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'max_connections=200'],
      { ...this.owner, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
    );
    const server = new ServerProcess(child);
    this.server = server;
    const deadline = Date.now() + timeoutMs;
    while (!server.output.includes('ready to accept connections')) {
      if (!server.running) throw new Error(`private PostgreSQL exited while starting:\n${server.output}`);
      if (Date.now() > deadline) throw new Error(`private PostgreSQL did not start in ${timeoutMs} ms:\n${server.output}`);
      await sleep(20);
    }
  }

  /** Fast shutdown (SIGINT: what `pg_ctl stop`/`restart` do by default): sessions are terminated. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server?.running) return;
    server.child.kill('SIGINT');
    await server.exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A private RabbitMQ node: its own node name, ports, Erlang cookie, data and log directories and
 * an empty plugin list (no management listener to collide with the shared node's). Stopped with
 * SIGTERM, which shuts the node down cleanly; durable queues and persistent messages survive, as
 * in a real broker restart. Started through the scripts in /usr/lib/rabbitmq/bin (not the
 * /usr/sbin wrapper, which would switch to the rabbitmq user, who cannot read our temp dir).
 */
export class PrivateRabbit {
  private server?: ServerProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly distPort: number,
    private readonly nodeName: string,
  ) {}

  static async create(): Promise<PrivateRabbit> {
    const script = '/usr/lib/rabbitmq/bin/rabbitmq-server';
    if (!existsSync(script)) throw new Error(`${script} is missing; install rabbitmq-server`);
    const dir = mkdtempSync(path.join(tmpdir(), 'odcs-private-rabbit-'));
    const port = await freePort();
    let distPort = await freePort();
    while (distPort === port) distPort = await freePort();
    const rabbit = new PrivateRabbit(dir, port, distPort, `odcs-${randomBytes(4).toString('hex')}@localhost`);
    for (const sub of ['home', 'mnesia', 'log']) mkdirSync(path.join(dir, sub));
    // Our own cookie, so that this node and the shared one cannot talk to each other.
    writeFileSync(path.join(dir, 'home', '.erlang.cookie'), randomBytes(16).toString('hex'), { mode: 0o400 });
    writeFileSync(path.join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\n`);
    writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
    // Keep /etc/rabbitmq/rabbitmq-env.conf (the shared node's settings) out of our node.
    writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
    await rabbit.start();
    return rabbit;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Starts the node (keeping its data) and waits until AMQP connections are accepted. */
  async start(timeoutMs = 120000): Promise<void> {
    if (this.server?.running) return;
    const d = this.dir;
    const child = spawn('/usr/lib/rabbitmq/bin/rabbitmq-server', [], {
      cwd: d,
      // A process group of its own: stop() signals the script and the Erlang VM together.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HOME: path.join(d, 'home'),
        RABBITMQ_CONF_ENV_FILE: path.join(d, 'rabbitmq-env.conf'),
        RABBITMQ_CONFIG_FILE: path.join(d, 'rabbitmq.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE: path.join(d, 'enabled_plugins'),
        RABBITMQ_MNESIA_BASE: path.join(d, 'mnesia'),
        RABBITMQ_LOG_BASE: path.join(d, 'log'),
        RABBITMQ_NODENAME: this.nodeName,
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(this.distPort),
        RABBITMQ_SERVER_START_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
        ERL_EPMD_ADDRESS: '127.0.0.1',
      },
    });
    const server = new ServerProcess(child);
    this.server = server;
    const deadline = Date.now() + timeoutMs;
    while (!(server.output.includes('Starting broker... completed') && (await portOpen(this.port)))) {
      if (!server.running) throw new Error(`private RabbitMQ exited while starting:\n${server.output}`);
      if (Date.now() > deadline) throw new Error(`private RabbitMQ did not start in ${timeoutMs} ms:\n${server.output}`);
      await sleep(50);
    }
  }

  /** A clean node shutdown (SIGTERM), waiting until the listener is gone. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server?.running || server.child.pid === undefined) return;
    const group = -server.child.pid;
    process.kill(group, 'SIGTERM');
    await server.exited;
    // The script exits when the VM does; wait for the rest of the group too.
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(group, 0);
      } catch {
        return;
      }
      await sleep(50);
    }
    process.kill(group, 'SIGKILL');
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
