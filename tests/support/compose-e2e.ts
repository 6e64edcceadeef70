/**
 * What end-to-end compose tests do again and again: POST a compose and wait for its final
 * state, read its productmd rpms.json, and install from its .repo file with real dnf.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import request from 'supertest';
import type { ComposeRow } from '../../common/db/entities';
import { STATES } from '../../common/enums';
import { eventually } from './listener';
import type { TestStack } from './stack';

const run = promisify(execFile);

/** POSTs the compose (expecting 200) and waits until it is done or failed. */
export async function requestCompose(t: TestStack, body: Record<string, unknown>, timeoutMs = 60000): Promise<ComposeRow> {
  const res = await request(t.app).post('/api/1/composes/').send(body);
  if (res.status !== 200) throw new Error(`POST answered ${res.status}: ${JSON.stringify(res.body)}`);
  return composeFinished(t, res.body.id as number, timeoutMs);
}

/** Waits until compose `id` is done or failed. */
export function composeFinished(t: TestStack, id: number, timeoutMs = 60000): Promise<ComposeRow> {
  return eventually(
    async () => {
      const row = await t.s.store.get(id);
      return row && (row.state === STATES.done || row.state === STATES.failed) ? row : undefined;
    },
    timeoutMs,
    `compose ${id} to finish`,
  );
}

export function composeDir(t: TestStack, row: Pick<ComposeRow, 'id'>): string {
  return path.join(t.cfg.target_dir, `odcs-${row.id}`);
}

/**
 * rpms.json of the compose: arch -> RPM NEVRA -> its entry, for the binary and debug RPMs (the
 * source RPMs of the source tree are left out; tests/e2e/source-debug-trees.test.ts checks them).
 */
export async function composeRpms(t: TestStack, row: Pick<ComposeRow, 'id'>): Promise<Map<string, { path: string; sigkey: string | null; arch: string }>> {
  const rpms = JSON.parse(await readFile(path.join(composeDir(t, row), 'compose', 'metadata', 'rpms.json'), 'utf8'));
  const out = new Map<string, { path: string; sigkey: string | null; arch: string }>();
  type Entry = { path: string; sigkey: string | null; category: string };
  for (const [arch, bySrpm] of Object.entries(rpms.payload.rpms.Temporary as Record<string, Record<string, Record<string, Entry>>>)) {
    for (const entries of Object.values(bySrpm)) {
      for (const [nevra, e] of Object.entries(entries)) if (e.category !== 'source') out.set(nevra, { ...e, arch });
    }
  }
  return out;
}

/** The NEVRAs of the compose, sorted. */
export async function rpmsInCompose(t: TestStack, row: Pick<ComposeRow, 'id'>): Promise<string[]> {
  return [...(await composeRpms(t, row)).keys()].sort();
}

/**
 * Fetches the compose's .repo file over HTTP and runs one `dnf install` per entry of
 * `transactions` into a fresh installroot under `work`, using only that file (several
 * transactions when a package's Requires(pretrans) must be installed before it) and the
 * `lookaside` repositories (id → baseurl) the compose was made with; returns what `rpm -qa`
 * says is installed.
 */
export function dnfInstallFromRepofile(
  t: TestStack,
  row: Pick<ComposeRow, 'id'>,
  work: string,
  transactions: ReadonlyArray<readonly string[]>,
  lookaside: Readonly<Record<string, string>> = {},
): Promise<string[]> {
  return dnfInstallFromRepofileUrl(`${t.cfg.target_dir_url}/odcs-${row.id}/compose/Temporary/odcs-${row.id}.repo`, path.join(work, `dnf-${row.id}`), transactions, lookaside);
}

/** The same for a .repo file known by its URL (a compose's result_repofile), working in `dir`. */
export async function dnfInstallFromRepofileUrl(
  repofileUrl: string,
  dir: string,
  transactions: ReadonlyArray<readonly string[]>,
  lookaside: Readonly<Record<string, string>> = {},
): Promise<string[]> {
  const res = await fetch(repofileUrl);
  if (res.status !== 200) throw new Error(`.repo file: HTTP ${res.status}`);
  const reposd = path.join(dir, 'yum.repos.d');
  await mkdir(reposd, { recursive: true });
  await writeFile(path.join(reposd, 'odcs.repo'), await res.text());
  for (const [id, baseurl] of Object.entries(lookaside)) {
    await writeFile(path.join(reposd, `${id}.repo`), `[${id}]\nname=${id}\nbaseurl=${baseurl}\ngpgcheck=0\n`);
  }
  const root = path.join(dir, 'installroot');
  for (const names of transactions) {
    await run(
      'dnf',
      [
        `--installroot=${root}`,
        '--releasever=1',
        '--forcearch=x86_64',
        `--setopt=reposdir=${reposd}`,
        `--setopt=cachedir=${path.join(dir, 'cache')}`,
        '--setopt=install_weak_deps=False',
        // Fixture scriptlets would run the installroot's /bin/sh, which fixtures only pretend to ship.
        '--setopt=tsflags=noscripts',
        '--noplugins',
        '--nodocs',
        '-y',
        'install',
        ...names,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  }
  const { stdout } = await run('rpm', ['--root', root, '-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n']);
  return stdout.trim().split('\n').filter(Boolean).sort();
}

/** The modules record of an arch repository's repomd.xml, decompressed; null when there is none. */
export async function modulesYamlIn(archRepoDir: string): Promise<string | null> {
  const repomd = await readFile(path.join(archRepoDir, 'repodata', 'repomd.xml'), 'utf8');
  const m = /<data type="modules">[\s\S]*?<location href="([^"]+)"/.exec(repomd);
  if (!m) return null;
  return gunzipSync(await readFile(path.join(archRepoDir, m[1]!))).toString('utf8');
}

/**
 * Module-aware dnf with only the compose's .repo file (fetched over HTTP), in an installroot of
 * its own under `dir`; the fixture modules were built against platform:f30.
 */
export async function moduleDnf(t: TestStack, row: Pick<ComposeRow, 'id'>, dir: string, args: string[]): Promise<string> {
  const reposd = path.join(dir, 'yum.repos.d');
  await mkdir(reposd, { recursive: true });
  const repofile = await (await fetch(`${t.cfg.target_dir_url}/odcs-${row.id}/compose/Temporary/odcs-${row.id}.repo`)).text();
  await writeFile(path.join(reposd, `odcs-${row.id}.repo`), repofile);
  const { stdout } = await run(
    'dnf',
    [
      `--installroot=${path.join(dir, 'root')}`,
      '--releasever=1',
      '--forcearch=x86_64',
      `--setopt=reposdir=${reposd}`,
      `--setopt=cachedir=${path.join(dir, 'cache')}`,
      '--setopt=module_platform_id=platform:f30',
      '--setopt=install_weak_deps=False',
      '--disablerepo=*',
      `--enablerepo=odcs-${row.id}`,
      '--noplugins',
      '--nodocs',
      '-y',
      ...args,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}
