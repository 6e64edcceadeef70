import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { ConfigError, loadConfig } from '../../common/config';
import { STATES } from '../../common/enums';
import { freePort } from '../../common/net';
import { createApp } from '../../frontend/app';
import { type RunningFrontend, startFrontend } from '../../frontend/main';
import { buildFixtureRepos } from '../fixtures/build-repos';
import { composeFinished } from '../support/compose-e2e';
import { newCompose } from '../support/composes';
import { RAW_CONFIG } from '../support/permission-config';
import { expectRefused, snapshot } from '../support/refusals';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * Issue 10, the API edge: request values that would become paths, URLs or command-line
 * arguments (item 1), the compose tree served where the default target_dir_url points (item 16),
 * and the low ones of item 18 (Content-Type, reverse-proxy headers, huge page numbers, symbolic
 * links out of target_dir). Every refusal is checked to change nothing.
 */

/** A compose that failed, which PATCH may renew (regenerate). */
async function failedCompose(t: TestStack): Promise<number> {
  const row = await t.s.store.create(newCompose(), new Date());
  await t.s.db.query(`UPDATE composes SET state = $2, state_reason = 'Error while generating compose: boom' WHERE id = $1`, [row.id, STATES.failed]);
  return row.id;
}

const post = (t: TestStack, body: unknown) => request(t.app).post('/api/1/composes/').send(body as object);
const TAG = { type: 'tag', source: 'f40-build' };

describe('request values that become paths (item 1)', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({
      config: { raw_config_urls: { pungi_cfg: RAW_CONFIG }, allowed_repo_roots: ['/srv/repos'] },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const HOSTILE_ARCHES = ['../x', '../../../odcs-21/compose/Temporary/x86_64', '..', '.', '', '$basearch', '__proto__', 'constructor', 'toString', 'x86_64/..', 'X86_64', '~root'];

  it.each(HOSTILE_ARCHES)('refuses the arch %j in arches and in multilib_arches', async (arch) => {
    await expectRefused(t, () => post(t, { source: TAG, arches: ['x86_64', arch] }), 400, `Unknown arch "${arch}" in arches`);
    await expectRefused(t, () => post(t, { source: TAG, multilib_arches: [arch] }), 400, `Unknown arch "${arch}" in multilib_arches`);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a tag leaving its directory', { source: { type: 'tag', source: '../../etc' } }, 'Invalid Koji tag name "../../etc" in source'],
    ['a hidden tag name', { source: { type: 'tag', source: '.store' } }, 'Invalid Koji tag name ".store" in source'],
    ['a tag that is an option', { source: { type: 'tag', source: '-rf' } }, 'Invalid Koji tag name "-rf" in source'],
    ['a tag with a variable', { source: { type: 'tag', source: 'f40-$basearch' } }, 'Invalid Koji tag name "f40-$basearch" in source'],
    ['a modular Koji tag with a slash', { source: { ...TAG, modular_koji_tags: ['a/b'] } }, 'Invalid Koji tag name "a/b" in modular_koji_tags'],
    ['an NVR source with a slash', { source: { type: 'build', source: 'bash-1-1/../../x' } }, 'Invalid build NVR "bash-1-1/../../x" in source'],
    ['a builds item going up', { source: { ...TAG, builds: ['../bash-1-1'] } }, 'Invalid build NVR "../bash-1-1" in builds'],
    ['a sigkey leaving data/signed', { source: { ...TAG, sigkeys: ['../../etc'] } }, 'Invalid sigkey "../../etc": a sigkey is a hexadecimal key id'],
    ['a sigkey with a variable', { source: { ...TAG, sigkeys: ['$key'] } }, 'Invalid sigkey "$key": a sigkey is a hexadecimal key id'],
    ['a module stream going up', { source: { type: 'module', source: 'nodejs:..' } }, 'Invalid module "nodejs:.." in source'],
    ['a module with a slash', { source: { type: 'module', source: 'a/b:master' } }, 'Invalid module "a/b:master" in source'],
    ['a module version that is not a number', { source: { type: 'module', source: 'nodejs:18:x' } }, 'Invalid module "nodejs:18:x" in source'],
    ['a modules item going up', { source: { ...TAG, modules: ['a:../b'] } }, 'Invalid module "a:../b" in modules'],
    ['a scratch module going up', { source: { type: 'module', scratch_modules: ['a:b:1:../c'] } }, 'Invalid module "a:b:1:../c" in scratch_modules'],
    ['a scratch build task that is not an id', { source: { ...TAG, scratch_build_tasks: ['../1'] } }, 'Invalid Koji task id "../1" in scratch_build_tasks'],
    ['a pulp content set going up', { source: { type: 'pulp', source: '../cs' } }, 'Invalid content set "../cs" in source'],
    ['a raw_config commit that is a git option', { source: { type: 'raw_config', source: 'pungi_cfg#--upload-pack' } }, 'Invalid commit "--upload-pack" in raw_config source'],
    ['a raw_config commit range', { source: { type: 'raw_config', source: 'pungi_cfg#a..b' } }, 'Invalid commit "a..b" in raw_config source'],
    ['a compose type going up', { source: TAG, compose_type: '../x' }, 'Invalid compose_type "../x"'],
    ['a compose type with a slash', { source: TAG, compose_type: 'test/x' }, 'Invalid compose_type "test/x"'],
    ['a label with a slash', { source: TAG, label: 'RC-1.0/../../x' }, 'Invalid label "RC-1.0/../../x"'],
    ['a hidden label', { source: TAG, label: '..' }, 'Invalid label ".."'],
    ['a target dir going up', { source: TAG, target_dir: '../default' }, 'Unknown "target_dir" "../default"'],
  ])('refuses %s', async (_what, body, message) => {
    await expectRefused(t, () => post(t, body), 400, message);
  });

  it('accepts the real names of each kind', async () => {
    const good: Array<Record<string, unknown>> = [
      { source: TAG, arches: ['x86_64', 'aarch64', 'ppc64le', 's390x', 'i686', 'noarch', 'armhfp', 'riscv64'], multilib_arches: ['x86_64'] },
      { source: { ...TAG, sigkeys: ['', 'DEADBEEF', 'a15b79cc'], modular_koji_tags: ['module-f40-build'] }, label: 'RC-1.0', compose_type: 'nightly' },
      { source: { type: 'build', builds: ['gcc-c++-13.2.1-1.fc40', 'foo-1.0~rc1-1.el9_3'] } },
      { source: { type: 'module', source: 'nodejs:18 nodejs:18:8090020230103:3b72e4d2 python3.11:3.11' } },
      { source: { type: 'raw_config', source: 'pungi_cfg#0123abcdef' } },
      { source: { type: 'raw_config', source: 'pungi_cfg#refs/heads/main' } },
      { source: { type: 'pulp', source: 'rhel-8-for-x86_64-baseos-rpms' } },
    ];
    for (const body of good) {
      const res = await post(t, body);
      expect([body, res.status, res.body.message]).toEqual([body, 200, undefined]);
    }
  });

  describe('PATCH checks the same values', () => {
    let id: number;
    beforeAll(async () => {
      id = await failedCompose(t);
    });

    it.each<[Record<string, unknown>, string]>([
      [{ sigkeys: ['../x'] }, 'Invalid sigkey "../x": a sigkey is a hexadecimal key id'],
      [{ label: 'a/b' }, 'Invalid label "a/b"'],
      [{ source: { builds: ['../bash-1-1'] } }, 'Invalid build NVR "../bash-1-1" in builds'],
      [{ source: { modules: ['a:../b'] } }, 'Invalid module "a:../b" in modules'],
    ])('refuses %j', async (body, message) => {
      await expectRefused(t, () => request(t.app).patch(`/api/1/composes/${id}`).send(body), 400, message);
    });
  });

  it('checks the configured default arches too', () => {
    for (const arches of [['../x'], ['__proto__'], ['.']]) {
      expect(() => loadConfig({}, { arches })).toThrow(ConfigError);
      expect(() => loadConfig({}, { arches })).toThrow(/arches\.0: is not a known RPM architecture \(from overrides\)/);
    }
    expect(loadConfig({ ODCS_ARCHES: 'x86_64 aarch64' }).arches).toEqual(['x86_64', 'aarch64']);
  });
});

describe('Content-Type of mutating requests (item 18)', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({ listen: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  const body = JSON.stringify({ source: TAG });

  it.each(['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json'])(
    'answers 415 to a JSON body sent as %s (a cross-site form or fetch needs no preflight for those)',
    async (type) => {
      await expectRefused(
        t,
        () => request(t.app).post('/api/1/composes/').set('Content-Type', type).send(body),
        415,
        `The request body must be sent with Content-Type: application/json, not ${JSON.stringify(type)}.`,
      );
    },
  );

  it('answers 415 to a body without Content-Type', async () => {
    const before = await snapshot(t);
    // fetch sends a byte array without a Content-Type, as a browser does with a Blob.
    const res = await fetch(`${t.url}/api/1/composes/`, { method: 'POST', body: new TextEncoder().encode(body) });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 415,
      body: { status: 415, error: 'Unsupported Media Type', message: 'The request body must be sent with Content-Type: application/json, not none.' },
    });
    expect(await snapshot(t)).toEqual(before);
  });

  it('accepts what the Python client sends: application/json bodies, and a PATCH without body or Content-Type', async () => {
    const created = await fetch(`${t.url}/api/1/composes/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect(created.status).toBe(200);
    const failed = await failedCompose(t);
    const renewed = await fetch(`${t.url}/api/1/composes/${failed}`, { method: 'PATCH' });
    expect(renewed.status).toBe(200);
    const patched = await request(t.app).patch(`/api/1/composes/${failed}`).set('Content-Type', 'text/plain').send('{"seconds_to_live": 60}');
    expect(patched.status).toBe(415);
  });
});

describe('list links and page numbers (item 18)', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack();
    for (let i = 0; i < 3; i++) await t.s.store.create(newCompose({}), new Date());
  });
  afterAll(async () => {
    await t?.close();
  });

  const proxied = (app: Parameters<typeof request>[0], headers: Record<string, string>) => {
    let r = request(app).get('/api/1/composes/?per_page=1').set('Host', 'internal:8080');
    for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
    return r;
  };
  const PROXY_HEADERS = { 'X-Forwarded-Host': 'evil.example.com', 'X-Scheme': 'https', 'X-Script-Name': '/phish' };

  it('ignores the reverse-proxy headers of a peer that is not a trusted proxy', async () => {
    const res = await proxied(t.app, PROXY_HEADERS);
    expect(res.body.meta.first).toBe('http://internal:8080/api/1/composes/?per_page=1&page=1');
  });

  it('honours them from a trusted proxy, and only when well-formed', async () => {
    const app = createApp({ ...t.ctx, cfg: { ...t.cfg, trusted_proxies: ['127.0.0.0/8', '::1', '::ffff:127.0.0.1'] } });
    expect((await proxied(app, PROXY_HEADERS)).body.meta.first).toBe('https://evil.example.com/phish/api/1/composes/?per_page=1&page=1');
    const malformed = {
      'X-Forwarded-Host': 'evil.example.com/path?x=',
      'X-Scheme': 'javascript',
      'X-Script-Name': '//evil.example.com/../x',
    };
    expect((await proxied(app, malformed)).body.meta.first).toBe('http://internal:8080/api/1/composes/?per_page=1&page=1');
    const other = createApp({ ...t.ctx, cfg: { ...t.cfg, trusted_proxies: ['10.0.0.0/8'] } });
    expect((await proxied(other, PROXY_HEADERS)).body.meta.first).toBe('http://internal:8080/api/1/composes/?per_page=1&page=1');
  });

  it('refuses a trusted_proxies entry that is not an address or a CIDR', () => {
    for (const entry of ['proxy.example.com', '10.0.0.0/33', '10.0.0.1/8/1', '']) {
      expect(() => loadConfig({}, { trusted_proxies: [entry] })).toThrow(/trusted_proxies\.0: must be an IP address or a CIDR/);
    }
    expect(loadConfig({ ODCS_TRUSTED_PROXIES: '10.0.0.0/8 ::1' }).trusted_proxies).toEqual(['10.0.0.0/8', '::1']);
  });

  it.each([
    ['page', '2147483648'],
    ['page', '99999999999999999999'],
    ['per_page', '2147483648'],
    ['page', '-2147483648'],
  ])('answers 400 to %s=%s (ODCS quietly serves page 1)', async (key, value) => {
    const res = await request(t.app).get(`/api/1/composes/?${key}=${value}`);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: { status: 400, error: 'Bad Request', message: `Invalid ${key} "${value}": it must be an integer between -2147483647 and 2147483647` },
    });
  });

  it('still serves the largest page number, empty', async () => {
    const res = await request(t.app).get('/api/1/composes/?page=2147483647');
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([]);
    expect(res.body.meta.page).toBe(2147483647);
  });
});

describe('the compose tree where the default target_dir_url points (items 16 and 18)', () => {
  let t: TestStack;
  let api: RunningFrontend;
  let top: string;
  let dir: string;

  beforeAll(async () => {
    const fixtures = await buildFixtureRepos();
    const port = await freePort();
    // As `odcs-frontend` runs: target_dir_url not configured, so it is this server's /odcs.
    t = await startTestStack({
      worker: true,
      relay: true,
      config: { port, target_dir_url: undefined, allowed_repo_roots: [fixtures.dir] },
    });
    api = await startFrontend(t.s, { port });
    const res = await request(t.app)
      .post('/api/1/composes/')
      .send({ source: { type: 'repo', source: fixtures.main, packages: ['app'] }, lookaside_repos: [fixtures.lookaside] });
    const row = await composeFinished(t, res.body.id as number);
    expect([row.state, row.state_reason]).toEqual([STATES.done, 'Compose is generated successfully']);
    top = (await request(t.app).get(`/api/1/composes/${row.id}`)).body.toplevel_url as string;
    dir = path.join(t.cfg.target_dir, `odcs-${row.id}`);
  }, 180000);
  afterAll(async () => {
    await api?.close();
    await t?.close();
  });

  it('points toplevel_url at this server, which answers it with a listing', async () => {
    expect(top).toBe(`${api.url}/odcs/odcs-${path.basename(dir).slice('odcs-'.length)}`);
    const res = await fetch(`${top}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<a href="compose/">compose/</a>');
    expect(html).toContain('<a href="pungi-stdout.log">pungi-stdout.log</a>');
    // Without its slash, a directory redirects to it.
    const bare = await fetch(top, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([301, `${new URL(top).pathname}/`]);
    // Down to the .repo file dnf is given.
    const id = path.basename(dir);
    const repofile = await fetch(`${top}/compose/Temporary/${id}.repo`);
    expect(repofile.status).toBe(200);
    expect(await repofile.text()).toContain(`baseurl=${top}/compose/Temporary/$basearch/os`);
  });

  it('keeps Range requests on logs', async () => {
    const file = path.join(dir, 'pungi-stdout.log');
    const content = await readFile(file);
    expect(content.length).toBeGreaterThan(10);
    const res = await fetch(`${top}/pungi-stdout.log`, { headers: { Range: 'bytes=2-9' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 2-9/${content.length}`);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(content.subarray(2, 10));
    expect((await fetch(`${top}/pungi-stdout.log/`)).status).toBe(404);
  });

  it('never serves nor lists hidden entries', async () => {
    await mkdir(path.join(t.cfg.target_dir, '.store'), { recursive: true });
    await writeFile(path.join(t.cfg.target_dir, '.store', 'secret'), 'secret');
    await mkdir(path.join(t.cfg.target_dir, '.compose.tmp-abc'), { recursive: true });
    await writeFile(path.join(dir, '.hidden'), 'hidden');
    for (const p of ['.store/', '.store/secret', '%2estore/secret', '.compose.tmp-abc/', `${path.basename(dir)}/.hidden`, `${path.basename(dir)}/../.store/secret`]) {
      const res = await fetch(`${api.url}/odcs/${p}`);
      expect([p, res.status]).toEqual([p, 404]);
    }
    const listing = await (await fetch(`${api.url}/odcs/`)).text();
    expect(listing).toContain(`<a href="${path.basename(dir)}/">`);
    expect(listing).not.toContain('.store');
    expect(listing).not.toContain('.compose.tmp');
    expect(await (await fetch(`${top}/`)).text()).not.toContain('.hidden');
  });

  it('does not follow symbolic links out of target_dir (item 18)', async () => {
    await symlink('/etc', path.join(dir, 'etc'));
    await symlink('/etc/hostname', path.join(dir, 'hostname'));
    await symlink('../.store/secret', path.join(dir, 'store-secret'));
    await symlink('compose', path.join(dir, 'inside'));
    expect((await stat(path.join(dir, 'hostname'))).isFile()).toBe(true);
    for (const p of ['etc/', 'etc/passwd', 'hostname', 'store-secret']) {
      const res = await fetch(`${top}/${p}`);
      expect([p, res.status]).toEqual([p, 404]);
    }
    const html = await (await fetch(`${top}/`)).text();
    expect(html).not.toMatch(/etc|hostname|store-secret/);
    // A link that stays inside is served like what it points to.
    expect(html).toContain('<a href="inside/">inside/</a>');
    expect((await fetch(`${top}/inside/`)).status).toBe(200);
  });

  it('does not serve target_dir when target_dir_url names another server', async () => {
    const elsewhere = await startFrontend({ ...t.s, cfg: { ...t.cfg, target_dir_url: 'http://static.example.com/odcs' } }, { port: 0 });
    try {
      const res = await fetch(`${elsewhere.url}/odcs/${path.basename(dir)}/pungi-stdout.log`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ status: 404, error: 'Not Found' });
    } finally {
      await elsewhere.close();
    }
  });
});
