/**
 * ExclusiveArch / ExcludeArch copied from the SRPM onto noarch packages (issue 12 item 4): the
 * rule Pungi's package set applies per tree arch, and what the depsolver sees because of it.
 * The end-to-end case (a real SRPM header read through the Koji double) is in
 * tests/e2e/koji-compose.test.ts.
 */
import { archRestrictions } from '../../../backend/koji/package';
import { archSet, excludedFromArch } from '../../../backend/rpm/arches';
import { depsolve } from '../../../backend/rpm/depsolve';
import type { RpmPackage } from '../../../backend/rpm/model';

function noarch(name: string, restrictions: { exclusiveArch?: string[]; excludeArch?: string[] } = {}, requires: string[] = []): RpmPackage {
  return {
    name,
    epoch: 0,
    version: '1',
    release: '1',
    arch: 'noarch',
    sourcerpm: `${name}-1-1.src.rpm`,
    location: `Packages/${name}-1-1.noarch.rpm`,
    checksum: { type: 'sha256', value: name },
    size: 1,
    provides: [{ name, flags: 'EQ', epoch: '0', version: '1', release: '1' }],
    requires: requires.map((r) => ({ name: r })),
    conflicts: [],
    obsoletes: [],
    files: [],
    repoId: 'koji',
    ...restrictions,
  };
}

describe('excludedFromArch', () => {
  it('counts the tree arch and its native arches, not noarch and not multilib arches', () => {
    const only686 = { exclusiveArch: ['i686', 'noarch'] };
    expect(excludedFromArch(only686, archSet('x86_64', false))).toBe(true);
    // Multilib i686 packages are visible on x86_64, but do not make it an i686 tree.
    expect(excludedFromArch(only686, archSet('x86_64', true))).toBe(true);
    expect(excludedFromArch(only686, archSet('i386', false))).toBe(false);
    expect(excludedFromArch({ exclusiveArch: ['noarch'] }, archSet('x86_64', false))).toBe(true);
    expect(excludedFromArch({ excludeArch: ['s390x'] }, archSet('s390x', false))).toBe(true);
    expect(excludedFromArch({ excludeArch: ['s390x'] }, archSet('x86_64', false))).toBe(false);
    expect(excludedFromArch({ exclusiveArch: [], excludeArch: [] }, archSet('x86_64', false))).toBe(false);
    expect(excludedFromArch({}, archSet('aarch64', false))).toBe(false);
  });

  it('reads both from header fields, an unset field (nil) being no restriction', () => {
    expect(archRestrictions({ exclusivearch: ['i686', 'noarch'], excludearch: null })).toEqual({ exclusiveArch: ['i686', 'noarch'], excludeArch: [] });
    expect(archRestrictions({})).toEqual({ exclusiveArch: [], excludeArch: [] });
  });
});

describe('depsolve with restricted noarch packages', () => {
  it('neither selects nor uses as a provider a package excluded from the arch', () => {
    const pool = [noarch('app', {}, ['helper']), noarch('helper', { excludeArch: ['x86_64'] }), noarch('plain')];
    const result = depsolve({ pool, arches: ['x86_64', 'aarch64'], packages: ['app', 'helper'] });
    const byArch = Object.fromEntries(result.arches.map((a) => [a.arch, a.packages.map((p) => p.package.name).sort()]));
    expect(byArch).toEqual({ x86_64: ['app'], aarch64: ['app', 'helper'] });
    expect(result.arches.find((a) => a.arch === 'x86_64')!.unresolved).toEqual([{ package: 'app-1-1.noarch', requirement: 'helper' }]);
  });

  it('applies under no_deps too', () => {
    const pool = [noarch('only686', { exclusiveArch: ['i686', 'noarch'] })];
    const result = depsolve({ pool, arches: ['x86_64', 'i386'], packages: ['only686'], noDeps: true });
    expect(result.arches.map((a) => [a.arch, a.packages.length])).toEqual([
      ['x86_64', 0],
      ['i386', 1],
    ]);
  });
});
