import type { Request, Response } from 'express';
import passport from 'passport';
import { type AuthBackendName, authBackendNames, type Config } from '../../common/config';
import type { Queryable } from '../../common/db/database';
import { Unauthorized } from '../../common/errors';
import type { Logger } from '../../common/log';
import type { Caller } from '../permissions';
import { createKerberosStrategy } from './strategies/kerberos';
import { ANONYMOUS_CALLER, createNoauthStrategy } from './strategies/noauth';
import { createOpenidcStrategy } from './strategies/openidc';
import { cannotVerify, createSslStrategy } from './strategies/ssl';
import { UserRegistry } from './users';

/**
 * Turns a request into a caller. Returns undefined when the request carries no credentials
 * (GETs are public); throws Unauthorized (or another ApiError) when it carries bad ones.
 */
export interface AuthBackend {
  readonly name: string;
  authenticate(req: Request): Promise<Caller | undefined>;
  /** The 401 of a mutating request without credentials; default ODCS's `REMOTE_USER is not present in request.` */
  readonly noCredentials?: () => Unauthorized;
}

/** ODCS's text when no user could be loaded from the request (kerberos, openidc; reference §4.1). */
export const NO_REMOTE_USER = 'REMOTE_USER is not present in request.';

/** The 401 a mutating request without credentials gets from `auth`. */
export function noCredentials(auth: AuthBackend): Unauthorized {
  return auth.noCredentials?.() ?? new Unauthorized(NO_REMOTE_USER);
}

/** `noauth`: everyone is the anonymous user `unknown` and every role check passes (reference §4.1). */
export const noAuth: AuthBackend = {
  name: 'noauth',
  authenticate: async () => ANONYMOUS_CALLER,
};

type StrategyName = Exclude<AuthBackendName, 'kerberos_or_ssl'>;

const FACTORIES: Record<StrategyName, (cfg: Config, log: Logger) => Promise<passport.Strategy>> = {
  noauth: createNoauthStrategy,
  openidc: createOpenidcStrategy,
  kerberos: createKerberosStrategy,
  ssl: createSslStrategy,
};

/** What a request without credentials is told, per strategy (mod_ssl: SSL_CLIENT_VERIFY is NONE). */
const NO_CREDENTIALS_TEXT: Record<StrategyName, string> = {
  noauth: NO_REMOTE_USER,
  openidc: NO_REMOTE_USER,
  kerberos: NO_REMOTE_USER,
  ssl: cannotVerify('NONE'),
};

/** The strategies of auth_backend in order: `kerberos_or_ssl` is Kerberos when Negotiate is sent, else SSL. */
export function strategyNames(cfg: Pick<Config, 'auth_backend'>): StrategyName[] {
  const names = authBackendNames(cfg).flatMap((name): StrategyName[] => (name === 'kerberos_or_ssl' ? ['kerberos', 'ssl'] : [name]));
  return [...new Set(names)];
}

type Outcome =
  | { kind: 'success'; caller: Caller }
  | { kind: 'fail'; message: string; status: number }
  | { kind: 'pass' }
  | { kind: 'error'; err: unknown };

/** The message of a strategy's `fail(challenge, status)`. */
function failureMessage(challenge: unknown): string {
  if (typeof challenge === 'string' && challenge !== '') return challenge;
  if (challenge && typeof challenge === 'object' && typeof (challenge as { message?: unknown }).message === 'string') {
    return (challenge as { message: string }).message;
  }
  return NO_REMOTE_USER;
}

/**
 * The backends of auth_backend as Passport strategies, tried in order: the first success
 * decides; a strategy that finds no credentials of its kind passes to the next; when all pass
 * the request is anonymous (undefined); when none succeeds and one failed, the first failure's
 * ODCS text is the 401. Kerberos in the list adds `WWW-Authenticate: Negotiate` to every 401, so
 * that SPNEGO clients (curl --negotiate, requests-gssapi) know to send a ticket.
 */
class PassportBackend implements AuthBackend {
  private readonly passport = new passport.Authenticator();
  private readonly challenge: Record<string, string>;

  constructor(
    readonly name: string,
    private readonly order: readonly StrategyName[],
    strategies: ReadonlyMap<StrategyName, passport.Strategy>,
    private readonly users: UserRegistry | undefined,
  ) {
    for (const [strategyName, strategy] of strategies) this.passport.use(strategyName, strategy);
    this.challenge = order.includes('kerberos') ? { 'WWW-Authenticate': 'Negotiate' } : {};
  }

  readonly noCredentials = (): Unauthorized => new Unauthorized(NO_CREDENTIALS_TEXT[this.order[this.order.length - 1]], this.challenge);

  async authenticate(req: Request): Promise<Caller | undefined> {
    let firstFailure: { message: string; status: number } | undefined;
    for (const strategyName of this.order) {
      const outcome = await this.attempt(strategyName, req);
      if (outcome.kind === 'error') throw outcome.err;
      if (outcome.kind === 'success') {
        if (!outcome.caller.anonymous) await this.users?.record(outcome.caller.username);
        return outcome.caller;
      }
      if (outcome.kind === 'fail') firstFailure ??= outcome;
    }
    if (firstFailure) throw new Unauthorized(firstFailure.message, this.challenge);
    return undefined;
  }

  /**
   * One strategy through Passport's own middleware with a custom callback. Passport tries the
   * next strategy of a list only after a `fail`; its `pass` skips the rest of the list, so each
   * strategy runs on its own and the loop above decides.
   */
  private attempt(strategyName: StrategyName, req: Request): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const middleware = this.passport.authenticate(strategyName, { session: false }, (err: unknown, user: unknown, challenge: unknown, status: unknown) => {
        if (err) resolve({ kind: 'error', err });
        else if (user) resolve({ kind: 'success', caller: user as Caller });
        else resolve({ kind: 'fail', message: failureMessage(challenge), status: typeof status === 'number' ? status : 401 });
      }) as (req: Request, res: Response | undefined, next: (err?: unknown) => void) => void;
      try {
        middleware(req, req.res, (err?: unknown) => resolve(err ? { kind: 'error', err } : { kind: 'pass' }));
      } catch (err) {
        resolve({ kind: 'error', err });
      }
    });
  }
}

export interface AuthBackendOptions {
  log: Logger;
  /** Where the users rows go (reference §4.1); without it none are written. */
  db?: Queryable;
}

/**
 * The backend of auth_backend, its strategies created (OpenID Connect discovers its issuer,
 * Kerberos checks its keytab): a bad configuration throws ConfigError naming the option.
 */
export async function createAuthBackend(cfg: Config, options: AuthBackendOptions): Promise<AuthBackend> {
  const order = strategyNames(cfg);
  if (order.length === 1 && order[0] === 'noauth') return noAuth;
  const strategies = new Map<StrategyName, passport.Strategy>();
  for (const strategyName of order) strategies.set(strategyName, await FACTORIES[strategyName](cfg, options.log));
  const users = options.db ? new UserRegistry(options.db, options.log) : undefined;
  return new PassportBackend(cfg.auth_backend, order, strategies, users);
}
