/**
 * `tag` and `build` composes end to end: the real stack (API, RabbitMQ, worker, createrepo_c)
 * against the Koji double (real XML-RPC, files under /kojifiles) holding fixture builds made by
 * rpmbuild, one of them signed by rpmsign with a test key; dnf installs from the .repo file.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { STATES } from '../../common/enums';
import type { ComposeRow } from '../../common/db/entities';
import { buildKojiFixtures } from '../fixtures/build-koji-rpms';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { KojiHubDouble } from '../servers/koji-hub';
import { createSigningKey, removeSigningKey, rpmFileSigkey, type TestSigningKey } from '../servers/signing';
import { composeDir, composeFinished, composeRpms, dnfInstallFromRepofile, requestCompose, rpmsInCompose } from '../support/compose-e2e';
import { startTestStack, type TestStack } from '../support/stack';

let hub: KojiHubDouble;
let t: TestStack;
let key: TestSigningKey;
let repos: FixtureRepos;
let work: string;
/** The last event before kojitool-2.0-1 entered the child tag. */
let beforeTool2: number;
/** Imported only in the middle of a test (a build Koji does not have yet). */
const LATE_BUILD = 'kojiextra-1.0-1';
let lateBuildRpms: string[];

beforeAll(async () => {
  const [kojiFixtures, fixtureRepos, signingKey] = await Promise.all([buildKojiFixtures(), buildFixtureRepos(), createSigningKey('ODCS e2e key')]);
  repos = fixtureRepos;
  key = signingKey;
  work = await mkdtemp(path.join(tmpdir(), 'odcs-koji-e2e-'));
  hub = new KojiHubDouble();
  const address = await hub.start();
  for (const b of kojiFixtures.builds) if (b.nvr !== LATE_BUILD) await hub.importBuild(b.rpms);
  lateBuildRpms = kojiFixtures.byNvr.get(LATE_BUILD)!.rpms;
  hub.addTag('base');
  hub.addTag('child', { parents: ['base'] });
  hub.tagBuild('base', 'kojilib-1.0-1');
  hub.tagBuild('base', 'kojitool-1.0-1');
  for (const b of await hub.importBuilds(repos.rpms.main)) hub.tagBuild('base', b.nvr);
  await hub.signBuild('kojilib-1.0-1', key);
  beforeTool2 = hub.lastEventId;
  hub.tagBuild('child', 'kojitool-2.0-1');
  t = await startTestStack({
    listen: true,
    worker: true,
    relay: true,
    config: {
      koji_url: address.hubUrl,
      koji_topurl: address.topurl,
      allowed_source_types: ['tag', 'build', 'pungi_compose'],
      allowed_pungi_compose_hosts: ['127.0.0.1'],
      allowed_repo_roots: [repos.dir],
      net_retry_interval: 1,
    },
  });
}, 300000);

afterAll(async () => {
  await t?.close();
  await hub?.stop();
  if (key) await removeSigningKey(key);
  if (work) await rm(work, { recursive: true, force: true });
});

const ok = (row: ComposeRow): void => {
  expect(row.state_reason).toBe('Compose is generated successfully');
  expect(row.state).toBe(STATES.done);
};

const packageFile = (row: ComposeRow, rpmsPath: string): string => path.join(composeDir(t, row), 'compose', rpmsPath);

describe('a tag compose', () => {
  let first: ComposeRow;
  beforeAll(async () => {
    first = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'] } });
  }, 120000);

  it('takes the latest builds through inheritance, records the event, and dnf installs from its .repo file', async () => {
    ok(first);
    expect(first.koji_event).toBe(hub.lastEventId);
    // shell-lite provides /bin/sh, which kojitool's scriptlets need.
    expect(await rpmsInCompose(t, first)).toEqual(['kojilib-2:1.0-1.x86_64', 'kojitool-0:2.0-1.x86_64', 'shell-lite-0:1.0-1.noarch']);
    // kojitool has Requires(pretrans) on kojilib, which rpm wants installed beforehand.
    const installed = await dnfInstallFromRepofile(t, first, work, [['kojilib'], ['kojitool']]);
    expect(installed).toEqual(['kojilib-1.0-1.x86_64', 'kojitool-2.0-1.x86_64', 'shell-lite-1.0-1.noarch']);
  }, 120000);

  it('without sigkeys takes the unsigned copy although a signed one exists', async () => {
    const rpms = await composeRpms(t, first);
    const lib = rpms.get('kojilib-2:1.0-1.x86_64')!;
    expect(lib.sigkey).toBeNull();
    expect(await rpmFileSigkey(packageFile(first, lib.path))).toBe('');
  });

  it('with no_inheritance sees only the child tag', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'] }, flags: ['no_inheritance'] });
    ok(row);
    expect(await rpmsInCompose(t, row)).toEqual(['kojitool-0:2.0-1.x86_64']);
    const failed = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'] }, flags: ['no_inheritance', 'check_deps'] });
    expect(failed.state).toBe(STATES.failed);
    expect(failed.state_reason).toMatch(/^Error while generating compose: Unresolved dependencies detected: kojitool-2\.0-1\.x86_64 requires /);
  });

  it('pinned to an older koji_event gets the tag as it was then', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'], koji_event: beforeTool2 } });
    ok(row);
    expect(row.koji_event).toBe(beforeTool2);
    expect(await rpmsInCompose(t, row)).toEqual(['kojilib-2:1.0-1.x86_64', 'kojitool-0:1.0-1.x86_64', 'shell-lite-0:1.0-1.noarch']);
  });

  it('adds `builds` on top of the tag', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'base', packages: ['kojitool'], builds: ['kojitool-2.0-1'] } });
    ok(row);
    expect(await rpmsInCompose(t, row)).toEqual(['kojilib-2:1.0-1.x86_64', 'kojitool-0:2.0-1.x86_64', 'shell-lite-0:1.0-1.noarch']);
  });

  it('includes multilib packages of the tag and leans on lookaside repositories', async () => {
    const row = await requestCompose(t, {
      source: { type: 'tag', source: 'base', packages: ['multiuser'] },
      lookaside_repos: [repos.lookaside],
      multilib_arches: ['x86_64'],
      multilib_method: ['devel'],
      flags: ['check_deps'],
    });
    ok(row);
    const names = await rpmsInCompose(t, row);
    expect(names.filter((n) => n.endsWith('.i686'))).toEqual(['libmulti-0:1.0-1.i686', 'libmulti-devel-0:1.0-1.i686']);
    expect(names.some((n) => n.startsWith('lookbase-'))).toBe(false);
  });

  it('fails with ODCS message for an unknown tag', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'nope' } });
    expect(row.state_reason).toBe('Error while generating compose: Unknown Koji tag nope.');
  });
});

describe('sigkeys', () => {
  let signed: ComposeRow;
  beforeAll(async () => {
    signed = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'], sigkeys: [key.sigkey, ''] } });
  }, 120000);

  it('place the copy signed with the preferred key, unsigned where an empty key allows it', async () => {
    ok(signed);
    const rpms = await composeRpms(t, signed);
    const lib = rpms.get('kojilib-2:1.0-1.x86_64')!;
    const tool = rpms.get('kojitool-0:2.0-1.x86_64')!;
    expect(lib.sigkey).toBe(key.sigkey);
    expect(tool.sigkey).toBeNull();
    expect(await rpmFileSigkey(packageFile(signed, lib.path))).toBe(key.sigkey);
    expect(await rpmFileSigkey(packageFile(signed, tool.path))).toBe('');
    expect(await dnfInstallFromRepofile(t, signed, work, [['kojilib'], ['kojitool']])).toEqual([
      'kojilib-1.0-1.x86_64',
      'kojitool-2.0-1.x86_64',
      'shell-lite-1.0-1.noarch',
    ]);
  }, 120000);

  it('fail the compose naming every package it takes without an acceptable copy', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'], sigkeys: [key.sigkey.toUpperCase()] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toMatch(new RegExp(`^Error while generating compose: RPM\\(s\\) not found for sigs: ${key.sigkey}\\. `));
    expect(row.state_reason).toContain('kojitool-2.0-1.x86_64 (available: unsigned)');
    // Pulled in for /bin/sh, unsigned too.
    expect(row.state_reason).toContain('shell-lite-1.0-1.noarch (available: unsigned)');
    // Signed, and unsigned but not taken (Pungi's package set allows those).
    expect(row.state_reason).not.toContain('kojilib');
    expect(row.state_reason).not.toContain('kojitool-doc');
    // Resolved before failing: regenerating it resolves the tag as it was then.
    expect(row.koji_event).toBe(hub.lastEventId);
  });

  it('are required only of what the compose takes: a signed package of a tag with unsigned ones (issue 12 item 1)', async () => {
    for (const flags of [['no_deps'], []]) {
      const row = await requestCompose(t, { source: { type: 'tag', source: 'base', packages: ['kojilib'], sigkeys: [key.sigkey] }, flags });
      ok(row);
      const rpms = await composeRpms(t, row);
      expect([...rpms.keys()]).toEqual(['kojilib-2:1.0-1.x86_64']);
      const lib = rpms.get('kojilib-2:1.0-1.x86_64')!;
      expect(lib.sigkey).toBe(key.sigkey);
      expect(await rpmFileSigkey(packageFile(row, lib.path))).toBe(key.sigkey);
    }
  }, 120000);

  it('a second compose of the same tag downloads nothing stored and asks Koji for no header it has', async () => {
    hub.resetCounters();
    const again = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'], sigkeys: [key.sigkey, ''] }, flags: ['no_reuse'] });
    ok(again);
    expect(again.koji_event).toBe(signed.koji_event);
    expect(hub.fileRequests).toBe(0);
    expect(hub.bytesServed).toBe(0);
    expect(hub.callCounts.get('getRPMHeaders') ?? 0).toBe(0);
    const log = await readFile(path.join(composeDir(t, again), 'pungi-stderr.log'), 'utf8');
    expect(log).toMatch(/headers of \d+ from the cache, 0 asked of Koji/);
    // Three binaries and the SRPMs of kojilib and kojitool (shell-lite's fixture build has none).
    expect(log).toMatch(/Linked 5 packages \(5 distinct, 0 newly stored, 5 from the store\)/);
    // The same signed file, hard-linked from the store.
    const a = (await composeRpms(t, signed)).get('kojilib-2:1.0-1.x86_64')!;
    const b = (await composeRpms(t, again)).get('kojilib-2:1.0-1.x86_64')!;
    expect((await stat(packageFile(again, b.path))).ino).toBe((await stat(packageFile(signed, a.path))).ino);
  }, 120000);
});

/** rpms.json of the compose: arch -> the NEVRAs of its binary RPMs (category `binary`), sorted. */
async function rpmsByArch(row: ComposeRow): Promise<Record<string, string[]>> {
  const rpms = JSON.parse(await readFile(path.join(composeDir(t, row), 'compose', 'metadata', 'rpms.json'), 'utf8'));
  const out: Record<string, string[]> = {};
  for (const [arch, bySrpm] of Object.entries(rpms.payload.rpms.Temporary as Record<string, Record<string, Record<string, { category: string }>>>)) {
    out[arch] = Object.values(bySrpm)
      .flatMap((entries) => Object.entries(entries).filter(([, e]) => e.category === 'binary').map(([nevra]) => nevra))
      .sort();
  }
  return out;
}

describe("Koji's package set as Pungi builds it (issue 12)", () => {
  it('a koji_event Koji does not have fails the compose (item 2)', async () => {
    const future = hub.lastEventId + 1000;
    const row = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'], koji_event: future } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe(`Error while generating compose: Koji event ${future} is unknown to Koji: query returned no rows`);
    expect(row.koji_event).toBe(future);
  });

  it('`builds` replace the tag\'s build of the same package, even an older one (item 3)', async () => {
    const row = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool', 'kojitool-doc'], builds: ['kojitool-1.0-1'] } });
    ok(row);
    expect(await rpmsInCompose(t, row)).toEqual(['kojilib-2:1.0-1.x86_64', 'kojitool-0:1.0-1.x86_64', 'kojitool-doc-0:1.0-1.noarch', 'shell-lite-0:1.0-1.noarch']);
    expect(await dnfInstallFromRepofile(t, row, work, [['kojilib'], ['kojitool']])).toEqual(['kojilib-1.0-1.x86_64', 'kojitool-1.0-1.x86_64', 'shell-lite-1.0-1.noarch']);
  }, 120000);

  it("ExclusiveArch of the SRPM keeps its noarch RPMs out of other arches' trees (item 4)", async () => {
    hub.addTag('i686-noarch');
    hub.tagBuild('i686-noarch', 'kojinoarch-1.0-1');
    hub.tagBuild('i686-noarch', 'kojilib-1.0-1');
    const row = await requestCompose(t, { source: { type: 'tag', source: 'i686-noarch', packages: ['kojinoarch', 'kojilib'] }, arches: ['x86_64', 'i386'] });
    ok(row);
    expect(await rpmsByArch(row)).toEqual({ i386: ['kojinoarch-0:1.0-1.noarch'], x86_64: ['kojilib-2:1.0-1.x86_64'] });
    const x86 = await readFile(path.join(composeDir(t, row), 'compose', 'Temporary', 'x86_64', 'os', 'repodata', 'repomd.xml'), 'utf8');
    expect(x86).toContain('primary');
    // The same for a build compose, and only x86_64 asked for: nothing matches the request there.
    const only = await requestCompose(t, { source: { type: 'build', builds: ['kojinoarch-1.0-1'], packages: ['kojinoarch'] } });
    expect(only.state_reason).toBe('Error while generating compose: The following requested packages are not present in the generated compose: kojinoarch.');
  }, 120000);

  it('a compose failing after its event was resolved keeps it, and regenerating it resolves the tag as it was then (item 5)', async () => {
    hub.addTag('later');
    hub.tagBuild('later', 'kojilib-1.0-1');
    const failed = await requestCompose(t, { source: { type: 'tag', source: 'later', builds: [LATE_BUILD] } });
    expect(failed.state_reason).toBe(`Error while generating compose: Unknown Koji build(s): ${LATE_BUILD}.`);
    expect(failed.koji_event).toBe(hub.lastEventId);
    await hub.importBuild(lateBuildRpms);
    hub.tagBuild('later', 'kojitool-1.0-1');
    const renewed = await request(t.app).patch(`/api/1/composes/${failed.id}`).send({});
    expect(renewed.status).toBe(200);
    const copy = await composeFinished(t, renewed.body.id as number);
    ok(copy);
    expect(copy.koji_event).toBe(failed.koji_event);
    expect(await rpmsInCompose(t, copy)).toEqual(['kojiextra-0:1.0-1.x86_64', 'kojilib-2:1.0-1.x86_64']);
  }, 120000);
});

describe('a build compose', () => {
  it('holds only the listed builds, filtered by packages, and dnf installs from it', async () => {
    const row = await requestCompose(t, {
      source: { type: 'build', builds: ['kojitool-1.0-1', 'kojilib-1.0-1', 'shell-lite-1.0-1'], packages: ['kojitool'] },
    });
    ok(row);
    expect(row.source).toBe('');
    expect(row.koji_event).toBeNull();
    expect(await rpmsInCompose(t, row)).toEqual(['kojilib-2:1.0-1.x86_64', 'kojitool-0:1.0-1.x86_64', 'shell-lite-0:1.0-1.noarch']);
    expect(await dnfInstallFromRepofile(t, row, work, [['kojilib'], ['kojitool']])).toEqual([
      'kojilib-1.0-1.x86_64',
      'kojitool-1.0-1.x86_64',
      'shell-lite-1.0-1.noarch',
    ]);
  }, 120000);

  it('resolves dependencies only within its builds', async () => {
    const row = await requestCompose(t, { source: { type: 'build', builds: ['kojitool-1.0-1'] } });
    ok(row);
    expect(await rpmsInCompose(t, row)).toEqual(['kojitool-0:1.0-1.x86_64', 'kojitool-doc-0:1.0-1.noarch']);
  });

  it('fails naming unknown builds', async () => {
    const row = await requestCompose(t, { source: { type: 'build', builds: ['kojitool-1.0-1', 'nope-1-1'] } });
    expect(row.state_reason).toBe('Error while generating compose: Unknown Koji build(s): nope-1-1.');
  });
});

describe('a pungi_compose compose', () => {
  let external: ComposeRow;
  beforeAll(async () => {
    // One of our own composes is the external Pungi compose: it has productmd's rpms.json (a
    // tree of its own, not a reuse of the identical compose above).
    external = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojitool'], sigkeys: [key.sigkey, ''] }, flags: ['no_reuse'] });
    ok(external);
  }, 120000);

  it('takes exactly the NEVRAs of the variant from Koji and rewrites arches, builds, packages and sigkeys', async () => {
    const variantUrl = `${t.cfg.target_dir_url}/odcs-${external.id}/compose/Temporary`;
    const row = await requestCompose(t, { source: { type: 'pungi_compose', source: variantUrl } });
    ok(row);
    expect(row.source).toBe(variantUrl);
    expect(await rpmsInCompose(t, row)).toEqual(await rpmsInCompose(t, external));
    expect(row.arches).toEqual(['x86_64']);
    expect(row.builds).toEqual(['kojilib-1.0-1', 'kojitool-2.0-1', 'shell-lite-1.0-1']);
    expect(row.packages).toEqual(['kojilib', 'kojitool', 'shell-lite']);
    // Some RPMs were unsigned: ODCS's trailing space in the JSON.
    expect(row.sigkeys).toEqual([key.sigkey, '']);
    const res = await request(t.app).get(`/api/1/composes/${row.id}`);
    expect(res.body.sigkeys).toBe(`${key.sigkey} `);
    const lib = (await composeRpms(t, row)).get('kojilib-2:1.0-1.x86_64')!;
    expect(lib.sigkey).toBe(key.sigkey);
    expect(await rpmFileSigkey(packageFile(row, lib.path))).toBe(key.sigkey);
    expect(await dnfInstallFromRepofile(t, row, work, [['kojilib'], ['kojitool']])).toEqual([
      'kojilib-1.0-1.x86_64',
      'kojitool-2.0-1.x86_64',
      'shell-lite-1.0-1.noarch',
    ]);
  }, 120000);

  it('fails with ODCS message when the variant is not in rpms.json', async () => {
    const url = `${t.cfg.target_dir_url}/odcs-${external.id}/compose/Nope`;
    const row = await requestCompose(t, { source: { type: 'pungi_compose', source: url } });
    expect(row.state_reason).toBe(`Error while generating compose: The ${url} does not contain payload -> rpms -> Nope section`);
  });

  it('refuses at POST a URL whose host is not allowed', async () => {
    const res = await request(t.app)
      .post('/api/1/composes/')
      .send({ source: { type: 'pungi_compose', source: 'http://example.com/compose/Temporary' } });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('Pungi compose URL "http://example.com/compose/Temporary" is not allowed: its host is not in allowed_pungi_compose_hosts.');
  });
});

describe('when the tag moves on', () => {
  const wanted = ['kojitool', 'kojitool-doc'];

  it('an identical compose is reused while no tag of the inheritance changed, and not once one did', async () => {
    const first = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: wanted } });
    ok(first);
    expect(first.reused_id).toBeNull();
    // Koji moves on elsewhere: a later event, but neither the child nor its parent changed.
    hub.addTag('unrelated');
    const pinnedLater = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: wanted, koji_event: hub.lastEventId } });
    ok(pinnedLater);
    expect(pinnedLater.reused_id).toBe(first.id);
    hub.untagBuild('child', 'kojitool-2.0-1');
    const moved = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: wanted } });
    ok(moved);
    expect(moved.reused_id).toBeNull();
    expect(moved.koji_event!).toBeGreaterThan(first.koji_event!);
    expect(moved.koji_event).toBe(hub.lastEventId);
    expect(await rpmsInCompose(t, moved)).toEqual(['kojilib-2:1.0-1.x86_64', 'kojitool-0:1.0-1.x86_64', 'kojitool-doc-0:1.0-1.noarch', 'shell-lite-0:1.0-1.noarch']);

    // Removed and renewed after the tag moved on, the first compose comes back with its own
    // package versions, not the tag's of today (§1.7).
    const firstRpms = await rpmsInCompose(t, first);
    expect(firstRpms).toContain('kojitool-0:2.0-1.x86_64');
    for (const row of [pinnedLater, first]) expect((await request(t.app).delete(`/api/1/composes/${row.id}`)).status).toBe(202);
    expect((await t.beat.runOnce(new Date(Date.now() + 1000))).removed.sort()).toEqual([first.id, pinnedLater.id].sort());
    const renewed = await request(t.app).patch(`/api/1/composes/${first.id}`).send({});
    expect(renewed.status).toBe(200);
    const copy = await composeFinished(t, renewed.body.id as number);
    ok(copy);
    expect(copy.koji_event).toBe(first.koji_event);
    expect(await rpmsInCompose(t, copy)).toEqual(firstRpms);
  }, 120000);

  it('a change in a parent tag counts too', async () => {
    const before = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojilib'] }, flags: ['no_reuse'] });
    ok(before);
    hub.untagBuild('base', 'kojitool-1.0-1');
    const after = await requestCompose(t, { source: { type: 'tag', source: 'child', packages: ['kojilib'] } });
    ok(after);
    expect(after.reused_id).toBeNull();
    expect(after.koji_event!).toBeGreaterThan(before.koji_event!);
    expect(after.koji_event).toBe(hub.lastEventId);
  }, 120000);
});
