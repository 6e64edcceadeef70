import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../common/net';

const run = promisify(execFile);

export const REALM = 'ODCS.TEST';

/**
 * A real MIT KDC on 127.0.0.1 (krb5kdc in the foreground, a child of the test), with its own
 * realm, database, krb5.conf and kdc.conf in a temp dir: the machine's /etc/krb5.conf is never
 * read. It holds `HTTP/localhost` (keytab `httpKeytab`) and the users given, each kinit'ed into
 * a ticket cache of its own (`ccache(user)`) inside one DIR collection (`ccacheCollection`), so
 * that an in-process GSS-API client picks a user by principal.
 *
 * One KDC per process, shared by every test file the process runs: the paths put in the real
 * environment (setNativeEnv) cannot change once set, and libkrb5 keeps what it read of
 * krb5.conf for the life of the process, so a second KDC on another port would never be seen
 * (a Jest worker runs several files; the second one's Kerberos requests then went to the first
 * KDC's old port). `start` adds the users a file needs to the running KDC; `stop` leaves it
 * running, and the process's exit ends it.
 */
export class TestKdc {
  private constructor(
    readonly dir: string,
    readonly port: number,
    /** KRB5_CONFIG of clients and of the service. */
    readonly krb5Conf: string,
    readonly httpKeytab: string,
    private readonly kdc: ChildProcess,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private readonly users = new Set<string>();

  static async start(users: readonly string[]): Promise<TestKdc> {
    if (shared && shared.kdc.exitCode === null && shared.kdc.signalCode === null) {
      await shared.addUsers(users);
      return shared;
    }
    shared = await TestKdc.create();
    await shared.addUsers(users);
    return shared;
  }

  /** Principals and keytabs for the users not there yet, each kinit'ed. */
  private async addUsers(users: readonly string[]): Promise<void> {
    for (const user of users) {
      if (this.users.has(user)) continue;
      await this.kadmin(`addprinc -randkey ${user}`);
      await this.kadmin(`ktadd -k ${path.join(this.dir, `${user}.keytab`)} ${user}`);
      await this.kinit(user);
      this.users.add(user);
    }
  }

  private kadmin(query: string): Promise<unknown> {
    return run('kadmin.local', ['-r', REALM, '-q', query], { env: this.env });
  }

  private static async create(): Promise<TestKdc> {
    const dir = path.join(tmpdir(), `odcs-kdc-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.join(dir, 'ccaches'), { recursive: true });
    const port = await freePort();
    const krb5Conf = path.join(dir, 'krb5.conf');
    const kdcConf = path.join(dir, 'kdc.conf');
    writeFileSync(
      krb5Conf,
      [
        '[libdefaults]',
        `  default_realm = ${REALM}`,
        '  dns_lookup_realm = false',
        '  dns_lookup_kdc = false',
        '  dns_canonicalize_hostname = false',
        '  rdns = false',
        '  udp_preference_limit = 1',
        '[realms]',
        `  ${REALM} = {`,
        `    kdc = 127.0.0.1:${port}`,
        '  }',
        '[domain_realm]',
        `  localhost = ${REALM}`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      kdcConf,
      [
        '[kdcdefaults]',
        `  kdc_tcp_listen = 127.0.0.1:${port}`,
        '  kdc_listen = ""',
        '[realms]',
        `  ${REALM} = {`,
        `    database_name = ${path.join(dir, 'principal')}`,
        `    key_stash_file = ${path.join(dir, 'stash')}`,
        `    acl_file = ${path.join(dir, 'kadm5.acl')}`,
        `    kdc_tcp_listen = 127.0.0.1:${port}`,
        '    kdc_listen = ""',
        '  }',
        '[logging]',
        `  kdc = FILE:${path.join(dir, 'kdc.log')}`,
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'kadm5.acl'), '');
    const env: NodeJS.ProcessEnv = { ...process.env, KRB5_CONFIG: krb5Conf, KRB5_KDC_PROFILE: kdcConf };
    const httpKeytab = path.join(dir, 'http.keytab');
    const kadmin = (query: string) => run('kadmin.local', ['-r', REALM, '-q', query], { env });
    await run('kdb5_util', ['-r', REALM, 'create', '-s', '-P', 'master-password-for-tests'], { env });
    await kadmin('addprinc -randkey HTTP/localhost');
    await kadmin(`ktadd -k ${httpKeytab} HTTP/localhost`);
    const kdc = spawn('krb5kdc', ['-n', '-r', REALM], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    kdc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    kdc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    // Kept for the process's later test files: it must not keep the process from ending.
    kdc.unref();
    for (const stream of [kdc.stdout, kdc.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    const kdcObj = new TestKdc(dir, port, krb5Conf, httpKeytab, kdc, env);
    try {
      await waitForPort(port, () => (kdc.exitCode !== null ? `krb5kdc exited: ${output}` : undefined));
    } catch (err) {
      kdcObj.end();
      throw err;
    }
    process.once('exit', () => kdcObj.end());
    return kdcObj;
  }

  /** KRB5CCNAME of a client choosing among all users by principal. */
  get ccacheCollection(): string {
    return `DIR:${path.join(this.dir, 'ccaches')}`;
  }

  /** The ticket cache of one user who ran kinit (a member of the collection). */
  ccache(user: string): string {
    return `DIR::${path.join(this.dir, 'ccaches', `tkt${user}`)}`;
  }

  /** `kinit` from the user's keytab into the user's own ccache (no password prompt). */
  async kinit(user: string): Promise<void> {
    await run('kinit', ['-k', '-t', path.join(this.dir, `${user}.keytab`), '-c', this.ccache(user), `${user}@${REALM}`], { env: this.env });
  }

  /** The environment of a client process acting as `user` (curl, the Python client, ...). */
  clientEnv(user: string): NodeJS.ProcessEnv {
    return { ...this.env, KRB5CCNAME: this.ccache(user) };
  }

  /** Nothing: the KDC serves the process's later test files too (see the class comment). */
  async stop(): Promise<void> {}

  /** Ends the KDC and removes its files (at the process's exit: synchronous). */
  private end(): void {
    if (this.kdc.exitCode === null && this.kdc.signalCode === null) this.kdc.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let shared: TestKdc | undefined;

/**
 * Sets variables in the real environment of this process, which native libraries such as
 * libkrb5 (under the `kerberos` binding) read with getenv(). Jest gives each test file a copy of
 * process.env whose writes never reach the real environment; process.loadEnvFile does, but
 * never overrides a variable already set: a different value already there is an error here.
 */
export function setNativeEnv(vars: Record<string, string>, dir: string): void {
  const file = path.join(dir, `native-${process.hrtime.bigint()}.env`);
  writeFileSync(file, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''));
  process.loadEnvFile(file);
  rmSync(file);
  // What a child inherits is the real environment: read it back from one.
  const real = new Map(
    execFileSync('env', ['-0'])
      .toString()
      .split('\0')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
  );
  for (const [name, value] of Object.entries(vars)) {
    if (real.get(name) !== value) throw new Error(`${name} is already "${real.get(name)}" in this process's environment; wanted "${value}"`);
  }
  Object.assign(process.env, vars);
}

async function waitForPort(port: number, failed: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const why = failed();
    if (why) throw new Error(why);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
