/**
 * The `openidc` backend against a real OpenID provider (oidc-provider, in this process): bearer
 * tokens as the ODCS Python client sends them (`Authorization: Bearer <token>`, JSON bodies),
 * introspected or verified locally as JWTs, scopes of §4.2, groups from UserInfo, the cache,
 * and a provider outage. The Python client cannot be installed here; its requests are emulated
 * exactly (reference §9: api/1/composes/ with json.dumps(data) and Content-Type application/json).
 */
import type { Request } from 'express';
import passport from 'passport';
import request from 'supertest';
import { loadConfig, type ConfigInput } from '../../common/config';
import { Unauthorized } from '../../common/errors';
import { silentLogger } from '../../common/log';
import type { AuthBackend } from '../../frontend/auth';
import { createOpenidcStrategy, INVALID_TOKEN, PROVIDER_DOWN } from '../../frontend/auth/strategies/openidc';
import type { Caller } from '../../frontend/permissions';
import { STATES } from '../../common/enums';
import { eventually } from '../support/listener';
import { GROUPS_SCOPE, JWT_AUDIENCE, ODCS_CLIENT, ODCS_SCOPES, startTestOidcProvider, type TestOidcProvider } from '../support/oidc-provider';
import { describePermissionMatrix, MATRIX_GROUPS, type MatrixMethod, type MatrixUser, permissionMatrixConfig } from '../support/permission-matrix';
import { startTestStack, type TestStack } from '../support/stack';

const [NEW, RENEW, DELETE] = ODCS_SCOPES;

/**
 * Runs one Passport strategy as the frontend's AuthBackend, mapping its outcome as the contract
 * of frontend/auth says: success → the caller, pass → undefined (anonymous), fail → 401 with
 * the strategy's message, error → that error (the API answers it in ODCS's shape).
 */
function strategyBackend(strategy: () => passport.Strategy): AuthBackend {
  return {
    name: 'openidc',
    authenticate: (req: Request) =>
      new Promise<Caller | undefined>((resolve, reject) => {
        const s = Object.create(strategy()) as passport.Strategy & passport.StrategyCreated<passport.Strategy>;
        s.success = (user) => resolve(user as Caller);
        s.pass = () => resolve(undefined);
        s.fail = (challenge?: unknown) => reject(new Unauthorized((challenge as { message: string }).message));
        s.error = (err) => reject(err);
        s.redirect = () => reject(new Error('unexpected redirect'));
        s.authenticate(req);
      }),
  };
}

let provider: TestOidcProvider;
let t: TestStack;
let strategy: passport.Strategy;
let now = Date.now();
const clock = (): number => now;

async function openidc(options: ConfigInput = {}): Promise<passport.Strategy> {
  const cfg = loadConfig(
    {},
    {
      auth_backend: 'openidc',
      auth_openidc_issuer: provider.issuer,
      auth_openidc_client_id: ODCS_CLIENT.id,
      auth_openidc_client_secret: ODCS_CLIENT.secret,
      net_timeout: 10,
      ...options,
    },
  );
  return createOpenidcStrategy(cfg, silentLogger(), { clock });
}

/** The Python client's request: api/1/<path>, bearer token, JSON body. */
function send(token: string | undefined, method: MatrixMethod, path: string, body?: unknown): request.Test {
  let r = request(t.app)[method.toLowerCase() as 'get'](path);
  if (token !== undefined) r = r.set('Authorization', `Bearer ${token}`);
  if (body !== undefined) r = r.set('Content-Type', 'application/json').send(JSON.stringify(body));
  return r;
}

const count = (path: string): number => provider.requests.get(path) ?? 0;
const TAG = { source: { type: 'tag', source: 'f30-build' } };

beforeAll(async () => {
  provider = await startTestOidcProvider((user) => MATRIX_GROUPS[user as MatrixUser] ?? []);
  strategy = await openidc();
  t = await startTestStack({ config: permissionMatrixConfig(), context: { auth: strategyBackend(() => strategy) } });
});

afterAll(async () => {
  await t?.close();
  await provider?.stop();
});

beforeEach(async () => {
  now = Date.now();
  strategy = await openidc();
});

describe('the §4.4 permission matrix with bearer tokens (groups from UserInfo)', () => {
  const tokens = new Map<MatrixUser, string>();
  describePermissionMatrix(() => ({
    stack: t,
    groups: true,
    usernameOf: (u) => u,
    noCredentials: 'REMOTE_USER is not present in request.',
    send: async (user, method, path, body) => {
      let token: string | undefined;
      if (user) {
        token = tokens.get(user) ?? (await provider.mint(user));
        tokens.set(user, token);
      }
      const res = await send(token, method, path, body);
      return { status: res.status, body: res.body };
    },
  }));
});

describe('ODCS texts of §4.1-4.2', () => {
  it('an empty bearer token: 401 Missing token passed to ODCS.', async () => {
    const res = await send('', 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ status: 401, error: 'Unauthorized', message: 'Missing token passed to ODCS.' });
  });

  it('a token without a scope claim: 401 Missing OIDC_CLAIM_scope.', async () => {
    const res = await send(await provider.mint('dev', { scopes: [] }), 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(401);
    expect(res.body.message).toBe('Missing OIDC_CLAIM_scope.');
  });

  it('auth_openidc_required_scopes: 401 naming the first missing scope', async () => {
    strategy = await openidc({ auth_openidc_required_scopes: ['openid', GROUPS_SCOPE] });
    const res = await send(await provider.mint('dev', { scopes: ['openid', NEW] }), 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(401);
    expect(res.body.message).toBe(`Required OIDC scope ${GROUPS_SCOPE} not present.`);
    const ok = await send(await provider.mint('carl'), 'POST', '/api/1/composes/', TAG);
    expect(ok.status).toBe(200);
  });

  it('each mutating route needs its own scope: 403 Request does not have required scope <short>', async () => {
    const created = await send(await provider.mint('root'), 'POST', '/api/1/composes/', TAG);
    expect(created.status).toBe(200);
    const id = created.body.id as number;
    const onlyNew = await provider.mint('root', { scopes: ['openid', NEW] });
    const noNew = await provider.mint('root', { scopes: ['openid', RENEW, DELETE] });

    const post = await send(noNew, 'POST', '/api/1/composes/', TAG);
    expect(post.status).toBe(403);
    expect(post.body).toEqual({ status: 403, error: 'Forbidden', message: 'Request does not have required scope new-compose' });
    const patch = await send(onlyNew, 'PATCH', `/api/1/composes/${id}`, {});
    expect(patch.status).toBe(403);
    expect(patch.body.message).toBe('Request does not have required scope renew-compose');
    const del = await send(onlyNew, 'DELETE', `/api/1/composes/${id}`);
    expect(del.status).toBe(403);
    expect(del.body.message).toBe('Request does not have required scope delete-compose');
    // Nothing changed: the compose still waits.
    expect((await t.s.store.get(id))?.state).toBe(STATES.wait);
    // The scope check comes before the role check (ODCS's decorator order): qa is no client.
    const qa = await send(await provider.mint('qa', { scopes: ['openid'] }), 'POST', '/api/1/composes/', TAG);
    expect(qa.body.message).toBe('Request does not have required scope new-compose');
  });

  it('GETs need no token', async () => {
    const res = await send(undefined, 'GET', '/api/1/composes/');
    expect(res.status).toBe(200);
  });
});

describe('introspection', () => {
  it('a token the provider never issued: 401, nothing created', async () => {
    const before = (await t.s.store.list({ filters: {}, orderBy: 'id', descending: true, limit: 1, offset: 0 })).total;
    const res = await send('not-a-token-of-this-provider', 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ status: 401, error: 'Unauthorized', message: INVALID_TOKEN });
    expect((await t.s.store.list({ filters: {}, orderBy: 'id', descending: true, limit: 1, offset: 0 })).total).toBe(before);
  });

  it('an expired token: 401', async () => {
    const token = await provider.mint('dev', { ttl: 1 });
    // The provider's own clock decides expiry at introspection (it cannot be injected): wait for it.
    await eventually(async () => !(await provider.isActive(token)), 15000, 'the token to expire at the provider');
    const res = await send(token, 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(401);
    expect(res.body.message).toBe(INVALID_TOKEN);
  });

  it('a revoked token: refused at once when not cached; when cached, once auth_openidc_cache_seconds have passed', async () => {
    const fresh = await provider.mint('dev');
    await provider.revoke(fresh);
    expect((await send(fresh, 'POST', '/api/1/composes/', TAG)).status).toBe(401);

    strategy = await openidc({ auth_openidc_cache_seconds: 60 });
    const token = await provider.mint('dev');
    expect((await send(token, 'POST', '/api/1/composes/', TAG)).status).toBe(200);
    await provider.revoke(token);
    now += 59_000;
    expect((await send(token, 'POST', '/api/1/composes/', TAG)).status).toBe(200);
    now += 2_000;
    const res = await send(token, 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(401);
    expect(res.body.message).toBe(INVALID_TOKEN);
  });

  it('a busy client costs one introspection and one UserInfo per token, not one per request', async () => {
    const token = await provider.mint('carl');
    const introspections = count('/token/introspection');
    const userinfos = count('/me');
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(token, 'POST', '/api/1/composes/', TAG)));
    for (let i = 0; i < 10; i++) expect((await send(token, 'POST', '/api/1/composes/', TAG)).status).toBe(200);
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(count('/token/introspection') - introspections).toBe(1);
    expect(count('/me') - userinfos).toBe(1);
    // carl is a client through its group only: the groups came from UserInfo.
    expect(answers[0].body.owner).toBe('carl');
  });

  it('the cache holds a token no longer than its exp', async () => {
    const token = await provider.mint('carl', { ttl: 120 });
    const introspections = count('/token/introspection');
    strategy = await openidc({ auth_openidc_cache_seconds: 3600 });
    expect((await send(token, 'POST', '/api/1/composes/', TAG)).status).toBe(200);
    now += 121_000;
    // Past exp by our clock the entry is gone: the provider is asked again (and, by its own
    // clock, the token is still active).
    expect((await send(token, 'POST', '/api/1/composes/', TAG)).status).toBe(200);
    expect(count('/token/introspection') - introspections).toBe(2);
  });

  it('groups from a claim of the introspection answer (auth_openidc_groups_claim), no UserInfo', async () => {
    strategy = await openidc({ auth_openidc_groups_claim: 'groups' });
    const userinfos = count('/me');
    const res = await send(await provider.mint('nobody-user', { extra: { groups: ['composer'] } }), 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(200);
    expect(res.body.owner).toBe('nobody-user');
    expect(count('/me')).toBe(userinfos);
  });

  it('auth_openidc_username_claim: the user is that claim; a token without it is 401 REMOTE_USER is not present in request.', async () => {
    strategy = await openidc({ auth_openidc_username_claim: 'preferred_username', auth_openidc_groups_claim: 'groups' });
    const res = await send(await provider.mint('id-1234', { extra: { preferred_username: 'carla', groups: ['composer'] } }), 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(200);
    expect(res.body.owner).toBe('carla');
    const without = await send(await provider.mint('id-1234', { extra: { groups: ['composer'] } }), 'POST', '/api/1/composes/', TAG);
    expect(without.status).toBe(401);
    expect(without.body.message).toBe('REMOTE_USER is not present in request.');
  });

  it('a UserInfo that refuses the token gives no groups, not an error', async () => {
    // Without the openid scope the provider's UserInfo answers 403 (insufficient_scope).
    const res = await send(await provider.mint('carl', { scopes: [NEW] }), 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(403);
    expect(res.body.message).toBe('User carl is not in role allowed_clients.');
  });
});

describe('JWT access tokens verified locally (auth_openidc_local_jwt)', () => {
  beforeEach(async () => {
    strategy = await openidc({ auth_openidc_local_jwt: true, auth_openidc_audience: JWT_AUDIENCE, auth_openidc_groups_claim: 'groups' });
  });

  it('accepted without asking the provider', async () => {
    const token = await provider.mint('carl', { jwt: true, extra: { groups: ['composer'] } });
    expect(token.split('.')).toHaveLength(3);
    const before = count('/token/introspection') + count('/me');
    const res = await send(token, 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(200);
    expect(res.body.owner).toBe('carl');
    expect(count('/token/introspection') + count('/me')).toBe(before);
  });

  it('expired (by our clock), for another audience, or tampered: 401', async () => {
    const token = await provider.mint('carl', { jwt: true, ttl: 300, extra: { groups: ['composer'] } });
    now += 301_000;
    expect((await send(token, 'POST', '/api/1/composes/', TAG)).body).toEqual({ status: 401, error: 'Unauthorized', message: INVALID_TOKEN });
    now = Date.now();

    strategy = await openidc({ auth_openidc_local_jwt: true, auth_openidc_audience: 'https://elsewhere.example.com/', auth_openidc_groups_claim: 'groups' });
    expect((await send(token, 'POST', '/api/1/composes/', TAG)).status).toBe(401);

    strategy = await openidc({ auth_openidc_local_jwt: true, auth_openidc_audience: JWT_AUDIENCE, auth_openidc_groups_claim: 'groups' });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'root' })).toString('base64url');
    expect((await send(`${header}.${forged}.${signature}`, 'POST', '/api/1/composes/', TAG)).status).toBe(401);
    expect((await send(token, 'POST', '/api/1/composes/', TAG)).status).toBe(200);
  });

  it('opaque tokens are still introspected', async () => {
    const res = await send(await provider.mint('carl', { extra: { groups: ['composer'] } }), 'POST', '/api/1/composes/', TAG);
    expect(res.status).toBe(200);
  });
});

describe('configuration', () => {
  it('openidc without an issuer or client id fails at start-up naming the option', async () => {
    await expect(openidc({ auth_openidc_issuer: '' })).rejects.toThrow(/auth_openidc_issuer: required/);
    await expect(openidc({ auth_openidc_client_id: '' })).rejects.toThrow(/auth_openidc_client_id: required/);
  });
});

describe('through auth_backend openidc (frontend/auth, a real listening server)', () => {
  let served: TestStack;
  beforeAll(async () => {
    served = await startTestStack({
      listen: true,
      config: {
        ...permissionMatrixConfig(),
        auth_backend: 'openidc',
        auth_openidc_issuer: provider.issuer,
        auth_openidc_client_id: ODCS_CLIENT.id,
        auth_openidc_client_secret: ODCS_CLIENT.secret,
        auth_openidc_required_scopes: ['openid'],
      },
    });
  });
  afterAll(async () => {
    await served?.close();
  });

  /** The Python client: urljoin(server, 'api/1/composes/'), json.dumps(data), Bearer token. */
  const python = (token: string | undefined, method: string, path: string, data?: unknown): Promise<Response> =>
    fetch(new URL(`api/1/${path}`, `${served.url}/`), {
      method,
      headers: { ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}), ...(data !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: data === undefined ? undefined : JSON.stringify(data),
    });

  it('creates, cancels and renews a compose; records the user; refuses with ODCS texts', async () => {
    const token = await provider.mint('carl');
    const created = await python(token, 'POST', 'composes/', TAG);
    expect(created.status).toBe(200);
    const compose = (await created.json()) as { id: number; owner: string };
    expect(compose.owner).toBe('carl');
    const users = await served.s.db.query('SELECT username FROM users WHERE username = $1', ['carl']);
    expect(users).toHaveLength(1);

    const cancelled = await python(token, 'DELETE', `composes/${compose.id}`);
    expect(cancelled.status).toBe(202);
    expect((await served.s.store.get(compose.id))?.state).toBe(STATES.failed);
    const renewed = await python(token, 'PATCH', `composes/${compose.id}`, { seconds_to_live: 600 });
    expect(renewed.status).toBe(200);

    const anonymous = await python(undefined, 'POST', 'composes/', TAG);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ status: 401, error: 'Unauthorized', message: 'REMOTE_USER is not present in request.' });
    const noOpenid = await python(await provider.mint('carl', { scopes: [NEW] }), 'POST', 'composes/', TAG);
    expect(((await noOpenid.json()) as { message: string }).message).toBe('Required OIDC scope openid not present.');
    const noScope = await python(await provider.mint('carl', { scopes: ['openid', RENEW] }), 'POST', 'composes/', TAG);
    expect(noScope.status).toBe(403);
    expect(((await noScope.json()) as { message: string }).message).toBe('Request does not have required scope new-compose');
    expect((await python(undefined, 'GET', `composes/${compose.id}`)).status).toBe(200);
  });
});

// Last: stops the provider.
describe('provider down at request time', () => {
  it('503 in ODCS shape with Retry-After, nothing created; a cached token still works', async () => {
    const cached = await provider.mint('carl');
    expect((await send(cached, 'POST', '/api/1/composes/', TAG)).status).toBe(200);
    const unknown = await provider.mint('carl');
    const jwt = await provider.mint('carl', { jwt: true, extra: { groups: ['composer'] } });
    const introspecting = strategy;
    // Its JWKS is fetched at the first JWT, which comes after the outage.
    const verifying = await openidc({ auth_openidc_local_jwt: true, auth_openidc_groups_claim: 'groups' });
    await provider.stop();
    const total = async (): Promise<number> => (await t.s.store.list({ filters: {}, orderBy: 'id', descending: true, limit: 1, offset: 0 })).total;
    const before = await total();
    const res = await send(unknown, 'POST', '/api/1/composes/', TAG);
    expect(await total()).toBe(before);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body).toEqual({ status: 503, error: 'Service Unavailable', message: PROVIDER_DOWN });
    expect((await send(cached, 'POST', '/api/1/composes/', TAG)).status).toBe(200);

    strategy = verifying;
    const noKeys = await send(jwt, 'POST', '/api/1/composes/', TAG);
    expect(noKeys.status).toBe(503);
    expect(noKeys.body.message).toBe(PROVIDER_DOWN);
    expect(await total()).toBe(before + 1);
    strategy = introspecting;
  });
});
