import { accessSync, constants } from 'node:fs';
import type { Request } from 'express';
import passport from 'passport';
import { ConfigError, type Config } from '../../../common/config';
import type { Logger } from '../../../common/log';
import type { Caller } from '../../permissions';
import { checkLdapConfig, type GroupSource, LdapGroups } from '../ldap-groups';

type KerberosModule = typeof import('kerberos');

/** ODCS's text when no user could be established (reference §4.1, Appendix A). */
export const NO_REMOTE_USER = 'REMOTE_USER is not present in request.';

/**
 * The token of an `Authorization: Negotiate <base64>` header; undefined when the request does
 * not try Negotiate at all (no header, or another scheme such as Bearer), '' when it does with
 * nothing usable.
 */
export function negotiateToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*Negotiate(?:\s+(.*))?$/i.exec(header);
  if (!match) return undefined;
  const token = (match[1] ?? '').trim();
  return /^[A-Za-z0-9+/]+={0,2}$/.test(token) ? token : '';
}

/** ODCS's user name of a Kerberos principal: the part before `@` (reference §4.1). */
export function usernameOf(principal: string): string {
  const at = principal.lastIndexOf('@');
  return at > 0 ? principal.slice(0, at) : principal;
}

/**
 * SPNEGO `Negotiate` (RFC 4559) over the `kerberos` binding (MIT GSS-API), as mod_auth_gssapi
 * does in front of ODCS. A valid token gives the principal's user with groups from LDAP, and
 * the server's token goes back in `WWW-Authenticate: Negotiate <token>` so the client can
 * authenticate the server (mutual authentication).
 */
export class KerberosStrategy extends passport.Strategy {
  override name = 'kerberos';

  constructor(
    private readonly krb: KerberosModule,
    /** GSS-API host-based acceptor name (`HTTP@host`), or '' for any key of the keytab. */
    private readonly service: string,
    private readonly groups: GroupSource,
    private readonly log: Logger,
  ) {
    super();
  }

  override authenticate(req: Request): void {
    const token = negotiateToken(req.headers.authorization);
    if (token === undefined) return this.pass();
    if (token === '') return this.fail({ message: NO_REMOTE_USER }, 401);
    this.accept(token).then(
      (accepted) => {
        if (!accepted) return this.fail({ message: NO_REMOTE_USER }, 401);
        if (accepted.response) req.res?.setHeader('WWW-Authenticate', `Negotiate ${accepted.response}`);
        this.success(accepted.caller);
      },
      (err: unknown) => this.error(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** The caller of a Negotiate token, or undefined when GSS-API rejects it (logged). */
  private async accept(token: string): Promise<{ caller: Caller; response: string } | undefined> {
    const server = await this.krb.initializeServer(this.service);
    try {
      await server.step(token);
    } catch (err) {
      this.log.info({ err: (err as Error).message }, 'Kerberos: Negotiate token refused');
      return undefined;
    }
    // Kerberos through SPNEGO completes in one round; a mechanism wanting more is not offered.
    if (!server.contextComplete || !server.username) {
      this.log.info('Kerberos: Negotiate context not complete after one round');
      return undefined;
    }
    const username = usernameOf(server.username);
    const groups = await this.groups.groupsOf(username);
    return { caller: { username, groups, anonymous: false, via: 'kerberos' }, response: server.response ?? '' };
  }
}

/**
 * The `kerberos` binding builds from source against libkrb5-dev (an optionalDependency): loaded
 * only when Kerberos is configured, with a clear start-up error when it is missing.
 */
async function loadKerberos(): Promise<KerberosModule> {
  try {
    return (await import('kerberos')) as KerberosModule;
  } catch (err) {
    throw new ConfigError(
      `Invalid configuration: auth_backend: kerberos needs the "kerberos" npm package, which did not load (${(err as Error).message}); ` +
        'install libkrb5-dev (Debian) or krb5-devel (Fedora) and a C++ compiler, then run `npm install kerberos`',
    );
  }
}

export async function createKerberosStrategy(cfg: Config, log: Logger, groups?: GroupSource): Promise<passport.Strategy> {
  checkLdapConfig(cfg);
  const krb = await loadKerberos();
  if (cfg.auth_kerberos_keytab !== '') {
    try {
      accessSync(cfg.auth_kerberos_keytab, constants.R_OK);
    } catch (err) {
      throw new ConfigError(`Invalid configuration: auth_kerberos_keytab: cannot read ${cfg.auth_kerberos_keytab} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    // MIT GSS-API reads the acceptor's keytab from KRB5_KTNAME when a context is accepted.
    process.env.KRB5_KTNAME = `FILE:${cfg.auth_kerberos_keytab}`;
  }
  if (cfg.auth_kerberos_service !== '') {
    // Acquiring the acceptor's credentials now turns a keytab without this principal into a
    // start-up error instead of a 401 for every user.
    try {
      await krb.initializeServer(cfg.auth_kerberos_service);
    } catch (err) {
      throw new ConfigError(
        `Invalid configuration: auth_kerberos_service: no key for ${cfg.auth_kerberos_service} in the keytab (auth_kerberos_keytab): ${(err as Error).message}`,
      );
    }
  }
  return new KerberosStrategy(krb, cfg.auth_kerberos_service, groups ?? LdapGroups.fromConfig(cfg, log), log);
}
