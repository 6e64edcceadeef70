import pino from 'pino';
import { ConfigError, loadConfig } from '../../common/config';
import { silentLogger } from '../../common/log';
import { checkLdapConfig, escapeFilterValue, LdapGroups, type LdapGroupOptions } from '../../frontend/auth/ldap-groups';
import { createKerberosStrategy } from '../../frontend/auth/strategies/kerberos';
import { DN_GROUPS, POSIX_GROUPS, TestSlapd, USERS } from '../support/slapd';

// Groups of Kerberos users from a real slapd (reference §4.1): the (base, filter) pairs of
// auth_ldap_groups, the 0.3.x auth_ldap_group_base, uid escaping, caching and an LDAP outage.

let slapd: TestSlapd;

beforeAll(async () => {
  slapd = await TestSlapd.start({
    users: ['alice', 'bob', 'carol', 'star*'],
    posixGroups: { composer: ['alice', 'bob'], packagers: ['alice'], admins: ['carol'] },
    dnGroups: { releng: ['alice'], qe: ['bob'] },
  });
});

afterAll(async () => {
  await slapd?.close();
});

function capture(): { log: LdapGroupOptions['log']; lines: Array<{ msg: string; user?: string; ldap?: string }> } {
  const lines: Array<{ msg: string; user?: string; ldap?: string }> = [];
  return { log: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }), lines };
}

function groups(options: Partial<LdapGroupOptions> = {}): LdapGroups {
  return new LdapGroups({
    url: slapd.url,
    queries: [
      [POSIX_GROUPS, 'memberUid={}'],
      [DN_GROUPS, `uniqueMember=uid={},${USERS}`],
    ],
    timeoutMs: 5000,
    cacheMs: 0,
    log: silentLogger(),
    ...options,
  });
}

describe('LDAP groups of a user', () => {
  it('concatenates the cn of every pair, in the order of the pairs', async () => {
    const g = groups();
    expect((await g.groupsOf('alice')).sort()).toEqual(['composer', 'packagers', 'releng']);
    expect(await g.groupsOf('bob')).toEqual(['composer', 'qe']);
    expect(await g.groupsOf('nobody')).toEqual([]);
  });

  it('searches one level below the base only', async () => {
    // The suffix itself holds no group: the groups are two levels down.
    const g = groups({ queries: [['dc=example,dc=com', 'memberUid={}']] });
    expect(await g.groupsOf('alice')).toEqual([]);
  });

  it('reads the 0.3.x auth_ldap_group_base as memberUid=<uid>', async () => {
    const cfg = loadConfig({}, { auth_ldap_server: slapd.url, auth_ldap_group_base: POSIX_GROUPS, log_level: 'silent' });
    const g = LdapGroups.fromConfig(cfg, silentLogger());
    expect((await g.groupsOf('alice')).sort()).toEqual(['composer', 'packagers']);
    expect(await g.groupsOf('carol')).toEqual(['admins']);
  });

  it('escapes the uid: a principal named with filter characters matches only itself', async () => {
    const g = groups();
    // Unescaped, `memberUid=*` would match every group and `alice)(cn=*` would inject a clause.
    expect(await g.groupsOf('*')).toEqual([]);
    expect(await g.groupsOf('star*')).toEqual([]);
    expect(await g.groupsOf('bob)(memberUid=alice')).toEqual([]);
    expect(escapeFilterValue('a*b(c)\\d\0')).toBe('a\\2ab\\28c\\29\\5cd\\00');
  });

  it('gives no groups and logs when LDAP is down, and finds them again when it is back', async () => {
    const { log, lines } = capture();
    const g = groups({ log });
    await slapd.stop();
    try {
      expect(await g.groupsOf('alice')).toEqual([]);
    } finally {
      await slapd.start();
    }
    expect(lines).toEqual([expect.objectContaining({ msg: expect.stringContaining('LDAP group lookup failed'), user: 'alice', ldap: slapd.url })]);
    // The failure was not cached.
    expect((await g.groupsOf('alice')).sort()).toEqual(['composer', 'packagers', 'releng']);
  });

  it('reuses a user’s groups for auth_ldap_cache_seconds, then searches again', async () => {
    let now = 1_000_000;
    const g = groups({ cacheMs: 60_000, now: () => now });
    expect(await g.groupsOf('bob')).toEqual(['composer', 'qe']);
    await slapd.stop();
    try {
      now += 59_000;
      expect(await g.groupsOf('bob')).toEqual(['composer', 'qe']);
      now += 1_000;
      expect(await g.groupsOf('bob')).toEqual([]);
    } finally {
      await slapd.start();
    }
  });
});

describe('start-up with kerberos', () => {
  it('needs an LDAP server and group queries, with ODCS’s texts', async () => {
    const bare = loadConfig({}, { log_level: 'silent' });
    expect(() => checkLdapConfig(bare)).toThrow(ConfigError);
    expect(() => checkLdapConfig(bare)).toThrow(/check AUTH_LDAP_SERVER in your config.*check AUTH_LDAP_GROUPS in your config/);
    const noGroups = loadConfig({}, { log_level: 'silent', auth_ldap_server: slapd.url });
    await expect(createKerberosStrategy(noGroups, silentLogger())).rejects.toThrow(
      'Invalid configuration for kerberos authentication: kerberos authentication enabled with no LDAP group base configured, check AUTH_LDAP_GROUPS in your config.',
    );
    const old = loadConfig({}, { log_level: 'silent', auth_ldap_server: slapd.url, auth_ldap_group_base: POSIX_GROUPS });
    expect(() => checkLdapConfig(old)).not.toThrow();
  });

  it('refuses a malformed auth_ldap_server or auth_ldap_groups naming the option', () => {
    expect(() => loadConfig({}, { auth_ldap_server: 'http://ldap.example.com' })).toThrow(/auth_ldap_server: must be empty or an ldap/);
    expect(() => loadConfig({ ODCS_AUTH_LDAP_GROUPS: '[["ou=groups,dc=example,dc=com"]]' })).toThrow(/auth_ldap_groups.*ODCS_AUTH_LDAP_GROUPS/);
  });
});
