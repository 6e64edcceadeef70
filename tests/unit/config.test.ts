import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../common/config';

const dir = mkdtempSync(path.join(tmpdir(), 'odcs-config-'));
const file = (name: string, text: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration', () => {
  it('has ODCS defaults', () => {
    const cfg = loadConfig({});
    expect(cfg).toMatchObject({
      seconds_to_live: 86400,
      max_seconds_to_live: 259200,
      arches: ['x86_64'],
      sigkeys: [],
      allowed_source_types: ['tag', 'module', 'build'],
      allowed_arches: ['x86_64'],
      allowed_sources: [''],
      allowed_clients: { users: {}, groups: {} },
      admins: { users: [], groups: [] },
      base_module_names: ['platform', 'bootstrap'],
      auth_backend: 'noauth',
      port: 5000,
      messaging_backend: 'fedora-messaging',
    });
    expect(cfg.target_dir_url).toBe('http://127.0.0.1:5000/odcs');
  });

  it('leaves MBS unconfigured by default and bounds outgoing HTTP', () => {
    const cfg = loadConfig({});
    // ODCS's http://localhost/module-build-service answers nowhere: module composes would retry it for net_timeout.
    expect(cfg.mbs_url).toBe('');
    expect(cfg).toMatchObject({ net_timeout: 120, net_retry_interval: 30, net_min_rate_bytes: 1024, max_slots_per_service: 0 });
    expect(loadConfig({ ODCS_MBS_URL: 'https://mbs.example.com/module-build-service' }).mbs_url).toBe('https://mbs.example.com/module-build-service');
    expect(() => loadConfig({ ODCS_MBS_URL: 'ftp://mbs' })).toThrow(ConfigError);
  });

  it('reads the environment: ODCS_ options, plain lists, JSON, and the 12-factor names', () => {
    const cfg = loadConfig({
      ODCS_ARCHES: 'x86_64 aarch64',
      ODCS_SIGKEYS: '["SIG1", ""]',
      ODCS_SECONDS_TO_LIVE: '600',
      ODCS_ALLOWED_CLIENTS: '{"users": {"dev": {"arches": ["ppc64"]}}}',
      ODCS_TARGET_DIR_URL: 'https://odcs.example.com/composes/',
      DATABASE_URL: 'postgres://db/odcs',
      AMQP_URL: 'amqp://mq',
      PORT: '8080',
      UNRELATED: 'ignored',
    });
    expect(cfg.arches).toEqual(['x86_64', 'aarch64']);
    expect(cfg.sigkeys).toEqual(['SIG1', '']);
    expect(cfg.seconds_to_live).toBe(600);
    expect(cfg.allowed_clients.users.dev.arches).toEqual(['ppc64']);
    expect(cfg.target_dir_url).toBe('https://odcs.example.com/composes');
    expect(cfg.database_url).toBe('postgres://db/odcs');
    expect(cfg.amqp_url).toBe('amqp://mq');
    expect(cfg.port).toBe(8080);
  });

  it('reads a YAML or JSON file, ODCS upper-case names included, with the environment winning', () => {
    const yml = file('odcs.yaml', 'TARGET_DIR: /srv/odcs\nextra_target_dirs:\n  releng-private: /mnt/private\narches: [x86_64, s390x]\n');
    const cfg = loadConfig({ ODCS_CONFIG_FILE: yml, ODCS_ARCHES: 'ppc64le' });
    expect(cfg.target_dir).toBe('/srv/odcs');
    expect(cfg.extra_target_dirs).toEqual({ 'releng-private': '/mnt/private' });
    expect(cfg.arches).toEqual(['ppc64le']);
    const json = file('odcs.json', JSON.stringify({ seconds_to_live: 30, max_seconds_to_live: 60 }));
    expect(loadConfig({ ODCS_CONFIG_FILE: json }).seconds_to_live).toBe(30);
  });

  it('names the bad option and where it came from', () => {
    expect(errorOf(() => loadConfig({ ODCS_SECONDS_TO_LIVE: 'abc' }))).toBe(
      'Invalid configuration: seconds_to_live (from ODCS_SECONDS_TO_LIVE): expected a number, got "abc"',
    );
    expect(errorOf(() => loadConfig({ ODCS_NO_SUCH_THING: '1' }))).toBe('Invalid configuration: unknown option no_such_thing (from ODCS_NO_SUCH_THING)');
    expect(errorOf(() => loadConfig({ ODCS_TARGET_DIR: 'relative/path' }))).toContain('target_dir: must be an absolute path (from ODCS_TARGET_DIR)');
    expect(errorOf(() => loadConfig({ ODCS_AUTH_BACKEND: 'magic' }))).toContain('auth_backend');
    expect(errorOf(() => loadConfig({ ODCS_ALLOWED_CLIENTS: '{"users": {"dev": {"arches": "x86_64"}}}' }))).toContain(
      'allowed_clients.users.dev.arches',
    );
    expect(errorOf(() => loadConfig({ ODCS_ALLOWED_CLIENTS: '{"users": {"dev": {"colour": ["red"]}}}' }))).toContain(
      'allowed_clients.users.dev.colour: unknown option',
    );
    expect(errorOf(() => loadConfig({ ODCS_SECONDS_TO_LIVE: '900000' }))).toContain('seconds_to_live: must not exceed max_seconds_to_live');
    const bad = file('bad.yaml', 'arches: x86_64\nbogus: 1\n');
    const message = errorOf(() => loadConfig({ ODCS_CONFIG_FILE: bad }));
    expect(message).toContain(`arches: expected array, received string (from ${bad})`);
    expect(message).toContain(`bogus: unknown option (from ${bad})`);
    expect(errorOf(() => loadConfig({ ODCS_CONFIG_FILE: path.join(dir, 'missing.yaml') }))).toContain('Cannot read configuration file');
  });

  it('puts the default target_dir under data_dir, wherever ODCS_DATA_DIR moves it', () => {
    expect(loadConfig({}).target_dir).toBe(path.resolve('.odcs-data/composes'));
    expect(loadConfig({ ODCS_DATA_DIR: '/srv/odcs' })).toMatchObject({ data_dir: '/srv/odcs', target_dir: '/srv/odcs/composes' });
    const yaml = file('data-dir.yaml', 'data_dir: /var/lib/odcs-test\n');
    expect(loadConfig({ ODCS_CONFIG_FILE: yaml }).target_dir).toBe('/var/lib/odcs-test/composes');
    // An explicit target_dir still wins.
    expect(loadConfig({ ODCS_DATA_DIR: '/srv/odcs', ODCS_TARGET_DIR: '/mnt/composes' }).target_dir).toBe('/mnt/composes');
  });
});
