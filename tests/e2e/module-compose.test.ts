/**
 * Module composes end to end: the API, a worker, the MBS double and the Koji double holding
 * module builds whose RPMs were built by rpmbuild; then real dnf reads the compose's .repo file
 * and sees the module streams (`dnf module list`) and installs them.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ComposeRow } from '../../common/db/entities';
import { STATES } from '../../common/enums';
import { MbsClient } from '../../backend/mbs/client';
import { buildModuleFixtures, moduleKojiTag, publishModules, type BuiltModuleFixtures } from '../fixtures/build-module-rpms';
import { KojiHubDouble } from '../servers/koji-hub';
import { MbsDouble } from '../servers/mbs';
import { composeDir, moduleDnf, modulesYamlIn, requestCompose, rpmsInCompose as rpmsIn } from '../support/compose-e2e';
import { startTestStack, type TestStack } from '../support/stack';

const run = promisify(execFile);

let built: BuiltModuleFixtures;
let mbs: MbsDouble;
let hub: KojiHubDouble;
let t: TestStack;
let work: string;

const MODAPP_V2 = ['modapp:1:3020190201000000:aaaa0001', 'modapp:1:3020190201000000:cccc0003'];
const MODAPP_DONE = 'modapp:1:3020190301000000:aaaa0001';
const MODLIB = 'modlib:2:3020190101000000:bbbb0002';

beforeAll(async () => {
  built = await buildModuleFixtures();
  work = await mkdtemp(path.join(tmpdir(), 'odcs-module-e2e-'));
  mbs = new MbsDouble();
  hub = new KojiHubDouble();
  const [mbsAddress, hubAddress] = await Promise.all([mbs.start(), hub.start()]);
  await publishModules(built, mbs, hub);
  // The same modules as content generator builds in Koji, tagged into a modular tag, for
  // composes that resolve through modular_koji_tags. The modulemd is MBS's own.
  const client = new MbsClient({ url: mbsAddress.mbsUrl, timeoutSeconds: 5 });
  hub.addTag('modular-f30', { arches: 'x86_64' });
  for (const b of await client.getModuleBuilds({ states: [5] })) {
    if (b.name === 'platform') continue;
    const nvr = hub.addModuleBuild({ name: b.name, stream: b.stream, version: b.version, context: b.context, modulemd: b.modulemd!, contentKojiTag: moduleKojiTag(b) });
    hub.tagBuild('modular-f30', nvr);
  }
  t = await startTestStack({
    listen: true,
    worker: true,
    // Work messages leave through the outbox.
    relay: true,
    config: { mbs_url: mbsAddress.mbsUrl, koji_url: hubAddress.hubUrl, koji_topurl: hubAddress.topurl, net_timeout: 10, net_retry_interval: 1, allowed_repo_roots: [work] },
  });
}, 300_000);

afterAll(async () => {
  await t?.close();
  await Promise.all([mbs?.stop(), hub?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

const compose = (body: Record<string, unknown>): Promise<ComposeRow> => requestCompose(t, body, 90_000);
const archDir = (row: ComposeRow): string => path.join(composeDir(t, row), 'compose', 'Temporary', 'x86_64', 'os');
const rpmsInCompose = (row: ComposeRow): Promise<string[]> => rpmsIn(t, row);

const modulesYamlOf = (row: ComposeRow): Promise<string | null> => modulesYamlIn(archDir(row));

const dnf = (row: ComposeRow, name: string, args: string[]): Promise<string> => moduleDnf(t, row, path.join(work, name), args);

describe('a module compose through MBS, end to end', () => {
  let row: ComposeRow;
  beforeAll(async () => {
    row = await compose({ source: { type: 'module', source: 'modapp:1' } });
  }, 120_000);

  it('is done with source rewritten to the sorted N:S:V:C of every context and of the runtime dependency', () => {
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(row.source).toBe([...MODAPP_V2, MODLIB].join(' '));
    expect(row.koji_event).toBeNull();
  });

  it('holds every module RPM of both contexts, without filtered subpackages', async () => {
    expect(await rpmsInCompose(row)).toEqual([
      'modapp-0:1.1-1.module_f30+3+aaaa0001.noarch',
      'modapp-0:1.1-1.module_f30+4+cccc0003.noarch',
      'modlib-0:2.0-1.module_f30+2+bbbb0002.x86_64',
    ]);
  });

  it('has modules.yaml in the repodata: one x86_64 document per module build, artifacts of that arch', async () => {
    const yaml = await modulesYamlOf(row);
    expect(yaml).not.toBeNull();
    const docs = yaml!.split(/^---$/m).filter((d) => d.trim());
    expect(docs).toHaveLength(3);
    for (const d of docs) expect(d).toMatch(/^\s+arch: x86_64$/m);
    expect(yaml).toContain('modapp-0:1.1-1.module_f30+3+aaaa0001.noarch');
    expect(yaml).not.toContain('modapp-tests');
    // The whole file is valid modulemd for libmodulemd.
    const file = path.join(work, `modules-${row.id}.yaml`);
    await writeFile(file, yaml!);
    await run('modulemd-validator', ['-q', file]);
  });

  it('lets dnf list the module streams from the .repo file', async () => {
    const out = await dnf(row, 'list', ['module', 'list']);
    expect(out).toMatch(/^modapp\s+1\b/m);
    expect(out).toMatch(/^modlib\s+2\b/m);
  }, 120_000);

  it('lets dnf install a module profile, enabling the required module stream', async () => {
    await dnf(row, 'install', ['module', 'install', 'modapp:1/default']);
    const { stdout } = await run('rpm', ['--root', path.join(work, 'install', 'root'), '-q', 'modapp', 'modlib']);
    expect(stdout).toMatch(/^modapp-1\.1-1\.module_f30\+\d\+(aaaa0001|cccc0003)\.noarch$/m);
    expect(stdout).toMatch(/^modlib-2\.0-1\.module_f30\+2\+bbbb0002\.x86_64$/m);
  }, 180_000);

  it('is reused by an identical request that resolves to the same modules (§5.9, koji_event null on both)', async () => {
    const again = await compose({ source: { type: 'module', source: 'modapp:1' } });
    expect(again).toMatchObject({ state: STATES.done, reused_id: row.id, source: row.source });
  });

  it('asked MBS as ODCS does (ready state, verbose, newest version first)', () => {
    const asked = mbs.requests.map((r) => new URL(`http://x${r}`)).find((u) => u.searchParams.get('nsvc') === 'modapp:1');
    expect(asked?.searchParams.getAll('state')).toEqual(['5']);
    expect(asked?.searchParams.get('verbose')).toBe('true');
    expect(asked?.searchParams.get('order_desc_by')).toBe('version');
    // The dependency was looked up within the base module range of modapp (platform:f30).
    const dep = mbs.requests.map((r) => new URL(`http://x${r}`)).find((u) => u.searchParams.get('nsvc') === 'modlib:2');
    expect(dep?.searchParams.get('base_module_br_name')).toBe('platform');
    expect(dep?.searchParams.get('base_module_br_stream_version_lte')).toBe('300000');
    expect(dep?.searchParams.get('base_module_br_stream_version_gte')).toBe('300000');
  });
});

describe('module compose options and failures', () => {
  it('no_deps leaves the runtime dependency out', async () => {
    const row = await compose({ source: { type: 'module', source: 'modapp:1' }, flags: ['no_deps'] });
    expect(row.state).toBe(STATES.done);
    expect(row.source).toBe(MODAPP_V2.join(' '));
    expect((await rpmsInCompose(row)).some((n) => n.startsWith('modlib-'))).toBe(false);
  });

  it('include_done_modules takes the newer build in "done" state', async () => {
    const row = await compose({ source: { type: 'module', source: 'modapp:1' }, flags: ['include_done_modules'] });
    expect(row.state).toBe(STATES.done);
    expect(row.source).toBe([MODAPP_DONE, MODLIB].join(' '));
    expect(await rpmsInCompose(row)).toContain('modapp-0:1.2-1.module_f30+5+aaaa0001.noarch');
  });

  it('a full N:S:V:C is taken in "done" state without the flag', async () => {
    const row = await compose({ source: { type: 'module', source: MODAPP_DONE }, flags: ['no_deps'] });
    expect(row.state).toBe(STATES.done);
    expect(row.source).toBe(MODAPP_DONE);
  });

  it('a -devel module is its MBS build relabelled, holding the RPMs the module filters out', async () => {
    const row = await compose({ source: { type: 'module', source: 'modapp-devel:1' } });
    expect(row.state_reason).toBe('Compose is generated successfully');
    const devel = MODAPP_V2.map((n) => n.replace('modapp:', 'modapp-devel:'));
    // The -devel module requires the module itself, which requires modlib.
    expect(row.source).toBe([...devel, ...MODAPP_V2, MODLIB].join(' '));
    expect(await rpmsInCompose(row)).toEqual([
      'modapp-0:1.1-1.module_f30+3+aaaa0001.noarch',
      'modapp-0:1.1-1.module_f30+4+cccc0003.noarch',
      'modapp-tests-0:1.1-1.module_f30+3+aaaa0001.noarch',
      'modapp-tests-0:1.1-1.module_f30+4+cccc0003.noarch',
      'modlib-0:2.0-1.module_f30+2+bbbb0002.x86_64',
    ]);
    const yaml = (await modulesYamlOf(row))!;
    expect(yaml).toMatch(/^ {2}name: modapp-devel$/m);
    const out = await dnf(row, 'devel', ['module', 'list']);
    expect(out).toMatch(/^modapp-devel\s+1\b/m);
    await dnf(row, 'devel', ['module', 'enable', 'modapp-devel:1']);
    await dnf(row, 'devel', ['install', 'modapp-tests']);
    const { stdout } = await run('rpm', ['--root', path.join(work, 'devel', 'root'), '-q', 'modapp-tests', 'modapp']);
    expect(stdout.trim().split('\n')).toHaveLength(2);
  }, 180_000);

  it('an unknown module fails with ODCS message', async () => {
    const row = await compose({ source: { type: 'module', source: 'nosuch:1' } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe('Error while generating compose: Failed to find module nosuch:1 in ready state in the MBS.');
  });

  it('packages on a module compose fail with ODCS message', async () => {
    const row = await compose({ source: { type: 'module', source: 'modlib:2', packages: ['modlib'] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe('Error while generating compose: Exact packages cannot be set for MODULE source type.');
  });

  it('resolves through Koji with modular_koji_tags', async () => {
    const row = await compose({ source: { type: 'module', source: 'modapp:1', modular_koji_tags: ['modular-f30'] } });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(row.source).toBe([...MODAPP_V2, MODLIB].join(' '));
    expect(await modulesYamlOf(row)).toContain('name: modlib');
    const exact = await compose({ source: { type: 'module', source: 'modlib:2:3020190101000000', modular_koji_tags: ['modular-f30'] } });
    expect(exact.source).toBe(MODLIB);
  });

  it('does not share cached repodata with a plain compose of the same packages', async () => {
    const modular = await compose({ source: { type: 'module', source: 'modlib:2' } });
    expect(modular.state).toBe(STATES.done);
    expect(await modulesYamlOf(modular)).not.toBeNull();
    // A plain repository holding the very same RPM file.
    const repo = path.join(work, 'plain-modlib');
    await mkdir(path.join(repo, 'Packages'), { recursive: true });
    const rpm = built.byNvr.get('modlib-2.0-1.module_f30+2+bbbb0002')!.find((f) => f.endsWith('.x86_64.rpm'))!;
    await copyFile(rpm, path.join(repo, 'Packages', path.basename(rpm)));
    await run('createrepo_c', ['--quiet', repo]);
    const plain = await compose({ source: { type: 'repo', source: repo } });
    expect(plain.state).toBe(STATES.done);
    expect(await rpmsInCompose(plain)).toEqual(await rpmsInCompose(modular));
    expect(await modulesYamlOf(plain)).toBeNull();
  });
});
