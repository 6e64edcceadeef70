import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../common/net';

const run = promisify(execFile);

export const SUFFIX = 'dc=example,dc=com';
/** posixGroup entries (memberUid=<uid>) live here. */
export const POSIX_GROUPS = `ou=groups,${SUFFIX}`;
/** groupOfUniqueNames entries (uniqueMember=uid=<uid>,ou=users,…) live here. */
export const DN_GROUPS = `ou=teams,${SUFFIX}`;
export const USERS = `ou=users,${SUFFIX}`;

export interface Directory {
  users: readonly string[];
  /** posixGroup name → member uids. */
  posixGroups?: Record<string, readonly string[]>;
  /** groupOfUniqueNames name → member uids (stored as user DNs). */
  dnGroups?: Record<string, readonly string[]>;
}

/**
 * A real OpenLDAP slapd on a free port of 127.0.0.1, in the foreground as a child of the test,
 * with a slapd.conf and an mdb database of its own in a temp dir, loaded with slapadd. Anonymous
 * reads are allowed, as ODCS's anonymous searches need. `stop()` and `start()` again make an
 * outage.
 */
export class TestSlapd {
  private child?: ChildProcess;
  private output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly conf: string,
  ) {}

  get url(): string {
    return `ldap://127.0.0.1:${this.port}`;
  }

  static async start(directory: Directory): Promise<TestSlapd> {
    const dir = mkdtempSync(path.join(tmpdir(), 'odcs-slapd-'));
    const dbDir = path.join(dir, 'db');
    mkdirSync(dbDir);
    const conf = path.join(dir, 'slapd.conf');
    writeFileSync(
      conf,
      [
        'include /etc/ldap/schema/core.schema',
        'include /etc/ldap/schema/cosine.schema',
        'include /etc/ldap/schema/nis.schema',
        'include /etc/ldap/schema/inetorgperson.schema',
        `pidfile ${path.join(dir, 'slapd.pid')}`,
        'modulepath /usr/lib/ldap',
        'moduleload back_mdb',
        'database mdb',
        `suffix "${SUFFIX}"`,
        `rootdn "cn=admin,${SUFFIX}"`,
        'rootpw not-used-by-tests',
        `directory ${dbDir}`,
        'maxsize 16777216',
        'access to * by * read',
        '',
      ].join('\n'),
    );
    const ldif = path.join(dir, 'data.ldif');
    writeFileSync(ldif, directoryLdif(directory));
    await run('slapadd', ['-f', conf, '-l', ldif]);
    const slapd = new TestSlapd(dir, await freePort(), conf);
    try {
      await slapd.start();
    } catch (err) {
      await slapd.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return slapd;
  }

  /** Starts slapd (again) on the same port and waits until it accepts connections. */
  async start(): Promise<void> {
    this.output = '';
    // -d 0: stay in the foreground (a child we can kill) without debug output.
    const child = spawn('slapd', ['-d', '0', '-f', this.conf, '-h', this.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    const deadline = Date.now() + 20000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`slapd exited: ${this.output}`);
      if (await accepts(this.port)) return;
      if (Date.now() > deadline) throw new Error(`slapd does not listen on ${this.url}: ${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops slapd (an LDAP outage); the database stays for `start()`. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function directoryLdif(d: Directory): string {
  const entries: string[][] = [
    [`dn: ${SUFFIX}`, 'objectClass: dcObject', 'objectClass: organization', 'o: ODCS tests', 'dc: example'],
    [`dn: ${USERS}`, 'objectClass: organizationalUnit', 'ou: users'],
    [`dn: ${POSIX_GROUPS}`, 'objectClass: organizationalUnit', 'ou: groups'],
    [`dn: ${DN_GROUPS}`, 'objectClass: organizationalUnit', 'ou: teams'],
  ];
  for (const uid of d.users) {
    entries.push([`dn: uid=${uid},${USERS}`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: ${uid}`, `sn: ${uid}`]);
  }
  let gid = 5000;
  for (const [name, members] of Object.entries(d.posixGroups ?? {})) {
    entries.push([`dn: cn=${name},${POSIX_GROUPS}`, 'objectClass: posixGroup', `cn: ${name}`, `gidNumber: ${gid++}`, ...members.map((m) => `memberUid: ${m}`)]);
  }
  for (const [name, members] of Object.entries(d.dnGroups ?? {})) {
    // groupOfUniqueNames needs at least one member.
    const dns = members.length > 0 ? members.map((m) => `uid=${m},${USERS}`) : [`cn=nobody,${SUFFIX}`];
    entries.push([`dn: cn=${name},${DN_GROUPS}`, 'objectClass: groupOfUniqueNames', `cn: ${name}`, ...dns.map((dn) => `uniqueMember: ${dn}`)]);
  }
  return entries.map((e) => e.join('\n')).join('\n\n') + '\n';
}
