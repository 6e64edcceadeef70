/**
 * A tag compose from Koji on the real stack (odcs-frontend and odcs-backend processes,
 * PostgreSQL, RabbitMQ) against the Koji double: a 5,000-package tag (500 builds of 10 noarch
 * RPMs each, generated with rpmbuild), composed whole; then one build (10 packages) gets a new
 * release, the tag moves on, and the tag is composed again. For each compose: POST→done time,
 * bytes and requests under /kojifiles and XML-RPC calls, next to the size of the tag and of
 * what changed. Target: the second compose fetches only what changed.
 *
 *   npm run bench -- koji   (or: npm run build && node dist/tests/bench/koji.js)
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../common/net';
import { KojiHubDouble } from '../servers/koji-hub';
import { AMQP_URL } from '../support/env';
import { uniqueName } from '../support/stack';
import { benchDatabase, createrepoAlone, seconds, startProcess } from './compose';
import { type BenchRow, runAlone } from './report';

const run = promisify(execFile);
const BUILDS = 500;
const PER_BUILD = 10;
const PACKAGES = BUILDS * PER_BUILD;
const DIST = path.join(__dirname, '..', '..');
const MB = 1024 * 1024;

/** Payload of package i: many small, some large (~100 KiB on average). */
function payloadKiB(i: number): number {
  const r = (i * 2654435761) % 100;
  return r < 20 ? 8 : r < 70 ? 32 : r < 95 ? 128 : 1024;
}

const buildName = (b: number): string => `bk-${String(b).padStart(3, '0')}`;

/** A spec whose 10 subpackages form a chain (each requires the one before), all of one build. */
function spec(b: number, release: number): string {
  const name = buildName(b);
  const lines = [`Name: ${name}`, 'Version: 1.0', `Release: ${release}`, 'Summary: bench', 'License: MIT', 'BuildArch: noarch', '%description', 'bench', ''];
  for (let m = 0; m < PER_BUILD; m++) {
    const pkg = `${name}-${m}`;
    lines.push(`%package -n ${pkg}`, `Summary: ${pkg}`);
    if (m > 0) lines.push(`Requires: ${name}-${m - 1}`);
    lines.push(`Provides: bench-cap-${b}-${m}`, `%description -n ${pkg}`, pkg, `%files -n ${pkg}`, `/usr/share/bench/${pkg}`, '');
  }
  lines.push('%install', 'mkdir -p %{buildroot}/usr/share/bench');
  for (let m = 0; m < PER_BUILD; m++) lines.push(`head -c ${payloadKiB(b * PER_BUILD + m) * 1024} /dev/urandom > %{buildroot}/usr/share/bench/${name}-${m}`);
  return lines.join('\n');
}

/** rpmbuild of one spec into `out/<name>-<release>/`. */
async function buildSpec(work: string, out: string, b: number, release: number): Promise<void> {
  const top = path.join(work, `${buildName(b)}-${release}`);
  await mkdir(top, { recursive: true });
  const file = path.join(top, 'bench.spec');
  await writeFile(file, spec(b, release));
  await run('rpmbuild', ['-bb', '--nodeps', '--quiet', '--define', `_topdir ${top}`, '--define', '_binary_payload w0.ufdio', file], { maxBuffer: 64 * MB });
  const dest = path.join(out, `${buildName(b)}-${release}`);
  await mkdir(dest, { recursive: true });
  for (const f of await readdir(path.join(top, 'RPMS', 'noarch'))) await rename(path.join(top, 'RPMS', 'noarch', f), path.join(dest, f));
  await rm(top, { recursive: true, force: true });
}

/**
 * The 500 builds (release 1) and the new release of build 0, cached in the temp dir:
 * `<dir>/<build>-<release>/*.rpm`.
 */
async function generatedBuilds(): Promise<string> {
  const dir = path.join(tmpdir(), `odcs-bench-koji-${PACKAGES}-v1`);
  if (existsSync(path.join(dir, 'READY'))) return dir;
  const work = await mkdtemp(path.join(tmpdir(), 'odcs-bench-koji-build-'));
  const out = path.join(work, 'out');
  const jobs: Array<[number, number]> = Array.from({ length: BUILDS }, (_, b) => [b, 1]);
  jobs.push([0, 2]);
  let next = 0;
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      while (next < jobs.length) {
        const [b, release] = jobs[next++]!;
        await buildSpec(work, out, b, release);
      }
    }),
  );
  await rm(dir, { recursive: true, force: true });
  await rename(out, dir);
  await writeFile(path.join(dir, 'READY'), '');
  await rm(work, { recursive: true, force: true });
  return dir;
}

async function rpmsOf(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.rpm')).sort().map((f) => path.join(dir, f));
}

async function totalSize(files: readonly string[]): Promise<number> {
  let n = 0;
  for (const f of files) n += (await stat(f)).size;
  return n;
}

/**
 * Reference for the first compose: curl alone downloading every file of the tag from the same
 * double (8 in parallel, to /dev/null), i.e. the transfer any compose of the whole tag needs.
 */
async function curlAll(urls: readonly string[], scratch: string): Promise<number> {
  const config = path.join(scratch, 'curl.config');
  await writeFile(config, urls.map((u) => `url = "${u}"\noutput = "/dev/null"\n`).join(''));
  return seconds(() => run('curl', ['--silent', '--fail', '--parallel', '--parallel-max', '8', '--config', config]));
}

interface Fetched {
  seconds: number;
  bytes: number;
  fileRequests: number;
  xmlrpcRequests: number;
  headerCalls: number;
  calls: number;
}

export async function benchKoji(): Promise<BenchRow[]> {
  const builds = await generatedBuilds();
  const initial: string[][] = [];
  for (let b = 0; b < BUILDS; b++) initial.push(await rpmsOf(path.join(builds, `${buildName(b)}-1`)));
  const changed = await rpmsOf(path.join(builds, `${buildName(0)}-2`));
  const allInitial = initial.flat();
  const tagBytes = await totalSize(allInitial);
  const changedBytes = await totalSize(changed);

  const scratch = await mkdtemp(path.join(tmpdir(), 'odcs-bench-koji-'));
  const hub = new KojiHubDouble({ topdir: path.join(scratch, 'koji') });
  const address = await hub.start();
  hub.addTag('bench');
  const urls: string[] = [];
  for (let b = 0; b < BUILDS; b += 50) {
    for (const imported of await hub.importBuilds(initial.slice(b, b + 50).flat())) {
      hub.tagBuild('bench', imported.nvr);
      for (const rpm of imported.rpms) urls.push(`${address.topurl}/${rpm.path}`);
    }
  }

  const dbUrl = await benchDatabase('odcs_bench_koji');
  const port = await freePort();
  const env = {
    DATABASE_URL: dbUrl,
    AMQP_URL,
    PORT: String(port),
    ODCS_TARGET_DIR: path.join(scratch, 'composes'),
    ODCS_KOJI_URL: address.hubUrl,
    ODCS_KOJI_TOPURL: address.topurl,
    ODCS_ALLOWED_SOURCE_TYPES: 'tag',
    ODCS_WORK_QUEUE: uniqueName('odcs.bench.koji'),
    ODCS_MESSAGING_TOPIC_PREFIX: uniqueName('bench'),
    ODCS_LOG_LEVEL: 'info',
  };
  const processes: ChildProcess[] = [];
  try {
    processes.push(await startProcess(path.join(DIST, 'bin', 'cli', 'frontend.js'), env, 'API listening'));
    processes.push(await startProcess(path.join(DIST, 'bin', 'cli', 'backend.js'), env, 'worker consuming'));
    const api = `http://127.0.0.1:${port}/api/1/composes/`;

    /** POST → done (polling the API), with what the Koji double served meanwhile. */
    const composeTag = async (): Promise<Fetched> => {
      hub.resetCounters();
      let id = 0;
      const t = await seconds(async () => {
        const res = await fetch(api, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ source: { type: 'tag', source: 'bench' }, flags: ['no_reuse'] }) });
        ({ id } = (await res.json()) as { id: number });
        for (;;) {
          const row = (await (await fetch(`${api}${id}`)).json()) as { state_name: string; state_reason: string };
          if (row.state_name === 'done') return;
          if (row.state_name === 'failed') throw new Error(`compose ${id} failed: ${row.state_reason}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      });
      const calls = [...hub.callCounts.entries()].filter(([m]) => m !== 'system.multicall').reduce((n, [, c]) => n + c, 0);
      return {
        seconds: t,
        bytes: hub.bytesServed,
        fileRequests: hub.fileRequests,
        xmlrpcRequests: hub.xmlrpcRequests,
        headerCalls: hub.callCounts.get('getRPMHeaders') ?? 0,
        calls,
      };
    };

    const first = await composeTag();
    // Ten packages change: a new release of one build enters the tag.
    const [rebuilt] = await hub.importBuilds(changed);
    hub.tagBuild('bench', rebuilt!.nvr);
    const second = await composeTag();
    const reference = await createrepoAlone(allInitial, scratch);
    const download = await curlAll(urls, scratch);

    const mb = (n: number): number => Math.round((n / MB) * 10) / 10;
    const requests = (f: Fetched): string =>
      `${f.fileRequests} file requests; ${f.xmlrpcRequests} XML-RPC requests carrying ${f.calls} calls, ${f.headerCalls} of them getRPMHeaders`;
    return [
      {
        name: `first compose of a ${PACKAGES.toLocaleString('en')}-package tag (all of it), POST→done`,
        ours: first.seconds,
        reference: download + reference,
        unit: 's',
        note: `reference: curl alone fetching the tag's files, 8 at a time (${download.toFixed(2)} s), plus createrepo_c alone on them (${reference.toFixed(2)} s)`,
      },
      { name: 'bytes fetched from /kojifiles, first compose', ours: mb(first.bytes), reference: mb(tagBytes), unit: 'MB', note: `reference: total size of the tag; ${requests(first)}` },
      { name: `second compose after ${changed.length} packages changed, POST→done`, ours: second.seconds, reference, unit: 's', note: 'reference: createrepo_c alone on the same RPMs' },
      {
        name: 'bytes fetched from /kojifiles, second compose',
        ours: mb(second.bytes),
        reference: mb(changedBytes),
        unit: 'MB',
        note: `reference: size of the ${changed.length} changed RPMs (tag: ${mb(tagBytes)} MB); ${requests(second)}`,
      },
    ];
  } finally {
    for (const p of processes) p.kill('SIGTERM');
    await hub.stop();
    if (process.env.BENCH_KEEP) process.stderr.write(`kept ${scratch}\n`);
    else await rm(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) runAlone('Koji tag compose', benchKoji);
