import type { Request } from 'express';
import passport from 'passport';
import { ConfigError, type Config } from '../../../common/config';
import { ServiceUnavailable } from '../../../common/errors';
import { httpFetch, type AllowList, type NetOptions } from '../../../common/http/client';
import type { Logger } from '../../../common/log';
import type { Caller } from '../../permissions';
import { TokenCache } from '../token-cache';

// Both packages are ES modules only: loaded with import(), which the nodenext build keeps as a
// real dynamic import and Jest's configuration turns into require() of transformed sources.
type OpenidClient = typeof import('openid-client');
type Jose = typeof import('jose');

/** ODCS's texts (reference §4.1, Appendix A). */
export const NO_REMOTE_USER = 'REMOTE_USER is not present in request.';
export const MISSING_TOKEN = 'Missing token passed to ODCS.';
export const MISSING_SCOPE = 'Missing OIDC_CLAIM_scope.';
/** Ours: the provider says the token is not active (expired, revoked, unknown), or a JWT failed verification. */
export const INVALID_TOKEN = 'The token passed to ODCS is not valid (expired, revoked or not issued by the configured issuer).';
export const PROVIDER_DOWN = 'Cannot check the token with the OpenID provider at the moment; try again later.';

/** What a valid token says about its holder, cached until the token expires. */
export interface OidcIdentity {
  username: string;
  groups: readonly string[];
  /** undefined: the token carries no `scope` claim at all. */
  scopes: readonly string[] | undefined;
}

/**
 * The token of an `Authorization: Bearer <token>` header; undefined when the request does not
 * use Bearer (no header, or another scheme: the next backend's), '' when it says Bearer with no token.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*Bearer(?:\s+(.*))?$/i.exec(header);
  if (!match) return undefined;
  return (match[1] ?? '').trim();
}

/** Whether a token has a JWT's shape (three base64url parts); other tokens are opaque. */
function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/** The claims (introspection answer or JWT payload) as ODCS would see them through mod_auth_openidc. */
function identityFromClaims(cfg: Config, claims: Record<string, unknown>): { username: string | undefined; scopes: string[] | undefined; groups: string[] | undefined } {
  const name = claims[cfg.auth_openidc_username_claim];
  const scope = claims.scope;
  const groups = cfg.auth_openidc_groups_claim ? claims[cfg.auth_openidc_groups_claim] : undefined;
  return {
    username: typeof name === 'string' && name !== '' ? name : undefined,
    scopes: typeof scope === 'string' && scope.trim() !== '' ? scope.trim().split(/\s+/) : undefined,
    groups: cfg.auth_openidc_groups_claim ? (Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : []) : undefined,
  };
}

/** A token that is refused: answered 401 with `answer`, not an outage. */
class InvalidToken extends Error {
  override name = 'InvalidToken';
  constructor(
    reason: string,
    readonly answer: string = INVALID_TOKEN,
  ) {
    super(reason);
  }
}

/** Every status except redirects is answered to the caller (openid-client and jose judge them). */
const ANY_STATUS = Array.from({ length: 400 }, (_, i) => 200 + i).filter((s) => s < 300 || s >= 400);
/** Provider answers are small JSON documents. */
const MAX_PROVIDER_ANSWER_BYTES = 1024 * 1024;

/**
 * A fetch for openid-client and jose over the project's outgoing-HTTP layer: the provider's
 * hosts only, bounded in time and size. One attempt, no retry window: a request waiting for
 * its authentication should fail fast (503) rather than hold its client through retries.
 */
function providerFetch(allow: AllowList, net: NetOptions) {
  return async (url: string, init: { method?: string; headers?: Record<string, string> | Headers; body?: unknown; signal?: AbortSignal }): Promise<Response> => {
    const headers: Record<string, string> = {};
    new Headers(init.headers as ConstructorParameters<typeof Headers>[0]).forEach((value, key) => {
      headers[key] = value;
    });
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const method = init.method === 'POST' ? 'POST' : 'GET';
    const res = await httpFetch(url, { method, headers, body, allow, net, accept: ANY_STATUS, maxBytes: MAX_PROVIDER_ANSWER_BYTES, signal: init.signal });
    const out = new Headers();
    for (const [key, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) out.append(key, v);
    }
    const empty = res.status === 204 || res.status === 304;
    return new Response(empty ? null : new Uint8Array(res.body), { status: res.status, statusText: res.statusText, headers: out });
  };
}

export interface OpenidcStrategyOptions {
  /** Milliseconds since the epoch: token expiry and cache ages (injected by tests). */
  clock?: () => number;
}

/**
 * Bearer tokens (reference §4.1 `openidc`), checked as mod_auth_openidc does in front of ODCS:
 * RFC 7662 introspection, or, for a JWT when `auth_openidc_local_jwt` allows it, locally
 * against the issuer's JWKS. The user is the `auth_openidc_username_claim` claim, the scopes
 * the `scope` claim (the per-route scopes are checked by the routes, frontend/auth/scopes.ts),
 * the groups the UserInfo `groups` key or the `auth_openidc_groups_claim` claim.
 */
export class OpenidcStrategy extends passport.Strategy {
  override name = 'openidc';
  private readonly cache: TokenCache<OidcIdentity>;

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    private readonly check: {
      introspect: (token: string) => Promise<Record<string, unknown>>;
      verifyJwt: ((token: string, now: number) => Promise<Record<string, unknown>>) | undefined;
      userinfoGroups: ((token: string) => Promise<string[]>) | undefined;
      isInvalidTokenError: (err: unknown) => boolean;
    },
    private readonly clock: () => number,
  ) {
    super();
    this.cache = new TokenCache({ maxEntries: cfg.auth_openidc_cache_size, maxSeconds: cfg.auth_openidc_cache_seconds, clock });
  }

  override authenticate(req: Request): void {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) return this.pass();
    if (token === '') return this.fail({ message: MISSING_TOKEN }, 401);
    this.identify(token).then(
      (identity) => {
        const refusal = this.refusal(identity);
        if (refusal) return this.fail({ message: refusal }, 401);
        const caller: Caller = { username: identity.username, groups: identity.groups, anonymous: false, via: 'openidc', scopes: identity.scopes ?? [] };
        this.success(caller);
      },
      (err: unknown) => {
        if (err instanceof InvalidToken || this.check.isInvalidTokenError(err)) {
          this.log.info({ reason: (err as Error).message }, 'openidc: token refused');
          return this.fail({ message: err instanceof InvalidToken ? err.answer : INVALID_TOKEN }, 401);
        }
        this.log.error({ err }, 'openidc: cannot check a token with the provider');
        this.error(new ServiceUnavailable(PROVIDER_DOWN));
      },
    );
  }

  /** ODCS's 401s for a token that is valid but does not say enough (reference §4.1). */
  private refusal(identity: OidcIdentity): string | undefined {
    if (identity.scopes === undefined) return MISSING_SCOPE;
    const missing = this.cfg.auth_openidc_required_scopes.find((s) => !identity.scopes?.includes(s));
    return missing === undefined ? undefined : `Required OIDC scope ${missing} not present.`;
  }

  private identify(token: string): Promise<OidcIdentity> {
    return this.cache.getOrLoad(token, async () => {
      const local = this.check.verifyJwt !== undefined && looksLikeJwt(token);
      const claims = local ? await this.check.verifyJwt!(token, this.clock()) : await this.check.introspect(token);
      const { username, scopes, groups } = identityFromClaims(this.cfg, claims);
      // mod_auth_openidc then sets no REMOTE_USER, and ODCS says so.
      if (username === undefined) throw new InvalidToken(`the token has no ${this.cfg.auth_openidc_username_claim} claim`, NO_REMOTE_USER);
      // RFC 7662 makes exp optional: without it the cache bound alone applies.
      const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : Number.POSITIVE_INFINITY;
      return {
        value: { username, scopes, groups: groups ?? (await this.check.userinfoGroups?.(token)) ?? [] },
        expiresAt: exp,
      };
    });
  }
}

function requireOption(cfg: Config, key: 'auth_openidc_issuer' | 'auth_openidc_client_id'): string {
  const value = cfg[key];
  if (!value) throw new ConfigError(`Invalid configuration: ${key}: required by auth_backend openidc`);
  return value;
}

/**
 * Discovers the issuer (start-up fails, naming auth_openidc_issuer, when it cannot) and returns
 * the strategy. An http:// issuer is allowed (test providers on loopback) with a warning.
 */
export async function createOpenidcStrategy(cfg: Config, log: Logger, options: OpenidcStrategyOptions = {}): Promise<passport.Strategy> {
  const issuer = new URL(requireOption(cfg, 'auth_openidc_issuer'));
  const clientId = requireOption(cfg, 'auth_openidc_client_id');
  const client: OpenidClient = await import('openid-client');
  const clock = options.clock ?? Date.now;

  const allow: { hosts: string[]; name: string } = { hosts: [issuer.host], name: 'auth_openidc_issuer and its discovered endpoints' };
  if (cfg.auth_openidc_userinfo_uri) allow.hosts.push(new URL(cfg.auth_openidc_userinfo_uri).host);
  const net: NetOptions = { timeoutSeconds: 0, attemptTimeoutSeconds: cfg.net_timeout, minRateBytes: cfg.net_min_rate_bytes };
  const fetch = providerFetch(allow, net);

  const insecure = issuer.protocol === 'http:';
  if (insecure) log.warn({ issuer: issuer.href }, 'openidc: the issuer is plain http; use https in production');
  const auth = cfg.auth_openidc_client_secret ? client.ClientSecretBasic(cfg.auth_openidc_client_secret) : client.None();
  let config: InstanceType<OpenidClient['Configuration']>;
  try {
    config = await client.discovery(issuer, clientId, undefined, auth, {
      execute: insecure ? [client.allowInsecureRequests] : [],
      [client.customFetch]: fetch as never,
    });
  } catch (err) {
    throw new ConfigError(`Invalid configuration: auth_openidc_issuer: discovery of ${issuer.href} failed: ${(err as Error).message}`);
  }
  config[client.customFetch] = fetch as never;
  const meta = config.serverMetadata();
  for (const url of [meta.introspection_endpoint, meta.userinfo_endpoint, meta.jwks_uri]) if (url) allow.hosts.push(new URL(url).host);

  if (!meta.introspection_endpoint) {
    throw new ConfigError(`Invalid configuration: auth_openidc_issuer: ${issuer.href} offers no introspection_endpoint (RFC 7662)`);
  }
  const introspect = async (token: string): Promise<Record<string, unknown>> => {
    const answer = await client.tokenIntrospection(config, token);
    if (answer.active !== true) throw new InvalidToken('the provider says the token is not active');
    return answer as Record<string, unknown>;
  };

  let verifyJwt: ((token: string, now: number) => Promise<Record<string, unknown>>) | undefined;
  let jose: Jose | undefined;
  if (cfg.auth_openidc_local_jwt) {
    if (!meta.jwks_uri) throw new ConfigError(`Invalid configuration: auth_openidc_local_jwt: ${issuer.href} publishes no jwks_uri`);
    const j: Jose = await import('jose');
    jose = j;
    const keys = j.createRemoteJWKSet(new URL(meta.jwks_uri), { [j.customFetch]: fetch as never });
    verifyJwt = async (token, now) => {
      const { payload } = await j.jwtVerify(token, keys, {
        issuer: meta.issuer,
        audience: cfg.auth_openidc_audience || undefined,
        requiredClaims: ['exp'],
        currentDate: new Date(now),
      });
      return payload as Record<string, unknown>;
    };
  }

  const userinfoUri = cfg.auth_openidc_userinfo_uri || meta.userinfo_endpoint || '';
  let userinfoGroups: ((token: string) => Promise<string[]>) | undefined;
  if (!cfg.auth_openidc_groups_claim) {
    if (!userinfoUri) log.warn('openidc: no UserInfo endpoint (auth_openidc_userinfo_uri) and no auth_openidc_groups_claim: users have no groups');
    else userinfoGroups = (token) => fetchUserinfoGroups(userinfoUri, token, fetch, log);
  }

  // A JWT that fails verification is a bad token (401); a JWKS that cannot be fetched (timeout,
  // non-200, not a key set) is an outage (503), as is any other error.
  const isInvalidTokenError = (err: unknown): boolean => {
    if (jose === undefined) return false;
    const e = jose.errors;
    const refusals = [e.JWTExpired, e.JWTClaimValidationFailed, e.JWTInvalid, e.JWSInvalid, e.JWSSignatureVerificationFailed, e.JWKSNoMatchingKey, e.JWKSMultipleMatchingKeys, e.JOSEAlgNotAllowed, e.JOSENotSupported, e.JWKInvalid];
    return refusals.some((cls) => err instanceof cls);
  };

  log.info({ issuer: meta.issuer, local_jwt: cfg.auth_openidc_local_jwt, userinfo: userinfoUri || undefined }, 'openidc: issuer discovered');
  return new OpenidcStrategy(cfg, log, { introspect, verifyJwt, userinfoGroups, isInvalidTokenError }, clock);
}

/** ODCS: GET UserInfo with the token; the `groups` key of the JSON; any non-200 gives no groups (logged). */
async function fetchUserinfoGroups(uri: string, token: string, fetch: ReturnType<typeof providerFetch>, log: Logger): Promise<string[]> {
  const res = await fetch(uri, { method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
  if (res.status !== 200) {
    log.warn({ status: res.status, uri }, 'openidc: UserInfo refused the token; the user has no groups');
    return [];
  }
  let data: unknown;
  try {
    data = await res.json();
  } catch {
    log.warn({ uri }, 'openidc: UserInfo answered no JSON; the user has no groups');
    return [];
  }
  const groups = (data as { groups?: unknown } | null)?.groups;
  return Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [];
}
