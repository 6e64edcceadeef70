import { depsFrom, filesFrom, hasFileChecksum, RPMSENSE, rpmPackageFromKoji, splitEvr } from '../../../backend/koji/package';
import type { KojiRpm } from '../../../backend/koji/types';

const rpm: KojiRpm = {
  id: 41,
  build_id: 7,
  name: 'kojitool',
  version: '1.0',
  release: '1',
  epoch: null,
  arch: 'x86_64',
  payloadhash: '0123456789abcdef0123456789abcdef',
  size: 6400,
  buildtime: 1700000000,
  buildroot_id: null,
  external_repo_id: 0,
  metadata_only: false,
  extra: null,
};

const GE = RPMSENSE.GREATER | RPMSENSE.EQUAL;

describe('Koji headers to RpmPackage', () => {
  it('reads dependencies with their comparison, epoch and release as createrepo_c writes them', () => {
    const deps = depsFrom(
      {
        requirename: ['/bin/sh', '/bin/sh', 'kojilib', 'kojilib', 'kojilib', 'kojilib', 'rpmlib(CompressedFileNames)', 'kojilib', 'libkoji.so.1()(64bit)', '(a or b)'],
        requireflags: [
          RPMSENSE.INTERP | RPMSENSE.SCRIPT_PRE,
          RPMSENSE.INTERP | RPMSENSE.SCRIPT_POSTUN,
          GE,
          RPMSENSE.SCRIPT_POST,
          RPMSENSE.SCRIPT_PREUN | RPMSENSE.POSTTRANS | RPMSENSE.PRETRANS,
          RPMSENSE.SCRIPT_POSTUN,
          RPMSENSE.RPMLIB | RPMSENSE.LESS | RPMSENSE.EQUAL,
          RPMSENSE.PREREQ,
          0,
          0,
        ],
        requireversion: ['', '', '2:1.0', '', '', '', '3.0.4-1', '', '', ''],
      },
      'require',
    );
    expect(deps).toEqual([
      { name: '/bin/sh', pre: true },
      { name: '/bin/sh' },
      { name: 'kojilib', flags: 'GE', epoch: '2', version: '1.0' },
      { name: 'kojilib', pre: true },
      { name: 'kojilib' },
      // postun equals the entry just before: dropped (createrepo_c); rpmlib() is left out;
      // legacy PreReq is pre, and kept: equal entries further apart are both listed.
      { name: 'kojilib', pre: true },
      { name: 'libkoji.so.1()(64bit)' },
      { name: '(a or b)' },
    ]);
  });

  it('marks only Requires(pre), Requires(post) and legacy PreReq as pre (as createrepo_c does)', () => {
    const kinds = {
      pre: RPMSENSE.SCRIPT_PRE,
      post: RPMSENSE.SCRIPT_POST,
      prereq: RPMSENSE.PREREQ,
      preun: RPMSENSE.SCRIPT_PREUN,
      postun: RPMSENSE.SCRIPT_POSTUN,
      pretrans: RPMSENSE.PRETRANS,
      posttrans: RPMSENSE.POSTTRANS,
      interp: RPMSENSE.INTERP,
    };
    const deps = depsFrom(
      {
        requirename: Object.keys(kinds),
        requireflags: Object.values(kinds),
        requireversion: Object.keys(kinds).map(() => ''),
      },
      'require',
    );
    expect(deps.filter((d) => d.pre).map((d) => d.name)).toEqual(['pre', 'post', 'prereq']);
    expect(deps).toHaveLength(8);
  });

  it('splits E:V-R like createrepo_c', () => {
    expect(splitEvr('1.0')).toEqual({ epoch: '0', version: '1.0' });
    expect(splitEvr('1.0-1.fc40')).toEqual({ epoch: '0', version: '1.0', release: '1.fc40' });
    expect(splitEvr('3:1.0-1')).toEqual({ epoch: '3', version: '1.0', release: '1' });
    const provides = depsFrom({ providename: ['a', 'b', 'c'], provideflags: [8, 2, 4], provideversion: ['1-1', '2', '0:3'] }, 'provide');
    expect(provides).toEqual([
      { name: 'a', flags: 'EQ', epoch: '0', version: '1', release: '1' },
      { name: 'b', flags: 'LT', epoch: '0', version: '2' },
      { name: 'c', flags: 'GT', epoch: '0', version: '3' },
    ]);
  });

  it('refuses header arrays that do not line up', () => {
    expect(() => depsFrom({ providename: ['a', 'b'], provideflags: [0], provideversion: ['', ''] }, 'provide')).toThrow(/different lengths/);
    expect(() => depsFrom({ providename: ['a'], provideflags: [RPMSENSE.LESS | RPMSENSE.GREATER], provideversion: ['1'] }, 'provide')).toThrow(
      /unsupported comparison/,
    );
  });

  it('builds file paths from dirnames/dirindexes/basenames, or takes filenames', () => {
    expect(filesFrom({ basenames: ['kojitool', 'README', 'doc'], dirnames: ['/usr/bin/', '/usr/share/doc/', '/usr/share/doc/kojitool/'], dirindexes: [0, 2, 1] })).toEqual([
      '/usr/bin/kojitool',
      '/usr/share/doc/kojitool/README',
      '/usr/share/doc/doc',
    ]);
    expect(filesFrom({ filenames: ['/a', '/b'] })).toEqual(['/a', '/b']);
    expect(filesFrom({})).toEqual([]);
    expect(() => filesFrom({ basenames: ['x'], dirnames: [], dirindexes: [0] })).toThrow(/out of range/);
  });

  it('makes a package whose checksum is honestly unknown and whose origin is kept', () => {
    const pkg = rpmPackageFromKoji(
      rpm,
      {
        sourcerpm: 'kojitool-1.0-1.src.rpm',
        providename: ['kojitool'],
        provideflags: [RPMSENSE.EQUAL],
        provideversion: ['1.0-1'],
        basenames: ['kojitool'],
        dirnames: ['/usr/bin/'],
        dirindexes: [0],
      },
      { location: 'packages/kojitool/1.0/1/x86_64/kojitool-1.0-1.x86_64.rpm', locationBase: 'http://koji/kojifiles', repoId: 'koji', sigkey: 'aaaa1111' },
    );
    expect(pkg).toEqual({
      name: 'kojitool',
      epoch: 0,
      version: '1.0',
      release: '1',
      arch: 'x86_64',
      sourcerpm: 'kojitool-1.0-1.src.rpm',
      location: 'packages/kojitool/1.0/1/x86_64/kojitool-1.0-1.x86_64.rpm',
      locationBase: 'http://koji/kojifiles',
      checksum: { type: '', value: '' },
      size: 6400,
      provides: [{ name: 'kojitool', flags: 'EQ', epoch: '0', version: '1.0', release: '1' }],
      requires: [],
      conflicts: [],
      obsoletes: [],
      files: ['/usr/bin/kojitool'],
      repoId: 'koji',
      koji: { rpmId: 41, buildId: 7, sigkey: 'aaaa1111', payloadhash: '0123456789abcdef0123456789abcdef' },
    });
    expect(hasFileChecksum(pkg)).toBe(false);
    expect(rpmPackageFromKoji({ ...rpm, arch: 'src', epoch: 4 }, { sourcerpm: null }, { location: 'x', repoId: 'r' })).toMatchObject({
      sourcerpm: null,
      epoch: 4,
    });
  });
});
