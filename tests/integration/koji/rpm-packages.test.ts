/**
 * Packages read through Koji (listTaggedRPMS + getRPMHeaders in multicall batches) against the
 * same RPM files read by createrepo_c and our repodata reader: the same package model, and the
 * same depsolve result.
 */
import { KojiClient } from '../../../backend/koji/client';
import { PACKAGE_HEADERS, rpmPackageFromKoji, type KojiRpmPackage } from '../../../backend/koji/package';
import { unsignedRpmPath } from '../../../backend/koji/paths';
import { depsolve, type DepsolveRequest } from '../../../backend/rpm/depsolve';
import { nevra, type RpmPackage } from '../../../backend/rpm/model';
import { readRepository } from '../../../backend/rpm/repodata';
import { buildKojiFixtures, type KojiFixtures } from '../../fixtures/build-koji-rpms';
import { buildFixtureRepos, type FixtureRepos } from '../../fixtures/build-repos';
import { KojiHubDouble, type KojiHubAddress } from '../../servers/koji-hub';

let hub: KojiHubDouble;
let address: KojiHubAddress;
let koji: KojiClient;
let repos: FixtureRepos;
let kojiFixtures: KojiFixtures;

beforeAll(async () => {
  [repos, kojiFixtures] = await Promise.all([buildFixtureRepos(), buildKojiFixtures()]);
  hub = new KojiHubDouble();
  address = await hub.start();
  // A small batch size so that the batching is exercised.
  koji = new KojiClient({ hubUrl: address.hubUrl, topurl: address.topurl, multicallBatchSize: 8, timeoutSeconds: 5 });
  hub.addTag('fixtures-main');
  hub.addTag('fixtures-lookaside');
  hub.addTag('koji-fixtures');
  for (const b of await hub.importBuilds(repos.rpms.main)) hub.tagBuild('fixtures-main', b.nvr);
  for (const b of await hub.importBuilds(repos.rpms.lookaside, { reuseExisting: true })) hub.tagBuild('fixtures-lookaside', b.nvr);
  for (const b of kojiFixtures.builds) hub.tagBuild('koji-fixtures', (await hub.importBuild(b.rpms)).nvr);
}, 300_000);

afterAll(async () => {
  await hub?.stop();
});

/** What a source handler would do: list the tag, fetch the headers in batches, build packages. */
async function packagesOfTag(tag: string, repoId: string): Promise<KojiRpmPackage[]> {
  const { rpms, builds } = await koji.listTaggedRPMS(tag, { inherit: true });
  const buildById = new Map(builds.map((b) => [b.id, b]));
  const headers = await koji.getRPMHeadersMany(
    rpms.map((r) => r.id),
    PACKAGE_HEADERS,
  );
  return rpms.map((r) =>
    rpmPackageFromKoji(r, headers.get(r.id)!, {
      location: unsignedRpmPath(buildById.get(r.build_id)!, r),
      locationBase: address.topurl,
      repoId,
    }),
  );
}

/** The parts of a package both readers must agree on. */
function comparable(p: RpmPackage) {
  return {
    nevra: nevra(p),
    sourcerpm: p.sourcerpm,
    provides: p.provides,
    requires: p.requires,
    conflicts: p.conflicts,
    obsoletes: p.obsoletes,
    files: [...p.files].sort(),
    size: p.size,
  };
}

function byNevra(pkgs: RpmPackage[]) {
  return pkgs.map(comparable).sort((a, b) => a.nevra.localeCompare(b.nevra));
}

describe('RpmPackage from Koji headers', () => {
  it('equals what createrepo_c + the repodata reader give for the depsolver fixtures', async () => {
    hub.resetCounters();
    const fromKoji = await packagesOfTag('fixtures-main', 'koji');
    expect(fromKoji.length).toBe(repos.rpms.main.length);
    // Batched: far fewer requests than RPMs.
    expect(hub.callCounts.get('getRPMHeaders')).toBe(fromKoji.length);
    expect(hub.xmlrpcRequests).toBe(1 + Math.ceil(fromKoji.length / 8));
    const fromRepo = (await readRepository(repos.main, { repoId: 'main' })).packages;
    expect(byNevra(fromKoji)).toEqual(byNevra(fromRepo));
  });

  it('equals them for scriptlet requirements, epochs, config/ghost/dir files and source RPMs too', async () => {
    const fromKoji = await packagesOfTag('koji-fixtures', 'koji');
    const fromRepo = (await readRepository(kojiFixtures.repo, { repoId: 'repo' })).packages;
    expect(fromKoji.map((p) => nevra(p)).sort()).toEqual(fromRepo.map((p) => nevra(p)).sort());
    expect(byNevra(fromKoji)).toEqual(byNevra(fromRepo));
    const tool = fromKoji.find((p) => p.name === 'kojitool' && p.arch === 'x86_64' && p.version === '1.0')!;
    expect(tool.requires).toEqual(
      expect.arrayContaining([
        { name: 'kojilib', pre: true },
        { name: 'kojilib' },
        { name: 'kojilib', flags: 'GE', epoch: '2', version: '1.0' },
        { name: '(kojilib if kojitool-doc)' },
      ]),
    );
    expect(tool.requires.some((d) => d.name.startsWith('rpmlib('))).toBe(false);
    expect(tool.checksum).toEqual({ type: '', value: '' });
    expect(tool.koji.payloadhash).toMatch(/^[0-9a-f]{32}$/);
    expect(tool.location).toBe('packages/kojitool/1.0/1/x86_64/kojitool-1.0-1.x86_64.rpm');
    const lib = fromKoji.find((p) => p.name === 'kojilib' && p.arch === 'x86_64')!;
    expect(lib.epoch).toBe(2);
    expect(lib.files.sort()).toEqual(['/etc/kojilib.conf', '/usr/lib64/kojilib', '/usr/lib64/libkoji.so.1', '/var/log/kojilib.log']);
  });

  it('gives the depsolver the same answer as the repositories do, with nothing unresolved', async () => {
    const [pool, lookaside] = await Promise.all([packagesOfTag('fixtures-main', 'koji'), packagesOfTag('fixtures-lookaside', 'koji-lookaside')]);
    const repoPool = (await readRepository(repos.main, { repoId: 'main' })).packages;
    const repoLookaside = (await readRepository(repos.lookaside, { repoId: 'lookaside' })).packages;
    const request: Omit<DepsolveRequest, 'pool' | 'lookaside'> = {
      packages: ['app', 'richapp', 'multiuser', 'needs-epoch', 'usesshared', 'aouser'],
      arches: ['x86_64'],
      multilibArches: ['x86_64'],
      multilibMethods: ['devel'],
    };
    const viaKoji = depsolve({ ...request, pool, lookaside });
    const viaRepo = depsolve({ ...request, pool: repoPool, lookaside: repoLookaside });
    const names = (r: typeof viaKoji) => r.packages.map((s) => nevra(s.package)).sort();
    expect(viaKoji.unresolved).toEqual([]);
    expect(viaKoji.missing).toEqual([]);
    expect(names(viaKoji)).toEqual(names(viaRepo));
    expect(names(viaKoji)).toEqual(expect.arrayContaining(['app-1.0-1.noarch', 'libalpha-2.0-1.noarch', 'epochpkg-1:0.5-1.noarch']));
    expect(viaKoji.arches[0]!.lookaside.map((p) => p.name).sort()).toEqual(viaRepo.arches[0]!.lookaside.map((p) => p.name).sort());

    const kojiOnly = await packagesOfTag('koji-fixtures', 'koji');
    const tool = depsolve({ pool: kojiOnly, packages: ['kojitool-doc'], arches: ['x86_64'] });
    expect(tool.packages.map((s) => nevra(s.package)).sort()).toEqual([
      'kojilib-2:1.0-1.x86_64',
      'kojitool-2.0-1.x86_64',
      'kojitool-doc-2.0-1.noarch',
    ]);
    // %pre/%postun need /bin/sh, which no fixture provides.
    expect(tool.unresolved.map((u) => u.requirement)).toEqual(['/bin/sh']);
  });
});
