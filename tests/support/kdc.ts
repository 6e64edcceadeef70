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
 * One KDC per process at a time: its directory is named after the process, so that the paths
 * put in the real environment (setNativeEnv, which cannot change a variable once set) stay the
 * same for every KDC this process starts.
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

  static async start(users: readonly string[]): Promise<TestKdc> {
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
    for (const user of users) {
      await kadmin(`addprinc -randkey ${user}`);
      await kadmin(`ktadd -k ${path.join(dir, `${user}.keytab`)} ${user}`);
    }
    const kdc = spawn('krb5kdc', ['-n', '-r', REALM], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    kdc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    kdc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const kdcObj = new TestKdc(dir, port, krb5Conf, httpKeytab, kdc, env);
    try {
      await waitForPort(port, () => (kdc.exitCode !== null ? `krb5kdc exited: ${output}` : undefined));
      for (const user of users) await kdcObj.kinit(user);
    } catch (err) {
      await kdcObj.stop();
      throw err;
    }
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

  async stop(): Promise<void> {
    if (this.kdc.exitCode === null && this.kdc.signalCode === null) {
      const exited = new Promise((resolve) => this.kdc.once('exit', resolve));
      this.kdc.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

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
