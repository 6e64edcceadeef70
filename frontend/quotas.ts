import type { Config, QuotaLimits } from '../common/config';
import { ApiError } from '../common/errors';
import { type Caller, hasRole } from './permissions';

/**
 * Per-tenant quotas (config `quotas`, beyond ODCS). Pure rules: which limit applies to a caller
 * and the 429 answers; the counting itself happens in the database, in the statement that
 * writes (common/db/compose-store.ts), so that racing requests cannot both pass.
 */

export type QuotaKind = keyof QuotaLimits;

/** A limit that applies to a caller, and whose it is (for the message). */
export interface Limit {
  value: number;
  /** `user dev`, `group devs` or `default`. */
  holder: string;
}

/**
 * The `kind` limit of `caller`, or undefined for none. Admins have none (and under noauth
 * everyone is one, as in ODCS). A user's own entry decides alone; otherwise the most generous of
 * its groups' entries (an entry without this limit means none); otherwise `default`.
 */
export function quotaLimit(cfg: Config, caller: Caller, kind: QuotaKind): Limit | undefined {
  if (hasRole(cfg, caller, 'admins')) return undefined;
  const { users, groups } = cfg.quotas;
  if (Object.hasOwn(users, caller.username)) {
    const value = users[caller.username][kind];
    return value === undefined ? undefined : { value, holder: `user ${caller.username}` };
  }
  const entries = caller.groups.filter((g) => Object.hasOwn(groups, g));
  if (entries.length > 0) {
    let best: Limit | undefined;
    for (const g of entries) {
      const value = groups[g][kind];
      if (value === undefined) return undefined;
      if (!best || value > best.value) best = { value, holder: `group ${g}` };
    }
    return best;
  }
  const value = cfg.quotas.default?.[kind];
  return value === undefined ? undefined : { value, holder: 'default' };
}

function describe(limit: Limit, unit = ''): string {
  return limit.holder === 'default' ? `the default limit is ${limit.value}${unit}` : `the limit of ${limit.holder} is ${limit.value}${unit}`;
}

/** 429 in ODCS's error shape; the message names the limit. */
export class QuotaExceeded extends ApiError {
  constructor(message: string) {
    super(429, message);
  }
}

export function activeComposesExceeded(username: string, active: number, limit: Limit): QuotaExceeded {
  return new QuotaExceeded(`User ${username} has ${active} composes waiting or generating; ${describe(limit)}.`);
}

/**
 * The seconds_to_live a request gets under the caller's limit: one it did not ask for is
 * lowered to the limit; one it asked for beyond the limit is refused.
 */
export function secondsToLiveWithin(caller: Caller, limit: Limit | undefined, seconds: number, asked: boolean): number {
  if (!limit || seconds <= limit.value) return seconds;
  if (!asked) return limit.value;
  throw new QuotaExceeded(`User ${caller.username} asked for seconds_to_live ${seconds}; ${describe(limit, ' seconds')}.`);
}

export function renewalsExceeded(composeId: number, renewals: number, limit: Limit): QuotaExceeded {
  return new QuotaExceeded(`Compose ${composeId} has been renewed ${renewals} times; ${describe(limit)}.`);
}

/** Whether a request body names a seconds_to_live (0 means "the default", as in ODCS). */
export function asksForSecondsToLive(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  const raw = b.seconds_to_live !== undefined ? b.seconds_to_live : b['seconds-to-live'];
  return Boolean(raw) && raw !== '0';
}
