import request from 'supertest';
import { STATUS_CODES } from 'node:http';
import { createAuthBackend } from '../../frontend/auth';
import { loadConfig } from '../../common/config';
import { silentLogger } from '../../common/log';
import { httpsJson, type JsonResponse } from '../support/https-client';
import { describePermissionMatrix, MATRIX_USERS, type MatrixUser, permissionMatrixConfig } from '../support/permission-matrix';
import { snapshot } from '../support/refusals';
import { startTestStack, type TestStack } from '../support/stack';
import { type ClientCert, createTestCa, type TestCa } from '../support/test-ca';

/**
 * The `ssl` backend (reference §4.1) with this process terminating TLS: a throwaway CA (openssl),
 * real client certificates over real HTTPS, as ODCS's Python client sends them (requests'
 * `cert=`). And the proxy mode, where a trusted TLS proxy passes the verified DN in headers.
 */

const TAG = { type: 'tag', source: 'f30-build' };
const errorBody = (status: number, message: string) => ({ status, error: STATUS_CODES[status], message });

let ca: TestCa;
const certs = new Map<MatrixUser, ClientCert>();
let stranger: ClientCert;
let revoked: ClientCert;
let robot: ClientCert;
let newcomer: ClientCert;

beforeAll(async () => {
  ca = await createTestCa();
  for (const user of MATRIX_USERS) certs.set(user, await ca.client(user));
  stranger = await ca.unknownCaClient('dev');
  revoked = await ca.client('mallory');
  // A subject whose RFC 2253 form needs escaping: `,` in O and `+` in CN.
  robot = await ca.client('robot', '/C=US/O=Example, Inc./CN=robot\\+1');
  newcomer = await ca.client('newcomer');
  await ca.revoke(revoked);
});
afterAll(async () => {
  await ca?.close();
});

const dnOf = (user: MatrixUser): string => (certs.get(user) as ClientCert).dn;

describe('auth_backend ssl, TLS terminated by the API', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({
      listen: true,
      config: {
        ...permissionMatrixConfig(dnOf),
        auth_backend: 'ssl',
        tls_cert_file: ca.serverCertFile,
        tls_key_file: ca.serverKeyFile,
        tls_client_ca_file: ca.caFile,
        tls_crl_file: ca.crlFile,
      },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const send = (identity: ClientCert | undefined, method: string, path: string, body?: unknown): Promise<JsonResponse> =>
    httpsJson(t.url as string, method, path, { ca: ca.ca, identity, body });

  describePermissionMatrix(() => ({
    stack: t,
    send: (user, method, path, body) => send(user && certs.get(user), method, path, body),
    usernameOf: dnOf,
    // A certificate carries no groups (reference §4.1): the group cases need another backend.
    groups: false,
    noCredentials: 'Cannot verify client: NONE',
  }));

  it("serves the ODCS Python client's calls made with a client certificate (requests' cert=, emulated)", async () => {
    // The Python client cannot be installed here (no PyPI): these are the requests it sends
    // (reference §9.1): JSON bodies with Content-Type application/json, the certificate in the handshake.
    const dev = certs.get('dev');
    const root = certs.get('root');
    // request_compose(ComposeSourceTag("f30-build"), arches=["ppc64"])
    const created = await send(dev, 'POST', '/api/1/composes/', { source: { type: 'tag', source: 'f30-build' }, arches: ['ppc64'] });
    expect({ status: created.status, owner: (created.body as { owner: string }).owner }).toEqual({ status: 200, owner: dnOf('dev') });
    const id = (created.body as { id: number }).id;
    // get_compose(id), as anyone
    expect((await send(undefined, 'GET', `/api/1/composes/${id}`)).status).toBe(200);
    // delete_compose(id) by its owner while waiting: cancelled
    expect((await send(dev, 'DELETE', `/api/1/composes/${id}`)).body).toEqual({ status: 202, message: `Compose (id=${id}) has been canceled` });
    // renew_compose(id, seconds_to_live=600): the failed compose is regenerated, owned by the caller
    const renewed = await send(dev, 'PATCH', `/api/1/composes/${id}`, { 'seconds-to-live': 600 });
    expect({ status: renewed.status, owner: (renewed.body as { owner: string }).owner }).toEqual({ status: 200, owner: dnOf('dev') });
    // delete_compose(id) by an admin: removal of the cancelled original
    const removed = await send(root, 'DELETE', `/api/1/composes/${id}`);
    expect({ status: removed.status, removed_by: (await t.s.store.get(id))?.removed_by }).toEqual({ status: 202, removed_by: dnOf('root') });
  });

  it('serves HTTPS at the URL it reports', () => {
    expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('names the user by the subject DN as mod_ssl prints it (RFC 2253), escapes included', async () => {
    expect(dnOf('dev')).toBe('CN=dev,OU=Builds,O=Example,C=US');
    expect(robot.dn).toBe('CN=robot\\+1,O=Example\\, Inc.,C=US');
    const res = await send(robot, 'POST', '/api/1/composes/', { source: TAG });
    expect({ status: res.status, body: res.body }).toEqual({ status: 403, body: errorBody(403, `User ${robot.dn} is not in role allowed_clients.`) });
  });

  it('records a users row on first sight of a DN, once', async () => {
    const rows = () => t.s.db.query('SELECT username FROM users WHERE username = $1', [newcomer.dn]);
    expect(await rows()).toEqual([]);
    // A GET does not authenticate (all GETs are public), so it records nobody.
    expect((await send(newcomer, 'GET', '/api/1/composes/')).status).toBe(200);
    expect(await rows()).toEqual([]);
    // A refused user is still a user that was seen (ODCS creates the row when loading the user).
    for (let i = 0; i < 3; i++) expect((await send(newcomer, 'DELETE', '/api/1/composes/999999')).status).toBe(404);
    expect(await rows()).toEqual([{ username: newcomer.dn }]);
  });

  it.each([
    // OpenSSL's text for a lone certificate whose issuer is not trusted (mod_ssl would say the same).
    ['from an unknown CA', () => stranger, 'Cannot verify client: FAILED:unable to verify the first certificate'],
    ['revoked in the CRL', () => revoked, 'Cannot verify client: FAILED:certificate revoked'],
  ])('refuses a certificate %s with 401 and mod_ssl verify text, changing nothing', async (_what, identity, message) => {
    const id = (await send(certs.get('dev'), 'POST', '/api/1/composes/', { source: TAG })).body as { id: number };
    for (const [method, path, body] of [
      ['POST', '/api/1/composes/', { source: TAG }],
      ['PATCH', `/api/1/composes/${id.id}`, {}],
      ['DELETE', `/api/1/composes/${id.id}`, undefined],
    ] as const) {
      const before = await snapshot(t);
      const res = await send(identity(), method, path, body);
      expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: errorBody(401, message) });
      expect(await snapshot(t)).toEqual(before);
    }
    // GETs stay public, whatever certificate comes with them.
    expect((await send(identity(), 'GET', '/api/1/composes/')).status).toBe(200);
  });

  it('ignores DN headers from a client that is not a trusted proxy', async () => {
    const res = await httpsJson(t.url as string, 'POST', '/api/1/composes/', {
      ca: ca.ca,
      body: { source: TAG },
      headers: { 'X-SSL-Client-S-DN': dnOf('root'), 'X-SSL-Client-Verify': 'SUCCESS' },
    });
    expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: errorBody(401, 'Cannot verify client: NONE') });
  });
});

describe('auth_backend ssl behind a trusted TLS-terminating proxy (auth_ssl_dn_header)', () => {
  const DN = 'CN=dev,OU=Builds,O=Example,C=US';
  let trusted: TestStack;
  let untrusted: TestStack;

  beforeAll(async () => {
    const config = { ...permissionMatrixConfig((u) => (u === 'dev' ? DN : u)), auth_backend: 'ssl', auth_ssl_dn_header: 'X-SSL-Client-S-DN' };
    // supertest connects from the loopback address.
    trusted = await startTestStack({ config: { ...config, trusted_proxies: ['127.0.0.1', '::1'] } });
    untrusted = await startTestStack({ config: { ...config, trusted_proxies: ['10.0.0.0/8'] } });
  });
  afterAll(async () => {
    await trusted.close();
    await untrusted.close();
  });

  const post = (t: TestStack, headers: Record<string, string>) => request(t.app).post('/api/1/composes/').set(headers).send({ source: TAG });

  it("takes the user from the proxy's verified DN", async () => {
    const res = await post(trusted, { 'X-SSL-Client-S-DN': DN, 'X-SSL-Client-Verify': 'SUCCESS' });
    expect({ status: res.status, owner: res.body.owner }).toEqual({ status: 200, owner: DN });
    expect(await trusted.s.store.get(res.body.id)).toMatchObject({ owner: DN });
  });

  it.each([
    [{ 'X-SSL-Client-S-DN': DN, 'X-SSL-Client-Verify': 'FAILED:certificate revoked' }, 'Cannot verify client: FAILED:certificate revoked'],
    [{ 'X-SSL-Client-S-DN': DN }, 'Cannot verify client: NONE'],
    [{ 'X-SSL-Client-Verify': 'SUCCESS' }, 'Unable to get user information (DN) from client certificate'],
    [{ 'X-SSL-Client-Verify': 'NONE' }, 'Cannot verify client: NONE'],
    [{}, 'Cannot verify client: NONE'],
  ])('answers the proxy headers %j with 401 %s', async (headers, message) => {
    const before = await snapshot(trusted);
    const res = await post(trusted, headers);
    expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: errorBody(401, message) });
    expect(await snapshot(trusted)).toEqual(before);
  });

  it('ignores the headers from any address that is not in trusted_proxies', async () => {
    const before = await snapshot(untrusted);
    const res = await post(untrusted, { 'X-SSL-Client-S-DN': DN, 'X-SSL-Client-Verify': 'SUCCESS' });
    expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: errorBody(401, 'Cannot verify client: NONE') });
    expect(await snapshot(untrusted)).toEqual(before);
  });
});

describe('ssl configuration', () => {
  it('refuses to start ssl when no certificate could ever reach it', async () => {
    await expect(createAuthBackend(loadConfig({}, { auth_backend: 'ssl' }), { log: silentLogger() })).rejects.toThrow(
      /auth_backend ssl needs tls_client_ca_file .* or auth_ssl_dn_header/,
    );
  });
});
