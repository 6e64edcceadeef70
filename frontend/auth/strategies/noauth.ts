import passport from 'passport';
import type { Config } from '../../../common/config';
import type { Logger } from '../../../common/log';
import type { Caller } from '../../permissions';

/** `noauth`'s caller: the owner `unknown`, for whom every role check passes (reference §4.1). */
export const ANONYMOUS_CALLER: Caller = Object.freeze({ username: 'unknown', groups: Object.freeze([]), anonymous: true, via: 'noauth' });

/** `noauth`: every request is the anonymous caller, credentials or not. */
export class NoauthStrategy extends passport.Strategy {
  override name = 'noauth';

  override authenticate(): void {
    this.success(ANONYMOUS_CALLER);
  }
}

export async function createNoauthStrategy(_cfg: Config, _log: Logger): Promise<passport.Strategy> {
  return new NoauthStrategy();
}
