/**
 * The pure parts of module composes: artifact NEVRAs, the per-arch modulemd, the base-module
 * range of dependency lookups, ODCS's duplicate/conflict rules, the compose's new source, the
 * Koji stream selection, and what a module compose holds per arch.
 */
import { parseAllDocuments } from 'yaml';
import type { MbsModuleBuild } from '../../../backend/mbs/client';
import {
  archModulemd,
  artifactNevra,
  develModulemd,
  modulemdArtifacts,
  modulemdIdentity,
  moduleArches,
  modulesYaml,
  parseArtifactNevra,
  withArtifacts,
} from '../../../backend/modules/modulemd';
import { filterInherited, latestModuleBuilds, moduleFromKojiBuild } from '../../../backend/modules/resolve-koji';
import {
  dependencyBaseRange,
  mergeModules,
  ModuleLookupError,
  resolvedSource,
  runtimeDependencyKeys,
} from '../../../backend/modules/resolve-mbs';
import { selectModulePackages } from '../../../backend/modules/select';
import type { KojiTaggedBuild } from '../../../backend/koji/types';
import type { RpmPackage } from '../../../backend/rpm/model';

const MODULEMD = `---
document: modulemd
version: 2
data:
  name: perl
  stream: "5.30"
  version: 8020020200601000000
  context: eeee0005
  summary: Perl
  description: Perl module.
  license:
    module: [MIT]
  dependencies:
    - buildrequires: {platform: [el8.2.0]}
      requires: {platform: [el8], perl-libs: ["5.30"], any: [], notthis: [-x, y]}
  artifacts:
    rpms:
      - perl-4:5.30.1-452.module_el8+1+eeee0005.src
      - perl-4:5.30.1-452.module_el8+1+eeee0005.x86_64
      - perl-4:5.30.1-452.module_el8+1+eeee0005.aarch64
      - perl-doc-0:5.30.1-452.module_el8+1+eeee0005.noarch
      - perl-libs-4:5.30.1-452.module_el8+1+eeee0005.i686
    rpm-map:
      sha256:
        aaaa:
          name: perl
          epoch: 4
          version: 5.30.1
          release: 452.module_el8+1+eeee0005
          arch: aarch64
          nevra: perl-4:5.30.1-452.module_el8+1+eeee0005.aarch64
        bbbb:
          name: perl
          epoch: 4
          version: 5.30.1
          release: 452.module_el8+1+eeee0005
          arch: x86_64
          nevra: perl-4:5.30.1-452.module_el8+1+eeee0005.x86_64
...
`;

function build(partial: Partial<MbsModuleBuild> & Pick<MbsModuleBuild, 'name' | 'stream' | 'version' | 'context'>): MbsModuleBuild {
  return {
    id: 1,
    state: 5,
    stateName: 'ready',
    kojiTag: null,
    scmurl: null,
    owner: null,
    modulemd: null,
    mmd: null,
    runtimeDeps: {},
    baseModuleBuildrequires: [],
    buildrequires: {},
    raw: {},
    ...partial,
  };
}

describe('module artifacts', () => {
  it('splits NEVRAs with epochs, dotted releases and names with dashes', () => {
    expect(parseArtifactNevra('perl-libs-4:5.30.1-452.module_el8+1+eeee0005.i686')).toEqual({
      name: 'perl-libs',
      epoch: 4,
      version: '5.30.1',
      release: '452.module_el8+1+eeee0005',
      arch: 'i686',
    });
    expect(parseArtifactNevra('foo-1.0-1.noarch')).toMatchObject({ name: 'foo', epoch: 0, arch: 'noarch' });
    expect(parseArtifactNevra('garbage')).toBeNull();
    expect(artifactNevra({ name: 'foo', epoch: null, version: '1', release: '2', arch: 'x86_64' })).toBe('foo-0:1-2.x86_64');
  });

  it('reads identity and artifacts, keeping a 19-digit version exact', () => {
    expect(modulemdIdentity(MODULEMD)).toEqual({ name: 'perl', stream: '5.30', version: '8020020200601000000', context: 'eeee0005' });
    expect(modulemdArtifacts(MODULEMD)).toHaveLength(5);
  });
});

describe('per-arch modulemd', () => {
  it('sets the arch and keeps only artifacts of the arch, noarch and source', () => {
    const text = archModulemd(MODULEMD, 'x86_64', moduleArches('x86_64', false));
    expect(text.startsWith('---\n')).toBe(true);
    expect(text.endsWith('...\n')).toBe(true);
    const data = parseAllDocuments(text, { intAsBigInt: true })[0]!.toJS().data;
    expect(data.arch).toBe('x86_64');
    expect(data.version).toBe(8020020200601000000n);
    expect(data.artifacts.rpms).toEqual([
      'perl-4:5.30.1-452.module_el8+1+eeee0005.src',
      'perl-4:5.30.1-452.module_el8+1+eeee0005.x86_64',
      'perl-doc-0:5.30.1-452.module_el8+1+eeee0005.noarch',
    ]);
    expect(Object.keys(data.artifacts['rpm-map'].sha256)).toEqual(['bbbb']);
  });

  it('keeps multilib artifacts when the arch is a multilib arch of the compose', () => {
    const text = archModulemd(MODULEMD, 'x86_64', moduleArches('x86_64', true));
    expect(text).toContain('perl-libs-4:5.30.1-452.module_el8+1+eeee0005.i686');
  });

  it('writes yum arch names and concatenates documents', () => {
    const yaml = modulesYaml([MODULEMD, MODULEMD], 'i386', moduleArches('i386', false));
    expect(yaml.match(/^---$/gm)).toHaveLength(2);
    expect(yaml).toMatch(/^ {2}arch: i686$/m);
  });
});

describe('-devel modules', () => {
  it('renames the module, requires it at runtime, drops API and profiles', () => {
    const withApi = MODULEMD.replace('  artifacts:', '  api:\n    rpms: [perl]\n  profiles:\n    default:\n      rpms: [perl]\n  artifacts:');
    const devel = parseAllDocuments(develModulemd(withApi), { intAsBigInt: true })[0]!.toJS().data;
    expect(devel.name).toBe('perl-devel');
    expect(devel.version).toBe(8020020200601000000n);
    expect(devel.dependencies[0].requires).toMatchObject({ platform: ['el8'], perl: ['5.30'] });
    expect(devel.api).toBeUndefined();
    expect(devel.profiles).toBeUndefined();
    expect(devel.artifacts.rpms).toHaveLength(5);
  });

  it('replaces the artifacts', () => {
    expect(modulemdArtifacts(withArtifacts(MODULEMD, ['perl-tests-4:5.30.1-452.module_el8+1+eeee0005.x86_64']))).toEqual([
      'perl-tests-4:5.30.1-452.module_el8+1+eeee0005.x86_64',
    ]);
    expect(modulemdArtifacts(withArtifacts(MODULEMD, []))).toEqual([]);
    expect(withArtifacts(MODULEMD, [])).not.toContain('rpm-map');
  });
});

describe('MBS resolution rules', () => {
  it('looks dependencies up within the base module major version', () => {
    const el = build({
      name: 'a',
      stream: 's',
      version: '1',
      context: 'c',
      baseModuleBuildrequires: [{ id: 1, name: 'platform', stream: 'el8.2.0', version: '1', context: 'c', stream_version: 80200 }],
    });
    expect(dependencyBaseRange(el)).toEqual({ name: 'platform', lte: 80200, gte: 80000 });
    const f = build({ ...el, baseModuleBuildrequires: [{ ...el.baseModuleBuildrequires[0]!, stream: 'f30', stream_version: 300000 }] });
    expect(dependencyBaseRange(f)).toEqual({ name: 'platform', lte: 300000, gte: 300000 });
    expect(dependencyBaseRange(build({ name: 'a', stream: 's', version: '1', context: 'c' }))).toBeNull();
  });

  it('takes named runtime streams, leaving base modules, "any stream" and exclusions out', () => {
    const b = build({
      name: 'perl',
      stream: '5.30',
      version: '1',
      context: 'c',
      mmd: { mdversion: 2, runtimeDeps: [{ platform: ['el8'], 'perl-libs': ['5.30'], any: [], notthis: ['-x', 'y'] }], buildtimeDeps: [], data: {} },
    });
    expect(runtimeDependencyKeys(b, ['platform', 'bootstrap'])).toEqual(['perl-libs:5.30', 'notthis:y']);
  });

  it('merges contexts of one version, drops repeated contexts and refuses two versions of a stream', () => {
    const map = new Map<string, MbsModuleBuild[]>();
    const a1 = build({ name: 'a', stream: '1', version: '10', context: 'c1' });
    const a2 = build({ name: 'a', stream: '1', version: '10', context: 'c2' });
    expect(mergeModules([a1, a2, a1], map)).toEqual([a1, a2]);
    const old = build({ name: 'a', stream: '1', version: '9', context: 'c1' });
    expect(() => mergeModules([old], map)).toThrow(new ModuleLookupError('a:1:9:c1 conflicts with a:1:10:c1'));
  });

  it('rewrites source as the sorted N:S:V:C list without base modules', () => {
    const list = [
      build({ name: 'b', stream: '1', version: '2', context: 'x' }),
      build({ name: 'platform', stream: 'f30', version: '1', context: 'y' }),
      build({ name: 'a', stream: '1', version: '3', context: 'z' }),
    ];
    expect(resolvedSource(list, ['platform'])).toBe('a:1:3:z b:1:2:x');
    expect(resolvedSource([], ['platform'])).toBe('');
  });
});

describe('Koji resolution rules', () => {
  const tagged = (name: string, stream: string, release: string, tag: string): KojiTaggedBuild =>
    ({ name, version: stream, release, tag_name: tag, build_id: 1 }) as KojiTaggedBuild;

  it('keeps a stream only from the top-most tag of the inheritance that has it', () => {
    const builds = [tagged('m', '1', '5.a', 'parent'), tagged('m', '1', '3.a', 'child'), tagged('m', '2', '9.a', 'parent')];
    expect(filterInherited(builds, 'child', ['parent']).map((b) => `${b.version}:${b.tag_name}`).sort()).toEqual(['1:child', '2:parent']);
  });

  it('takes every context of the highest version of each stream, versions compared as integers', () => {
    const builds = [tagged('m', '1', '9.a', 't'), tagged('m', '1', '10.a', 't'), tagged('m', '1', '10.b', 't'), tagged('m', '2', '1.a', 't')];
    expect(latestModuleBuilds(builds).map((b) => `${b.version}-${b.release}`)).toEqual(['1-10.a', '1-10.b', '2-1.a']);
  });

  it('reads a module build from its Koji extra, base module dependencies left out', () => {
    const found = moduleFromKojiBuild(
      { nvr: 'perl-5.30-8020020200601000000.eeee0005', extra: { typeinfo: { module: { modulemd_str: MODULEMD, content_koji_tag: 'module-perl' } } } },
      ['platform'],
    );
    expect(found.module).toMatchObject({ name: 'perl', stream: '5.30', version: '8020020200601000000', context: 'eeee0005', kojiTag: 'module-perl' });
    expect(found.deps).toEqual(['perl-libs:5.30', 'notthis:-x', 'notthis:y']);
    expect(() => moduleFromKojiBuild({ nvr: 'x-1-1', extra: null }, [])).toThrow('not a module build');
  });
});

describe('what a module compose holds', () => {
  const pkg = (name: string, arch: string, release = '1'): RpmPackage =>
    ({ name, epoch: 0, version: '1', release, arch, sourcerpm: null, location: `${name}.rpm`, checksum: { type: 'sha256', value: name + arch + release }, size: 1, provides: [], requires: [], conflicts: [], obsoletes: [], files: [], repoId: 'm' }) as RpmPackage;

  it('every module RPM of the arch, all builds of a name (two contexts), no depsolving', () => {
    const a = pkg('app', 'noarch', '1.module+1+c1');
    const b = pkg('app', 'noarch', '1.module+2+c2');
    const lib = pkg('lib', 'x86_64');
    const lib32 = pkg('lib', 'i686');
    const other = pkg('lib', 'aarch64');
    const packages = [a, b, lib, lib32, other].map((p) => ({ pkg: p, modules: ['m:1:1:c'] }));
    const plain = selectModulePackages({ packages, arches: ['x86_64'] });
    expect(plain.arches[0]!.packages.map((s) => s.package)).toEqual([a, b, lib]);
    expect(plain.notInCompose).toEqual([]);
    const multilib = selectModulePackages({ packages, arches: ['x86_64', 'aarch64'], multilibArches: ['x86_64'] });
    expect(multilib.arches.map((s) => s.packages.length)).toEqual([4, 3]);
    // noarch packages appear in both arches but once in the union.
    expect(multilib.packages).toHaveLength(5);
    expect(multilib.arches[0]!.packages[0]!.reason).toEqual({ kind: 'requested', pattern: 'module m:1:1:c' });
  });

  it('leaves a module out of an arch it was not built for, its noarch RPMs too', () => {
    const shared = pkg('doc', 'noarch');
    const only = pkg('tool', 'noarch');
    const packages = [
      { pkg: shared, modules: ['x86:1:1:c', 'both:1:1:c'] },
      { pkg: only, modules: ['x86:1:1:c'] },
    ];
    const result = selectModulePackages({ packages, arches: ['x86_64', 'aarch64'], moduleOnArch: (m, arch) => m.startsWith('both') || arch === 'x86_64' });
    expect(result.arches.map((a) => a.packages.map((p) => p.package.name))).toEqual([['doc', 'tool'], ['doc']]);
  });
});
