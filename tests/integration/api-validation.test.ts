import request from 'supertest';
import type { ConfigInput } from '../../common/config';
import { headerAuth } from '../support/header-auth';
import { expectRefused, snapshot } from '../support/refusals';
import { startTestStack, type TestStack } from '../support/stack';
import { RAW_CONFIG, SECTION_4_4 } from '../support/permission-config';

/**
 * What POST /api/1/composes/ (and the generic checks of PATCH) refuse, with ODCS's exact
 * messages (reference §1.2, §1.5.1, §4.3–§4.4, Appendix A), and that a refused request changes
 * nothing: no compose row, no outbox row, no work message. Also the routing contract (slash
 * redirects, JSON 404/405).
 */

const CHARS_MESSAGE =
  "Only alphanumerical characters and [' ', '-', '/', '_', '.', ':', '#', '+', '?', '$', '~'] characters are allowed in ODCS input variables";
const noneMessage = (key: string): string =>
  `Only dict, list, str, unicode, int, float and bool types are allowed in ODCS input variables, but '${key}' has '<class 'NoneType'>' type`;
const NOT_FOUND =
  'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.';


const post = (t: TestStack, body: unknown, user?: string, groups?: string) => {
  let r = request(t.app).post('/api/1/composes/');
  if (user) r = r.set('X-Test-User', user);
  if (groups) r = r.set('X-Test-Groups', groups);
  return r.send(body as object);
};

/** A POST whose body is sent exactly as given (for bodies that are not JSON objects). */
const postRaw = (t: TestStack, text: string, contentType = 'application/json') =>
  request(t.app).post('/api/1/composes/').set('Content-Type', contentType).send(text);

const TAG = { type: 'tag', source: 'f30-build' };

describe('POST /api/1/composes/ under noauth', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({
      config: {
        raw_config_urls: { pungi_cfg: RAW_CONFIG, short: { ...RAW_CONFIG, seconds_to_live: 600, max_seconds_to_live: 1200 } },
        extra_target_dirs: { 'releng-private': '/mnt/private' },
        allowed_repo_roots: ['/srv/repos'],
        allowed_repo_hosts: ['example.com'],
      },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  describe('body decoding (§1.5.1 steps 1–2)', () => {
    it('refuses a body that is not JSON', async () => {
      await expectRefused(t, () => postRaw(t, '{"source": {'), 400, /^Failed to decode JSON object/);
      await expectRefused(t, () => postRaw(t, 'source=tag', 'application/json; charset=utf-8'), 400, /^Failed to decode JSON object/);
    });

    it.each(['', '{}', 'null', '[]', '0', '""', 'false'])('refuses the empty body %j', async (text) => {
      await expectRefused(t, () => postRaw(t, text), 400, 'No JSON POST data submitted');
    });

    it('decodes the body as JSON when sent as application/json, with or without parameters', async () => {
      for (const type of ['application/json', 'Application/JSON; charset=UTF-8']) {
        const res = await postRaw(t, JSON.stringify({ source: TAG }), type);
        expect([type, res.status]).toEqual([type, 200]);
        expect(res.body).toMatchObject({ source_type: 1, source: 'f30-build', state: 0 });
      }
    });
  });

  describe('generic validation (§1.5.1 step 3)', () => {
    it.each([
      ['builds', { source: { ...TAG, builds: 'bash-1-1' } }, 'builds should be a list'],
      ['packages', { source: { ...TAG, packages: 'bash' } }, 'packages should be a list'],
      ['sigkeys', { source: { ...TAG, sigkeys: 'deadbeef' } }, 'sigkeys should be a list'],
      ['modules', { source: { ...TAG, modules: 'a:b' } }, 'modules should be a list'],
      ['scratch_modules', { source: { ...TAG, scratch_modules: 'a:b:c:d' } }, 'scratch_modules should be a list'],
      ['scratch_build_tasks', { source: { ...TAG, scratch_build_tasks: 1 } }, 'scratch_build_tasks should be a list'],
      ['multilib_method', { source: TAG, multilib_method: 'runtime' }, 'multilib_method should be a list'],
      ['type', { source: { type: 1, source: 'f30' } }, 'type should be a string'],
      ['label', { source: TAG, label: 5 }, 'label should be a string'],
      ['compose_type', { source: TAG, compose_type: ['test'] }, 'compose_type should be a string'],
      ['target_dir', { source: TAG, target_dir: true }, 'target_dir should be a string'],
      ['base_module_br_name', { source: { ...TAG, base_module_br_name: 1 } }, 'base_module_br_name should be a string'],
      ['base_module_br_stream', { source: { ...TAG, base_module_br_stream: [] } }, 'base_module_br_stream should be a string'],
      ['seconds_to_live', { source: TAG, seconds_to_live: '3600' }, 'seconds_to_live should be an integer'],
      ['seconds_to_live float', { source: TAG, seconds_to_live: 1.5 }, 'seconds_to_live should be an integer'],
      ['koji_event', { source: { ...TAG, koji_event: '123' } }, 'koji_event should be an integer'],
      ['version_lte', { source: { ...TAG, base_module_br_stream_version_lte: 'x' } }, 'base_module_br_stream_version_lte should be an integer'],
      ['version_gte', { source: { ...TAG, base_module_br_stream_version_gte: 2.5 } }, 'base_module_br_stream_version_gte should be an integer'],
      ['dict outside source', { source: TAG, extra: { a: 1 } }, "Only 'source' key is allowed to contain dict."],
      ['dict inside source', { source: { ...TAG, nested: { a: 1 } } }, "Only 'source' key is allowed to contain dict."],
      ['dict inside a list', { source: TAG, arches: [{ arch: 'x86_64' }] }, "Only 'source' key is allowed to contain dict."],
      ['bad characters', { source: TAG, label: 'a=b' }, CHARS_MESSAGE],
      ['a URL with a query', { source: { type: 'pungi_compose', source: 'https://example.com/c?x=1' } }, CHARS_MESSAGE],
      ['bad characters in a list', { source: TAG, arches: ['x86_64', 'ppc64;le'] }, CHARS_MESSAGE],
      ['null value', { source: TAG, respin_of: null }, noneMessage('respin_of')],
      ['null inside a list', { source: TAG, arches: [null] }, noneMessage('0')],
      ['null later in a list', { source: { ...TAG, packages: ['bash', null] } }, noneMessage('1')],
      ['too deep', { source: TAG, arches: JSON.parse(`${'['.repeat(40)}"x"${']'.repeat(40)}`) }, 'The request is nested too deeply.'],
    ])('%s', async (_name, body, message) => {
      await expectRefused(t, () => post(t, body), 400, message);
    });

    it('does not check the characters of package names', async () => {
      const res = await post(t, { source: { ...TAG, packages: ['foo = 1.0', 'python3-dnf'] } });
      expect(res.status).toBe(200);
      expect(res.body.packages).toBe('foo = 1.0 python3-dnf');
    });
  });

  describe('the source (§1.5.1 steps 4–9)', () => {
    it.each([
      ['a string', { source: 'f30-build', arches: ['x86_64'] }, "{'source': 'f30-build', 'arches': ['x86_64']}"],
      ['missing', { label: 'x', seconds_to_live: 60, flags: [] }, "{'label': 'x', 'seconds_to_live': 60, 'flags': []}"],
      ['a list', { source: ['f30-build'] }, "{'source': ['f30-build']}"],
      ['a number', { source: 5, x: true }, "{'source': 5, 'x': True}"],
    ])('refuses a source that is %s, quoting the body as Python prints it', async (_what, body, repr) => {
      await expectRefused(t, () => post(t, body), 400, `Invalid source configuration provided: ${repr}`);
    });

    it('refuses a body that is not an object', async () => {
      await expectRefused(t, () => postRaw(t, '[1, "a"]'), 400, "Invalid source configuration provided: [1, 'a']");
      await expectRefused(t, () => postRaw(t, 'true'), 400, 'Invalid source configuration provided: True');
      await expectRefused(t, () => postRaw(t, '"tag"'), 400, "Invalid source configuration provided: 'tag'");
    });

    it('refuses a source without a type', async () => {
      await expectRefused(
        t,
        () => post(t, { source: { source: 'f30-build', packages: ['bash'] } }),
        400,
        "Missing type in source configuration, received: {'source': 'f30-build', 'packages': ['bash']}",
      );
      await expectRefused(t, () => post(t, { source: {} }), 400, 'Missing type in source configuration, received: {}');
    });

    it.each(['foo', 'Tag', 'koji', ''])('refuses the unknown source type %j', async (type) => {
      await expectRefused(t, () => post(t, { source: { type, source: 'x' } }), 400, `Unknown source type "${type}"`);
    });

    it.each([
      ['tag', 1, {}],
      ['tag', 1, { source: '' }],
      ['tag', 1, { source: '   ' }],
      ['module', 2, {}],
      ['module', 2, { scratch_modules: [] }],
      ['repo', 3, {}],
      ['pulp', 4, { source: '' }],
      ['raw_config', 5, {}],
      ['pungi_compose', 7, {}],
    ])('refuses a %s compose without source: No source provided for %d', async (type, n, extra) => {
      await expectRefused(t, () => post(t, { source: { type, ...extra } }), 400, `No source provided for ${n}`);
    });

    it('accepts no source for build composes and for modules given as scratch_modules', async () => {
      const build = await post(t, { source: { type: 'build', builds: ['bash-5.0-1.fc30'] } });
      expect(build.status).toBe(200);
      expect(build.body).toMatchObject({ source_type: 6, source: '', builds: 'bash-5.0-1.fc30' });
      const scratch = await post(t, { source: { type: 'module', scratch_modules: ['foo:bar:1:c0ffee'] } });
      expect(scratch.status).toBe(200);
      expect(scratch.body).toMatchObject({ source_type: 2, source: '', scratch_modules: 'foo:bar:1:c0ffee' });
    });

    it('splits the source on spaces and drops duplicates, first occurrence first', async () => {
      const res = await post(t, { source: { type: 'tag', source: 'f30-override f30-build  f30-override' } });
      expect(res.status).toBe(200);
      expect(res.body.source).toBe('f30-override f30-build');
      expect((await t.s.store.get(res.body.id))?.source).toBe('f30-override f30-build');
    });

    it('checks raw_config sources', async () => {
      const raw = (source: string) => () => post(t, { source: { type: 'raw_config', source } });
      await expectRefused(t, raw('pungi_cfg#abc pungi_cfg#def'), 400, 'Only single source is allowed for "raw_config" source_type');
      const format = 'Source must be in "source_name#commit_hash" format for "raw_config" source_type.';
      for (const bad of ['pungi_cfg', 'pungi_cfg#', '#abc']) await expectRefused(t, raw(bad), 400, format);
      await expectRefused(t, raw('missing#abc'), 400, 'Source "missing" does not exist in server configuration.');
      const ok = await raw('pungi_cfg#abc123')();
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ source_type: 5, source: 'pungi_cfg#abc123', result_repo: '', result_repofile: '' });
    });

    it('checks module sources', async () => {
      const mod = (source: string) => () => post(t, { source: { type: 'module', source } });
      await expectRefused(t, mod('testmodule'), 400, 'Module definition must be in "n:s", "n:s:v" or "n:s:v:c" format, but got testmodule');
      await expectRefused(
        t,
        mod('good:master testmodule'),
        400,
        'Module definition must be in "n:s", "n:s:v" or "n:s:v:c" format, but got testmodule',
      );
      await expectRefused(t, mod('platform:f30'), 400, 'ODCS currently cannot create compose with base modules, but platform was requested.');
      await expectRefused(
        t,
        mod('foo:1 bootstrap:2:3:4'),
        400,
        'ODCS currently cannot create compose with base modules, but bootstrap was requested.',
      );
      for (const good of ['testmodule:master', 'testmodule:master:20180101', 'testmodule:master:20180101:c0ffee']) {
        const res = await mod(good)();
        expect([good, res.status]).toEqual([good, 200]);
      }
    });
  });

  describe('other fields (§1.5.1 steps 10–17)', () => {
    it('refuses a legacy seconds-to-live that is not a number, quoting the body', async () => {
      await expectRefused(
        t,
        () => post(t, { source: TAG, 'seconds-to-live': 'abc' }),
        400,
        "Invalid seconds_to_live specified in request: {'source': {'type': 'tag', 'source': 'f30-build'}, 'seconds-to-live': 'abc'}",
      );
    });

    it('refuses unknown flags, results and multilib methods', async () => {
      await expectRefused(t, () => post(t, { source: TAG, flags: ['no_deps', 'foo'] }), 400, 'Unknown flag foo');
      await expectRefused(t, () => post(t, { source: TAG, results: ['iso', 'bar'] }), 400, 'Unknown result bar');
      await expectRefused(t, () => post(t, { source: TAG, multilib_method: ['runtime', 'foo'] }), 400, 'Unknown multilib method "foo"');
      // Names, not numbers.
      await expectRefused(t, () => post(t, { source: TAG, multilib_method: ['1'] }), 400, 'Unknown multilib method "1"');
    });

    it('wants flags, results, arches and the other lists as lists of strings', async () => {
      for (const key of ['flags', 'results', 'arches', 'multilib_arches', 'lookaside_repos', 'parent_pungi_compose_ids']) {
        await expectRefused(t, () => post(t, { source: TAG, [key]: 'x86_64' }), 400, `${key} should be a list`);
        await expectRefused(t, () => post(t, { source: TAG, [key]: [1] }), 400, `${key} should be a list of strings`);
      }
      await expectRefused(t, () => post(t, { source: { ...TAG, packages: ['bash', 2] } }), 400, 'packages should be a list of strings');
      await expectRefused(t, () => post(t, { source: { ...TAG, builds: [true] } }), 400, 'builds should be a list of strings');
      await expectRefused(t, () => post(t, { source: { ...TAG, modular_koji_tags: 'x' } }), 400, 'modular_koji_tags should be a list');
    });

    it('wants module_defaults_url and module_defaults_commit together', async () => {
      const message = 'The "module_defaults_url" and "module_defaults_commit" must be used together.';
      const mod = { type: 'module', source: 'testmodule:master' };
      await expectRefused(t, () => post(t, { source: { ...mod, module_defaults_url: 'https://git.example.com/defaults.git' } }), 400, message);
      await expectRefused(t, () => post(t, { source: { ...mod, module_defaults_commit: 'master' } }), 400, message);
      const ok = await post(t, { source: { ...mod, module_defaults_url: 'https://git.example.com/defaults.git', module_defaults_commit: 'master' } });
      expect(ok.status).toBe(200);
      expect(ok.body.module_defaults_url).toBe('https://git.example.com/defaults.git master');
    });

    it('accepts only the default and the configured extra target dirs', async () => {
      await expectRefused(t, () => post(t, { source: TAG, target_dir: 'nope' }), 400, 'Unknown "target_dir" "nope"');
      await expectRefused(t, () => post(t, { source: TAG, target_dir: '/mnt/private' }), 400, 'Unknown "target_dir" "/mnt/private"');
      const extra = await post(t, { source: TAG, target_dir: 'releng-private' });
      expect(extra.status).toBe(200);
      expect(extra.body).toMatchObject({ target_dir: 'releng-private', toplevel_url: '', result_repo: '', result_repofile: '' });
      expect((await t.s.store.get(extra.body.id))?.target_dir).toBe('/mnt/private');
      for (const target_dir of ['default', '']) {
        const res = await post(t, { source: TAG, target_dir });
        expect(res.body).toMatchObject({ target_dir: 'default' });
        expect((await t.s.store.get(res.body.id))?.target_dir).toBeNull();
      }
    });

    it('applies the defaults; an empty arches list means the default arches', async () => {
      const res = await post(t, { source: TAG, arches: [] });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        arches: 'x86_64',
        sigkeys: '',
        multilib_arches: '',
        multilib_method: 0,
        lookaside_repos: '',
        compose_type: 'test',
        flags: [],
        results: ['repository'],
      });
    });

    it('stores names as bitmasks and lists as list strings', async () => {
      const res = await post(t, {
        source: { ...TAG, sigkeys: ['', 'deadbeef'], packages: ['bash'], koji_event: 1234 },
        flags: ['check_deps', 'no_deps'],
        results: ['iso'],
        arches: ['x86_64', 'ppc64le'],
        multilib_arches: ['x86_64'],
        multilib_method: ['runtime', 'devel'],
        lookaside_repos: ['http://example.com/repo'],
        label: 'Beta-1.0',
        compose_type: 'nightly',
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        sigkeys: ' deadbeef',
        packages: 'bash',
        koji_event: 1234,
        flags: ['no_deps', 'check_deps'],
        results: ['repository', 'iso'],
        arches: 'x86_64 ppc64le',
        multilib_arches: 'x86_64',
        multilib_method: 3,
        lookaside_repos: 'http://example.com/repo',
        label: 'Beta-1.0',
        compose_type: 'nightly',
      });
      const row = await t.s.store.get(res.body.id);
      expect(row).toMatchObject({ flags: 9, results: 3, multilib_method: 3, sigkeys: ['', 'deadbeef'], arches: ['x86_64', 'ppc64le'] });
    });

    it('caps seconds_to_live, accepts the legacy key, and takes the default for 0', async () => {
      const lifetime = async (extra: Record<string, unknown>): Promise<number> => {
        const res = await post(t, { source: TAG, ...extra });
        expect(res.status).toBe(200);
        return (Date.parse(res.body.time_to_expire) - Date.parse(res.body.time_submitted)) / 1000;
      };
      expect(await lifetime({})).toBe(86400);
      expect(await lifetime({ seconds_to_live: 0 })).toBe(86400);
      expect(await lifetime({ seconds_to_live: 600 })).toBe(600);
      expect(await lifetime({ seconds_to_live: 10 ** 9 })).toBe(259200);
      expect(await lifetime({ 'seconds-to-live': 1200 })).toBe(1200);
      expect(await lifetime({ 'seconds-to-live': '1800' })).toBe(1800);
    });

    it("takes a raw_config compose's lifetime limits from its raw_config_urls entry (§6.2)", async () => {
      const lifetime = async (source: string, extra: Record<string, unknown>): Promise<number> => {
        const res = await post(t, { source: { type: 'raw_config', source }, ...extra });
        expect(res.status).toBe(200);
        return (Date.parse(res.body.time_to_expire) - Date.parse(res.body.time_submitted)) / 1000;
      };
      expect(await lifetime('short#abc', {})).toBe(600);
      expect(await lifetime('short#abc', { seconds_to_live: 900 })).toBe(900);
      expect(await lifetime('short#abc', { seconds_to_live: 5000 })).toBe(1200);
      // An entry without its own limits takes the global ones.
      expect(await lifetime('pungi_cfg#abc', {})).toBe(86400);
      expect(await lifetime('pungi_cfg#abc', { seconds_to_live: 10 ** 9 })).toBe(259200);
    });
  });

  describe('a valid request', () => {
    it('answers 200 with the compose JSON of reference §1.5.2 and queues one work message', async () => {
      const before = await snapshot(t);
      const res = await post(t, { source: { type: 'module', source: 'testmodule:master' } });
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const id = res.body.id as number;
      expect(res.body).toEqual({
        id,
        owner: 'unknown',
        source_type: 2,
        source: 'testmodule:master',
        state: 0,
        state_name: 'wait',
        state_reason: null,
        time_to_expire: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        time_submitted: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        time_started: null,
        time_done: null,
        time_removed: null,
        removed_by: null,
        result_repo: `http://localhost/odcs/odcs-${id}/compose/Temporary`,
        result_repofile: `http://localhost/odcs/odcs-${id}/compose/Temporary/odcs-${id}.repo`,
        toplevel_url: `http://localhost/odcs/odcs-${id}`,
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
      expect(Math.abs(Date.parse(res.body.time_submitted) - Date.now())).toBeLessThan(10_000);
      expect(Date.parse(res.body.time_to_expire) - Date.parse(res.body.time_submitted)).toBe(86400 * 1000);

      // Written in the same statement as the row; the relay deletes them once published.
      const outbox = await t.s.db.query<{ kind: string }>('SELECT kind FROM outbox WHERE compose_id = $1 ORDER BY id', [id]);
      expect(outbox.map((r) => r.kind).sort()).toEqual(['event', 'work']);
      const after = await snapshot(t);
      expect(after.composes).toHaveLength(before.composes.length + 1);
      expect(after.queued).toBe(before.queued + 1);
      // What GET shows is what POST answered, plus the config dump.
      const got = await request(t.app).get(`/api/1/composes/${id}`);
      expect(got.body).toEqual({ ...res.body, pungi_config_dump: null });
    });
  });

  describe('PATCH runs the same generic checks', () => {
    it.each([
      [{ sigkeys: 'deadbeef' }, 'sigkeys should be a list'],
      [{ seconds_to_live: 'x' }, 'seconds_to_live should be an integer'],
      [{ label: 'a&b' }, CHARS_MESSAGE],
      [{ label: 1 }, 'label should be a string'],
      [{ source: { builds: 'x' } }, 'builds should be a list'],
      [{ source: { modules: [1] } }, 'modules should be a list of strings'],
      [{ extra: { a: 1 } }, "Only 'source' key is allowed to contain dict."],
      [{ sigkeys: [null] }, noneMessage('0')],
    ])('PATCH %j', async (body, message) => {
      const created = await post(t, { source: TAG });
      await t.s.db.query(`UPDATE composes SET state = 1, time_started = now() WHERE id = $1`, [created.body.id]);
      await t.s.db.query(`UPDATE composes SET state = 2, time_done = now() WHERE id = $1`, [created.body.id]);
      await expectRefused(t, () => request(t.app).patch(`/api/1/composes/${created.body.id}`).send(body), 400, message);
    });

    it('refuses a PATCH body that is not JSON', async () => {
      await expectRefused(
        t,
        () => request(t.app).patch('/api/1/composes/1').set('Content-Type', 'application/json').send('{"seconds_to_live": '),
        400,
        /^Failed to decode JSON object/,
      );
    });
  });
});

/** The configuration of reference §4.4's examples; `root` (an admin) also has a client entry. */
const PERMISSIONS: ConfigInput = {
  ...SECTION_4_4,
  allowed_clients: {
    users: { ...SECTION_4_4.allowed_clients?.users, root: { source_types: ['tag'] } },
    groups: SECTION_4_4.allowed_clients?.groups,
  },
  admins: { users: ['root'], groups: [] },
};

describe('POST /api/1/composes/ with authentication and permissions (§4.1, §4.3, §4.4)', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({ config: PERMISSIONS, context: { auth: headerAuth } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 401 to a mutating request without credentials', async () => {
    await expectRefused(t, () => post(t, { source: TAG }), 401, 'REMOTE_USER is not present in request.');
    await expectRefused(t, () => request(t.app).patch('/api/1/composes/1').send({}), 401, 'REMOTE_USER is not present in request.');
    await expectRefused(t, () => request(t.app).delete('/api/1/composes/1'), 401, 'REMOTE_USER is not present in request.');
    // Authentication comes first, before even looking at the body.
    await expectRefused(t, () => postRaw(t, '{bad json'), 401, 'REMOTE_USER is not present in request.');
  });

  it('answers 401 with the backend message for bad credentials', async () => {
    await expectRefused(t, () => post(t, { source: TAG }, 'invalid'), 401, 'Cannot verify client: FAILED');
  });

  it('serves GETs without credentials', async () => {
    expect((await request(t.app).get('/api/1/composes/')).status).toBe(200);
    expect((await request(t.app).get('/api/1/about/')).status).toBe(200);
  });

  it('refuses users without the allowed_clients role, before validating the body', async () => {
    await expectRefused(t, () => post(t, { source: TAG }, 'qa'), 403, 'User qa is not in role allowed_clients.');
    await expectRefused(t, () => post(t, { source: TAG }, 'qa', 'nobody,others'), 403, 'User qa is not in role allowed_clients.');
    await expectRefused(t, () => post(t, { source: 'broken' }, 'qa'), 403, 'User qa is not in role allowed_clients.');
  });

  it.each([
    ['dev', '', { source: { type: 'repo', source: '/srv/repos/base' } }, 'User dev not allowed to operate with compose with source_types=repo.'],
    ['dev', '', { source: TAG, target_dir: 'releng-private' }, 'User dev not allowed to operate with compose with target_dirs=releng-private.'],
    ['dev', '', { source: TAG, arches: ['s390', 'aarch64'] }, 'User dev not allowed to operate with compose with arches=aarch64.'],
    [
      'dev2',
      '',
      { source: { type: 'module', source: 'testmodule:master' }, compose_type: 'production' },
      'User dev2 not allowed to operate with compose with compose_types=production.',
    ],
    [
      'dev4',
      '',
      { source: { type: 'raw_config', source: 'pungi_cfg#abc' } },
      'User dev4 not allowed to operate with compose with raw_config_keys=pungi_cfg.',
    ],
    [
      'dev3',
      'dev2',
      { source: { type: 'module', source: 'testmodule:master' } },
      'User dev3 not allowed to operate with compose with source_types=module.',
    ],
    ['gina', 'dev2,dev3', { source: TAG }, 'User gina not allowed to operate with compose with source_types=tag.'],
  ])('refuses %s (groups %j) what its rules do not allow', async (user, groups, body, message) => {
    await expectRefused(t, () => post(t, body, user, groups), 403, message);
  });

  it('checks the request (400) before the attributes (403)', async () => {
    await expectRefused(t, () => post(t, { source: { type: 'repo', source: '/srv/repos/x' }, flags: ['foo'] }, 'dev'), 400, 'Unknown flag foo');
  });

  it.each([
    ['dev', '', { source: TAG, arches: ['ppc64', 's390'] }],
    ['dev2', '', { source: { type: 'module', source: 'testmodule:master' }, compose_type: 'nightly' }],
    ['dev3', 'dev2', { source: TAG, target_dir: 'releng-private' }],
    ['dev4', '', { source: { type: 'raw_config', source: 'pungi_cfg2#abc' } }],
    ['gina', 'dev2,dev3', { source: { type: 'module', source: 'testmodule:master' } }],
    ['gina', 'dev2,dev3', { source: { type: 'raw_config', source: 'pungi_cfg#abc' } }],
    ['carl', 'composer', { source: TAG }],
    // An admin passes the attribute checks (0.7+), whatever its allowed_clients entry says.
    ['root', '', { source: { type: 'repo', source: '/srv/repos/base' }, arches: ['aarch64'], target_dir: 'releng-private' }],
  ])('lets %s (groups %j) create what its rules allow, owned by it', async (user, groups, body) => {
    const before = await snapshot(t);
    const res = await post(t, body, user, groups);
    expect(res.status).toBe(200);
    expect(res.body.owner).toBe(user);
    expect(await t.s.store.get(res.body.id)).toMatchObject({ owner: user, state: 0 });
    const after = await snapshot(t);
    expect(after.composes).toHaveLength(before.composes.length + 1);
    expect(after.queued).toBe(before.queued + 1);
  });
});

describe('routing', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['GET', '/api/1/composes', '/api/1/composes/'],
    ['GET', '/api/1/composes?owner=alice&page=2', '/api/1/composes/?owner=alice&page=2'],
    ['POST', '/api/1/composes', '/api/1/composes/'],
    ['GET', '/api/1/about', '/api/1/about/'],
    ['GET', '/api/1/metrics', '/api/1/metrics/'],
  ])('redirects %s %s to the slashed URL with 308', async (method, path, location) => {
    const before = await snapshot(t);
    const res = await request(t.app)[method === 'GET' ? 'get' : 'post'](path).send(method === 'POST' ? { source: TAG } : undefined);
    expect(res.status).toBe(308);
    expect(res.headers.location).toBe(location);
    expect(await snapshot(t)).toEqual(before);
  });

  it.each([
    ['GET', '/api/1/composes/5/'],
    ['GET', '/api/1/nothing'],
    ['GET', '/api/2/composes/'],
    ['DELETE', '/api/1/composes/5/'],
    ['GET', '/API/1/composes/'],
  ])('answers %s %s with a JSON 404', async (method, path) => {
    await expectRefused(t, () => request(t.app)[method === 'GET' ? 'get' : 'delete'](path), 404, NOT_FOUND);
  });

  it.each([
    ['put', '/api/1/composes/', 'GET, POST, HEAD, OPTIONS'],
    ['delete', '/api/1/composes/', 'GET, POST, HEAD, OPTIONS'],
    ['patch', '/api/1/composes/', 'GET, POST, HEAD, OPTIONS'],
    ['post', '/api/1/composes/5', 'GET, PATCH, DELETE, HEAD, OPTIONS'],
    ['put', '/api/1/composes/5', 'GET, PATCH, DELETE, HEAD, OPTIONS'],
    ['post', '/api/1/about/', 'GET, HEAD, OPTIONS'],
    ['delete', '/api/1/metrics/', 'GET, HEAD, OPTIONS'],
  ] as const)('answers %s %s with a JSON 405 and Allow', async (method, path, allow) => {
    const before = await snapshot(t);
    const res = await request(t.app)[method](path).send({ source: TAG });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.body).toEqual({ status: 405, error: 'Method Not Allowed', message: 'The method is not allowed for the requested URL.' });
    expect(await snapshot(t)).toEqual(before);
  });

  it('answers OPTIONS with the allowed methods', async () => {
    const res = await request(t.app).options('/api/1/composes/');
    expect(res.status).toBe(200);
    expect(res.headers.allow).toBe('GET, POST, HEAD, OPTIONS');
  });
});
