import { Client } from 'ldapts';
import { ConfigError, type Config } from '../../common/config';
import type { Logger } from '../../common/log';
import { TokenCache } from './token-cache';

/**
 * The groups of a Kerberos user, from LDAP (reference §4.1): for each (base, filter) pair a
 * one-level search returning `cn`, `{}` in the filter being the uid; the 0.3.x form searches
 * `auth_ldap_group_base` with `memberUid=<uid>`. Results of all pairs are concatenated. When
 * LDAP cannot be reached the user has no groups (logged), as in ODCS: authentication itself
 * does not depend on LDAP.
 */
export interface GroupSource {
  groupsOf(uid: string): Promise<string[]>;
}

/** One (base, filter pattern) pair; `{}` in the pattern stands for the uid. */
export type GroupQuery = readonly [base: string, filterPattern: string];

/** RFC 4515 §3: the characters that would change a filter's meaning, written as \XX. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The filter of one pair for this uid, in parentheses as LDAP wants it. */
export function groupFilter(pattern: string, uid: string): string {
  const filter = pattern.split('{}').join(escapeFilterValue(uid));
  return filter.startsWith('(') ? filter : `(${filter})`;
}

/** The pairs searched: auth_ldap_groups, then the 0.3.x auth_ldap_group_base. */
export function groupQueries(cfg: Pick<Config, 'auth_ldap_groups' | 'auth_ldap_group_base'>): GroupQuery[] {
  const queries: GroupQuery[] = cfg.auth_ldap_groups.map(([base, filter]) => [base, filter] as const);
  if (cfg.auth_ldap_group_base !== '') queries.push([cfg.auth_ldap_group_base, 'memberUid={}']);
  return queries;
}

/**
 * Kerberos needs LDAP for groups (reference §4.1): without a server or any group query every
 * user would silently have no groups, so the service refuses to start. ODCS's texts.
 */
export function checkLdapConfig(cfg: Config): void {
  const errors: string[] = [];
  if (cfg.auth_ldap_server === '') {
    errors.push('kerberos authentication enabled with no LDAP server configured, check AUTH_LDAP_SERVER in your config.');
  }
  if (groupQueries(cfg).length === 0) {
    errors.push('kerberos authentication enabled with no LDAP group base configured, check AUTH_LDAP_GROUPS in your config.');
  }
  if (errors.length > 0) throw new ConfigError(`Invalid configuration for kerberos authentication: ${errors.join(' ')}`);
}

export interface LdapGroupOptions {
  url: string;
  queries: readonly GroupQuery[];
  /** Connect and operation limit, milliseconds. */
  timeoutMs: number;
  /** How long a user's groups are reused; 0 disables the cache. */
  cacheMs: number;
  /** Users whose groups are kept at most (least recently looked up go first). */
  cacheEntries?: number;
  now?: () => number;
  log: Logger;
}

/** Thrown inside a cache load so that a failed lookup is not kept. */
class LdapUnavailable extends Error {}

export class LdapGroups implements GroupSource {
  /** The bounded, expiring cache of the OIDC token checks, keyed here by uid. */
  private readonly cache: TokenCache<string[]>;

  constructor(private readonly options: LdapGroupOptions) {
    this.cache = new TokenCache({
      maxEntries: options.cacheEntries ?? 10_000,
      maxSeconds: options.cacheMs / 1000,
      clock: options.now ?? Date.now,
    });
  }

  static fromConfig(cfg: Config, log: Logger): LdapGroups {
    return new LdapGroups({
      url: cfg.auth_ldap_server,
      queries: groupQueries(cfg),
      timeoutMs: cfg.auth_ldap_timeout * 1000,
      cacheMs: cfg.auth_ldap_cache_seconds * 1000,
      log,
    });
  }

  async groupsOf(uid: string): Promise<string[]> {
    try {
      const groups = await this.cache.getOrLoad(uid, async () => {
        const found = await this.search(uid);
        // A failed lookup is not cached: the next request tries LDAP again.
        if (found === undefined) throw new LdapUnavailable();
        return { value: found, expiresAt: Infinity };
      });
      return [...groups];
    } catch (err) {
      if (err instanceof LdapUnavailable) return [];
      throw err;
    }
  }

  /** The groups, or undefined when LDAP could not answer. */
  private async search(uid: string): Promise<string[] | undefined> {
    const { url, queries, timeoutMs, log } = this.options;
    const client = new Client({ url, timeout: timeoutMs, connectTimeout: timeoutMs });
    try {
      const groups: string[] = [];
      for (const [base, pattern] of queries) {
        const { searchEntries } = await client.search(base, { scope: 'one', filter: groupFilter(pattern, uid), attributes: ['cn'] });
        for (const entry of searchEntries) {
          // A group's name is its first cn, as in ODCS.
          const cn = entry.cn;
          const name = Array.isArray(cn) ? cn[0] : cn;
          if (typeof name === 'string' && name !== '') groups.push(name);
        }
      }
      return groups;
    } catch (err) {
      log.warn({ err: (err as Error).message, ldap: url, user: uid }, 'LDAP group lookup failed; the user has no groups for this request');
      return undefined;
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}
