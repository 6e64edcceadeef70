import type { Config } from '../../common/config';
import type { Caller, Decision } from '../permissions';

/** The per-route OIDC scopes of reference §4.2, by their short names. */
export type ScopeAction = 'new-compose' | 'renew-compose' | 'delete-compose';

/**
 * Reference §4.2: a caller identified by an OIDC token needs `<oidc_base_namespace><action>`
 * among the token's scopes. Callers identified otherwise (noauth, Kerberos, certificates) have
 * no scopes and are not checked, like ODCS under its other backends. Runs after login and
 * before the role check (ODCS's decorator order).
 */
export function checkScope(cfg: Config, caller: Caller, action: ScopeAction): Decision {
  if (caller.via !== 'openidc') return { allowed: true };
  const scope = cfg.oidc_base_namespace + action;
  if (caller.scopes?.includes(scope)) return { allowed: true };
  return { allowed: false, message: `Request does not have required scope ${action}` };
}
