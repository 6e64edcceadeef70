import { composeJson, composeName, isoTime, targetDirName } from '../../common/compose-json';
import { loadConfig } from '../../common/config';
import type { ComposeRow } from '../../common/db/entities';
import { FLAGS, RESULTS, SOURCE_TYPES, STATES } from '../../common/enums';
import { newCompose } from '../support/composes';

/** A compose row as the database returns it (reference §2.1, §2.8). */

const cfg = loadConfig(
  {},
  {
    target_dir: '/srv/odcs',
    target_dir_url: 'https://odcs.example.com/composes/',
    extra_target_dirs: { 'releng-private': '/mnt/private', other: '/mnt/other' },
  },
);

function row(overrides: Partial<ComposeRow> = {}): ComposeRow {
  const { seconds_to_live: _ttl, ...inputs } = newCompose();
  return {
    ...inputs,
    id: 12,
    state: STATES.wait,
    state_reason: null,
    time_to_expire: new Date('2024-01-02T10:20:30.999Z'),
    time_submitted: new Date('2024-01-01T10:20:30.123Z'),
    time_started: null,
    time_done: null,
    time_removed: null,
    removed_by: null,
    reused_id: null,
    koji_task_id: null,
    pungi_compose_id: null,
    celery_task_id: null,
    traceparent: null,
    heartbeat_at: null,
    worker: null,
    attempts: 0,
    queued_at: null,
    renewed_from: null,
    ...overrides,
  };
}

/** The exact key set of ODCS's compose.json() (reference §2.1), pungi_config_dump aside. */
const JSON_KEYS = [
  'id', 'owner', 'source_type', 'source', 'state', 'state_name', 'state_reason', 'time_to_expire', 'time_submitted',
  'time_started', 'time_done', 'time_removed', 'removed_by', 'result_repo', 'result_repofile', 'toplevel_url', 'flags',
  'results', 'sigkeys', 'koji_event', 'koji_task_id', 'packages', 'builds', 'arches', 'multilib_arches',
  'multilib_method', 'lookaside_repos', 'modular_koji_tags', 'module_defaults_url', 'label', 'compose_type',
  'pungi_compose_id', 'target_dir', 'scratch_modules', 'parent_pungi_compose_ids', 'scratch_build_tasks', 'modules',
  'respin_of', 'base_module_br_name', 'base_module_br_stream', 'base_module_br_stream_version_lte',
  'base_module_br_stream_version_gte',
]; // prettier-ignore

describe('isoTime', () => {
  it('formats UTC times as %Y-%m-%dT%H:%M:%SZ, dropping milliseconds', () => {
    expect(isoTime(new Date('2024-01-02T03:04:05.999Z'))).toBe('2024-01-02T03:04:05Z');
    expect(isoTime(new Date('2019-07-23T11:24:54Z'))).toBe('2019-07-23T11:24:54Z');
    // Whatever the offset the Date was made with.
    expect(isoTime(new Date('2024-06-30T23:30:00-02:00'))).toBe('2024-07-01T01:30:00Z');
    expect(isoTime(null)).toBeNull();
  });
});

describe('composeJson', () => {
  it('renders a new tag compose exactly', () => {
    expect(composeJson(cfg, row())).toEqual({
      id: 12,
      owner: 'alice',
      source_type: 1,
      source: 'f30-build',
      state: 0,
      state_name: 'wait',
      state_reason: null,
      time_to_expire: '2024-01-02T10:20:30Z',
      time_submitted: '2024-01-01T10:20:30Z',
      time_started: null,
      time_done: null,
      time_removed: null,
      removed_by: null,
      result_repo: 'https://odcs.example.com/composes/odcs-12/compose/Temporary',
      result_repofile: 'https://odcs.example.com/composes/odcs-12/compose/Temporary/odcs-12.repo',
      toplevel_url: 'https://odcs.example.com/composes/odcs-12',
      flags: [],
      results: ['repository'],
      sigkeys: '',
      koji_event: null,
      koji_task_id: null,
      packages: null,
      builds: null,
      arches: 'x86_64',
      multilib_arches: '',
      multilib_method: 0,
      lookaside_repos: '',
      modular_koji_tags: null,
      module_defaults_url: null,
      label: null,
      compose_type: 'test',
      pungi_compose_id: null,
      target_dir: 'default',
      scratch_modules: null,
      parent_pungi_compose_ids: null,
      scratch_build_tasks: null,
      modules: null,
      respin_of: null,
      base_module_br_name: null,
      base_module_br_stream: null,
      base_module_br_stream_version_lte: null,
      base_module_br_stream_version_gte: null,
    });
  });

  it('has exactly ODCS key set; pungi_config_dump only in the full form', () => {
    const r = row({ pungi_config_dump: 'release_name = "x"\n' });
    expect(Object.keys(composeJson(cfg, r)).sort()).toEqual([...JSON_KEYS].sort());
    const full = composeJson(cfg, r, true);
    expect(Object.keys(full).sort()).toEqual([...JSON_KEYS, 'pungi_config_dump'].sort());
    expect(full).toMatchObject({ pungi_config_dump: 'release_name = "x"\n' });
    expect(composeJson(cfg, row(), true)).toMatchObject({ pungi_config_dump: null });
    // Internal columns never leak.
    for (const hidden of ['reused_id', 'celery_task_id', 'traceparent', 'heartbeat_at', 'worker', 'attempts', 'queued_at', 'renewed_from']) {
      expect(Object.keys(full)).not.toContain(hidden);
    }
  });

  it('joins list columns with single spaces and keeps null lists null', () => {
    const json = composeJson(
      cfg,
      row({
        source: 'f30-build f30-override',
        sigkeys: ['', 'deadbeef'],
        packages: ['bash', 'python3'],
        builds: ['bash-5.0-1.fc30'],
        arches: ['x86_64', 'ppc64le'],
        multilib_arches: ['i686'],
        lookaside_repos: ['http://a/repo', 'http://b/repo'],
        modular_koji_tags: ['module-tag'],
        scratch_modules: ['m:s:1:c'],
        parent_pungi_compose_ids: ['Fedora-30-20190101.0'],
        scratch_build_tasks: ['1', '2'],
        modules: [],
      }),
    );
    expect(json).toMatchObject({
      source: 'f30-build f30-override',
      sigkeys: ' deadbeef',
      packages: 'bash python3',
      builds: 'bash-5.0-1.fc30',
      arches: 'x86_64 ppc64le',
      multilib_arches: 'i686',
      lookaside_repos: 'http://a/repo http://b/repo',
      modular_koji_tags: 'module-tag',
      scratch_modules: 'm:s:1:c',
      parent_pungi_compose_ids: 'Fedora-30-20190101.0',
      scratch_build_tasks: '1 2',
      modules: '',
    });
    expect(composeJson(cfg, row({ lookaside_repos: null }))).toMatchObject({ lookaside_repos: null });
  });

  it('lists flag and result names in definition order, never no_flags', () => {
    const json = composeJson(
      cfg,
      row({
        flags: FLAGS.no_label | FLAGS.no_deps | FLAGS.check_deps | FLAGS.use_only_compatible_arch,
        results: RESULTS['boot.iso'] | RESULTS.repository | RESULTS.iso,
      }),
    );
    expect(json.flags).toEqual(['no_deps', 'check_deps', 'use_only_compatible_arch', 'no_label']);
    expect(json.results).toEqual(['repository', 'iso', 'boot.iso']);
    expect(composeJson(cfg, row({ flags: 511 })).flags).toEqual([
      'no_deps',
      'no_inheritance',
      'include_unpublished_pulp_repos',
      'check_deps',
      'include_done_modules',
      'ignore_absent_pulp_repos',
      'no_reuse',
      'use_only_compatible_arch',
      'no_label',
    ]);
    expect(composeJson(cfg, row({ results: 15 })).results).toEqual(['repository', 'iso', 'ostree', 'boot.iso']);
  });

  it('names every state', () => {
    const names = [0, 1, 2, 3, 4].map((state) => composeJson(cfg, row({ state })).state_name);
    expect(names).toEqual(['wait', 'generating', 'done', 'removed', 'failed']);
  });

  it('formats every time column', () => {
    const json = composeJson(
      cfg,
      row({
        state: STATES.removed,
        time_started: new Date('2024-01-01T10:21:00.5Z'),
        time_done: new Date('2024-01-01T10:25:59.999Z'),
        time_removed: new Date('2024-01-03T00:00:00Z'),
        removed_by: 'root',
      }),
    );
    expect(json).toMatchObject({
      time_started: '2024-01-01T10:21:00Z',
      time_done: '2024-01-01T10:25:59Z',
      time_removed: '2024-01-03T00:00:00Z',
      removed_by: 'root',
      state_name: 'removed',
    });
  });

  describe('URLs and target dir (reference §2.8)', () => {
    it('publishes composes of the default target dir, stored as null or as its path', () => {
      for (const target_dir of [null, '/srv/odcs']) {
        expect(composeJson(cfg, row({ id: 7, target_dir }))).toMatchObject({
          target_dir: 'default',
          toplevel_url: 'https://odcs.example.com/composes/odcs-7',
          result_repo: 'https://odcs.example.com/composes/odcs-7/compose/Temporary',
          result_repofile: 'https://odcs.example.com/composes/odcs-7/compose/Temporary/odcs-7.repo',
        });
      }
    });

    it('gives empty URLs for an extra target dir and shows its name', () => {
      expect(composeJson(cfg, row({ target_dir: '/mnt/private' }))).toMatchObject({
        target_dir: 'releng-private',
        toplevel_url: '',
        result_repo: '',
        result_repofile: '',
      });
      expect(composeJson(cfg, row({ target_dir: '/mnt/other' })).target_dir).toBe('other');
    });

    it('shows "unknown" for a stored path that no longer maps to a configured name', () => {
      expect(composeJson(cfg, row({ target_dir: '/mnt/gone' }))).toMatchObject({
        target_dir: 'unknown',
        toplevel_url: '',
        result_repo: '',
        result_repofile: '',
      });
      expect(targetDirName(cfg, '/mnt/gone')).toBe('unknown');
    });

    it('gives raw_config composes only the top-level URL', () => {
      expect(composeJson(cfg, row({ id: 9, source_type: SOURCE_TYPES.raw_config, source: 'pungi_cfg#abc' }))).toMatchObject({
        toplevel_url: 'https://odcs.example.com/composes/odcs-9',
        result_repo: '',
        result_repofile: '',
      });
      // ...and none in an extra target dir.
      expect(composeJson(cfg, row({ source_type: SOURCE_TYPES.raw_config, target_dir: '/mnt/private' }))).toMatchObject({
        toplevel_url: '',
        result_repo: '',
        result_repofile: '',
      });
    });

    it('names a reusing compose after the compose it reuses', () => {
      const r = row({ id: 20, reused_id: 5, state: STATES.done });
      expect(composeName(r)).toBe('odcs-5');
      expect(composeName(row({ id: 20 }))).toBe('odcs-20');
      expect(composeJson(cfg, r)).toMatchObject({
        id: 20,
        toplevel_url: 'https://odcs.example.com/composes/odcs-5',
        result_repo: 'https://odcs.example.com/composes/odcs-5/compose/Temporary',
        result_repofile: 'https://odcs.example.com/composes/odcs-5/compose/Temporary/odcs-5.repo',
      });
    });
  });

  it('passes scalar columns through', () => {
    const json = composeJson(
      cfg,
      row({
        koji_event: 123456789,
        koji_task_id: 42,
        label: 'Beta-1.2',
        compose_type: 'production',
        pungi_compose_id: 'odcs-12-1-20240101.t.0',
        respin_of: 'Fedora-30-20190101.n.0',
        module_defaults_url: 'https://git.example.com/defaults.git master',
        multilib_method: 3,
        base_module_br_name: 'platform',
        base_module_br_stream: 'f30',
        base_module_br_stream_version_lte: 300000,
        base_module_br_stream_version_gte: 290000,
        state_reason: 'Compose is generated successfully',
      }),
    );
    expect(json).toMatchObject({
      koji_event: 123456789,
      koji_task_id: 42,
      label: 'Beta-1.2',
      compose_type: 'production',
      pungi_compose_id: 'odcs-12-1-20240101.t.0',
      respin_of: 'Fedora-30-20190101.n.0',
      module_defaults_url: 'https://git.example.com/defaults.git master',
      multilib_method: 3,
      base_module_br_name: 'platform',
      base_module_br_stream: 'f30',
      base_module_br_stream_version_lte: 300000,
      base_module_br_stream_version_gte: 290000,
      state_reason: 'Compose is generated successfully',
    });
    expect(composeJson(cfg, row({ compose_type: null })).compose_type).toBeNull();
  });
});
