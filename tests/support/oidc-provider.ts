/**
 * A real OpenID provider (`oidc-provider`, the certified Node implementation) in this process
 * on 127.0.0.1, for the `openidc` backend's tests: discovery, JWKS, RFC 7662 introspection
 * (counted), UserInfo with `groups`, and access tokens minted for any user with any scopes:
 * opaque (introspected) or JWT (for a resource server, verifiable with the JWKS), short-lived,
 * revocable. Tokens are minted through the provider's own models, so introspection, UserInfo
 * and the JWT signatures are the provider's, not ours.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { close, listen } from '../servers/http';

/** The confidential client ODCS introspects with. */
export const ODCS_CLIENT = { id: 'odcs', secret: 'odcs-introspection-secret' };
/** The client the users' tokens are issued to (the ODCS command-line client's). */
const USER_CLIENT = 'odcs-cli';
/** Audience of JWT access tokens (resource indicator of the ODCS API). */
export const JWT_AUDIENCE = 'https://odcs.example.com/api/1/';
export const GROUPS_SCOPE = 'https://id.fedoraproject.org/scope/groups';
export const ODCS_SCOPES = ['new-compose', 'renew-compose', 'delete-compose'].map((s) => `https://pagure.io/odcs/${s}`);

export interface MintOptions {
  /** Default: openid, the groups scope and the three ODCS scopes. [] mints a token without a scope claim. */
  scopes?: readonly string[];
  /** Lifetime, seconds (default 3600). */
  ttl?: number;
  /** A JWT for the ODCS resource server instead of an opaque token. */
  jwt?: boolean;
  /** Extra claims carried by the token (introspection answer, JWT payload), e.g. groups. */
  extra?: Record<string, unknown>;
}

export interface TestOidcProvider {
  issuer: string;
  /** Requests per endpoint path since start (e.g. `/token/introspection`, `/me`). */
  requests: Map<string, number>;
  mint(user: string, options?: MintOptions): Promise<string>;
  /** Revokes an access token at the provider (as its revocation endpoint does). */
  revoke(token: string): Promise<void>;
  /** Whether the provider still says the token is active (its own introspection). */
  isActive(token: string): Promise<boolean>;
  /** Stops answering (connections refused), as a provider outage. */
  stop(): Promise<void>;
}

// Minimal shapes of oidc-provider's API (the package ships no types).
interface ProviderToken {
  save(): Promise<string>;
  destroy(): Promise<void>;
  isValid: boolean;
}
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(mw: (ctx: { path: string }, next: () => Promise<void>) => Promise<void>): void;
  Client: { find(id: string): Promise<unknown> };
  AccessToken: { new (init: Record<string, unknown>): ProviderToken; find(value: string): Promise<ProviderToken | undefined> };
  ResourceServer: new (identifier: string, data: Record<string, unknown>) => unknown;
  Grant: new (init: { accountId: string; clientId: string }) => { addOIDCScope(scope: string): void; save(): Promise<string> };
}
type ProviderClass = new (issuer: string, config: Record<string, unknown>) => ProviderInstance;

/** Groups of each user, as UserInfo answers them (`groups` claim of the groups scope). */
export async function startTestOidcProvider(groupsOf: (user: string) => readonly string[] = () => []): Promise<TestOidcProvider> {
  const moduleName = 'oidc-provider';
  const { default: Provider } = (await import(moduleName)) as { default: ProviderClass };
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => handler?.(req, res));
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...key, kid: 'test-key', use: 'sig', alg: 'RS256' }] },
    clients: [
      { client_id: ODCS_CLIENT.id, client_secret: ODCS_CLIENT.secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      { client_id: USER_CLIENT, client_secret: 'cli-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
    ],
    features: {
      devInteractions: { enabled: false },
      // Any authenticated client may introspect (ODCS's client introspects the CLI's tokens).
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
    },
    ttl: { Grant: 3600 },
    scopes: ['openid', GROUPS_SCOPE, ...ODCS_SCOPES],
    claims: { openid: ['sub'], [GROUPS_SCOPE]: ['groups'] },
    // The claims given to a minted token (MintOptions.extra) are what it carries.
    extraTokenClaims: async (_ctx: unknown, token: { extra?: Record<string, unknown> }) => token.extra,
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, groups: [...groupsOf(id)] }),
    }),
  });
  const requests = new Map<string, number>();
  provider.use(async (ctx, next) => {
    requests.set(ctx.path, (requests.get(ctx.path) ?? 0) + 1);
    await next();
  });
  handler = provider.callback();
  const resourceServer = new provider.ResourceServer(JWT_AUDIENCE, { scope: [GROUPS_SCOPE, ...ODCS_SCOPES].join(' '), accessTokenFormat: 'jwt' });

  return {
    issuer,
    requests,
    async mint(user, options = {}) {
      const client = await provider.Client.find(USER_CLIENT);
      const scopes = options.scopes ?? ['openid', GROUPS_SCOPE, ...ODCS_SCOPES];
      // A grant, as a user's consent would leave it: UserInfo answers only for a token of one.
      const grant = new provider.Grant({ accountId: user, clientId: USER_CLIENT });
      if (scopes.length) grant.addOIDCScope(scopes.join(' '));
      const grantId = await grant.save();
      const token = new provider.AccessToken({
        accountId: user,
        client,
        scope: scopes.length ? scopes.join(' ') : undefined,
        expiresIn: options.ttl ?? 3600,
        extra: options.extra,
        gty: 'authorization_code',
        grantId,
        ...(options.jwt ? { resourceServer } : {}),
      });
      return token.save();
    },
    async revoke(token) {
      const found = await provider.AccessToken.find(token);
      await found?.destroy();
    },
    async isActive(token) {
      const found = await provider.AccessToken.find(token);
      return !!found?.isValid;
    },
    stop: () => close(server),
  };
}
