/**
 * The depsolver on real repositories built by rpmbuild/createrepo_c, checked against libsolv's
 * installcheck (every selected package installable from the selection plus the lookaside) and
 * dnf's recursive repoquery (nothing selected that dnf would not consider).
 */
import * as path from 'node:path';
import { depsolve, type DepsolveRequest, type DepsolveResult } from '../../../backend/rpm/depsolve';
import { nevra, type RpmPackage } from '../../../backend/rpm/model';
import { readRepository } from '../../../backend/rpm/repodata';
import { buildFixtureRepos, type FixtureRepos } from '../../fixtures/build-repos';
import { buildScenarioRepos, type ScenarioPackage } from '../../fixtures/build-gather-scenarios';
import { installcheck, mustRun, removeDir, repoOf, tempDir, toSolv, X86_64_POLICY } from '../../support/rpm-tools';

let repos: FixtureRepos;
let main: RpmPackage[];
let lookaside: RpmPackage[];
let work: string;
let lookasideSolv: string;
let scratch = 0;

beforeAll(async () => {
  repos = await buildFixtureRepos();
  main = (await readRepository(repos.main, { repoId: 'main' })).packages;
  lookaside = (await readRepository(repos.lookaside, { repoId: 'lookaside' })).packages;
  work = await tempDir('depsolve');
  lookasideSolv = await toSolv(repos.lookaside, path.join(work, 'lookaside.solv'));
});
afterAll(async () => {
  await removeDir(work);
});

function solve(request: Partial<DepsolveRequest>): DepsolveResult {
  return depsolve({ pool: main, lookaside, arches: ['x86_64'], ...request });
}

const selected = (r: DepsolveResult): string[] => r.packages.map((s) => `${s.package.name}.${s.package.arch}`).sort();

/** Writes the selection as a repository and runs installcheck on it with the lookaside. */
async function checkWithLibsolv(r: DepsolveResult) {
  const dir = path.join(work, `selection-${scratch++}`);
  await repoOf(
    r.packages.map((s) => s.package),
    repos.main,
    dir,
  );
  return installcheck(X86_64_POLICY, await toSolv(dir, `${dir}.solv`), [lookasideSolv]);
}

describe('depsolve on the fixture repositories', () => {
  const request = ['app', 'richapp', 'multiuser', 'needs-epoch', 'usesshared', 'aouser'];

  it('selects a closure libsolv finds complete', async () => {
    const r = solve({ packages: request, multilibArches: ['x86_64'], multilibMethods: ['devel'] });
    expect(r.unresolved).toEqual([]);
    expect(r.missing).toEqual([]);
    const check = await checkWithLibsolv(r);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
  });

  it('selects nothing dnf would not pull in for the same request', async () => {
    const r = solve({ packages: request });
    const out = await mustRun('dnf', [
      'repoquery',
      '-q',
      '--setopt=reposdir=/dev/null',
      `--setopt=cachedir=${path.join(work, 'dnf-cache')}`,
      `--repofrompath=main,file://${repos.main}`,
      `--repofrompath=lookaside,file://${repos.lookaside}`,
      '--setopt=main.gpgcheck=0',
      '--setopt=lookaside.gpgcheck=0',
      '--forcearch=x86_64',
      '--releasever=1',
      '--requires',
      '--resolve',
      '--recursive',
      ...request,
    ]);
    // dnf prints name-epoch:version-release.arch, every provider of every requirement.
    const dnfClosure = new Set(
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace('-0:', '-')),
    );
    const extra = r.packages
      .filter((s) => s.reason.kind !== 'requested')
      .map((s) => nevra(s.package))
      .filter((n) => !dnfClosure.has(n));
    expect(extra).toEqual([]);
    // …and everything we chose not to take has a reason: an alternative provider we did take.
    expect(dnfClosure.has('nginx-lite-1.0-1.noarch')).toBe(true);
    expect(selected(r)).not.toContain('nginx-lite.noarch');
  });

  it('explains every package', () => {
    const r = solve({ packages: ['app'] });
    const reasons = Object.fromEntries(r.packages.map((s) => [s.package.name, s.reason]));
    expect(reasons['app']).toEqual({ kind: 'requested', pattern: 'app' });
    expect(reasons['data-files']).toEqual({
      kind: 'dependency',
      by: 'app-1.0-1.noarch',
      requirement: '/usr/share/data-files/marker.txt',
    });
    expect(reasons['libalpha']).toEqual({ kind: 'dependency', by: 'app-1.0-1.noarch', requirement: 'libalpha >= 1.2' });
    expect(reasons['toolx']).toEqual({ kind: 'dependency', by: 'app-1.0-1.noarch', requirement: '/usr/bin/tool-x' });
  });

  it('follows versioned, file, virtual and pre requirements, not weak ones', () => {
    const r = solve({ packages: ['app'] });
    expect(selected(r)).toEqual([
      'app.noarch',
      'cfgprov.noarch', // config-api >= 2 (cfgold provides 1.0)
      'data-files.noarch', // file only in filelists.xml
      'httpd-lite.noarch', // webserver: same length as nginx-lite, first alphabetically
      'libalpha.noarch',
      'mta-a.noarch', // mail-transport: shortest name…
      'mta-bb.noarch', // …and greedy "build" brings its sibling provider
      'shell-lite.noarch', // /bin/sh for %post
      'toolx.noarch', // Requires(post): /usr/bin/tool-x
    ]);
    expect(r.packages.find((s) => s.package.name === 'libalpha')!.package.version).toBe('2.0');
  });

  it('resolves rich dependencies', () => {
    const r = solve({ packages: ['richapp'] });
    expect(selected(r)).toEqual([
      'rich-cond-trigger.noarch',
      'rich-cond-yes.noarch',
      'rich-else-yes.noarch',
      'rich-tool-a.noarch',
      'rich-tool-b.noarch',
      'richapp.noarch',
      'ruby-lang.noarch',
    ]);
  });

  it('sees only the latest version: an exact requirement on an older build stays unresolved', async () => {
    const r = solve({ packages: ['oldreq', 'needs-epoch'] });
    expect(r.unresolved).toEqual([{ package: 'oldreq-1.0-1.noarch', requirement: 'libalpha = 1.0-1' }]);
    expect(r.packages.find((s) => s.package.name === 'epochpkg')!.package).toMatchObject({ epoch: 1, version: '0.5' });
  });

  it('reports unresolved requirements as libsolv does, lookaside requirements excepted', async () => {
    const r = solve({ packages: ['oldreq', 'broken', 'usesbase', 'app'] });
    expect(r.unresolved).toEqual([
      { package: 'oldreq-1.0-1.noarch', requirement: 'libalpha = 1.0-1' },
      { package: 'broken-1.0-1.noarch', requirement: 'nonexistent-thing' },
    ]);
    const check = await checkWithLibsolv(r);
    const fromLibsolv = check.nothingProvides
      .filter((n) => !lookaside.some((p) => nevra(p) === n.package))
      .map((n) => ({ package: n.package, requirement: n.requirement }));
    expect(fromLibsolv).toEqual(expect.arrayContaining(r.unresolved));
    expect(fromLibsolv).toHaveLength(r.unresolved.length);
    // The lookaside's own broken requirement is libsolv's business only.
    expect(check.output).toContain('nothing provides lookaside-missing-dep needed by lookbase-1.0-1.noarch');
  });

  it('agrees with libsolv about an "everything" compose', async () => {
    const r = solve({});
    expect(r.packages.length).toBeGreaterThan(30);
    expect(selected(r)).not.toContain('shared-pkg.noarch');
    const check = await checkWithLibsolv(r);
    const fromLibsolv = check.nothingProvides
      .filter((n) => !lookaside.some((p) => nevra(p) === n.package))
      .map((n) => `${n.package}: ${n.requirement}`)
      .sort();
    expect(fromLibsolv).toEqual(r.unresolved.map((u) => `${u.package}: ${u.requirement}`).sort());
  });

  it('lists requested names that match nothing, and those only in the lookaside', () => {
    const r = solve({ packages: ['app', 'does-not-exist', 'lookonly'] });
    expect(r.missing).toEqual(['does-not-exist']);
    expect(r.notInCompose).toEqual(['does-not-exist', 'lookonly']);
    expect(r.arches[0]!.lookaside.map((p) => p.name)).toEqual(['lookonly']);
  });

  it('takes lookaside packages from the lookaside and leaves them out', () => {
    const r = solve({ packages: ['usesshared', 'usesbase'] });
    expect(selected(r)).toEqual(['usesbase.noarch', 'usesshared.noarch']);
    expect(r.arches[0]!.lookaside.map((p) => `${p.name}@${p.repoId}`).sort()).toEqual([
      'lookbase@lookaside',
      'shared-pkg@lookaside',
    ]);
    expect(r.unresolved).toEqual([]);
  });

  it('includes what the lookaside would provide when there is no lookaside', () => {
    const r = depsolve({ pool: main, arches: ['x86_64'], packages: ['usesshared', 'usesbase'] });
    expect(selected(r)).toEqual(['shared-pkg.noarch', 'usesbase.noarch', 'usesshared.noarch']);
    expect(r.unresolved).toEqual([{ package: 'usesbase-1.0-1.noarch', requirement: 'lookbase' }]);
  });

  it('noDeps selects only the requested packages', () => {
    const r = solve({ packages: ['app', 'libmulti'], noDeps: true });
    expect(selected(r)).toEqual(['app.noarch', 'libmulti.x86_64']);
    const ml = solve({
      packages: ['libmulti'],
      noDeps: true,
      multilibArches: ['x86_64'],
      multilibMethods: ['runtime'],
    });
    expect(selected(ml)).toEqual(['libmulti.i686', 'libmulti.x86_64']);
  });

  it.each([
    [['none'], []],
    [['runtime'], ['libmulti.i686']],
    [['devel'], ['libmulti-devel.i686', 'libmulti.i686']],
    [['all'], ['libmulti-devel.i686', 'libmulti.i686', 'plain32.i686']],
  ] as const)('multilib %j adds %j', async (methods, added) => {
    const r = solve({ packages: ['multiuser'], multilibArches: ['x86_64'], multilibMethods: [...methods] });
    expect(selected(r).filter((n) => n.endsWith('.i686'))).toEqual(added);
    expect(r.unresolved).toEqual([]);
    if (added.length > 0) expect((await checkWithLibsolv(r)).output).toBe('');
  });

  it('ignores multilib packages on arches without multilib', () => {
    const r = solve({ packages: ['multiuser'], multilibArches: ['ppc64le'], multilibMethods: ['all'] });
    expect(selected(r).filter((n) => n.endsWith('.i686'))).toEqual([]);
  });
});

/**
 * Issue 12, items 6–8: each rule on the smallest pair of repositories that shows it (real RPMs
 * built by rpmbuild, real createrepo_c metadata), with what Pungi 4.3.2's `deps` gather does.
 */
describe('Pungi deps gather rules on minimal repositories', () => {
  async function scenario(name: string, packages: ScenarioPackage[]): Promise<{ main: RpmPackage[]; lookaside: RpmPackage[] }> {
    const dirs = await buildScenarioRepos(name, packages);
    return {
      main: (await readRepository(dirs.main, { repoId: 'main' })).packages,
      lookaside: (await readRepository(dirs.lookaside, { repoId: 'lookaside' })).packages,
    };
  }

  it('chooses among providers of different names by name, not version, when a lookaside is configured', async () => {
    // a-1.0 and bbbb-2.0 both provide cap; the lookaside holds something unrelated.
    const repos = await scenario('provider-with-lookaside', [
      { name: 'req', version: '1.0', requires: ['cap'] },
      { name: 'a', version: '1.0', provides: ['cap'] },
      { name: 'bbbb', version: '2.0', provides: ['cap'] },
      { name: 'unrelated', version: '1.0', repo: 'lookaside' },
    ]);
    const withLookaside = depsolve({ pool: repos.main, lookaside: repos.lookaside, arches: ['x86_64'], packages: ['req'] });
    expect(selected(withLookaside)).toEqual(['a.noarch', 'req.noarch']);
    expect(withLookaside.unresolved).toEqual([]);
    // The same choice as without any lookaside (shortest name first).
    const plain = depsolve({ pool: repos.main, arches: ['x86_64'], packages: ['req'] });
    expect(selected(plain)).toEqual(selected(withLookaside));
  });

  it('still prefers the newer build of one name, and the lookaside copy of the same build', async () => {
    const repos = await scenario('same-name-with-lookaside', [
      { name: 'user', version: '1.0', requires: ['lib'] },
      { name: 'lib', version: '1.0', provides: ['libcap'] },
      { name: 'lib', version: '2.0', repo: 'lookaside' },
      { name: 'user2', version: '1.0', requires: ['shared'] },
      { name: 'shared', version: '1.0' },
      { name: 'shared', version: '1.0', repo: 'lookaside' },
    ]);
    const r = depsolve({ pool: repos.main, lookaside: repos.lookaside, arches: ['x86_64'], packages: ['user', 'user2'] });
    expect(selected(r)).toEqual(['user.noarch', 'user2.noarch']);
    expect(r.arches[0]!.lookaside.map((p) => `${p.name}-${p.version}`).sort()).toEqual(['lib-2.0', 'shared-1.0']);
  });

  it('chooses the providers of all requirements of a package against the selection before it', async () => {
    // req needs ab-long and zcap, and ab-long also provides zcap: Pungi still takes a for zcap,
    // because ab-long was not selected when req's requirements were looked up.
    const repos = await scenario('requirements-together', [
      { name: 'req', version: '1.0', requires: ['ab-long', 'zcap'] },
      { name: 'req-pre', version: '1.0', requires: ['ab-long'], requiresPre: ['zcap'] },
      { name: 'ab-long', version: '1.0', provides: ['zcap'] },
      { name: 'a', version: '1.0', provides: ['zcap'] },
    ]);
    const r = depsolve({ pool: repos.main, arches: ['x86_64'], packages: ['req'] });
    expect(selected(r)).toEqual(['a.noarch', 'ab-long.noarch', 'req.noarch']);
    expect(r.packages.find((s) => s.package.name === 'a')!.reason).toEqual({
      kind: 'dependency',
      by: 'req-1.0-1.noarch',
      requirement: 'zcap',
    });
    // The same for a scriptlet (Requires(pre)) requirement.
    const pre = depsolve({ pool: repos.main, arches: ['x86_64'], packages: ['req-pre'] });
    expect(selected(pre)).toEqual(['a.noarch', 'ab-long.noarch', 'req-pre.noarch']);
    // A package selected by an earlier package's requirements is reused, as before.
    const later = depsolve({ pool: repos.main, arches: ['x86_64'], packages: ['req', 'req-pre'] });
    expect(selected(later)).toEqual(['a.noarch', 'ab-long.noarch', 'req-pre.noarch', 'req.noarch']);
  });

  it('hides a main build behind a newer build of the same name in the lookaside', async () => {
    // Latest-version-only is decided over main and lookaside together: d-1.0 is not visible.
    const repos = await scenario('latest-across-lookaside', [
      { name: 'a', version: '1.0', requires: ['d = 1.0'] },
      { name: 'd', version: '1.0' },
      { name: 'd', version: '2.0', repo: 'lookaside' },
      { name: 'b', version: '1.0', requires: ['d'] },
    ]);
    const r = depsolve({ pool: repos.main, lookaside: repos.lookaside, arches: ['x86_64'], packages: ['a', 'b'] });
    expect(selected(r)).toEqual(['a.noarch', 'b.noarch']);
    expect(r.unresolved).toEqual([{ package: 'a-1.0-1.noarch', requirement: 'd = 1.0' }]);
    expect(r.arches[0]!.lookaside.map((p) => `${p.name}-${p.version}`)).toEqual(['d-2.0']);
    // Asking for d itself finds only the lookaside's build: not in the compose.
    const asked = depsolve({ pool: repos.main, lookaside: repos.lookaside, arches: ['x86_64'], packages: ['d'] });
    expect(asked.notInCompose).toEqual(['d']);
    // Without the lookaside, main's d-1.0 is the latest and satisfies a.
    const plain = depsolve({ pool: repos.main, arches: ['x86_64'], packages: ['a'] });
    expect(selected(plain)).toEqual(['a.noarch', 'd.noarch']);
  });
});
