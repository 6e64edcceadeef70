import { depsolve, describeReason, DepsolveError, type DepsolveRequest } from '../../../backend/rpm/depsolve';
import type { Dep, RpmPackage } from '../../../backend/rpm/model';
import { operatorFlags, parseEvr } from '../../../backend/rpm/vercmp';

/** `name-[e:]v-r.arch` plus what it provides, requires and ships; self-provide added. */
function pkg(
  spec: string,
  opts: { provides?: string[]; requires?: string[]; files?: string[]; srpm?: string; repo?: string } = {},
): RpmPackage {
  const m = /^(.+)-([^-]+)-([^-]+)\.([^.]+)$/.exec(spec);
  if (!m) throw new Error(`bad package spec ${spec}`);
  const [, name, ev, release, arch] = m as unknown as [string, string, string, string, string];
  const { epoch, version } = parseEvr(ev);
  const self: Dep = { name, flags: 'EQ', epoch: epoch ?? '0', version, release };
  return {
    name,
    epoch: Number(epoch ?? 0),
    version,
    release,
    arch,
    sourcerpm: opts.srpm ?? `${name}-${version}-${release}.src.rpm`,
    location: `Packages/${name}-${version}-${release}.${arch}.rpm`,
    checksum: { type: 'sha256', value: `${spec}` },
    size: 1,
    provides: [self, ...(opts.provides ?? []).map(dep)],
    requires: (opts.requires ?? []).map(dep),
    conflicts: [],
    obsoletes: [],
    files: opts.files ?? [],
    repoId: opts.repo ?? 'main',
  };
}

function dep(text: string): Dep {
  if (text.startsWith('(')) return { name: text };
  const [name, op, evr] = text.split(/\s+/) as [string, string?, string?];
  if (!op) return { name };
  const { epoch, version, release } = parseEvr(evr!);
  const d: Dep = { name, flags: operatorFlags(op)!, version };
  if (epoch !== undefined) d.epoch = epoch;
  if (release !== undefined) d.release = release;
  return d;
}

function solve(req: Partial<DepsolveRequest> & { pool: RpmPackage[] }) {
  return depsolve({ arches: ['x86_64'], ...req });
}

const names = (r: ReturnType<typeof solve>): string[] =>
  r.packages.map((s) => `${s.package.name}.${s.package.arch}`).sort();

describe('depsolve', () => {
  it('follows requires transitively, with versioned, file and pre requirements', () => {
    const pool = [
      pkg('app-1-1.noarch', { requires: ['lib >= 2', '/usr/share/data/x', 'tool'] }),
      { ...pkg('x-1-1.noarch'), requires: [{ name: '/bin/sh', pre: true }] },
      pkg('lib-2.1-1.x86_64', { requires: ['base'] }),
      pkg('base-1-1.x86_64'),
      pkg('data-1-1.noarch', { files: ['/usr/share/data/x'] }),
      pkg('tool-1-1.noarch', { requires: ['x'] }),
      pkg('sh-1-1.noarch', { files: ['/bin/sh'] }),
      pkg('unrelated-1-1.noarch'),
    ];
    const r = solve({ pool, packages: ['app'] });
    expect(names(r)).toEqual([
      'app.noarch',
      'base.x86_64',
      'data.noarch',
      'lib.x86_64',
      'sh.noarch',
      'tool.noarch',
      'x.noarch',
    ]);
    expect(r.unresolved).toEqual([]);
    const reasons = Object.fromEntries(r.packages.map((s) => [s.package.name, describeReason(s.reason)]));
    expect(reasons['app']).toBe('requested as app');
    expect(reasons['lib']).toBe('pulled by app-1-1.noarch for requirement lib >= 2');
    expect(reasons['data']).toBe('pulled by app-1-1.noarch for requirement /usr/share/data/x');
    expect(reasons['sh']).toBe('pulled by x-1-1.noarch for requirement /bin/sh');
  });

  it('selects everything when no package is named, and still resolves dependencies', () => {
    const pool = [
      pkg('a-1-1.noarch', { requires: ['b'] }),
      pkg('b-1-1.noarch'),
      pkg('c-1-1.noarch', { requires: ['nope'] }),
    ];
    const r = solve({ pool });
    expect(names(r)).toEqual(['a.noarch', 'b.noarch', 'c.noarch']);
    expect(r.unresolved).toEqual([{ package: 'c-1-1.noarch', requirement: 'nope' }]);
    expect(r.missing).toEqual([]);
  });

  it('sees only the latest version of each name.arch', () => {
    const pool = [
      pkg('lib-1.0-1.noarch'),
      pkg('lib-2.0-1.noarch'),
      pkg('old-1-1.noarch', { requires: ['lib = 1.0-1'] }),
      pkg('new-1-1.noarch', { requires: ['lib >= 1.5'] }),
    ];
    const r = solve({ pool, packages: ['old', 'new'] });
    expect(r.packages.map((s) => `${s.package.name}-${s.package.version}`).sort()).toEqual([
      'lib-2.0',
      'new-1',
      'old-1',
    ]);
    expect(r.unresolved).toEqual([{ package: 'old-1-1.noarch', requirement: 'lib = 1.0-1' }]);
  });

  it('compares epochs before versions', () => {
    const pool = [pkg('e-1:0.5-1.noarch'), pkg('e-9.0-1.noarch'), pkg('u-1-1.noarch', { requires: ['e >= 1:0.1'] })];
    const r = solve({ pool, packages: ['u'] });
    expect(r.packages.find((s) => s.package.name === 'e')!.package).toMatchObject({ epoch: 1, version: '0.5' });
  });

  it('prefers the shortest name, then alphabetical order, among providers', () => {
    const pool = [
      pkg('u-1-1.noarch', { requires: ['cap', 'other'] }),
      pkg('longer-1-1.noarch', { provides: ['cap'] }),
      pkg('zz-1-1.noarch', { provides: ['cap'] }),
      pkg('bbb-1-1.noarch', { provides: ['other'] }),
      pkg('aaa-1-1.noarch', { provides: ['other'] }),
    ];
    expect(names(solve({ pool, packages: ['u'] }))).toEqual(['aaa.noarch', 'u.noarch', 'zz.noarch']);
  });

  it('ranks arch order before name length (Pungi sorts by name, then length, then arch)', () => {
    const pool = [
      pkg('u-1-1.noarch', { requires: ['cap'] }),
      pkg('ao-1-1.noarch', { provides: ['cap'] }),
      pkg('ao-longname-1-1.x86_64', { provides: ['cap'] }),
    ];
    expect(names(solve({ pool, packages: ['u'] }))).toEqual(['ao-longname.x86_64', 'u.noarch']);
  });

  it('chooses the providers of all requirements of one package before adding any', () => {
    const pool = [
      pkg('u-1-1.noarch', { requires: ['ab-long', 'zcap'] }),
      pkg('ab-long-1-1.noarch', { provides: ['zcap'] }),
      pkg('a-1-1.noarch', { provides: ['zcap'] }),
      pkg('v-1-1.noarch', { requires: ['ab-long'] }),
      pkg('w-1-1.noarch', { requires: ['zcap'] }),
    ];
    // ab-long was not selected when u's requirements were looked up: zcap goes to a.
    expect(names(solve({ pool, packages: ['u'] }))).toEqual(['a.noarch', 'ab-long.noarch', 'u.noarch']);
    // A provider an earlier package brought in is "already selected" for later packages.
    expect(names(solve({ pool, packages: ['v', 'w'] }))).toEqual(['ab-long.noarch', 'v.noarch', 'w.noarch']);
  });

  it('prefers providers already selected', () => {
    const pool = [
      pkg('u-1-1.noarch', { requires: ['cap'] }),
      pkg('a-1-1.noarch', { provides: ['cap'] }),
      pkg('chosen-1-1.noarch', { provides: ['cap'] }),
    ];
    expect(names(solve({ pool, packages: ['u', 'chosen'] }))).toEqual(['chosen.noarch', 'u.noarch']);
  });

  it('greedy "build": brings the other providers from the best provider\'s source RPM', () => {
    const pool = [
      pkg('u-1-1.noarch', { requires: ['mta'] }),
      pkg('mta-a-1-1.noarch', { provides: ['mta'], srpm: 'mta-1-1.src.rpm' }),
      pkg('mta-bb-1-1.noarch', { provides: ['mta'], srpm: 'mta-1-1.src.rpm' }),
      pkg('mta-doc-1-1.noarch', { srpm: 'mta-1-1.src.rpm' }),
      pkg('postfix-1-1.noarch', { provides: ['mta'] }),
    ];
    const r = solve({ pool, packages: ['u'] });
    expect(names(r)).toEqual(['mta-a.noarch', 'mta-bb.noarch', 'u.noarch']);
  });

  it('greedy "build" takes each same-source provider once, however many packages need it', () => {
    const pool = [
      pkg('u-1-1.noarch', { requires: ['cap', 'v'] }),
      pkg('v-1-1.noarch', { requires: ['w'] }),
      pkg('w-1-1.noarch', { requires: ['cap'] }),
      pkg('bb-1-1.noarch', { provides: ['cap'], srpm: 's.src.rpm' }),
      pkg('ccc-1-1.noarch', { provides: ['cap'], srpm: 's.src.rpm' }),
    ];
    // Both providers come from one source RPM: greedy takes both, once.
    expect(names(solve({ pool, packages: ['u'] }))).toEqual([
      'bb.noarch',
      'ccc.noarch',
      'u.noarch',
      'v.noarch',
      'w.noarch',
    ]);
  });

  it('does not follow weak dependencies (they are not in requires)', () => {
    const pool = [pkg('u-1-1.noarch'), pkg('rec-1-1.noarch')];
    expect(names(solve({ pool, packages: ['u'] }))).toEqual(['u.noarch']);
  });

  describe('rich dependencies', () => {
    const pool = [
      pkg('r-1-1.noarch', {
        requires: [
          '(ruby or python)',
          '(ta and tb >= 1)',
          '(yes if trigger)',
          'trigger',
          '(no if absent)',
          '(no if absent else elsey)',
          '(shared with feature)',
        ],
      }),
      pkg('ruby-1-1.noarch'),
      pkg('python-1-1.noarch'),
      pkg('ta-1-1.noarch'),
      pkg('tb-1-1.noarch'),
      pkg('yes-1-1.noarch'),
      pkg('trigger-1-1.noarch'),
      pkg('no-1-1.noarch'),
      pkg('elsey-1-1.noarch'),
      pkg('s1-1-1.noarch', { provides: ['shared'] }),
      pkg('s2-1-1.noarch', { provides: ['shared', 'feature'] }),
    ];

    it('picks one alternative of or, all of and, conditionals by the selection, with by one package', () => {
      const r = solve({ pool, packages: ['r'] });
      expect(names(r)).toEqual([
        'elsey.noarch',
        'r.noarch',
        'ruby.noarch',
        's2.noarch',
        'ta.noarch',
        'tb.noarch',
        'trigger.noarch',
        'yes.noarch',
      ]);
      expect(r.unresolved).toEqual([]);
      expect(r.packages.find((s) => s.package.name === 'ruby')!.reason).toEqual({
        kind: 'dependency',
        by: 'r-1-1.noarch',
        requirement: '(ruby or python)',
      });
    });

    it('keeps an or satisfied by an already selected alternative', () => {
      expect(names(solve({ pool, packages: ['r', 'python'] }))).not.toContain('ruby.noarch');
    });

    it('reports a rich dependency nothing satisfies, whole', () => {
      const r = solve({
        pool: [pkg('r-1-1.noarch', { requires: ['(a or b)', '(ta and missing)'] }), pkg('ta-1-1.noarch')],
        packages: ['r'],
      });
      expect(r.unresolved).toEqual([
        { package: 'r-1-1.noarch', requirement: '(a or b)' },
        { package: 'r-1-1.noarch', requirement: '(ta and missing)' },
      ]);
      // Nothing is half-added for an `and` that cannot hold.
      expect(names(r)).toEqual(['r.noarch']);
    });

    it('fails naming the package and the dependency it cannot parse', () => {
      const bad = [pkg('r-1-1.noarch', { requires: ['(a or b and c)'] })];
      expect(() => solve({ pool: bad, packages: ['r'] })).toThrow(DepsolveError);
      expect(() => solve({ pool: bad, packages: ['r'] })).toThrow(/r-1-1\.noarch.*\(a or b and c\)/);
    });
  });

  describe('lookaside', () => {
    const main = [
      pkg('u-1-1.noarch', { requires: ['base', 'shared', 'libonly'] }),
      pkg('shared-1-1.noarch'),
      pkg('newer-provider-2-1.noarch', { provides: ['libonly'] }),
    ];
    const lookaside = [
      pkg('base-1-1.noarch', { requires: ['never-resolved'], repo: 'la' }),
      pkg('shared-1-1.noarch', { repo: 'la' }),
      pkg('only-1-1.noarch', { repo: 'la' }),
      pkg('libonly-1-1.noarch', { repo: 'la' }),
    ];

    it('satisfies from the lookaside without including it or resolving its requirements', () => {
      const r = solve({ pool: main, lookaside, packages: ['u'] });
      expect(names(r)).toEqual(['u.noarch']);
      expect(r.arches[0]!.lookaside.map((p) => p.name).sort()).toEqual(['base', 'libonly', 'shared']);
      expect(r.unresolved).toEqual([]);
    });

    it('never compares versions across provider names, with or without a lookaside (Pungi)', () => {
      // libonly (1-1, lookaside, shorter name) wins over newer-provider-2-1 despite its version…
      const r = solve({ pool: main, lookaside, packages: ['u'] });
      expect(r.packages.map((s) => s.package.name)).not.toContain('newer-provider');
      // …as it does without a lookaside.
      const plain = solve({ pool: [...main, pkg('libonly-1-1.noarch')], packages: ['u'] });
      expect(plain.packages.map((s) => s.package.name)).toContain('libonly');
      expect(plain.packages.map((s) => s.package.name)).not.toContain('newer-provider');
    });

    it('takes the newest build of one name when it is arched in one repository and noarch in the other', () => {
      const r = solve({
        pool: [pkg('u-1-1.noarch', { requires: ['sw'] }), pkg('sw-1-1.x86_64')],
        lookaside: [pkg('sw-2-1.noarch', { repo: 'la' })],
        packages: ['u'],
      });
      expect(names(r)).toEqual(['u.noarch']);
      expect(r.arches[0]!.lookaside.map((p) => `${p.name}-${p.version}.${p.arch}`)).toEqual(['sw-2.noarch']);
    });

    it('hides a main build behind a newer lookaside build of the same name.arch', () => {
      const r = solve({
        pool: [pkg('u-1-1.noarch', { requires: ['d = 1-1'] }), pkg('d-1-1.noarch')],
        lookaside: [pkg('d-2-1.noarch', { repo: 'la' })],
        packages: ['u'],
      });
      expect(names(r)).toEqual(['u.noarch']);
      expect(r.unresolved).toEqual([{ package: 'u-1-1.noarch', requirement: 'd = 1-1' }]);
      // nodeps never consults the lookaside's versions (Pungi's nodeps method does not read it).
      const nodeps = solve({
        pool: [pkg('d-1-1.noarch')],
        lookaside: [pkg('d-2-1.noarch', { repo: 'la' })],
        packages: ['d'],
        noDeps: true,
      });
      expect(names(nodeps)).toEqual(['d.noarch']);
    });

    it('does not include a requested package that is only (or also) in the lookaside', () => {
      const r = solve({ pool: main, lookaside, packages: ['only', 'shared', 'u'] });
      expect(names(r)).not.toContain('shared.noarch');
      expect(r.missing).toEqual([]);
      expect(r.notInCompose).toEqual(['only', 'shared']);
    });
  });

  it('reports requested names that match nothing', () => {
    const r = solve({ pool: [pkg('a-1-1.noarch')], packages: ['a', 'nope', 'no*'] });
    expect(r.missing).toEqual(['nope', 'no*']);
    expect(r.notInCompose).toEqual(['nope', 'no*']);
  });

  it('accepts globs and name.arch', () => {
    const pool = [pkg('foo-a-1-1.noarch'), pkg('foo-b-1-1.x86_64'), pkg('foo-b-1-1.i686'), pkg('bar-1-1.x86_64')];
    expect(names(solve({ pool, packages: ['foo-*'] }))).toEqual(['foo-a.noarch', 'foo-b.x86_64']);
    expect(
      names(solve({ pool, packages: ['foo-b.i686'], multilibArches: ['x86_64'], multilibMethods: ['devel'] })),
    ).toEqual(['foo-b.i686']);
  });

  it('noDeps selects only what matches', () => {
    const pool = [pkg('a-1-1.noarch', { requires: ['b'] }), pkg('b-1-1.noarch')];
    const r = solve({ pool, packages: ['a'], noDeps: true });
    expect(names(r)).toEqual(['a.noarch']);
    expect(r.unresolved).toEqual([]);
  });

  it('leaves the unresolved list empty when not asked for it', () => {
    const r = solve({ pool: [pkg('a-1-1.noarch', { requires: ['b'] })], reportUnresolved: false });
    expect(r.unresolved).toEqual([]);
  });

  describe('multilib', () => {
    const pool = [
      pkg('user-1-1.x86_64', { requires: ['libm.so.1()(64bit)', 'libm-devel', 'tool'] }),
      pkg('libm-1-1.x86_64', {
        provides: ['libm.so.1()(64bit)'],
        files: ['/usr/lib64/libm.so.1'],
        srpm: 'libm.src.rpm',
      }),
      pkg('libm-1-1.i686', { provides: ['libm.so.1'], files: ['/usr/lib/libm.so.1'], srpm: 'libm.src.rpm' }),
      pkg('libm-devel-1-1.x86_64', { requires: ['libm = 1-1'], files: ['/usr/lib64/libm.so'], srpm: 'libm.src.rpm' }),
      pkg('libm-devel-1-1.i686', { requires: ['libm = 1-1'], files: ['/usr/lib/libm.so'], srpm: 'libm.src.rpm' }),
      pkg('tool-1-1.x86_64', { files: ['/usr/bin/tool'] }),
      pkg('tool-1-1.i686', { files: ['/usr/bin/tool'] }),
    ];

    it('is off unless the arch is a multilib arch with methods', () => {
      expect(names(solve({ pool, packages: ['user'] }))).toEqual([
        'libm-devel.x86_64',
        'libm.x86_64',
        'tool.x86_64',
        'user.x86_64',
      ]);
      expect(names(solve({ pool, packages: ['user'], multilibMethods: ['devel'] }))).not.toContain('libm.i686');
    });

    it('runtime adds the 32-bit libraries', () => {
      const r = solve({ pool, packages: ['user'], multilibArches: ['x86_64'], multilibMethods: ['runtime'] });
      expect(names(r)).toEqual(['libm-devel.x86_64', 'libm.i686', 'libm.x86_64', 'tool.x86_64', 'user.x86_64']);
      expect(describeReason(r.packages.find((s) => s.package.arch === 'i686')!.reason)).toBe(
        'multilib (runtime) of libm-1-1.x86_64',
      );
    });

    it('devel adds -devel packages too, and their dependencies', () => {
      const r = solve({ pool, packages: ['user'], multilibArches: ['x86_64'], multilibMethods: ['devel'] });
      expect(names(r)).toEqual([
        'libm-devel.i686',
        'libm-devel.x86_64',
        'libm.i686',
        'libm.x86_64',
        'tool.x86_64',
        'user.x86_64',
      ]);
      expect(r.unresolved).toEqual([]);
    });

    it('all adds every 32-bit twin', () => {
      const r = solve({ pool, packages: ['user'], multilibArches: ['x86_64'], multilibMethods: ['all'] });
      expect(names(r)).toContain('tool.i686');
      expect(names(r)).toContain('user.x86_64');
    });
  });

  it('matches arch-specific (ISA) provides to the right arch', () => {
    const isa = (spec: string, tag: string): RpmPackage => {
      const p = pkg(spec);
      p.provides.push({ ...p.provides[0]!, name: `${p.name}(${tag})` });
      return p;
    };
    const pool = [
      pkg('u-1-1.x86_64', { requires: ['lib(x86-64) = 1-1'] }),
      pkg('v-1-1.i686', { requires: ['lib(x86-32)'] }),
      isa('lib-1-1.x86_64', 'x86-64'),
      isa('lib-1-1.i686', 'x86-32'),
    ];
    const r = solve({ pool, packages: ['u', 'v.i686'], multilibArches: ['x86_64'], multilibMethods: ['runtime'] });
    expect(names(r)).toEqual(['lib.i686', 'lib.x86_64', 'u.x86_64', 'v.i686']);
    expect(r.packages.find((s) => s.package.arch === 'i686' && s.package.name === 'lib')!.reason).toMatchObject({
      by: 'v-1-1.i686',
    });
  });

  it('resolves a name only through a package that really provides it', () => {
    const bare = { ...pkg('bare-1-1.noarch'), provides: [] };
    const r = solve({
      pool: [pkg('u-1-1.noarch', { requires: ['bare', 'other = 2'] }), bare, pkg('other-1-1.noarch')],
    });
    expect(r.unresolved.map((u) => u.requirement)).toEqual(['bare', 'other = 2']);
  });

  it('solves each compose arch and unites the results', () => {
    const pool = [
      pkg('a-1-1.x86_64', { requires: ['n'] }),
      pkg('a-1-1.aarch64', { requires: ['n'] }),
      pkg('n-1-1.noarch'),
    ];
    const r = depsolve({ pool, arches: ['x86_64', 'aarch64'], packages: ['a'] });
    expect(r.arches.map((a) => a.arch)).toEqual(['x86_64', 'aarch64']);
    expect(names(r)).toEqual(['a.aarch64', 'a.x86_64', 'n.noarch']);
  });

  it('never selects source packages', () => {
    const r = solve({ pool: [pkg('a-1-1.src'), pkg('a-1-1.noarch')] });
    expect(names(r)).toEqual(['a.noarch']);
  });
});
