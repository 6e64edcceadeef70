/**
 * Issue 12 item 9: Pungi's source and debug trees. The SRPM of every gathered package goes to
 * compose/Temporary/source/tree, the debuginfo/debugsource RPMs of gathered builds to
 * compose/Temporary/<arch>/debug/tree, each with its own repodata, listed in rpms.json with
 * categories `source` and `debug`; a requested debuginfo package never lands in os/; a source
 * without SRPMs or debuginfo gives empty trees. The .repo file keeps ODCS's single section.
 * Repo sources take them from the repository, Koji sources from the same builds.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readRepository } from '../../backend/rpm/repodata';
import type { ComposeRow } from '../../common/db/entities';
import { STATES } from '../../common/enums';
import { buildSourceDebugRepos, type SourceDebugRepos } from '../fixtures/build-source-debug-repos';
import { KojiHubDouble } from '../servers/koji-hub';
import { composeDir as composeDirOf, dnfInstallFromRepofile, requestCompose } from '../support/compose-e2e';
import { startTestStack, type TestStack } from '../support/stack';

let fixtures: SourceDebugRepos;
let t: TestStack;
let work: string;
let hub: KojiHubDouble;

beforeAll(async () => {
  fixtures = await buildSourceDebugRepos();
  work = await mkdtemp(path.join(tmpdir(), 'odcs-source-debug-'));
  hub = new KojiHubDouble();
  const address = await hub.start();
  hub.addTag('sd');
  for (const b of fixtures.builds) hub.tagBuild('sd', (await hub.importBuild(b.rpms)).nvr);
  t = await startTestStack({
    listen: true,
    worker: true,
    relay: true,
    config: { allowed_repo_roots: [fixtures.dir], koji_url: address.hubUrl, koji_topurl: address.topurl, allowed_source_types: ['repo', 'tag', 'build'] },
  });
}, 180000);
afterAll(async () => {
  await t?.close();
  await hub?.stop();
  await rm(work, { recursive: true, force: true });
});

const tree = (row: ComposeRow, ...sub: string[]): string => path.join(composeDirOf(t, row), 'compose', 'Temporary', ...sub);

/** The file names createrepo_c described in a tree's repodata (read with our metadata reader). */
async function described(dir: string): Promise<string[]> {
  const { packages } = await readRepository(dir, { repoId: 'check' });
  return packages.map((p) => path.basename(p.location)).sort();
}

/** rpms.json as arch -> source NEVRA -> NEVRA -> {category, path}. */
async function rpmsJson(row: ComposeRow): Promise<Record<string, Record<string, Record<string, { category: string; path: string }>>>> {
  const json = JSON.parse(await readFile(path.join(composeDirOf(t, row), 'compose', 'metadata', 'rpms.json'), 'utf8'));
  return json.payload.rpms.Temporary;
}

describe('a repo compose from a repository with source and debuginfo RPMs', () => {
  let row: ComposeRow;
  beforeAll(async () => {
    row = await requestCompose(t, { source: { type: 'repo', source: fixtures.full, packages: ['sdapp'] } });
  }, 120000);

  it('is done', () => {
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(row.state).toBe(STATES.done);
  });

  it('puts the SRPM of every gathered binary package, and only those, in source/tree with its own repodata', async () => {
    expect(await described(tree(row, 'source', 'tree'))).toEqual(['sdapp-1.0-1.src.rpm', 'sdlib-2.0-1.src.rpm']);
  });

  it('puts the debuginfo and debugsource RPMs of the gathered builds and what they require in x86_64/debug/tree', async () => {
    // sdapp-debuginfo requires sdother-debuginfo: it comes in, its build's binaries and SRPM do not.
    expect(await described(tree(row, 'x86_64', 'debug', 'tree'))).toEqual([
      'sdapp-debuginfo-1.0-1.x86_64.rpm',
      'sdapp-debugsource-1.0-1.x86_64.rpm',
      'sdother-debuginfo-3.0-1.x86_64.rpm',
    ]);
  });

  it('keeps os/ to the binary packages', async () => {
    expect(await described(tree(row, 'x86_64', 'os'))).toEqual(['sdapp-1.0-1.x86_64.rpm', 'sdlib-2.0-1.noarch.rpm']);
  });

  it('lists the source and debug packages in rpms.json with their categories and paths', async () => {
    const rpms = await rpmsJson(row);
    expect(rpms.x86_64!['sdapp-0:1.0-1.src']).toEqual({
      'sdapp-0:1.0-1.src': { category: 'source', path: 'Temporary/source/tree/Packages/sdapp-1.0-1.src.rpm', sigkey: null },
      'sdapp-0:1.0-1.x86_64': { category: 'binary', path: 'Temporary/x86_64/os/Packages/sdapp-1.0-1.x86_64.rpm', sigkey: null },
      'sdapp-debuginfo-0:1.0-1.x86_64': { category: 'debug', path: 'Temporary/x86_64/debug/tree/Packages/sdapp-debuginfo-1.0-1.x86_64.rpm', sigkey: null },
      'sdapp-debugsource-0:1.0-1.x86_64': { category: 'debug', path: 'Temporary/x86_64/debug/tree/Packages/sdapp-debugsource-1.0-1.x86_64.rpm', sigkey: null },
    });
    expect(rpms.x86_64!['sdlib-0:2.0-1.src']).toEqual({
      'sdlib-0:2.0-1.src': { category: 'source', path: 'Temporary/source/tree/Packages/sdlib-2.0-1.src.rpm', sigkey: null },
      'sdlib-0:2.0-1.noarch': { category: 'binary', path: 'Temporary/x86_64/os/Packages/sdlib-2.0-1.noarch.rpm', sigkey: null },
    });
    expect(rpms.x86_64!['sdother-0:3.0-1.src']).toEqual({
      'sdother-debuginfo-0:3.0-1.x86_64': { category: 'debug', path: 'Temporary/x86_64/debug/tree/Packages/sdother-debuginfo-3.0-1.x86_64.rpm', sigkey: null },
    });
    expect(Object.keys(rpms.x86_64!).sort()).toEqual(['sdapp-0:1.0-1.src', 'sdlib-0:2.0-1.src', 'sdother-0:3.0-1.src']);
    for (const entries of Object.values(rpms.x86_64!)) {
      for (const e of Object.values(entries)) expect(existsSync(path.join(composeDirOf(t, row), 'compose', e.path))).toBe(true);
    }
  });

  it('names the trees in composeinfo.json as Pungi does', async () => {
    const info = JSON.parse(await readFile(path.join(composeDirOf(t, row), 'compose', 'metadata', 'composeinfo.json'), 'utf8'));
    const paths = info.payload.variants.Temporary.paths;
    expect(paths.os_tree).toEqual({ x86_64: 'Temporary/x86_64/os' });
    expect(paths.source_tree).toEqual({ x86_64: 'Temporary/source/tree' });
    expect(paths.debug_tree).toEqual({ x86_64: 'Temporary/x86_64/debug/tree' });
  });

  it('keeps the .repo file to the one os/ section, and dnf installs the debuginfo from the debug tree', async () => {
    const repofile = await readFile(tree(row, `odcs-${row.id}.repo`), 'utf8');
    expect(repofile.match(/^\[/gm)).toHaveLength(1);
    expect(repofile).toContain('/compose/Temporary/$basearch/os\n');
    const debugUrl = `${t.cfg.target_dir_url}/odcs-${row.id}/compose/Temporary/x86_64/debug/tree`;
    const installed = await dnfInstallFromRepofile(t, row, work, [['sdapp', 'sdapp-debuginfo']], { debug: debugUrl });
    expect(installed).toEqual(['sdapp-1.0-1.x86_64', 'sdapp-debuginfo-1.0-1.x86_64', 'sdapp-debugsource-1.0-1.x86_64', 'sdlib-2.0-1.noarch', 'sdother-debuginfo-3.0-1.x86_64']);
  }, 120000);
});

describe('a requested debuginfo package', () => {
  it('lands in the debug tree with its source RPM, not in os/', async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: fixtures.full, packages: ['sdother', 'sdother-debuginfo'] }, flags: ['no_deps'] });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(await described(tree(row, 'x86_64', 'os'))).toEqual(['sdother-3.0-1.x86_64.rpm']);
    expect(await described(tree(row, 'x86_64', 'debug', 'tree'))).toEqual(['sdother-debuginfo-3.0-1.x86_64.rpm']);
    expect(await described(tree(row, 'source', 'tree'))).toEqual(['sdother-3.0-1.src.rpm']);
    const rpms = await rpmsJson(row);
    expect(rpms.x86_64!['sdother-0:3.0-1.src']!['sdother-debuginfo-0:3.0-1.x86_64']!.category).toBe('debug');
  }, 120000);
});

describe("Pungi's rules for the debug tree", () => {
  it("brings a subpackage's debugsource but not another subpackage's debuginfo", async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: fixtures.full, packages: ['sdapp-extra'] } });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(await described(tree(row, 'x86_64', 'os'))).toEqual(['sdapp-extra-1.0-1.x86_64.rpm']);
    expect(await described(tree(row, 'x86_64', 'debug', 'tree'))).toEqual(['sdapp-debugsource-1.0-1.x86_64.rpm']);
    expect(await described(tree(row, 'source', 'tree'))).toEqual(['sdapp-1.0-1.src.rpm']);
  }, 120000);

  it('does not resolve the debug packages\' requirements with no_deps', async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: fixtures.full, packages: ['sdapp', 'sdlib'] }, flags: ['no_deps'] });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(await described(tree(row, 'x86_64', 'debug', 'tree'))).toEqual(['sdapp-debuginfo-1.0-1.x86_64.rpm', 'sdapp-debugsource-1.0-1.x86_64.rpm']);
  }, 120000);
});

describe('a repository without source or debuginfo RPMs', () => {
  it('gives empty source and debug trees with repodata, and the compose is done', async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: fixtures.binaryOnly, packages: ['sdapp'] } });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(row.state).toBe(STATES.done);
    expect(await described(tree(row, 'x86_64', 'os'))).toEqual(['sdapp-1.0-1.x86_64.rpm', 'sdlib-2.0-1.noarch.rpm']);
    expect(await described(tree(row, 'source', 'tree'))).toEqual([]);
    expect(await described(tree(row, 'x86_64', 'debug', 'tree'))).toEqual([]);
    expect(await readdir(tree(row, 'source', 'tree'))).toEqual(['repodata']);
    const rpms = await rpmsJson(row);
    expect(Object.values(rpms.x86_64!).flatMap((e) => Object.values(e).map((x) => x.category))).toEqual(['binary', 'binary']);
  }, 120000);
});

describe('Koji sources', () => {
  it('take the source RPMs and debuginfo of the gathered builds from Koji (tag)', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'sd', packages: ['sdapp'] } });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(await described(tree(row, 'x86_64', 'os'))).toEqual(['sdapp-1.0-1.x86_64.rpm', 'sdlib-2.0-1.noarch.rpm']);
    expect(await described(tree(row, 'x86_64', 'debug', 'tree'))).toEqual([
      'sdapp-debuginfo-1.0-1.x86_64.rpm',
      'sdapp-debugsource-1.0-1.x86_64.rpm',
      'sdother-debuginfo-3.0-1.x86_64.rpm',
    ]);
    expect(await described(tree(row, 'source', 'tree'))).toEqual(['sdapp-1.0-1.src.rpm', 'sdlib-2.0-1.src.rpm']);
    const rpms = await rpmsJson(row);
    expect(rpms.x86_64!['sdapp-0:1.0-1.src']!['sdapp-0:1.0-1.src']!.category).toBe('source');
    expect(rpms.x86_64!['sdapp-0:1.0-1.src']!['sdapp-debuginfo-0:1.0-1.x86_64']!.category).toBe('debug');
  }, 120000);

  it('take them from the named builds (build)', async () => {
    const row = await requestCompose(t, { source: { type: 'build', builds: ['sdother-3.0-1'], packages: ['sdother'] } });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(await described(tree(row, 'x86_64', 'os'))).toEqual(['sdother-3.0-1.x86_64.rpm']);
    expect(await described(tree(row, 'x86_64', 'debug', 'tree'))).toEqual(['sdother-debuginfo-3.0-1.x86_64.rpm']);
    expect(await described(tree(row, 'source', 'tree'))).toEqual(['sdother-3.0-1.src.rpm']);
  }, 120000);
});
