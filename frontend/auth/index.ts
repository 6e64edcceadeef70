import type { Request } from 'express';
import { ConfigError, type Config } from '../../common/config';
import type { Caller } from '../permissions';

/**
 * Turns a request into a caller. Returns undefined when the request carries no credentials
 * (GETs are public); throws Unauthorized when it carries bad ones.
 */
export interface AuthBackend {
  readonly name: string;
  authenticate(req: Request): Promise<Caller | undefined>;
}

/** `noauth`: everyone is the anonymous user `unknown` and every role check passes (reference §4.1). */
export const noAuth: AuthBackend = {
  name: 'noauth',
  authenticate: async () => ({ username: 'unknown', groups: [], anonymous: true, via: 'noauth' }),
};

export function createAuthBackend(cfg: Config): AuthBackend {
  if (cfg.auth_backend === 'noauth') return noAuth;
  throw new ConfigError(`Invalid configuration: auth_backend: "${cfg.auth_backend}" is not available in this version yet`);
}
