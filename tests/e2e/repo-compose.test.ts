import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import request from 'supertest';
import { readRepository } from '../../backend/rpm/repodata';
import { STATES } from '../../common/enums';
import type { ComposeRow } from '../../common/db/entities';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { writeRepodata } from '../fixtures/repodata-writer';
import { composeDir as composeDirOf, dnfInstallFromRepofile, requestCompose, rpmsInCompose as rpmsOf } from '../support/compose-e2e';
import { eventually, Listener } from '../support/listener';
import { installcheck, toSolv, X86_64_POLICY } from '../support/rpm-tools';
import { startTestStack, type TestStack } from '../support/stack';

const run = promisify(execFile);

let fixtures: FixtureRepos;
let t: TestStack;
let events: Listener;
let work: string;

beforeAll(async () => {
  fixtures = await buildFixtureRepos();
  work = await mkdtemp(path.join(tmpdir(), 'odcs-repo-e2e-'));
  t = await startTestStack({ listen: true, worker: true, relay: true, config: { allowed_repo_roots: [fixtures.dir, work] } });
  events = await Listener.topic('amq.topic', `${t.cfg.messaging_topic_prefix}.odcs.compose.state-changed`);
}, 180000);
afterAll(async () => {
  await events?.close();
  await t?.close();
  await rm(work, { recursive: true, force: true });
});

const compose = (body: Record<string, unknown>): Promise<ComposeRow> => requestCompose(t, body);
const composeDir = (row: ComposeRow): string => composeDirOf(t, row);
const rpmsInCompose = (row: ComposeRow): Promise<string[]> => rpmsOf(t, row);

describe('a repo compose, end to end', () => {
  let row: ComposeRow;
  beforeAll(async () => {
    row = await compose({
      source: { type: 'repo', source: fixtures.main, packages: ['app', 'richapp', 'usesshared'] },
      lookaside_repos: [fixtures.lookaside],
    });
  }, 120000);

  it('ends done with ODCS reason, koji_event from repomd.xml and a productmd compose id', () => {
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(row.state).toBe(STATES.done);
    expect(row.koji_event).toBe(1700000000);
    expect(row.pungi_compose_id).toMatch(new RegExp(`^odcs-${row.id}-1-\\d{8}\\.t\\.0$`));
  });

  it('serves a .repo file with ODCS keys from which dnf installs the requested packages', async () => {
    const repofileUrl = `${t.cfg.target_dir_url}/odcs-${row.id}/compose/Temporary/odcs-${row.id}.repo`;
    const res = await fetch(repofileUrl);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toBe(
      [
        `[odcs-${row.id}]`,
        `name=ODCS repository for compose odcs-${row.id}`,
        `baseurl=${t.cfg.target_dir_url}/odcs-${row.id}/compose/Temporary/$basearch/os`,
        'type=rpm-md',
        'skip_if_unavailable=False',
        'gpgcheck=0',
        'repo_gpgcheck=0',
        'enabled=1',
        'enabled_metadata=1',
        '',
      ].join('\n'),
    );
    // dnf with only that .repo file (plus the lookaside, which the compose leans on by design).
    const installed = await dnfInstallFromRepofile(t, row, work, [['app', 'richapp', 'usesshared']], { lookaside: `file://${fixtures.lookaside}` });
    expect(installed).toEqual(expect.arrayContaining(['app-1.0-1.noarch', 'richapp-1.0-1.noarch', 'usesshared-1.0-1.noarch']));
  }, 180000);

  it('holds a closure that libsolv finds installable with the lookaside', async () => {
    const repo = path.join(composeDir(row), 'compose', 'Temporary', 'x86_64', 'os');
    const check = await installcheck(X86_64_POLICY, await toSolv(repo, path.join(work, 'compose.solv')), [
      await toSolv(fixtures.lookaside, path.join(work, 'lookaside.solv')),
    ]);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
  });

  it('lays files out as ODCS does, with logs, metadata and the reason each package is there', async () => {
    const top = composeDir(row);
    expect((await readdir(top)).sort()).toEqual(['compose', 'pungi-stderr.log', 'pungi-stdout.log']);
    expect((await readdir(path.join(top, 'compose'))).sort()).toEqual(['Temporary', 'metadata']);
    expect((await readdir(path.join(top, 'compose', 'metadata'))).sort()).toEqual(['composeinfo.json', 'depsolve.json', 'rpms.json']);
    const composeinfo = JSON.parse(await readFile(path.join(top, 'compose', 'metadata', 'composeinfo.json'), 'utf8'));
    expect(composeinfo.payload.compose.id).toBe(row.pungi_compose_id);
    expect(composeinfo.payload.variants.Temporary.paths.repository).toEqual({ x86_64: 'Temporary/x86_64/os' });
    const names = await rpmsInCompose(row);
    expect(names).toEqual(expect.arrayContaining(['app-0:1.0-1.noarch', 'richapp-0:1.0-1.noarch']));
    // Lookaside packages satisfy dependencies but are not in the compose.
    expect(names.some((n) => n.startsWith('lookbase-'))).toBe(false);
    const depsolve = JSON.parse(await readFile(path.join(top, 'compose', 'metadata', 'depsolve.json'), 'utf8'));
    expect(depsolve.arches.x86_64.packages['app-0:1.0-1.noarch']).toBe('requested as app');
    const pulled = Object.entries(depsolve.arches.x86_64.packages as Record<string, string>).filter(([, why]) => why.startsWith('pulled by app-'));
    expect(pulled.length).toBeGreaterThan(0);
    const stderr = await readFile(path.join(top, 'pungi-stderr.log'), 'utf8');
    expect(stderr).toMatch(/\[INFO {4}\] Compose odcs-\d+ .* started/);
    expect(stderr).toContain('Running: createrepo_c');
    // Nothing half-built is left beside the tree.
    expect((await readdir(top)).some((e) => e.startsWith('.compose.tmp-'))).toBe(false);
  });

  it('stores each RPM once and hard-links it into the compose', async () => {
    const file = path.join(composeDir(row), 'compose', 'Temporary', 'x86_64', 'os', 'Packages', 'app-1.0-1.noarch.rpm');
    const s = await stat(file);
    expect(s.nlink).toBeGreaterThanOrEqual(2);
    // New packages enter the store right after the compose is done: the repository's file,
    // the compose's and the store's are then one inode.
    const packages = path.join(composeDir(row), 'compose', 'Temporary', 'x86_64', 'os', 'Packages');
    await eventually(async () => (await Promise.all((await readdir(packages)).map(async (f) => (await stat(path.join(packages, f))).nlink >= 3))).every(Boolean));
    const again = await compose({ source: { type: 'repo', source: fixtures.main, packages: ['app'] }, lookaside_repos: [fixtures.lookaside] });
    const s2 = await stat(path.join(composeDir(again), 'compose', 'Temporary', 'x86_64', 'os', 'Packages', 'app-1.0-1.noarch.rpm'));
    expect(s2.ino).toBe(s.ino);
    const log = await readFile(path.join(composeDir(again), 'pungi-stderr.log'), 'utf8');
    expect(log).toMatch(/, 0 newly stored, \d+ from the store\)/);
  }, 120000);

  it('announced wait, generating and done in fedora-messaging format', async () => {
    await events.waitFor((l) => l.bodies<{ compose: { id: number } }>().filter((b) => b.compose.id === row.id).length >= 3);
    const mine = events.bodies<{ event: string; compose: { id: number; state_name: string } }>().filter((b) => b.compose.id === row.id);
    expect(mine.map((b) => b.compose.state_name)).toEqual(['wait', 'generating', 'done']);
    expect(mine.every((b) => b.event === 'state-changed')).toBe(true);
    const delivery = events.deliveries.find((d) => JSON.parse(d.body.toString()).compose.state_name === 'done');
    expect(delivery?.headers).toMatchObject({ fedora_messaging_schema: 'base.message', fedora_messaging_severity: 20 });
  });
});

describe('repo compose options and failures', () => {
  it('no_deps includes only what was asked', async () => {
    const row = await compose({ source: { type: 'repo', source: fixtures.main, packages: ['app'] }, flags: ['no_deps'] });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(await rpmsInCompose(row)).toEqual(['app-0:1.0-1.noarch']);
  });

  it('check_deps fails the compose listing every unresolved dependency', async () => {
    const row = await compose({ source: { type: 'repo', source: fixtures.main, packages: ['broken'] }, flags: ['check_deps'] });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toMatch(/^Error while generating compose: Unresolved dependencies detected: broken-1\.0-1\.noarch requires nonexistent-thing/);
    const log = await readFile(path.join(composeDir(row), 'pungi-stderr.log'), 'utf8');
    expect(log).toContain('Unresolved dependency: broken-1.0-1.noarch requires nonexistent-thing');
  });

  it('without check_deps, an unresolved dependency is only a warning', async () => {
    const row = await compose({ source: { type: 'repo', source: fixtures.main, packages: ['broken'] } });
    expect(row.state).toBe(STATES.done);
  });

  it('fails with ODCS message when a requested package does not exist', async () => {
    const row = await compose({ source: { type: 'repo', source: fixtures.main, packages: ['app', 'no-such-package', 'nope2'] } });
    expect(row.state_reason).toBe(
      'Error while generating compose: The following requested packages are not present in the generated compose: no-such-package nope2.',
    );
  });

  it('includes everything when no packages are requested', async () => {
    const row = await compose({ source: { type: 'repo', source: fixtures.main } });
    expect(row.state).toBe(STATES.done);
    const names = await rpmsInCompose(row);
    expect(names).toEqual(expect.arrayContaining(['app-0:1.0-1.noarch', 'httpd-lite-0:1.0-1.noarch']));
  });

  it('refuses a repository that leads outside the allowed roots through a symbolic link', async () => {
    const link = path.join(work, 'escape');
    await run('ln', ['-sfn', '/etc', link]);
    const row = await compose({ source: { type: 'repo', source: link } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe(`Error while generating compose: Repository ${link} is not allowed: it leads outside allowed_repo_roots.`);
  });

});

describe('checking local packages before they enter the store', () => {
  const storeFile = (sha256: string): string => path.join(t.cfg.target_dir, '.store', 'sha256', sha256.slice(0, 2), `${sha256}.rpm`);
  const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

  /**
   * A repository under `work` with `files`, whose metadata is written before `corrupt` (if
   * given) is overwritten with the bytes of another RPM, or with bytes that are no RPM at all.
   */
  async function repoOf(name: string, files: string[], corrupt?: { file: string; with: string | 'garbage' }): Promise<string> {
    const repo = path.join(work, name);
    await run('mkdir', ['-p', path.join(repo, 'Packages')]);
    for (const f of files) await run('cp', [f, path.join(repo, 'Packages')]);
    await run('createrepo_c', ['--no-database', repo]);
    if (corrupt) {
      const target = path.join(repo, 'Packages', path.basename(corrupt.file));
      await writeFile(target, corrupt.with === 'garbage' ? Buffer.alloc((await stat(target)).size, 0x5a) : await readFile(corrupt.with));
    }
    return repo;
  }
  const storedEventually = (files: string[]): Promise<boolean> =>
    eventually(async () => (await Promise.all(files.map(async (f) => existsSync(storeFile(await sha256(f)))))).every(Boolean), 15000, 'packages in the store');
  const mismatch = async (file: string): Promise<RegExp> =>
    new RegExp(`^Error while generating compose: ${path.basename(file).replace(/[.+]/g, '\\$&')}: sha256 checksum is [0-9a-f]{64}, the repository metadata says ${await sha256(file)}$`);

  beforeAll(async () => {
    // Everything of the main repository in the store.
    const all = await compose({ source: { type: 'repo', source: fixtures.main } });
    expect(all.state).toBe(STATES.done);
  }, 120000);

  it('hashes a few new packages while createrepo_c runs, and stores them', async () => {
    const extra = fixtures.rpms.lookaside[0];
    const repo = await repoOf('one-new', [...fixtures.rpms.main, extra]);
    const row = await compose({ source: { type: 'repo', source: repo }, flags: ['no_deps'] });
    expect(row.state_reason).toBe('Compose is generated successfully');
    const log = await readFile(path.join(composeDir(row), 'pungi-stderr.log'), 'utf8');
    expect(log).toContain('Checking 1 new packages while createrepo_c runs');
    expect(existsSync(storeFile(await sha256(extra)))).toBe(true);
  }, 120000);

  it('fails a compose whose one new package differs from its metadata, and stores nothing of it', async () => {
    const extra = fixtures.rpms.lookaside[1];
    const repo = await repoOf('one-corrupt', [...fixtures.rpms.main, extra], { file: extra, with: 'garbage' });
    const row = await compose({ source: { type: 'repo', source: repo }, flags: ['no_deps'] });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toMatch(await mismatch(extra));
    const log = await readFile(path.join(composeDir(row), 'pungi-stderr.log'), 'utf8');
    expect(log).toContain('Checking 1 new packages while createrepo_c runs');
    expect(existsSync(storeFile(await sha256(extra)))).toBe(false);
    expect(await readdir(composeDir(row))).not.toContain('compose');
  }, 120000);

  // The store is emptied first so that the packages are new again.
  it.each([
    ['another RPM', 'other'],
    ['bytes that are no RPM', 'garbage'],
  ])('checks mostly new packages with the checksums createrepo_c computes, and fails on %s', async (_what, kind) => {
    const [good1, good2, bad] = fixtures.rpms.main.slice(0, 3);
    const repo = await repoOf(`all-new-corrupt-${kind}`, [good1, good2, bad], { file: bad, with: kind === 'other' ? fixtures.rpms.lookaside[1] : 'garbage' });
    await rm(path.join(t.cfg.target_dir, '.store'), { recursive: true, force: true });
    const row = await compose({ source: { type: 'repo', source: repo }, flags: ['no_deps'] });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toMatch(await mismatch(bad));
    const log = await readFile(path.join(composeDir(row), 'pungi-stderr.log'), 'utf8');
    expect(log).toContain('Checking 3 new packages against the checksums createrepo_c computes');
    // Nothing of a failed check enters the store, not even the packages that were right, and
    // its repodata is not kept for the same packages: a right copy of them gets its own.
    for (const f of [good1, good2, bad]) expect(existsSync(storeFile(await sha256(f)))).toBe(false);
    // (The second compose of the right copy finds its packages stored and takes cached repodata.)
    const rightRepo = await repoOf(`all-new-right-${kind}`, [good1, good2, bad]);
    const expected = Object.fromEntries(await Promise.all([good1, good2, bad].map(async (f) => [path.basename(f), await sha256(f)])));
    for (let i = 0; i < 2; i++) {
      const right = await compose({ source: { type: 'repo', source: rightRepo }, flags: ['no_deps', 'no_reuse'] });
      expect(right.state).toBe(STATES.done);
      await storedEventually([good1, good2, bad]);
      const { packages } = await readRepository(path.join(composeDir(right), 'compose', 'Temporary', 'x86_64', 'os'), { repoId: 'check' });
      expect(Object.fromEntries(packages.map((p) => [path.basename(p.location), p.checksum.value]))).toEqual(expected);
    }
  }, 120000);

  it('refuses metadata whose checksum is no checksum (at parse time, naming the repository)', async () => {
    const repo = await repoOf('hostile-checksum', [fixtures.rpms.main[0]]);
    const primary = (await readdir(path.join(repo, 'repodata'))).find((f) => f.endsWith('primary.xml.gz')) as string;
    const xml = gunzipSync(await readFile(path.join(repo, 'repodata', primary)))
      .toString('utf8')
      .replace(/(<checksum type="sha256" pkgid="YES">)[0-9a-f]{64}/, '$1../../../../../../etc/passwd');
    await rm(path.join(repo, 'repodata'), { recursive: true });
    await writeRepodata(repo, [{ type: 'primary', content: [xml] }]);
    const row = await compose({ source: { type: 'repo', source: repo }, flags: ['no_deps'] });
    expect(row.state).toBe(STATES.failed);
    // The reader refuses it before the package store's own guard could (issue 10 item 2).
    expect(row.state_reason).toBe(
      `Error while generating compose: Cannot read repository ${repo}: ${path.join(repo, 'repodata', (await readdir(path.join(repo, 'repodata'))).find((f) => f.endsWith('primary.xml.gz'))!)}: ` +
        `package 1: package "${path.basename(fixtures.rpms.main[0]!).split('-')[0]}": its checksum is not a hexadecimal digest`,
    );
  }, 120000);

  it('stores mostly new packages checked by createrepo_c, even after the store was emptied', async () => {
    const news = fixtures.rpms.main.slice(0, 4);
    const repo = await repoOf('all-new', news);
    await rm(path.join(t.cfg.target_dir, '.store'), { recursive: true, force: true });
    const row = await compose({ source: { type: 'repo', source: repo }, flags: ['no_deps'] });
    expect(row.state_reason).toBe('Compose is generated successfully');
    const log = await readFile(path.join(composeDir(row), 'pungi-stderr.log'), 'utf8');
    expect(log).toContain('Checking 4 new packages against the checksums createrepo_c computes');
    // They enter the store just after the compose is done.
    await storedEventually(news);
    expect(await rpmsInCompose(row)).toHaveLength(4);
  }, 120000);
});

describe('failures of the build steps (a stack with its own, empty package store)', () => {
  let broken: TestStack;
  let script: string;
  beforeAll(async () => {
    script = path.join(work, 'createrepo_c-broken');
    await writeFile(script, '#!/bin/sh\necho "createrepo_c: cannot write repodata: disk full" >&2\nexit 3\n', { mode: 0o755 });
    broken = await startTestStack({ worker: true, relay: true, config: { allowed_repo_roots: [fixtures.dir, work], createrepo_c: script } });
  });
  afterAll(() => broken.close());

  const finished = (id: number): Promise<ComposeRow> =>
    eventually(async () => {
      const r = await broken.s.store.get(id);
      return r?.state === STATES.failed || r?.state === STATES.done ? r : undefined;
    }, 60000);

  it('fails when a file the metadata names is missing, keeping the log', async () => {
    const repo = path.join(work, 'missing-rpm');
    await run('mkdir', ['-p', path.join(repo, 'Packages')]);
    await run('cp', [fixtures.rpms.main.find((f) => f.endsWith('/app-1.0-1.noarch.rpm')) as string, path.join(repo, 'Packages')]);
    await run('createrepo_c', [repo]);
    await rm(path.join(repo, 'Packages', 'app-1.0-1.noarch.rpm'));
    const res = await request(broken.app).post('/api/1/composes/').send({ source: { type: 'repo', source: repo } });
    const row = await finished(res.body.id);
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe(`Error while generating compose: Cannot read ${path.join(repo, 'Packages', 'app-1.0-1.noarch.rpm')}: ENOENT`);
    const log = await readFile(path.join(broken.cfg.target_dir, `odcs-${row.id}`, 'pungi-stderr.log'), 'utf8');
    expect(log).toContain('[ERROR   ] Cannot read');
  });


  it('refuses a package file that is a link leading outside the allowed roots', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'odcs-outside-'));
    const repo = path.join(work, 'escaping-file');
    try {
      await run('mkdir', ['-p', path.join(repo, 'Packages')]);
      const app = fixtures.rpms.main.find((f) => f.endsWith('/toolx-1.0-1.noarch.rpm')) ?? fixtures.rpms.main[0];
      await run('cp', [app, outside]);
      await run('ln', ['-s', path.join(outside, path.basename(app)), path.join(repo, 'Packages', path.basename(app))]);
      await run('createrepo_c', [repo]);
      const res = await request(broken.app).post('/api/1/composes/').send({ source: { type: 'repo', source: repo } });
      const row = await finished(res.body.id);
      expect(row.state).toBe(STATES.failed);
      expect(row.state_reason).toContain('leads outside allowed_repo_roots.');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('fails the compose with ODCS message naming the logs (as URLs), and keeps the output', async () => {
    const res = await request(broken.app).post('/api/1/composes/').send({ source: { type: 'repo', source: fixtures.main, packages: ['app'] } });
    const row = await finished(res.body.id);
    const top = `${broken.cfg.target_dir_url}/odcs-${row.id}`;
    expect(row.state_reason).toMatch(
      new RegExp(
        `^Error while generating compose: Command '\\['${script.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}', '--checksum', .*\\]' returned non-zero value 3, stdout log: ${top}/pungi-stdout.log, stderr log: ${top}/pungi-stderr.log$`,
      ),
    );
    const log = await readFile(path.join(broken.cfg.target_dir, `odcs-${row.id}`, 'pungi-stderr.log'), 'utf8');
    expect(log).toContain('createrepo_c: cannot write repodata: disk full');
    expect(await readdir(path.join(broken.cfg.target_dir, `odcs-${row.id}`))).not.toContain('compose');
  });
});

describe('repositories over http(s), and multilib', () => {
  let remote: TestStack;
  let server: Server;
  let base: string;
  let served = 0;

  beforeAll(async () => {
    const app = express();
    app.use((req, _res, next) => {
      if (req.path.endsWith('.rpm')) served += 1;
      next();
    });
    app.use('/corrupt/Packages', (_req, res) => res.send(Buffer.alloc(2048, 7)));
    app.use('/corrupt', express.static(fixtures.main));
    app.use('/', express.static(fixtures.dir));
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    remote = await startTestStack({ worker: true, relay: true, config: { allowed_repo_hosts: [`127.0.0.1:${port}`] } });
  });
  afterAll(async () => {
    await remote.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const finished = async (body: Record<string, unknown>): Promise<ComposeRow> => {
    const res = await request(remote.app).post('/api/1/composes/').send(body);
    expect(res.status).toBe(200);
    return eventually(async () => {
      const r = await remote.s.store.get(res.body.id);
      return r?.state === STATES.failed || r?.state === STATES.done ? r : undefined;
    }, 60000);
  };

  it('downloads the selected RPMs once, verified, and builds the compose', async () => {
    const row = await finished({
      source: { type: 'repo', source: `${base}/main`, packages: ['multiuser'] },
      lookaside_repos: [`${base}/lookaside`],
      multilib_arches: ['x86_64'],
      multilib_method: ['devel'],
    });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(row.koji_event).toBe(1700000000);
    const names = await (async () => {
      const rpms = JSON.parse(await readFile(path.join(remote.cfg.target_dir, `odcs-${row.id}`, 'compose', 'metadata', 'rpms.json'), 'utf8'));
      return Object.values(rpms.payload.rpms.Temporary.x86_64 as Record<string, Record<string, unknown>>).flatMap((m) => Object.keys(m));
    })();
    expect(names.filter((n) => n.endsWith('.i686')).sort()).toEqual(['libmulti-0:1.0-1.i686', 'libmulti-devel-0:1.0-1.i686']);
    const downloaded = served;
    expect(downloaded).toBe(names.length);
    // The same packages again: nothing is downloaded.
    const again = await finished({ source: { type: 'repo', source: `${base}/main`, packages: ['multiuser'] }, lookaside_repos: [`${base}/lookaside`] });
    expect(again.state).toBe(STATES.done);
    expect(served).toBe(downloaded);
  });

  it('fails when a downloaded RPM does not match its checksum', async () => {
    const row = await finished({ source: { type: 'repo', source: `${base}/corrupt`, packages: ['toolx'] }, flags: ['no_deps'] });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toMatch(/^Error while generating compose: toolx-[^:]+\.rpm: sha256 checksum is [0-9a-f]{64}, the repository metadata says [0-9a-f]{64}$/);
  });
});
