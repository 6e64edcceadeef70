/**
 * `scratch_build_tasks` (issue 12 item 10): the RPMs of Koji scratch builds join the package set
 * of `tag` and `build` composes, as Pungi's `pkgset_koji_scratch_tasks` (which ODCS fills from
 * them) do. The Koji double keeps the scratch build as Koji does: a `build` task with a
 * `buildArch` child whose result names the files under the hub's `work/` tree; nothing imported.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { STATES } from '../../common/enums';
import type { ComposeRow } from '../../common/db/entities';
import { buildKojiFixtures } from '../fixtures/build-koji-rpms';
import { buildFixtureRepos } from '../fixtures/build-repos';
import { KojiHubDouble, TASK_STATE } from '../servers/koji-hub';
import { composeDir, composeRpms, dnfInstallFromRepofile, requestCompose, rpmsInCompose } from '../support/compose-e2e';
import { startTestStack, type TestStack } from '../support/stack';

let hub: KojiHubDouble;
let t: TestStack;
let work: string;
/** The scratch build of kojitool-2.0-1 (its x86_64 RPM, noarch -doc and SRPM). */
let scratchTask: number;
let openTask: number;

beforeAll(async () => {
  const [kojiFixtures, repos] = await Promise.all([buildKojiFixtures(), buildFixtureRepos()]);
  work = await mkdtemp(path.join(tmpdir(), 'odcs-scratch-tasks-'));
  hub = new KojiHubDouble();
  const address = await hub.start();
  // The tag has kojitool 1.0; version 2.0 exists only as a scratch build.
  for (const nvr of ['kojilib-1.0-1', 'kojitool-1.0-1']) {
    await hub.importBuild(kojiFixtures.byNvr.get(nvr)!.rpms);
  }
  hub.addTag('base');
  hub.tagBuild('base', 'kojilib-1.0-1');
  hub.tagBuild('base', 'kojitool-1.0-1');
  // shell-lite provides /bin/sh for kojitool's scriptlets.
  for (const b of await hub.importBuilds(repos.rpms.main)) hub.tagBuild('base', b.nvr);
  scratchTask = await hub.addScratchBuildTask(kojiFixtures.byNvr.get('kojitool-2.0-1')!.rpms);
  openTask = await hub.addScratchBuildTask(kojiFixtures.byNvr.get('kojitool-2.0-1')!.rpms, { state: TASK_STATE.OPEN });
  t = await startTestStack({
    listen: true,
    worker: true,
    relay: true,
    config: { koji_url: address.hubUrl, koji_topurl: address.topurl, allowed_source_types: ['tag', 'build'], net_retry_interval: 1 },
  });
}, 300000);

afterAll(async () => {
  await t?.close();
  await hub?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The source RPMs rpms.json lists (category `source`), sorted. */
async function sourceRpmsOf(row: ComposeRow): Promise<string[]> {
  const rpms = JSON.parse(await readFile(path.join(composeDir(t, row), 'compose', 'metadata', 'rpms.json'), 'utf8'));
  const out = new Set<string>();
  for (const bySrpm of Object.values(rpms.payload.rpms.Temporary as Record<string, Record<string, Record<string, { category: string }>>>)) {
    for (const entries of Object.values(bySrpm)) for (const [nevra, e] of Object.entries(entries)) if (e.category === 'source') out.add(nevra);
  }
  return [...out].sort();
}

const ok = (row: ComposeRow): void => {
  expect(row.state_reason).toBe('Compose is generated successfully');
  expect(row.state).toBe(STATES.done);
};

describe('scratch_build_tasks', () => {
  it("join a tag compose's package set: the scratch build's newer kojitool is gathered, and dnf installs it", async () => {
    const row = await requestCompose(t, {
      source: { type: 'tag', source: 'base', packages: ['kojitool', 'kojitool-doc'], scratch_build_tasks: [String(scratchTask)] },
    });
    ok(row);
    expect(await rpmsInCompose(t, row)).toEqual(['kojilib-2:1.0-1.x86_64', 'kojitool-0:2.0-1.x86_64', 'kojitool-doc-0:2.0-1.noarch', 'shell-lite-0:1.0-1.noarch']);
    // The task's SRPM goes to the source tree with the tag's (the test repository's have none).
    expect(await sourceRpmsOf(row)).toEqual(['kojilib-2:1.0-1.src', 'kojitool-0:2.0-1.src']);
    // Scratch RPMs are never signed: they are taken as the task left them, whatever the sigkeys.
    expect((await composeRpms(t, row)).get('kojitool-0:2.0-1.x86_64')?.sigkey).toBeNull();
    const installed = await dnfInstallFromRepofile(t, row, work, [['kojilib'], ['kojitool']]);
    expect(installed).toContain('kojitool-2.0-1.x86_64');
  }, 120000);

  it("join a build compose too: kojitool-doc's dependency kojitool comes from the task, kojilib from the build", async () => {
    const row = await requestCompose(t, {
      source: { type: 'build', builds: ['kojilib-1.0-1'], packages: ['kojitool-doc'], scratch_build_tasks: [String(scratchTask)] },
    });
    ok(row);
    expect(await rpmsInCompose(t, row)).toEqual(['kojilib-2:1.0-1.x86_64', 'kojitool-0:2.0-1.x86_64', 'kojitool-doc-0:2.0-1.noarch']);
    expect(await sourceRpmsOf(row)).toEqual(['kojilib-2:1.0-1.src', 'kojitool-0:2.0-1.src']);
  }, 120000);

  it('that Koji does not know fail the compose by id', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'base', packages: ['kojitool'], scratch_build_tasks: ['987654'] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe('Error while generating compose: Koji task 987654 does not exist.');
  }, 120000);

  it('that have not finished fail the compose, saying so', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'base', packages: ['kojitool'], scratch_build_tasks: [String(openTask)] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe(`Error while generating compose: Koji task ${openTask} has not finished successfully (state OPEN); only closed scratch build tasks can be composed.`);
  }, 120000);
});
