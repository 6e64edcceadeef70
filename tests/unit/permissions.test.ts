import { loadConfig } from '../../common/config';
import { RAW_CONFIG, SECTION_4_4 } from '../support/permission-config';
import { type ComposeAttributes, parseComposeRequest } from '../../common/schemas/compose-request';
import { type Caller, checkCancel, checkComposeAttributes, checkRole, type Decision } from '../../frontend/permissions';

/**
 * Roles (reference §4.3) and attribute-level authorization (§4.4), with the configuration and
 * the examples the reference pins, plus the rules stated around them.
 */

const cfg = loadConfig({}, SECTION_4_4);

const user = (username: string, ...groups: string[]): Caller => ({ username, groups, anonymous: false, via: 'ssl' });
const ANONYMOUS: Caller = { username: 'unknown', groups: [], anonymous: true, via: 'noauth' };

/** The attributes of a POST body, as the API computes them before the permission check. */
function attrsOf(body: Record<string, unknown>, config = cfg): ComposeAttributes {
  return parseComposeRequest(config, body).attributes;
}

const tagCompose = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ source: { type: 'tag', source: 'f30-build' }, ...extra });
const moduleCompose = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  source: { type: 'module', source: 'testmodule:master' },
  ...extra,
});
const rawCompose = (name: string): Record<string, unknown> => ({ source: { type: 'raw_config', source: `${name}#abc123` } });
const repoCompose = (): Record<string, unknown> => ({ source: { type: 'repo', source: '/srv/repos/base' } });

const ALLOWED: Decision = { allowed: true };
const denied = (message: string): Decision => ({ allowed: false, message });

/** The per-attribute errors of a denial, which ODCS joins from a set (so in no fixed order). */
function errorsOf(decision: Decision): string[] {
  expect(decision.allowed).toBe(false);
  return (decision as { message: string }).message.split(/(?<=\.) (?=User )/).sort();
}

describe('checkRole', () => {
  it('grants allowed_clients by user name or by any group', () => {
    expect(checkRole(cfg, user('dev'), 'allowed_clients')).toEqual(ALLOWED);
    expect(checkRole(cfg, user('someone', 'other', 'composer'), 'allowed_clients')).toEqual(ALLOWED);
    expect(checkRole(cfg, user('qa'), 'allowed_clients')).toEqual(denied('User qa is not in role allowed_clients.'));
    expect(checkRole(cfg, user('qa', 'other'), 'allowed_clients')).toEqual(denied('User qa is not in role allowed_clients.'));
    // A user name that is only a group name does not count, and vice versa.
    expect(checkRole(cfg, user('composer'), 'allowed_clients')).toEqual(denied('User composer is not in role allowed_clients.'));
    expect(checkRole(cfg, user('x', 'dev'), 'allowed_clients')).toEqual(denied('User x is not in role allowed_clients.'));
  });

  it('grants admins by user name or by group', () => {
    expect(checkRole(cfg, user('root'), 'admins')).toEqual(ALLOWED);
    expect(checkRole(cfg, user('alice', 'admins-group'), 'admins')).toEqual(ALLOWED);
    expect(checkRole(cfg, user('dev', 'composer'), 'admins')).toEqual(denied('User dev is not in role admins.'));
    expect(checkRole(cfg, user('admins-group'), 'admins')).toEqual(denied('User admins-group is not in role admins.'));
  });

  it('grants every role under noauth', () => {
    const empty = loadConfig({}, {});
    expect(checkRole(empty, ANONYMOUS, 'allowed_clients')).toEqual(ALLOWED);
    expect(checkRole(empty, ANONYMOUS, 'admins')).toEqual(ALLOWED);
  });
});

describe('checkComposeAttributes: the examples of reference §4.4', () => {
  it('dev asking for a repo compose', () => {
    expect(checkComposeAttributes(cfg, user('dev'), attrsOf(repoCompose()))).toEqual(
      denied('User dev not allowed to operate with compose with source_types=repo.'),
    );
  });

  it('dev asking for the releng-private target dir', () => {
    expect(checkComposeAttributes(cfg, user('dev'), attrsOf(tagCompose({ target_dir: 'releng-private' })))).toEqual(
      denied('User dev not allowed to operate with compose with target_dirs=releng-private.'),
    );
    // The default target dir is always allowed, by name or by omission.
    expect(checkComposeAttributes(cfg, user('dev'), attrsOf(tagCompose({ target_dir: 'default' })))).toEqual(ALLOWED);
    expect(checkComposeAttributes(cfg, user('dev'), attrsOf(tagCompose()))).toEqual(ALLOWED);
  });

  it('dev2 asking for a production compose', () => {
    expect(checkComposeAttributes(cfg, user('dev2'), attrsOf(moduleCompose({ compose_type: 'production' })))).toEqual(
      denied('User dev2 not allowed to operate with compose with compose_types=production.'),
    );
    expect(checkComposeAttributes(cfg, user('dev2'), attrsOf(moduleCompose({ compose_type: 'nightly' })))).toEqual(ALLOWED);
    // compose_type defaults to "test".
    expect(checkComposeAttributes(cfg, user('dev2'), attrsOf(moduleCompose()))).toEqual(ALLOWED);
  });

  it('dev4 asking for a raw config it is not given', () => {
    expect(checkComposeAttributes(cfg, user('dev4'), attrsOf(rawCompose('pungi_cfg')))).toEqual(
      denied('User dev4 not allowed to operate with compose with raw_config_keys=pungi_cfg.'),
    );
    expect(checkComposeAttributes(cfg, user('dev4'), attrsOf(rawCompose('pungi_cfg2')))).toEqual(ALLOWED);
  });

  it('dev3 in group dev2 asking for a module compose: the user entry wins over the groups', () => {
    expect(checkComposeAttributes(cfg, user('dev3', 'dev2'), attrsOf(moduleCompose()))).toEqual(
      denied('User dev3 not allowed to operate with compose with source_types=module.'),
    );
    // The group alone would have allowed it.
    expect(checkComposeAttributes(cfg, user('someone', 'dev2'), attrsOf(moduleCompose()))).toEqual(ALLOWED);
    // And dev3's own entry allows what it names, target dir included.
    expect(checkComposeAttributes(cfg, user('dev3', 'dev2'), attrsOf(tagCompose({ target_dir: 'releng-private' })))).toEqual(ALLOWED);
  });
});

describe('checkComposeAttributes: rules', () => {
  it('takes the defaults of conf.allowed_* for attributes a client entry does not name', () => {
    // composer {}: tag/module/build, x86_64 only, every flag and result, any source and type.
    const composer = user('c', 'composer');
    expect(checkComposeAttributes(cfg, composer, attrsOf(tagCompose({ flags: ['no_deps', 'no_reuse'], results: ['iso', 'boot.iso'] })))).toEqual(
      ALLOWED,
    );
    expect(checkComposeAttributes(cfg, composer, attrsOf({ source: { type: 'build', builds: ['bash-1-1'] } }))).toEqual(ALLOWED);
    expect(checkComposeAttributes(cfg, composer, attrsOf(repoCompose()))).toEqual(
      denied('User c not allowed to operate with compose with source_types=repo.'),
    );
    expect(checkComposeAttributes(cfg, composer, attrsOf(tagCompose({ arches: ['x86_64', 'aarch64'] })))).toEqual(
      denied('User c not allowed to operate with compose with arches=aarch64.'),
    );
  });

  it('names the first value of an attribute that is not allowed', () => {
    expect(checkComposeAttributes(cfg, user('dev'), attrsOf(tagCompose({ arches: ['s390', 'x86_64', 'aarch64', 'armv7hl'] })))).toEqual(
      denied('User dev not allowed to operate with compose with arches=aarch64.'),
    );
  });

  it('gives one error per failing attribute of a rule set', () => {
    const decision = checkComposeAttributes(cfg, user('dev'), attrsOf({ ...repoCompose(), arches: ['aarch64'], target_dir: 'releng-private' }));
    expect(errorsOf(decision)).toEqual([
      'User dev not allowed to operate with compose with arches=aarch64.',
      'User dev not allowed to operate with compose with source_types=repo.',
      'User dev not allowed to operate with compose with target_dirs=releng-private.',
    ]);
  });

  it('allows when any one matching group allows everything (the union of groups)', () => {
    const both = user('gina', 'dev2', 'dev3');
    expect(checkComposeAttributes(cfg, both, attrsOf(moduleCompose()))).toEqual(ALLOWED); // via dev2
    expect(checkComposeAttributes(cfg, both, attrsOf(rawCompose('pungi_cfg')))).toEqual(ALLOWED); // via dev3
    // Neither allows a tag compose; both say the same thing, which is said once (a set).
    expect(checkComposeAttributes(cfg, both, attrsOf(tagCompose()))).toEqual(
      denied('User gina not allowed to operate with compose with source_types=tag.'),
    );
    // Groups that are not in allowed_clients do not matter.
    expect(checkComposeAttributes(cfg, user('gina', 'nobody', 'dev2'), attrsOf(moduleCompose()))).toEqual(ALLOWED);
  });

  it('joins the different errors of all matching groups when none allows', () => {
    const config = loadConfig(
      {},
      {
        allowed_clients: {
          users: {},
          groups: { arm: { arches: ['aarch64'] }, nightly: { compose_types: ['nightly'] } },
        },
      },
    );
    const decision = checkComposeAttributes(config, user('hal', 'arm', 'nightly'), attrsOf(tagCompose({ compose_type: 'production' }), config));
    expect(errorsOf(decision)).toEqual([
      'User hal not allowed to operate with compose with arches=x86_64.',
      'User hal not allowed to operate with compose with compose_types=production.',
    ]);
    expect(
      checkComposeAttributes(config, user('hal', 'arm', 'nightly'), attrsOf(tagCompose({ compose_type: 'nightly' }), config)),
    ).toEqual(ALLOWED);
  });

  it('denies any compose when no rule set applies', () => {
    expect(checkComposeAttributes(cfg, user('qa'), attrsOf(tagCompose()))).toEqual(
      denied('User qa not allowed to operate with any compose.'),
    );
    expect(checkComposeAttributes(cfg, user('qa', 'nobody'), attrsOf(tagCompose()))).toEqual(
      denied('User qa not allowed to operate with any compose.'),
    );
  });

  it('always checks no_flags: a flags list without it denies every request', () => {
    const config = loadConfig(
      {},
      {
        allowed_clients: {
          users: { strict: { flags: ['no_deps'] }, fine: { flags: ['no_flags', 'no_deps'] } },
          groups: {},
        },
      },
    );
    expect(checkComposeAttributes(config, user('strict'), attrsOf(tagCompose(), config))).toEqual(
      denied('User strict not allowed to operate with compose with flags=no_flags.'),
    );
    expect(checkComposeAttributes(config, user('strict'), attrsOf(tagCompose({ flags: ['no_deps'] }), config))).toEqual(
      denied('User strict not allowed to operate with compose with flags=no_flags.'),
    );
    expect(checkComposeAttributes(config, user('fine'), attrsOf(tagCompose(), config))).toEqual(ALLOWED);
    expect(checkComposeAttributes(config, user('fine'), attrsOf(tagCompose({ flags: ['no_deps'] }), config))).toEqual(ALLOWED);
    expect(checkComposeAttributes(config, user('fine'), attrsOf(tagCompose({ flags: ['no_deps', 'check_deps'] }), config))).toEqual(
      denied('User fine not allowed to operate with compose with flags=check_deps.'),
    );
    // The same holds for conf.allowed_flags, the default.
    const global = loadConfig({}, { allowed_flags: ['no_deps'], allowed_clients: { users: { u: {} }, groups: {} } });
    expect(checkComposeAttributes(global, user('u'), attrsOf(tagCompose(), global))).toEqual(
      denied('User u not allowed to operate with compose with flags=no_flags.'),
    );
  });

  it('checks results including the implied repository', () => {
    const config = loadConfig({}, { allowed_clients: { users: { iso: { results: ['iso'] }, both: { results: ['repository', 'iso'] } }, groups: {} } });
    expect(checkComposeAttributes(config, user('iso'), attrsOf(tagCompose({ results: ['iso'] }), config))).toEqual(
      denied('User iso not allowed to operate with compose with results=repository.'),
    );
    expect(checkComposeAttributes(config, user('both'), attrsOf(tagCompose({ results: ['iso'] }), config))).toEqual(ALLOWED);
    expect(checkComposeAttributes(config, user('both'), attrsOf(tagCompose({ results: ['boot.iso'] }), config))).toEqual(
      denied('User both not allowed to operate with compose with results=boot.iso.'),
    );
  });

  it('checks each source of the source list', () => {
    const config = loadConfig({}, { allowed_clients: { users: { s: { sources: ['f30-build', 'f31-build'] } }, groups: {} } });
    expect(checkComposeAttributes(config, user('s'), attrsOf({ source: { type: 'tag', source: 'f30-build f31-build' } }, config))).toEqual(ALLOWED);
    expect(checkComposeAttributes(config, user('s'), attrsOf({ source: { type: 'tag', source: 'f31-build f32-build' } }, config))).toEqual(
      denied('User s not allowed to operate with compose with sources=f32-build.'),
    );
  });

  it('treats [""] as a wildcard and [] as "nothing"', () => {
    const config = loadConfig(
      {},
      {
        allowed_sources: [],
        allowed_clients: {
          users: {
            any: { source_types: [''], arches: [''], sources: [''], compose_types: [''], flags: [''], results: [''] },
            none: { arches: [] },
            defaults: {},
          },
          groups: {},
        },
      },
    );
    const everything = attrsOf(
      { source: { type: 'pulp', source: 'content-set-1' }, arches: ['s390x', 'armv7hl'], compose_type: 'production', flags: ['no_reuse'], results: ['iso'] },
      config,
    );
    expect(checkComposeAttributes(config, user('any'), everything)).toEqual(ALLOWED);
    expect(errorsOf(checkComposeAttributes(config, user('none'), attrsOf(tagCompose(), config)))).toEqual([
      'User none not allowed to operate with compose with arches=x86_64.',
      'User none not allowed to operate with compose with sources=f30-build.',
    ]);
    // allowed_sources = [] (not the wildcard) rejects every named source...
    expect(checkComposeAttributes(config, user('defaults'), attrsOf(tagCompose(), config))).toEqual(
      denied('User defaults not allowed to operate with compose with sources=f30-build.'),
    );
    // ...and a compose without sources has nothing to reject.
    expect(checkComposeAttributes(config, user('defaults'), attrsOf({ source: { type: 'build', builds: ['bash-1-1'] } }, config))).toEqual(
      ALLOWED,
    );
  });

  it('takes raw_config_keys by default from the keys of raw_config_urls, and only for raw_config composes', () => {
    expect(checkComposeAttributes(cfg, user('dev2'), attrsOf(rawCompose('pungi_cfg')))).toEqual(ALLOWED);
    expect(checkComposeAttributes(cfg, user('dev2'), attrsOf(rawCompose('pungi_cfg2')))).toEqual(ALLOWED);
    const config = loadConfig({}, { raw_config_urls: { a: RAW_CONFIG }, allowed_clients: { users: { u: { raw_config_keys: [] } }, groups: {} } });
    // raw_config_keys [] does not hinder a tag compose (its key list is empty)...
    expect(checkComposeAttributes(config, user('u'), attrsOf(tagCompose(), config))).toEqual(ALLOWED);
    // ...and the raw_config compose fails on source_types first, then on its key.
    expect(errorsOf(checkComposeAttributes(config, user('u'), attrsOf(rawCompose('a'), config)))).toEqual([
      'User u not allowed to operate with compose with raw_config_keys=a.',
      'User u not allowed to operate with compose with source_types=raw_config.',
    ]);
  });

  it('lets admins pass whatever they ask for (ODCS 0.7+)', () => {
    const wild = attrsOf({ ...repoCompose(), arches: ['aarch64'], target_dir: 'releng-private', compose_type: 'production' });
    expect(checkComposeAttributes(cfg, user('root'), wild)).toEqual(ALLOWED);
    expect(checkComposeAttributes(cfg, user('alice', 'admins-group'), wild)).toEqual(ALLOWED);
    expect(checkComposeAttributes(cfg, user('dev'), wild).allowed).toBe(false);
  });

  it('lets everything pass under noauth', () => {
    const wild = attrsOf({ ...repoCompose(), arches: ['aarch64'], target_dir: 'releng-private' });
    expect(checkComposeAttributes(cfg, ANONYMOUS, wild)).toEqual(ALLOWED);
  });
});

describe('checkCancel', () => {
  const compose = { id: 42, owner: 'alice' };

  it('lets the owner and admins cancel', () => {
    expect(checkCancel(cfg, user('alice'), compose)).toEqual(ALLOWED);
    expect(checkCancel(cfg, user('root'), compose)).toEqual(ALLOWED);
    expect(checkCancel(cfg, user('bob', 'admins-group'), compose)).toEqual(ALLOWED);
    expect(checkCancel(cfg, ANONYMOUS, compose)).toEqual(ALLOWED);
  });

  it('refuses anyone else, with the id filled in', () => {
    expect(checkCancel(cfg, user('bob', 'composer'), compose)).toEqual(
      denied("Compose (id=42) can not be canceled, it's owned by someone else."),
    );
    // Being in allowed_clients is not enough, nor is a group named like the owner.
    expect(checkCancel(cfg, user('dev', 'alice'), compose)).toEqual(denied("Compose (id=42) can not be canceled, it's owned by someone else."));
  });
});
