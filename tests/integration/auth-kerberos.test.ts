import { execFile } from 'node:child_process';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import * as kerberos from 'kerberos';
import { ConfigError, type ConfigInput, loadConfig } from '../../common/config';
import { silentLogger } from '../../common/log';
import { createKerberosStrategy, NO_REMOTE_USER } from '../../frontend/auth/strategies/kerberos';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { AMQP_URL } from '../support/env';
import { REALM, setNativeEnv, TestKdc } from '../support/kdc';
import { describePermissionMatrix, MATRIX_GROUPS, MATRIX_USERS, type MatrixMethod, type MatrixUser, permissionMatrixConfig } from '../support/permission-matrix';
import { ProcessStack } from '../support/process-stack';
import { buildDist } from '../support/processes';
import { snapshot } from '../support/refusals';
import { httpsJson, type JsonResponse } from '../support/https-client';
import { DN_GROUPS, POSIX_GROUPS, TestSlapd, USERS } from '../support/slapd';
import { startTestStack, type TestStack } from '../support/stack';
import { type ClientCert, createTestCa, type TestCa } from '../support/test-ca';

// auth_backend kerberos (reference §4.1): SPNEGO Negotiate against a real MIT KDC, the user's
// groups from a real slapd, over HTTP from Node's GSS-API client and from curl --negotiate.

const runFile = promisify(execFile);
const SERVICE = 'HTTP@localhost';
/** Groups kept as groupOfUniqueNames (the other form of auth_ldap_groups); the rest are posixGroups. */
const DN_GROUP_NAMES = new Set(['admins-group', 'composer']);

let kdc: TestKdc;
let slapd: TestSlapd;
let t: TestStack;

function directoryGroups(dn: boolean): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const user of MATRIX_USERS) {
    for (const g of MATRIX_GROUPS[user]) if (DN_GROUP_NAMES.has(g) === dn) (groups[g] ??= []).push(user);
  }
  return groups;
}

beforeAll(async () => {
  kdc = await TestKdc.start([...MATRIX_USERS, 'ghost']);
  slapd = await TestSlapd.start({ users: [...MATRIX_USERS], posixGroups: directoryGroups(false), dnGroups: directoryGroups(true) });
  // libkrb5 reads these with getenv(); the service sets KRB5_KTNAME from auth_kerberos_keytab in
  // its own process.env, which under Jest is a copy that native code never sees.
  // The in-process client picks each user's ticket from one cache collection by principal.
  setNativeEnv({ KRB5_CONFIG: kdc.krb5Conf, KRB5_KTNAME: `FILE:${kdc.httpKeytab}`, KRB5CCNAME: kdc.ccacheCollection }, kdc.dir);
  t = await startTestStack({
    listen: true,
    config: {
      ...permissionMatrixConfig(),
      auth_backend: 'kerberos',
      auth_kerberos_keytab: kdc.httpKeytab,
      auth_kerberos_service: SERVICE,
      auth_ldap_server: slapd.url,
      auth_ldap_groups: [
        [POSIX_GROUPS, 'memberUid={}'],
        [DN_GROUPS, `uniqueMember=uid={},${USERS}`],
      ],
      // Every request asks LDAP, so that the outage below is seen at once (caching: auth-ldap.test.ts).
      auth_ldap_cache_seconds: 0,
    },
  });
});

afterAll(async () => {
  await t?.close();
  await slapd?.close();
  await kdc?.stop();
});

/** A Negotiate client of `user` (GSS-API, SPNEGO, as requests-gssapi and curl are). */
function clientOf(user: string): Promise<kerberos.KerberosClient> {
  return kerberos.initializeClient(SERVICE, { mechOID: kerberos.GSS_MECH_OID_SPNEGO, principal: `${user}@${REALM}` });
}

interface Sent {
  status: number;
  body: unknown;
  wwwAuthenticate: string | null;
}

async function send(method: MatrixMethod, path: string, body: unknown, authorization?: string): Promise<Sent> {
  const headers: Record<string, string> = {};
  if (authorization) headers.authorization = authorization;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${t.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, wwwAuthenticate: res.headers.get('www-authenticate') };
}

/** A request as `user` with a fresh Negotiate token; checks the server's mutual-authentication token. */
async function sendAs(user: string, method: MatrixMethod, path: string, body?: unknown): Promise<Sent> {
  const client = await clientOf(user);
  const token = await client.step('');
  const res = await send(method, path, body, `Negotiate ${token}`);
  if (res.status < 400) {
    const answer = /^Negotiate (\S+)$/.exec(res.wwwAuthenticate ?? '');
    expect(answer).not.toBeNull();
    // The client authenticates the server: only the holder of HTTP/localhost's key can answer.
    await client.step(answer![1]);
    expect(client.contextComplete).toBe(true);
  }
  return res;
}

describePermissionMatrix(() => ({
  stack: t,
  groups: true,
  usernameOf: (u: MatrixUser) => u,
  noCredentials: NO_REMOTE_USER,
  send: (user, method, path, body) => (user === undefined ? send(method, path, body) : sendAs(user, method, path, body)),
}));

describe('kerberos: SPNEGO', () => {
  const TAG = { source: { type: 'tag', source: 'f30-build' } };

  it('names the user by the principal before @ and answers with the mutual-authentication token', async () => {
    const res = await sendAs('dev', 'POST', '/api/1/composes/', TAG);
    expect({ status: res.status, owner: (res.body as { owner: string }).owner }).toEqual({ status: 200, owner: 'dev' });
    expect(res.wwwAuthenticate).toMatch(/^Negotiate [A-Za-z0-9+/]+=*$/);
  });

  it('asks for Negotiate when a mutating request has no credentials', async () => {
    const before = await snapshot(t);
    const res = await send('POST', '/api/1/composes/', TAG);
    expect(res).toEqual({ status: 401, body: { status: 401, error: 'Unauthorized', message: NO_REMOTE_USER }, wwwAuthenticate: 'Negotiate' });
    expect(await snapshot(t)).toEqual(before);
  });

  it.each([
    ['not base64', 'Negotiate !!!'],
    ['empty', 'Negotiate'],
    ['garbage', `Negotiate ${Buffer.from('not a GSS-API token').toString('base64')}`],
  ])('refuses a Negotiate token that is %s with 401, changing nothing', async (_what, authorization) => {
    const before = await snapshot(t);
    const res = await send('POST', '/api/1/composes/', TAG, authorization);
    expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: { status: 401, error: 'Unauthorized', message: NO_REMOTE_USER } });
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses a replayed token', async () => {
    const client = await clientOf('dev');
    const token = await client.step('');
    expect((await send('POST', '/api/1/composes/', TAG, `Negotiate ${token}`)).status).toBe(200);
    const before = await snapshot(t);
    const replay = await send('POST', '/api/1/composes/', TAG, `Negotiate ${token}`);
    expect({ status: replay.status, body: replay.body }).toEqual({ status: 401, body: { status: 401, error: 'Unauthorized', message: NO_REMOTE_USER } });
    expect(await snapshot(t)).toEqual(before);
  });

  it('lets curl --negotiate create, renew and delete composes, as the Python client does (401 Negotiate, then the token)', async () => {
    const base = t.url!.replace('127.0.0.1', 'localhost');
    const curl = async (user: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: { id?: number; owner?: string; message?: string } }> => {
      const args = ['-sS', '--negotiate', '-u', ':', '-X', method, '-w', '\n%{http_code}', `${base}${path}`];
      if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data', JSON.stringify(body));
      const { stdout } = await runFile('curl', args, { env: kdc.clientEnv(user) });
      const at = stdout.lastIndexOf('\n');
      return { status: Number(stdout.slice(at + 1)), body: JSON.parse(stdout.slice(0, at)) };
    };
    const created = await curl('dev', 'POST', '/api/1/composes/', TAG);
    expect({ status: created.status, owner: created.body.owner }).toEqual({ status: 200, owner: 'dev' });
    const id = created.body.id!;
    const refused = await curl('qa', 'POST', '/api/1/composes/', TAG);
    expect(refused).toEqual({ status: 403, body: { status: 403, error: 'Forbidden', message: 'User qa is not in role allowed_clients.' } });
    expect(await curl('dev', 'DELETE', `/api/1/composes/${id}`)).toEqual({ status: 202, body: { status: 202, message: `Compose (id=${id}) has been canceled` } });
    const renewed = await curl('dev', 'PATCH', `/api/1/composes/${id}`, {});
    expect({ status: renewed.status, owner: renewed.body.owner }).toEqual({ status: 200, owner: 'dev' });
    expect(await t.s.store.get(renewed.body.id!)).toMatchObject({ owner: 'dev', state: 0 });
  });

  it('lets a principal with no LDAP entry in, without groups', async () => {
    const res = await sendAs('ghost', 'POST', '/api/1/composes/', TAG);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 403,
      body: { status: 403, error: 'Forbidden', message: 'User ghost is not in role allowed_clients.' },
    });
  });

  it('gives no groups while LDAP is down: a client allowed by group only is then refused', async () => {
    expect((await sendAs('carl', 'POST', '/api/1/composes/', TAG)).status).toBe(200);
    await slapd.stop();
    try {
      const before = await snapshot(t);
      const res = await sendAs('carl', 'POST', '/api/1/composes/', TAG);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 403,
        body: { status: 403, error: 'Forbidden', message: 'User carl is not in role allowed_clients.' },
      });
      expect(await snapshot(t)).toEqual(before);
      // A user allowed by name is not affected.
      expect((await sendAs('dev', 'POST', '/api/1/composes/', TAG)).status).toBe(200);
    } finally {
      await slapd.start();
    }
    expect((await sendAs('carl', 'POST', '/api/1/composes/', TAG)).status).toBe(200);
  });
});

describe('kerberos: start-up', () => {
  const ldap = (): ConfigInput => ({ auth_backend: 'kerberos', auth_ldap_server: slapd.url, auth_ldap_groups: [[POSIX_GROUPS, 'memberUid={}']], log_level: 'silent' });

  it('refuses a keytab it cannot read, naming auth_kerberos_keytab', async () => {
    const cfg = loadConfig({}, { ...ldap(), auth_kerberos_keytab: path.join(kdc.dir, 'missing.keytab') });
    await expect(createKerberosStrategy(cfg, silentLogger())).rejects.toThrow(
      new ConfigError(`Invalid configuration: auth_kerberos_keytab: cannot read ${path.join(kdc.dir, 'missing.keytab')} (ENOENT)`),
    );
  });

  it('refuses a service whose key is not in the keytab, naming auth_kerberos_service', async () => {
    const cfg = loadConfig({}, { ...ldap(), auth_kerberos_keytab: kdc.httpKeytab, auth_kerberos_service: 'HTTP@odcs.example.com' });
    await expect(createKerberosStrategy(cfg, silentLogger())).rejects.toThrow(/^Invalid configuration: auth_kerberos_service: no key for HTTP@odcs.example.com in the keytab/);
  });

  it('starts with the service principal of the keytab', async () => {
    const cfg = loadConfig({}, { ...ldap(), auth_kerberos_keytab: kdc.httpKeytab, auth_kerberos_service: SERVICE });
    expect((await createKerberosStrategy(cfg, silentLogger())).name).toBe('kerberos');
  });
});

describe('kerberos: the frontend process as users run it', () => {
  let db: TestDatabase;
  let procs: ProcessStack | undefined;

  beforeAll(async () => {
    buildDist();
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await procs?.stop();
    await db?.drop();
  });

  it('accepts with the keys of auth_kerberos_keytab, whatever KRB5_KTNAME it was started with', async () => {
    procs = await ProcessStack.start({
      databaseUrl: db.url,
      amqpUrl: AMQP_URL,
      roles: ['frontend'],
      env: {
        KRB5_CONFIG: kdc.krb5Conf,
        // The service's own setting must win over the environment it inherits.
        KRB5_KTNAME: `FILE:${path.join(kdc.dir, 'no-such.keytab')}`,
        ODCS_AUTH_BACKEND: 'kerberos',
        ODCS_AUTH_KERBEROS_KEYTAB: kdc.httpKeytab,
        ODCS_AUTH_KERBEROS_SERVICE: SERVICE,
        ODCS_AUTH_LDAP_SERVER: slapd.url,
        ODCS_AUTH_LDAP_GROUPS: JSON.stringify([[DN_GROUPS, `uniqueMember=uid={},${USERS}`]]),
        ODCS_ALLOWED_CLIENTS: JSON.stringify({ users: {}, groups: { composer: {} } }),
      },
    });
    const url = `${procs.api.replace('127.0.0.1', 'localhost')}/api/1/composes/`;
    const post = async (user: string) => {
      const args = ['-sS', '--negotiate', '-u', ':', '-H', 'Content-Type: application/json', '--data', '{"source": {"type": "tag", "source": "f30-build"}}'];
      const { stdout } = await runFile('curl', [...args, '-w', '\n%{http_code}', url], { env: kdc.clientEnv(user) });
      const at = stdout.lastIndexOf('\n');
      return { status: Number(stdout.slice(at + 1)), body: JSON.parse(stdout.slice(0, at)) as { owner?: string; message?: string } };
    };
    // carl is a client through his LDAP group composer (a groupOfUniqueNames entry).
    expect(await post('carl')).toMatchObject({ status: 200, body: { owner: 'carl' } });
    expect(await post('dev')).toEqual({ status: 403, body: { status: 403, error: 'Forbidden', message: 'User dev is not in role allowed_clients.' } });
  });
});

// kerberos_or_ssl (reference §4.1) over real HTTPS with client certificates. It lives here and not
// with the other framework tests because libkrb5 keeps process-wide state that a second test file
// loading the kerberos binding in the same Jest worker does not survive (its set-up hangs).
describe('auth_backend kerberos_or_ssl over HTTPS: Kerberos when Negotiate is sent, else the client certificate', () => {
  const errorBody = (status: number, message: string) => ({ status, error: STATUS_CODES[status], message });
  const TAG = { source: { type: 'tag', source: 'f30-build' } };
  const SERVICE = 'HTTP@localhost';
  let kdc: TestKdc;
  let slapd: TestSlapd;
  let ca: TestCa;
  let t: TestStack;
  let devCert: ClientCert;
  let revoked: ClientCert;

  beforeAll(async () => {
    kdc = await TestKdc.start(['dev', 'qa']);
    slapd = await TestSlapd.start({ users: ['dev', 'qa'], posixGroups: { composer: ['qa'] } });
    setNativeEnv({ KRB5_CONFIG: kdc.krb5Conf, KRB5_KTNAME: `FILE:${kdc.httpKeytab}`, KRB5CCNAME: kdc.ccacheCollection }, kdc.dir);
    ca = await createTestCa();
    devCert = await ca.client('dev');
    revoked = await ca.client('mallory');
    await ca.revoke(revoked);
    t = await startTestStack({
      listen: true,
      config: {
        auth_backend: 'kerberos_or_ssl',
        auth_kerberos_keytab: kdc.httpKeytab,
        auth_kerberos_service: SERVICE,
        auth_ldap_server: slapd.url,
        auth_ldap_groups: [[POSIX_GROUPS, 'memberUid={}']],
        tls_cert_file: ca.serverCertFile,
        tls_key_file: ca.serverKeyFile,
        tls_client_ca_file: ca.caFile,
        tls_crl_file: ca.crlFile,
        // dev by Kerberos and dev by certificate are different users; qa is a client by group.
        allowed_clients: { users: { dev: {}, [devCert.dn]: {} }, groups: { composer: {} } },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await slapd?.close();
    await kdc?.stop();
    await ca?.close();
  });

  async function negotiate(user: string): Promise<string> {
    const client = await kerberos.initializeClient(SERVICE, { mechOID: kerberos.GSS_MECH_OID_SPNEGO, principal: `${user}@${REALM}` });
    return `Negotiate ${await client.step('')}`;
  }

  const post = (identity: ClientCert | undefined, authorization?: string): Promise<JsonResponse> =>
    httpsJson(t.url as string, 'POST', '/api/1/composes/', { ca: ca.ca, identity, body: TAG, headers: authorization ? { Authorization: authorization } : {} });

  it('takes the Kerberos user, with LDAP groups, when Negotiate is sent', async () => {
    const res = await post(undefined, await negotiate('qa'));
    expect({ status: res.status, owner: (res.body as { owner: string }).owner }).toEqual({ status: 200, owner: 'qa' });
    expect(res.headers['www-authenticate']).toMatch(/^Negotiate [A-Za-z0-9+/]+=*$/);
  });

  it('takes the certificate when no Negotiate is sent', async () => {
    const res = await post(devCert);
    expect({ status: res.status, owner: (res.body as { owner: string }).owner }).toEqual({ status: 200, owner: devCert.dn });
  });

  it('tries Kerberos first when both are sent', async () => {
    const res = await post(devCert, await negotiate('dev'));
    expect({ status: res.status, owner: (res.body as { owner: string }).owner }).toEqual({ status: 200, owner: 'dev' });
  });

  it('records a users row for each user seen', async () => {
    const rows = await t.s.db.query<{ username: string }>('SELECT username FROM users WHERE username = ANY($1) ORDER BY username', [['dev', 'qa', devCert.dn]]);
    expect(rows.map((r) => r.username).sort()).toEqual(['dev', 'qa', devCert.dn].sort());
  });

  it.each([
    // ODCS: without REMOTE_USER, the SSL check decides: SSL_CLIENT_VERIFY is NONE.
    ['no credentials', async () => ({ identity: undefined, authorization: undefined }), 'Cannot verify client: NONE'],
    ['a revoked certificate', async () => ({ identity: revoked, authorization: undefined }), 'Cannot verify client: FAILED:certificate revoked'],
    // The first failure is the answer: Kerberos is tried first.
    ['a broken Negotiate token and a revoked certificate', async () => ({ identity: revoked, authorization: 'Negotiate AAAA' }), 'REMOTE_USER is not present in request.'],
    ['Negotiate without a token', async () => ({ identity: undefined, authorization: 'Negotiate' }), 'REMOTE_USER is not present in request.'],
  ])('answers %s with 401, its text and a Negotiate challenge, changing nothing', async (_what, credentials, message) => {
    const { identity, authorization } = await credentials();
    const before = await snapshot(t);
    const res = await post(identity, authorization);
    expect({ status: res.status, body: res.body, challenge: res.headers['www-authenticate'] }).toEqual({
      status: 401,
      body: errorBody(401, message),
      challenge: 'Negotiate',
    });
    expect(await snapshot(t)).toEqual(before);
  });

  it('lets a valid certificate in after a Negotiate token that fails', async () => {
    const res = await post(devCert, 'Negotiate AAAA');
    expect({ status: res.status, owner: (res.body as { owner: string }).owner }).toEqual({ status: 200, owner: devCert.dn });
  });

  it('serves GETs to anyone', async () => {
    const res = await httpsJson(t.url as string, 'GET', '/api/1/about/', { ca: ca.ca });
    expect({ status: res.status, auth_backend: (res.body as { auth_backend: string }).auth_backend }).toEqual({ status: 200, auth_backend: 'kerberos_or_ssl' });
  });
});
