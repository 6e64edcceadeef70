import { STATUS_CODES } from 'node:http';
import * as kerberos from 'kerberos';
import { authBackendNames, ConfigError, loadConfig } from '../../common/config';
import { silentLogger } from '../../common/log';
import { createAuthBackend, noAuth, strategyNames } from '../../frontend/auth';
import { startFrontend } from '../../frontend/main';
import { httpsJson, type JsonResponse } from '../support/https-client';
import { REALM, setNativeEnv, TestKdc } from '../support/kdc';
import { snapshot } from '../support/refusals';
import { POSIX_GROUPS, TestSlapd } from '../support/slapd';
import { startTestStack, type TestStack } from '../support/stack';
import { type ClientCert, createTestCa, type TestCa } from '../support/test-ca';

/**
 * The authentication framework (frontend/auth/index.ts): auth_backend as one backend or a list
 * tried in order, each a Passport strategy; `kerberos_or_ssl` of reference §4.1 over real HTTPS
 * with a real KDC, slapd and client certificates.
 */

const errorBody = (status: number, message: string) => ({ status, error: STATUS_CODES[status], message });
const TAG = { source: { type: 'tag', source: 'f30-build' } };

describe('auth_backend configuration', () => {
  const errorOf = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('no error');
  };

  it("fails at start-up on an unknown backend name with ODCS's text", () => {
    expect(errorOf(() => loadConfig({ ODCS_AUTH_BACKEND: 'magic' }))).toBe('Invalid configuration: auth_backend: Unknown backend name magic. (from ODCS_AUTH_BACKEND)');
    expect(errorOf(() => loadConfig({}, { auth_backend: ['ssl', 'kerberos_or_ssl_openidc'] }))).toContain('Unknown backend name kerberos_or_ssl_openidc.');
    expect(errorOf(() => loadConfig({}, { auth_backend: '' }))).toContain('auth_backend: names no backend');
  });

  it('takes one backend or a list, from the environment (space or comma separated) or a file list', () => {
    expect(loadConfig({}).auth_backend).toBe('noauth');
    expect(loadConfig({ ODCS_AUTH_BACKEND: 'kerberos_or_ssl' }).auth_backend).toBe('kerberos_or_ssl');
    expect(authBackendNames(loadConfig({ ODCS_AUTH_BACKEND: 'openidc kerberos ssl' }))).toEqual(['openidc', 'kerberos', 'ssl']);
    expect(authBackendNames(loadConfig({ ODCS_AUTH_BACKEND: 'openidc,ssl' }))).toEqual(['openidc', 'ssl']);
    expect(authBackendNames(loadConfig({}, { auth_backend: ['ssl', 'openidc'] }))).toEqual(['ssl', 'openidc']);
    // kerberos_or_ssl is Kerberos first, then SSL; a name given twice is tried once.
    expect(strategyNames(loadConfig({}, { auth_backend: 'openidc kerberos_or_ssl ssl' }))).toEqual(['openidc', 'kerberos', 'ssl']);
  });

  it('refuses noauth in a list: it would let everyone in as an admin', () => {
    expect(errorOf(() => loadConfig({}, { auth_backend: 'ssl noauth' }))).toContain('auth_backend: noauth cannot be combined with other backends');
  });

  it('checks that the TLS files come together', () => {
    expect(errorOf(() => loadConfig({}, { tls_cert_file: '/etc/odcs/cert.pem' }))).toContain('tls_key_file: tls_cert_file and tls_key_file go together');
    expect(errorOf(() => loadConfig({}, { tls_client_ca_file: '/etc/odcs/ca.pem' }))).toContain('tls_client_ca_file: needs tls_cert_file and tls_key_file');
    expect(errorOf(() => loadConfig({}, { tls_cert_file: '/c.pem', tls_key_file: '/k.pem', tls_crl_file: '/crl.pem' }))).toContain(
      'tls_crl_file: needs tls_client_ca_file',
    );
    expect(errorOf(() => loadConfig({}, { tls_cert_file: 'cert.pem', tls_key_file: '/k.pem' }))).toContain('tls_cert_file: must be an absolute path');
  });

  it('points the default target_dir_url at https when the API serves TLS', () => {
    expect(loadConfig({}, { port: 8443 }).target_dir_url).toBe('http://127.0.0.1:8443/odcs');
    expect(loadConfig({}, { port: 8443, tls_cert_file: '/c.pem', tls_key_file: '/k.pem' }).target_dir_url).toBe('https://127.0.0.1:8443/odcs');
  });

  it('keeps noauth as it was: everyone is the anonymous unknown', async () => {
    expect(await createAuthBackend(loadConfig({}), { log: silentLogger() })).toBe(noAuth);
  });

  it('fails to start the API when a TLS file cannot be read, naming the option', async () => {
    const t = await startTestStack();
    try {
      const cfg = { ...t.cfg, tls_cert_file: '/nonexistent/cert.pem', tls_key_file: '/nonexistent/key.pem' };
      await expect(startFrontend({ ...t.s, cfg }, { port: 0 })).rejects.toThrow('Invalid configuration: tls_cert_file: cannot read /nonexistent/cert.pem (ENOENT)');
    } finally {
      await t.close();
    }
  });
});

describe('auth_backend kerberos_or_ssl over HTTPS: Kerberos when Negotiate is sent, else the client certificate', () => {
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
