import { compareEvr, evrMatches, formatEvr, parseEvr, rangesOverlap, rpmvercmp } from '../../../backend/rpm/vercmp';

describe('rpmvercmp', () => {
  // [a, b, expected]; every pair is also checked reversed.
  const pairs: Array<[string, string, -1 | 0 | 1]> = [
    ['1.0', '1.0', 0],
    ['1.0', '2.0', -1],
    ['2.0.1', '2.0', 1],
    ['2.0.1a', '2.0.1', 1],
    ['5.5p1', '5.5p2', -1],
    ['5.5p1', '5.5p10', -1],
    ['10xyz', '10.1xyz', -1],
    ['xyz10', 'xyz10.1', -1],
    ['xyz.4', '8', -1],
    ['xyz.4', '2', -1],
    ['5.5p2', '5.6p1', -1],
    ['5.6p1', '6.5p1', -1],
    ['6.0.rc1', '6.0', 1],
    ['10b2', '10a1', 1],
    ['10a2', '10b2', -1],
    ['1.0a', '1.0aa', -1],
    ['10.0001', '10.1', 0],
    ['10.0001', '10.0039', -1],
    ['4.999.9', '5.0', -1],
    ['20101121', '20101122', -1],
    ['2_0', '2.0', 0],
    ['a+', 'a_', 0],
    ['+a', '_a', 0],
    ['_+', '+_', 0],
    ['+', '_', 0],
    ['1.0.', '1.0', 0],
    ['1.0~rc1', '1.0', -1],
    ['1.0~rc1', '1.0~rc2', -1],
    ['1.0~rc1~git123', '1.0~rc1', -1],
    ['1.0~', '1.0', -1],
    ['1.0^', '1.0', 1],
    ['1.0^git1', '1.0', 1],
    ['1.0^git1', '1.0^git2', -1],
    ['1.0^git1', '1.01', -1],
    ['1.0^git1', '1.0.1', -1],
    ['1.0^20160101', '1.0.1', -1],
    ['1.0^20160102', '1.0^20160101^git1', 1],
    ['1.0~rc1^git1', '1.0~rc1', 1],
    ['1.0^git1~pre', '1.0^git1', -1],
    ['1.0^git1~pre', '1.0', 1],
    ['1.0~rc1', '1.0^', -1],
    ['1', '1a', -1],
    ['a', '1', -1],
    ['00001', '1', 0],
    ['12345678901234567890', '12345678901234567891', -1],
    ['1.fc38', '1.fc39', -1],
    ['1.el9_2.1', '1.el9_2', 1],
    ['', '0', -1],
  ];

  it.each(pairs)('compares %s with %s as %d', (a, b, expected) => {
    expect(rpmvercmp(a, b)).toBe(expected);
    expect(rpmvercmp(b, a)).toBe(expected === 0 ? 0 : -expected);
  });
});

describe('parseEvr / formatEvr', () => {
  it('splits epoch, version and release', () => {
    expect(parseEvr('2:1.0-3.fc39')).toEqual({ epoch: '2', version: '1.0', release: '3.fc39' });
    expect(parseEvr('1.0-3')).toEqual({ version: '1.0', release: '3' });
    expect(parseEvr('1.0')).toEqual({ version: '1.0' });
    expect(parseEvr('0:1.0')).toEqual({ epoch: '0', version: '1.0' });
    // Only the last dash separates the release.
    expect(parseEvr('1.0-beta-2')).toEqual({ version: '1.0-beta', release: '2' });
  });

  it('leaves out a zero epoch and what is missing', () => {
    expect(formatEvr({ epoch: 0, version: '1', release: '2' })).toBe('1-2');
    expect(formatEvr({ epoch: '3', version: '1' })).toBe('3:1');
  });
});

describe('compareEvr', () => {
  it('treats a missing epoch as 0', () => {
    expect(compareEvr({ version: '1.0', release: '1' }, { epoch: '0', version: '1.0', release: '1' })).toBe(0);
    expect(compareEvr({ version: '9.0', release: '1' }, { epoch: 1, version: '1.0', release: '1' })).toBe(-1);
    expect(compareEvr({ epoch: '10', version: '1' }, { epoch: '9', version: '2' })).toBe(1);
  });

  it('ignores the release when either side has none', () => {
    expect(compareEvr({ version: '1.0' }, { version: '1.0', release: '5' })).toBe(0);
    expect(compareEvr({ version: '1.0', release: '2' }, { version: '1.0', release: '10' })).toBe(-1);
  });
});

describe('evrMatches / rangesOverlap', () => {
  const cases: Array<[string | null, 'EQ' | 'LT' | 'LE' | 'GT' | 'GE', string, boolean]> = [
    ['1.2-3', 'GE', '1.2', true],
    ['1.2-3', 'GT', '1.2', false],
    ['1.2-3', 'GT', '1.1', true],
    ['1.2-3', 'EQ', '1.2', true],
    ['1.2-3', 'EQ', '1.2-3', true],
    ['1.2-3', 'EQ', '1.2-4', false],
    ['1.2-3', 'LT', '1.2-4', true],
    ['1.2-3', 'LT', '1.2', false],
    ['1.2-3', 'LE', '1.2', true],
    ['1.2-3', 'GE', '1:1.0', false],
    ['1:1.0-1', 'GE', '2.0', true],
    ['1.0~rc1-1', 'GE', '1.0', false],
    ['1.0^git1-1', 'GT', '1.0', true],
    // Provided without a release: the release of the requirement is not compared.
    ['1.2', 'GE', '1.2-7', true],
    // Unversioned provides satisfy every versioned requirement.
    [null, 'EQ', '99', true],
  ];

  it.each(cases)('provided %s satisfies %s %s: %s', (provided, flags, required, expected) => {
    expect(evrMatches(provided, flags, required)).toBe(expected);
  });

  it('matches ranges on both sides', () => {
    expect(rangesOverlap({ flags: 'GE', version: '2' }, { flags: 'LT', version: '3' })).toBe(true);
    expect(rangesOverlap({ flags: 'GE', version: '3' }, { flags: 'LT', version: '3' })).toBe(false);
    expect(rangesOverlap({ flags: 'LE', version: '3' }, { flags: 'GE', version: '3' })).toBe(true);
    expect(rangesOverlap({ flags: 'LT', version: '1' }, { flags: 'LT', version: '9' })).toBe(true);
    expect(rangesOverlap({}, { flags: 'LT', version: '9' })).toBe(true);
  });

  it('accepts a missing requirement EVR as an unversioned requirement', () => {
    expect(evrMatches('1.0-1', undefined, undefined)).toBe(true);
  });
});
