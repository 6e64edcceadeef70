/**
 * Benchmark: parse a 60,000-package repository's metadata and depsolve a 500-package request,
 * next to libsolv doing the same work in the same run (repo2solv -F to read primary.xml and
 * filelists.xml, testsolv to solve the request).
 *
 *   npm run build && node dist/tests/bench/depsolve.js
 *
 * The repository is synthetic metadata only (no RPM files), generated once per generator
 * version under the temp dir: ~20,000 source packages layered so that requirements point to
 * lower layers (libraries, languages, a base layer with glibc/bash/python3/perl), each binary
 * package with sonames, versioned and file requirements (some on files only in filelists.xml),
 * virtual provides with several providers, rich dependencies, older builds kept next to newer
 * ones, and i686 twins of some libraries.
 *
 * Our side runs in a child process so its peak RSS is its own.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { depsolve } from '../../backend/rpm/depsolve';
import { readRepository } from '../../backend/rpm/repodata';
import { writeRepodata, xmlEscape } from '../fixtures/repodata-writer';
import { prng } from '../support/prng';

import { type BenchRow, runAlone } from './report';

const GENERATOR_VERSION = 5;
const PACKAGES = 60_000;
const REQUEST_SIZE = 500;
const ARCH = 'x86_64';

export async function benchDepsolve(): Promise<BenchRow[]> {
  const repo = await syntheticRepo();
  const request = JSON.parse(await readFile(path.join(repo, 'request.json'), 'utf8')) as string[];

  const ours = await measureOurs(repo, 'full');
  const oursPrimary = await measureOurs(repo, 'primary');
  const primarySolv = path.join(repo, 'primary.solv');
  const fullSolv = path.join(repo, 'bench.solv');
  const parsePrimary = await timed(['repo2solv', '-o', primarySolv, repo]);
  // Filelists are needed for a correct reference solve (file requirements outside primary).
  const parseFull = await timed(['repo2solv', '-F', '-o', fullSolv, repo]);
  const testcase = path.join(repo, 'bench.testcase');
  await writeFile(
    testcase,
    [
      'repo system 0 empty',
      `repo bench 99 solv ${path.basename(fullSolv)}`,
      `system ${ARCH} rpm system`,
      // We do not follow weak dependencies; neither should the reference.
      'solverflags ignorerecommended',
      ...request.map((n) => `job install name ${n}`),
      'result transaction,problems <inline>',
      '',
    ].join('\n'),
  );
  const solve = await timed(['testsolv', testcase]);
  const libsolvInstalled = (solve.stdout.match(/^\+install /gm) ?? []).length;
  const libsolvProblems = (solve.stdout.match(/^\+problem .* info /gm) ?? []).length;

  const x = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
  const totalOurs = ours.parseMs + ours.solveMs;
  // libsolv's fastest comparable path: primary only (its filelists import is far slower).
  const totalRef = parsePrimary.ms + solve.ms;
  return [
    {
      name: `parse primary.xml (${ours.packages} packages)`,
      ours: round(oursPrimary.parseMs),
      reference: round(parsePrimary.ms),
      unit: 'ms',
      note: `libsolv: repo2solv; ${x(oursPrimary.parseMs, parsePrimary.ms)}`,
    },
    {
      name: `parse primary.xml + filelists.xml (${ours.files} files)`,
      ours: round(ours.parseMs),
      reference: round(parseFull.ms),
      unit: 'ms',
      note: `libsolv: repo2solv -F; ${x(ours.parseMs, parseFull.ms)}`,
    },
    {
      name: `depsolve a ${request.length}-package request`,
      ours: round(ours.solveMs),
      reference: round(solve.ms),
      unit: 'ms',
      note: `ours includes indexing the pool; libsolv: testsolv incl. loading its .solv; ${x(ours.solveMs, solve.ms)}`,
    },
    {
      name: 'parse (with filelists) + depsolve',
      ours: round(totalOurs),
      reference: round(totalRef),
      unit: 'ms',
      note:
        `${x(totalOurs, totalRef)} against libsolv parsing primary only (target <= 3x); ` +
        `${x(totalOurs, parseFull.ms + solve.ms)} against libsolv with filelists`,
    },
    {
      name: 'peak RSS',
      ours: round(ours.maxRssKb / 1024),
      reference: round(Math.max(parseFull.maxRssKb, solve.maxRssKb) / 1024),
      unit: 'MiB',
      note: 'target <= 1024 MiB; ours: parse with filelists + solve in one process; libsolv: its larger process',
    },
    {
      name: 'packages selected',
      ours: ours.selected,
      reference: libsolvInstalled,
      unit: 'pkgs',
      note:
        `ours: Pungi-style closure, greedy "build"${ours.unresolved ? `, ${ours.unresolved} unresolved` : ''}; ` +
        `libsolv: one installable set${libsolvProblems ? `, ${libsolvProblems} problems` : ''}`,
    },
  ];
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

// -- our side, in a child process ------------------------------------------------------------

interface OurMeasurement {
  packages: number;
  files: number;
  parseMs: number;
  solveMs: number;
  selected: number;
  unresolved: number;
  maxRssKb: number;
}

type Mode = 'full' | 'primary';

async function measureOurs(repo: string, mode: Mode): Promise<OurMeasurement> {
  if (!__filename.endsWith('.js')) return measureInProcess(repo, mode);
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [__filename, '--measure', mode, repo], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`measuring child failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
  return JSON.parse(out) as OurMeasurement;
}

/** `primary` parses primary.xml only (no solve): the like-for-like parse comparison. */
async function measureInProcess(repo: string, mode: Mode): Promise<OurMeasurement> {
  const request = JSON.parse(await readFile(path.join(repo, 'request.json'), 'utf8')) as string[];
  const t0 = performance.now();
  const { packages } = await readRepository(repo, { repoId: 'bench', filelists: mode === 'full' });
  const t1 = performance.now();
  const result = mode === 'full' ? depsolve({ pool: packages, arches: [ARCH], packages: request }) : null;
  const t2 = performance.now();
  return {
    packages: packages.length,
    files: packages.reduce((n, p) => n + p.files.length, 0),
    parseMs: t1 - t0,
    solveMs: t2 - t1,
    selected: result?.packages.length ?? 0,
    unresolved: result?.unresolved.length ?? 0,
    maxRssKb: process.resourceUsage().maxRSS,
  };
}

// -- libsolv side ----------------------------------------------------------------------------

const HAVE_TIME = existsSync('/usr/bin/time');

/** Runs a libsolv tool under /usr/bin/time for its wall time and peak RSS. */
async function timed(args: string[]): Promise<{ ms: number; maxRssKb: number; stdout: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    // Without GNU time (package "time") the run still works, only libsolv's RSS reads 0.
    const [command, ...rest] = HAVE_TIME ? ['/usr/bin/time', '-f', '%M', ...args] : args;
    const child = spawn(command!, rest, {
      cwd: path.dirname(args[args.length - 1]!),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      // /usr/bin/time prints the child's max RSS (KiB) as the last stderr line.
      const maxRssKb = Number(stderr.trim().split('\n').pop());
      // testsolv exits 1 when the result differs from the (empty) expected one: that is fine.
      if (code !== 0 && !(code === 1 && args[0] === 'testsolv')) {
        reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`));
      } else resolve({ ms, maxRssKb: Number.isFinite(maxRssKb) ? maxRssKb : 0, stdout });
    });
  });
}

// -- the synthetic repository ----------------------------------------------------------------

interface SynthDep {
  name: string;
  flags?: 'EQ' | 'GE' | 'LT';
  epoch?: number;
  version?: string;
  release?: string;
  pre?: boolean;
}

interface SynthPkg {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  srpm: string;
  provides: SynthDep[];
  requires: SynthDep[];
  recommends: string[];
  files: string[];
  dirs: string[];
}

/** Generates the repository once (per generator version) and returns its directory. */
async function syntheticRepo(): Promise<string> {
  const dir = path.join(os.tmpdir(), `odcs-bench-depsolve-v${GENERATOR_VERSION}-${PACKAGES}`);
  if (await exists(path.join(dir, 'READY'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const { packages, request } = generatePool(PACKAGES, REQUEST_SIZE);
    await writeRepodata(tmp, [
      { type: 'primary', content: primaryXml(packages) },
      { type: 'filelists', content: filelistsXml(packages) },
    ]);
    await writeFile(path.join(tmp, 'request.json'), JSON.stringify(request));
    await writeFile(path.join(tmp, 'READY'), '');
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}


const LANGS = (
  'af ar as ast be bg bn bs ca cs cy da de el en_GB eo es et eu fa fi fr ga gl gu he hi hr hu id is it ja ' +
  'ka kk kn ko lt lv mk ml mr ms nb nl nn or pa pl pt pt_BR ro ru si sk sl sq sr sv ta te th tr uk vi zh_CN zh_TW'
).split(' ');
const SYLLABLES = 'ka lo mi nu ra se ti vo xe zu bri gon pel dar fin hux'.split(' ');

interface Source {
  base: string;
  layer: number;
  noarch: boolean;
  epoch: number;
  version: string;
  soname: string | null;
  binaries: SynthPkg[];
}

function generatePool(total: number, requestSize: number): { packages: SynthPkg[]; request: string[] } {
  const rand = prng(20261120);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const sources: Source[] = [];
  const packages: SynthPkg[] = [];
  const release = 'fc40';
  const LAYERS = 10;

  const evrOf = (p: SynthPkg): SynthDep => ({
    name: p.name,
    flags: 'EQ',
    epoch: p.epoch,
    version: p.version,
    release: p.release,
  });
  const lower = (layer: number): Source => {
    // Mostly nearby layers, sometimes the bottom: chains of realistic depth.
    const target = Math.max(0, layer - 1 - Math.floor(rand() * rand() * layer));
    const pool = byLayer[target]!;
    return pool.length > 0 ? pick(pool) : sources[0]!;
  };
  const byLayer: Source[][] = Array.from({ length: LAYERS }, () => []);
  const virtuals: string[] = Array.from({ length: 300 }, (_, i) => `capability-${i}`);

  // The base layer everything leans on.
  const base: Array<[string, SynthDep[], string[]]> = [
    [
      'glibc',
      [
        { name: 'libc.so.6()(64bit)' },
        { name: 'libc.so.6(GLIBC_2.34)(64bit)' },
        { name: 'rtld(GNU_HASH)' },
        { name: 'libm.so.6()(64bit)' },
      ],
      ['/usr/lib64/libc.so.6', '/usr/lib64/libm.so.6', '/etc/ld.so.conf'],
    ],
    ['bash', [{ name: '/bin/sh' }], ['/usr/bin/bash', '/usr/bin/sh']],
    ['python3', [{ name: 'python(abi)', flags: 'EQ', version: '3.12' }], ['/usr/bin/python3', '/usr/bin/python3.12']],
    ['perl', [{ name: 'perl(:MODULE_COMPAT_5.38.0)' }], ['/usr/bin/perl']],
    ['pkgconf', [{ name: 'pkgconfig' }, { name: '/usr/bin/pkg-config' }], ['/usr/bin/pkgconf']],
  ];
  for (const [name, provides, files] of base) {
    const p: SynthPkg = {
      name,
      epoch: 0,
      version: '5.2',
      release: `1.${release}`,
      arch: ARCH,
      srpm: `${name}-5.2-1.${release}.src.rpm`,
      provides,
      requires: name === 'glibc' ? [] : [{ name: 'libc.so.6()(64bit)' }],
      recommends: [],
      files,
      dirs: [],
    };
    p.provides.unshift(evrOf(p), { ...evrOf(p), name: `${name}(x86-64)` });
    const src: Source = { base: name, layer: 0, noarch: false, epoch: 0, version: '5.2', soname: null, binaries: [p] };
    sources.push(src);
    byLayer[0]!.push(src);
    packages.push(p);
  }

  let s = 0;
  while (packages.length < total) {
    s++;
    const baseName = `${pick(SYLLABLES)}${pick(SYLLABLES)}${rand() < 0.5 ? pick(SYLLABLES) : ''}-${s.toString(36)}`;
    const layer = 1 + (Math.floor((s / (total / 2.7)) * (LAYERS - 1)) % (LAYERS - 1));
    const noarch = rand() < 0.3;
    const epoch = rand() < 0.05 ? 1 + Math.floor(rand() * 3) : 0;
    const version = `${Math.floor(rand() * 10)}.${Math.floor(rand() * 20)}.${Math.floor(rand() * 10)}`;
    const rel = `${1 + Math.floor(rand() * 5)}.${release}`;
    const roles = ['main', 'libs', 'devel', 'doc', 'tools', 'python3', 'perl', 'data'];
    const count = Math.min(roles.length, 1 + Math.floor(-Math.log(1 - rand()) * 1.6));
    // Only sources with a -libs package ship (and provide) a shared library.
    const soname = noarch || count < 2 ? null : `lib${baseName}.so.${1 + Math.floor(rand() * 3)}`;
    const src: Source = { base: baseName, layer, noarch, epoch, version, soname, binaries: [] };
    const srpm = `${baseName}-${version}-${rel}.src.rpm`;
    for (const role of roles.slice(0, count)) {
      const name =
        role === 'main'
          ? baseName
          : role === 'python3' || role === 'perl'
            ? `${role}-${baseName}`
            : `${baseName}-${role}`;
      const arch =
        noarch || role === 'doc' || role === 'data' || role === 'python3' || role === 'perl' ? 'noarch' : ARCH;
      const p: SynthPkg = {
        name,
        epoch,
        version,
        release: rel,
        arch,
        srpm,
        provides: [],
        requires: [],
        recommends: [],
        files: [],
        dirs: [],
      };
      p.provides.push(evrOf(p));
      if (arch !== 'noarch') p.provides.push({ ...evrOf(p), name: `${name}(x86-64)` });
      fillRole(p, role, src);
      src.binaries.push(p);
      packages.push(p);
    }
    sources.push(src);
    byLayer[layer]!.push(src);

    // Older builds stay in the pool: only the newest may be used.
    if (rand() < 0.03 && src.binaries[0]) {
      const old = { ...src.binaries[0], version: `0.${version}`, provides: [] as SynthDep[] };
      old.provides = [evrOf(old)];
      packages.push(old);
    }
    // 32-bit twins of some libraries.
    const libs = src.binaries.find((b) => b.name.endsWith('-libs'));
    if (libs && libs.arch === ARCH && src.soname && rand() < 0.15) {
      packages.push({
        ...libs,
        arch: 'i686',
        provides: [evrOf(libs), { ...evrOf(libs), name: `${libs.name}(x86-32)` }, { name: src.soname! }],
        files: libs.files.map((f) => f.replace('/usr/lib64/', '/usr/lib/')),
        requires: [{ name: 'libc.so.6' }],
      });
    }
  }

  function fillRole(p: SynthPkg, role: string, src: Source): void {
    const share = `/usr/share/${src.base}`;
    const libsName = `${src.base}-libs`;
    const mainOf = (o: Source): SynthPkg | undefined => o.binaries.find((b) => b.name === o.base) ?? o.binaries[0];
    switch (role) {
      case 'main': {
        if (!src.noarch) p.requires.push({ name: 'libc.so.6()(64bit)' }, { name: 'libc.so.6(GLIBC_2.34)(64bit)' });
        for (let i = 0, n = Math.floor(rand() * 4); i < n; i++) {
          const o = lower(src.layer);
          if (o.soname && !src.noarch) p.requires.push({ name: `${o.soname}()(64bit)` });
          else {
            const m = mainOf(o);
            if (m)
              p.requires.push(
                rand() < 0.3 ? { name: m.name, flags: 'GE', epoch: m.epoch, version: m.version } : { name: m.name },
              );
          }
        }
        if (rand() < 0.3) p.requires.push({ name: '/bin/sh', pre: true });
        if (rand() < 0.08) {
          // A file only filelists.xml lists (the base layer ships no data files).
          const o = lower(src.layer);
          if (o.layer > 0 && o.binaries[0]?.name === o.base) p.requires.push({ name: `/usr/share/${o.base}/data-0` });
        }
        if (rand() < 0.1) p.requires.push({ name: pick(virtuals), flags: 'GE', version: '1' });
        if (rand() < 0.1)
          p.provides.push({ name: pick(virtuals), flags: 'EQ', version: `${1 + Math.floor(rand() * 3)}` });
        if (rand() < 0.03)
          p.requires.push({ name: `(${mainOf(lower(src.layer))!.name} or ${mainOf(lower(src.layer))!.name})` });
        if (rand() < 0.01)
          p.requires.push({ name: `(${mainOf(lower(src.layer))!.name} if ${mainOf(lower(src.layer))!.name})` });
        if (rand() < 0.2) p.recommends.push(mainOf(lower(src.layer))!.name);
        p.files.push(
          `/usr/bin/${p.name}`,
          `/etc/${src.base}.conf`,
          `/usr/share/man/man1/${p.name}.1.gz`,
          `/usr/share/doc/${p.name}/README`,
        );
        for (let i = 0, n = 2 + Math.floor(rand() * 30); i < n; i++) p.files.push(`${share}/data-${i}`);
        // Translations: the bulk of many real packages' file lists.
        if (rand() < 0.3) {
          for (const lang of LANGS.slice(0, 10 + Math.floor(rand() * LANGS.length))) {
            p.files.push(`/usr/share/locale/${lang}/LC_MESSAGES/${p.name}.mo`);
          }
        }
        p.dirs.push(share, `/usr/share/doc/${p.name}`);
        break;
      }
      case 'libs':
        if (src.soname) {
          p.provides.push({ name: `${src.soname}()(64bit)` });
          p.files.push(`/usr/lib64/${src.soname}`, `/usr/lib64/${src.soname}.0.${Math.floor(rand() * 9)}`);
        }
        p.requires.push({ name: 'libc.so.6()(64bit)' });
        p.files.push(`/usr/share/licenses/${p.name}/COPYING`);
        p.dirs.push(`/usr/share/licenses/${p.name}`);
        break;
      case 'devel': {
        const libs = src.binaries.find((b) => b.name === libsName);
        if (libs)
          p.requires.push({ ...evrOf(libs), name: libs.arch === 'noarch' ? libs.name : `${libs.name}(x86-64)` });
        p.requires.push({ name: 'pkgconfig' }, { name: '/usr/bin/pkg-config' });
        p.provides.push({ name: `pkgconfig(${src.base})`, flags: 'EQ', version: src.version });
        for (let i = 0, n = 3 + Math.floor(rand() * 40); i < n; i++) p.files.push(`/usr/include/${src.base}/h${i}.h`);
        if (src.soname) p.files.push(`/usr/lib64/lib${src.base}.so`);
        p.files.push(`/usr/lib64/pkgconfig/${src.base}.pc`);
        p.dirs.push(`/usr/include/${src.base}`);
        break;
      }
      case 'python3': {
        p.requires.push({ name: 'python(abi)', flags: 'EQ', version: '3.12' }, { name: '/usr/bin/python3' });
        const main = src.binaries[0];
        if (main) p.requires.push({ ...evrOf(main) });
        p.provides.push(
          { name: `python3.12dist(${src.base})`, flags: 'EQ', version: src.version },
          { name: `python3dist(${src.base})`, flags: 'EQ', version: src.version },
        );
        const site = `/usr/lib/python3.12/site-packages/${src.base.replace(/-/g, '_')}`;
        for (let i = 0, n = 4 + Math.floor(rand() * 40); i < n; i++) {
          p.files.push(
            `${site}/m${i}.py`,
            `${site}/__pycache__/m${i}.cpython-312.pyc`,
            `${site}/__pycache__/m${i}.cpython-312.opt-1.pyc`,
          );
        }
        p.dirs.push(site, `${site}/__pycache__`);
        break;
      }
      case 'perl':
        p.requires.push({ name: 'perl(:MODULE_COMPAT_5.38.0)' }, { name: '/usr/bin/perl' });
        p.provides.push({ name: `perl(${src.base}::Util)`, flags: 'EQ', version: src.version });
        for (let i = 0, n = 2 + Math.floor(rand() * 8); i < n; i++)
          p.files.push(`/usr/share/perl5/vendor_perl/${src.base}/M${i}.pm`);
        break;
      case 'tools': {
        const main = src.binaries[0];
        if (main) p.requires.push(evrOf(main));
        p.files.push(`/usr/bin/${src.base}-tool`, `/usr/libexec/${src.base}/helper`);
        break;
      }
      default: // doc, data
        for (let i = 0, n = 3 + Math.floor(rand() * 60); i < n; i++)
          p.files.push(`/usr/share/doc/${p.name}/f${i}.html`);
        p.dirs.push(`/usr/share/doc/${p.name}`);
    }
  }

  const candidates = sources.filter((src) => src.layer >= LAYERS - 4 && src.binaries[0]?.name === src.base);
  const request: string[] = [];
  const chosen = new Set<string>();
  while (request.length < requestSize && chosen.size < candidates.length) {
    const name = pick(candidates).base;
    if (chosen.has(name)) continue;
    chosen.add(name);
    request.push(name);
  }
  return { packages: packages.slice(0, total), request };
}

function renderDep(d: SynthDep): string {
  let out = `<rpm:entry name="${xmlEscape(d.name)}"`;
  if (d.flags) {
    out += ` flags="${d.flags}" epoch="${d.epoch ?? 0}" ver="${d.version}"`;
    if (d.release) out += ` rel="${d.release}"`;
  }
  if (d.pre) out += ' pre="1"';
  return `${out}/>`;
}

function pkgid(p: SynthPkg): string {
  return createHash('sha256').update(`${p.name}-${p.epoch}:${p.version}-${p.release}.${p.arch}`).digest('hex');
}

const PRIMARY_FILE = /^(\/etc\/|.*\/bin\/|\/usr\/lib\/sendmail$)/;

function* primaryXml(packages: SynthPkg[]): Generator<string> {
  yield (
    '<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" ' +
    `xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${packages.length}">\n`
  );
  let chunk = '';
  for (const p of packages) {
    const file = `${p.name}-${p.version}-${p.release}.${p.arch}.rpm`;
    chunk +=
      `<package type="rpm">\n  <name>${p.name}</name>\n  <arch>${p.arch}</arch>\n` +
      `  <version epoch="${p.epoch}" ver="${p.version}" rel="${p.release}"/>\n` +
      `  <checksum type="sha256" pkgid="YES">${pkgid(p)}</checksum>\n` +
      `  <summary>The ${p.name} package</summary>\n` +
      `  <description>${p.name} is a synthetic package for benchmarking. It stands for a typical ` +
      `distribution package: a library, a tool or its documentation &amp; data.</description>\n` +
      `  <packager>Fedora Project</packager>\n  <url>https://example.org/${p.name}</url>\n` +
      `  <time file="1700000000" build="1699990000"/>\n` +
      `  <size package="${100_000 + p.files.length * 997}" installed="${300_000 + p.files.length * 4099}" ` +
      `archive="${301_000 + p.files.length * 4099}"/>\n` +
      `  <location href="Packages/${p.name[0]}/${file}"/>\n  <format>\n` +
      `    <rpm:license>MIT AND (GPL-2.0-or-later OR BSD-3-Clause)</rpm:license>\n` +
      `    <rpm:vendor>Fedora Project</rpm:vendor>\n    <rpm:group>Unspecified</rpm:group>\n` +
      `    <rpm:buildhost>buildvm-x86-07.iad2.fedoraproject.org</rpm:buildhost>\n` +
      `    <rpm:sourcerpm>${p.srpm}</rpm:sourcerpm>\n` +
      `    <rpm:header-range start="4504" end="${20_000 + p.files.length * 120}"/>\n` +
      `    <rpm:provides>\n${p.provides.map((d) => `      ${renderDep(d)}\n`).join('')}    </rpm:provides>\n` +
      (p.requires.length
        ? `    <rpm:requires>\n${p.requires.map((d) => `      ${renderDep(d)}\n`).join('')}    </rpm:requires>\n`
        : '') +
      (p.recommends.length
        ? `    <rpm:recommends>\n${p.recommends.map((n) => `      ${renderDep({ name: n })}\n`).join('')}    </rpm:recommends>\n`
        : '') +
      p.files
        .filter((f) => PRIMARY_FILE.test(f))
        .map((f) => `    <file>${xmlEscape(f)}</file>\n`)
        .join('') +
      '  </format>\n</package>\n';
    if (chunk.length > 1 << 20) {
      yield chunk;
      chunk = '';
    }
  }
  yield `${chunk}</metadata>\n`;
}

function* filelistsXml(packages: SynthPkg[]): Generator<string> {
  yield (
    '<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" ' +
    `packages="${packages.length}">\n`
  );
  let chunk = '';
  for (const p of packages) {
    chunk +=
      `<package pkgid="${pkgid(p)}" name="${p.name}" arch="${p.arch}">\n` +
      `  <version epoch="${p.epoch}" ver="${p.version}" rel="${p.release}"/>\n` +
      p.dirs.map((d) => `  <file type="dir">${xmlEscape(d)}</file>\n`).join('') +
      p.files.map((f) => `  <file>${xmlEscape(f)}</file>\n`).join('') +
      '</package>\n';
    if (chunk.length > 1 << 20) {
      yield chunk;
      chunk = '';
    }
  }
  yield `${chunk}</filelists>\n`;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

if (require.main === module) {
  const measure = process.argv.indexOf('--measure');
  if (measure >= 0) {
    measureInProcess(process.argv[measure + 2]!, process.argv[measure + 1] as Mode).then(
      (m) => process.stdout.write(JSON.stringify(m)),
      (err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      },
    );
  } else {
    runAlone('Dependency resolution, 60,000-package repository, 500-package request (reference: libsolv)', benchDepsolve);
  }
}
