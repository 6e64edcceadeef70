import { normalizeSigkey, rpmPath, signedRpmPath, topurlJoin, unsignedRpmPath } from '../../../backend/koji/paths';
import { chooseRpmCopies, groupSignatureRows, preferenceOrder, UnsignedRpmsError } from '../../../backend/koji/signatures';
import type { KojiTaggedRpm } from '../../../backend/koji/types';

const TOP = 'https://kojipkgs.example.com/';
const build = { name: 'foo', version: '1.0', release: '2.fc40' };
const rpm = (name: string, arch: string, epoch: number | null = null) => ({ name, version: '1.0', release: '2.fc40', arch, epoch });

describe('Koji file paths', () => {
  it('puts files under the build, named after the RPM', () => {
    const sub = rpm('python3-foo', 'noarch');
    expect(unsignedRpmPath(build, sub)).toBe('packages/foo/1.0/2.fc40/noarch/python3-foo-1.0-2.fc40.noarch.rpm');
    expect(signedRpmPath(build, sub, '17E954BF')).toBe(
      'packages/foo/1.0/2.fc40/data/signed/17e954bf/noarch/python3-foo-1.0-2.fc40.noarch.rpm',
    );
    expect(rpmPath(build, sub, '')).toBe(unsignedRpmPath(build, sub));
    expect(() => signedRpmPath(build, sub, '')).toThrow(/needs a sigkey/);
    expect(() => unsignedRpmPath({ ...build, version: '..' }, sub)).toThrow(/invalid Koji path segment/);
  });

  it('joins topurl with percent-encoded segments', () => {
    expect(topurlJoin(TOP, 'packages/gcc/1^git/1/x86_64/gcc-c++-1^git-1.x86_64.rpm')).toBe(
      'https://kojipkgs.example.com/packages/gcc/1%5Egit/1/x86_64/gcc-c%2B%2B-1%5Egit-1.x86_64.rpm',
    );
  });

  it('normalises sigkeys as Koji stores them', () => {
    expect(normalizeSigkey('17E954BF')).toBe('17e954bf');
    expect(normalizeSigkey('0x1E3051F8FCB7B3CB'.slice(2))).toBe('fcb7b3cb');
    expect(normalizeSigkey('6DD50A9FCE393182FBAFDF521E3051F8FCB7B3CB')).toBe('fcb7b3cb');
    expect(normalizeSigkey(' ')).toBe('');
  });
});

describe('choosing signed copies', () => {
  const candidates = [
    { rpm: rpm('foo', 'x86_64'), build, sigkeys: ['', 'aaaa1111', 'bbbb2222'] },
    { rpm: rpm('foo-doc', 'noarch'), build, sigkeys: ['', 'bbbb2222'] },
    { rpm: rpm('foo-libs', 'x86_64', 3), build, sigkeys: [''] },
  ];

  it('takes the first sigkey in order that the RPM has', () => {
    const chosen = chooseRpmCopies(candidates.slice(0, 2), ['AAAA1111', 'bbbb2222'], TOP);
    expect(chosen.map((c) => [c.rpm.name, c.sigkey])).toEqual([
      ['foo', 'aaaa1111'],
      ['foo-doc', 'bbbb2222'],
    ]);
    expect(chosen[0]!.url).toBe(
      'https://kojipkgs.example.com/packages/foo/1.0/2.fc40/data/signed/aaaa1111/x86_64/foo-1.0-2.fc40.x86_64.rpm',
    );
    // The fallbacks, in order, for a downloader that finds a signed file missing.
    expect(chosen[0]!.copies.map((c) => c.sigkey)).toEqual(['aaaa1111', 'bbbb2222']);
  });

  it('allows the unsigned copy for an empty key, wherever it is in the order, and for an empty list', () => {
    expect(chooseRpmCopies(candidates, ['aaaa1111', ''], TOP).map((c) => c.sigkey)).toEqual(['aaaa1111', '', '']);
    expect(chooseRpmCopies(candidates, ['', 'aaaa1111'], TOP).map((c) => c.sigkey)).toEqual(['', '', '']);
    const unsigned = chooseRpmCopies(candidates, [], TOP);
    expect(unsigned.map((c) => c.sigkey)).toEqual(['', '', '']);
    expect(unsigned[2]!.path).toBe('packages/foo/1.0/2.fc40/x86_64/foo-libs-1.0-2.fc40.x86_64.rpm');
    expect(preferenceOrder([])).toEqual(['']);
    expect(preferenceOrder(['A1B2C3D4', 'a1b2c3d4', ''])).toEqual(['a1b2c3d4', '']);
  });

  it('names every RPM without an acceptable copy in one error', () => {
    let error: unknown;
    try {
      chooseRpmCopies(candidates, ['aaaa1111'], TOP);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UnsignedRpmsError);
    const e = error as UnsignedRpmsError;
    expect(e.rpms).toEqual([
      { nevra: 'foo-doc-1.0-2.fc40.noarch', available: ['', 'bbbb2222'] },
      { nevra: 'foo-libs-3:1.0-2.fc40.x86_64', available: [''] },
    ]);
    expect(e.message).toBe(
      'RPM(s) not found for sigs: aaaa1111. Packages without a copy signed with any of these keys: ' +
        'foo-doc-1.0-2.fc40.noarch (available: unsigned, bbbb2222), foo-libs-3:1.0-2.fc40.x86_64 (available: unsigned)',
    );
    expect(e.retryable).toBe(false);
  });

  it('folds rpmsigs rows into one entry per RPM with its build', () => {
    const row = (id: number, name: string, sigkey: string | null): KojiTaggedRpm => ({
      id,
      build_id: 9,
      name,
      version: '1.0',
      release: '2.fc40',
      epoch: null,
      arch: 'x86_64',
      payloadhash: 'ab',
      size: 1,
      buildtime: 0,
      buildroot_id: null,
      external_repo_id: null,
      metadata_only: false,
      extra: null,
      sigkey,
    });
    const grouped = groupSignatureRows(
      [row(1, 'foo', ''), row(1, 'foo', 'AAAA1111'), row(2, 'foo-libs', null)],
      [{ id: 9, ...build }],
    );
    expect(grouped.map((g) => [g.rpm.name, [...g.sigkeys], 'sigkey' in g.rpm])).toEqual([
      ['foo', ['', 'aaaa1111'], false],
      ['foo-libs', [''], false],
    ]);
    expect(() => groupSignatureRows([row(1, 'foo', '')], [])).toThrow(/build 9 not listed/);
  });
});
