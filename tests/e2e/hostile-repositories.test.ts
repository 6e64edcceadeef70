/**
 * `repo` composes of repositories an attacker controls (issue 10 items 2, 3 and 5), through
 * the whole stack: each fails that compose alone, with a reason that names the repository and
 * quotes nothing of any file outside it, and the worker goes on to build a good compose.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ComposeRow } from '../../common/db/entities';
import { STATES } from '../../common/enums';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { manyPackages, redirectRecord, writeHostileRepo, type RawPackage } from '../fixtures/hostile-repodata';
import { requestCompose } from '../support/compose-e2e';
import { eventually } from '../support/listener';
import { startTestStack, type TestStack } from '../support/stack';

const run = promisify(execFile);

let fixtures: FixtureRepos;
let t: TestStack;
let work: string;
let secret: string;
const SECRET_TEXT = '<very-secret a=b>root:$6$very-secret-hash$:19000:0:99999:7:::</very-secret>\n';

beforeAll(async () => {
  fixtures = await buildFixtureRepos();
  work = await mkdtemp(path.join(tmpdir(), 'odcs-hostile-repos-'));
  secret = path.join(work, 'shadow');
  await writeFile(secret, SECRET_TEXT);
  t = await startTestStack({
    worker: true,
    relay: true,
    // Low limits, so that a bomb small enough for a test is one.
    config: { allowed_repo_roots: [fixtures.dir, work], metadata_max_files_per_package: 1000, metadata_max_bytes: 8 * 1024 * 1024 },
  });
}, 180000);
afterAll(async () => {
  await t?.close();
  await rm(work, { recursive: true, force: true });
});

let count = 0;
async function hostileRepo(packages: Iterable<RawPackage>): Promise<string> {
  return writeHostileRepo(path.join(work, `repo-${count++}`), packages);
}

async function composeOf(repo: string): Promise<ComposeRow> {
  return requestCompose(t, { source: { type: 'repo', source: repo, packages: ['pkg0'] } });
}

/** The secret's text, or any digest of it. */
function leaks(reason: string): boolean {
  const digests = ['md5', 'sha1', 'sha256', 'sha512'].map((a) => createHash(a).update(SECRET_TEXT).digest('hex'));
  return reason.includes('very-secret') || digests.some((d) => reason.includes(d));
}

function expectFailed(row: ComposeRow, repo: string, reason: RegExp): void {
  expect(row.state).toBe(STATES.failed);
  expect(row.state_reason).toContain(`Cannot read repository ${repo}`);
  expect(row.state_reason).toMatch(reason);
  expect(row.state_reason).not.toMatch(/[\p{Cc}\uFFFD]|[\uD800-\uDFFF]/u);
  expect(leaks(row.state_reason ?? '')).toBe(false);
}

describe('a repository with values the database cannot hold (item 2)', () => {
  it('fails the compose at parse time for a NUL or a lone surrogate in a name', async () => {
    const nul = await hostileRepo([{ name: 'pkg0' }, { name: 'evil&#0;name' }]);
    expectFailed(await composeOf(nul), nul, /package 2: .*character reference/);
    const surrogate = await hostileRepo([{ name: 'pkg0&#xD800;' }]);
    expectFailed(await composeOf(surrogate), surrogate, /package 1: .*surrogate/);
    const arch = await hostileRepo([{ name: 'pkg0', arch: '..' }]);
    expectFailed(await composeOf(arch), arch, /arch "\.\." is not an RPM architecture/);
  });
});

describe('a repository larger than the limits (item 3)', () => {
  it('fails a gzip bomb of file entries naming the limit and its option', async () => {
    const bomb = await hostileRepo([{ name: 'pkg0', files: 300_000 }]);
    expectFailed(await composeOf(bomb), bomb, /more than 1000 \(the limit set by metadata_max_files_per_package\)/);
  });

  it('fails a bomb spread over many packages at the decompressed-bytes limit', async () => {
    const bomb = await hostileRepo(manyPackages(1000, { files: 900 }));
    expectFailed(await composeOf(bomb), bomb, /\(the limit set by metadata_max_bytes\)/);
  });
});

describe('metadata outside the repository (item 5)', () => {
  it('refuses an href to a file outside, quoting neither its content nor its hash', async () => {
    const repo = await hostileRepo(manyPackages(1));
    await redirectRecord(repo, 'primary', path.relative(repo, secret));
    expectFailed(await composeOf(repo), repo, /not a file inside the repository's repodata\/ directory/);
  });

  it('refuses repodata/ linked to /etc or to a directory outside the repository', async () => {
    const etc = path.join(work, `etc-${count++}`);
    await mkdir(etc);
    await symlink('/etc', path.join(etc, 'repodata'));
    expectFailed(await composeOf(etc), etc, /repodata\/ leads outside the repository/);
    const elsewhere = await hostileRepo(manyPackages(1));
    const linked = path.join(work, `linked-${count++}`);
    await mkdir(linked);
    await symlink(path.join(elsewhere, 'repodata'), path.join(linked, 'repodata'));
    expectFailed(await composeOf(linked), linked, /leads outside the repository/);
  });

  it('refuses a FIFO and /dev/zero at once, holding no worker slot', async () => {
    const repo = await hostileRepo(manyPackages(1));
    await run('mkfifo', [path.join(repo, 'repodata', 'fifo-primary.xml')]);
    await redirectRecord(repo, 'primary', 'repodata/fifo-primary.xml');
    expectFailed(await composeOf(repo), repo, /not a regular file/);
    const zero = await hostileRepo(manyPackages(1));
    await symlink('/dev/zero', path.join(zero, 'repodata', 'zero-primary.xml'));
    await redirectRecord(zero, 'primary', 'repodata/zero-primary.xml');
    expectFailed(await composeOf(zero), zero, /not a file inside/);
  });
});

describe('a metadata file that takes longer than compose_timeout to read', () => {
  let slow: TestStack;
  beforeAll(async () => {
    slow = await startTestStack({
      worker: true,
      relay: true,
      // No size limit to stop the read first: only the compose's timeout can.
      // One slot: the next compose runs only if the read really stopped.
      config: { allowed_repo_roots: [work], compose_timeout: 1, metadata_max_bytes: 2 ** 50, num_concurrent_composes: 1 },
    });
  }, 180000);
  afterAll(async () => {
    await slow?.close();
  });

  it('fails the compose with the timeout reason and frees the worker', async () => {
    // A terabyte of metadata on disk (sparse): reading it takes far longer than a second.
    const repo = await hostileRepo(manyPackages(1));
    const huge = await open(path.join(repo, 'repodata', 'huge-primary.xml'), 'w');
    await huge.write('<metadata>');
    await huge.truncate(2 ** 40);
    await huge.close();
    await redirectRecord(repo, 'primary', 'repodata/huge-primary.xml');
    const row = await requestCompose(slow, { source: { type: 'repo', source: repo, packages: ['pkg0'] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toMatch(/Compose has taken more time than allowed by configuration \(1 seconds\)$/);
    // The read itself stopped: this process (the worker runs in it) no longer holds the file open.
    const holding = async (): Promise<boolean> => {
      const fds = await readdir('/proc/self/fd');
      const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
      return targets.some((target) => target.endsWith('huge-primary.xml'));
    };
    await eventually(async () => !(await holding()), 15000, 'the metadata file to be closed');
    // The worker's slot is free again: the next compose runs (and fails on its own, quickly).
    const next = await requestCompose(slow, { source: { type: 'repo', source: path.join(work, 'missing'), packages: ['pkg0'] } });
    expect(next.state).toBe(STATES.failed);
    expect(next.state_reason).toMatch(/Cannot read repository/);
  });
});

describe('after all of them', () => {
  it('the worker builds a good compose', async () => {
    const row = await requestCompose(t, {
      source: { type: 'repo', source: fixtures.main, packages: ['app', 'richapp', 'usesshared'] },
      lookaside_repos: [fixtures.lookaside],
    });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(row.state).toBe(STATES.done);
  });
});
