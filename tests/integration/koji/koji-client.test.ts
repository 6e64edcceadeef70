/**
 * The production Koji client against the Koji double (real XML-RPC over HTTP, real RPM files):
 * tag inheritance and Koji's "latest", event pinning, tagChangedSinceEvent over the chain,
 * lookups and faults, multicall.
 */
import { KojiClient, UnknownKojiTagError } from '../../../backend/koji/client';
import { KojiFault, XmlRpcClient, XmlRpcTransportError } from '../../../backend/koji/xmlrpc';
import { buildKojiFixtures, type KojiFixtures } from '../../fixtures/build-koji-rpms';
import { KojiHubDouble, type KojiHubAddress } from '../../servers/koji-hub';

let fixtures: KojiFixtures;
let hub: KojiHubDouble;
let address: KojiHubAddress;
let koji: KojiClient;
const ev: Record<string, number> = {};

const nvrs = (builds: Array<{ nvr: string }>): string[] => builds.map((b) => b.nvr);

beforeAll(async () => {
  fixtures = await buildKojiFixtures();
  hub = new KojiHubDouble();
  address = await hub.start();
  koji = new KojiClient({ hubUrl: address.hubUrl, topurl: address.topurl, timeoutSeconds: 5, retryIntervalSeconds: 0.05 });
  for (const b of fixtures.builds) await hub.importBuild(b.rpms);

  hub.addTag('base');
  hub.addTag('child', { parents: ['base'] });
  hub.addTag('grandchild', { parents: ['child'] });
  hub.addTag('other');
  ev['created'] = hub.lastEventId;
  ev['tool2InBase'] = hub.tagBuild('base', 'kojitool-2.0-1');
  ev['libInBase'] = hub.tagBuild('base', 'kojilib-1.0-1');
  ev['tool1InChild'] = hub.tagBuild('child', 'kojitool-1.0-1');
  // In one tag, the most recently tagged build is the latest, not the highest version.
  hub.tagBuild('other', 'kojitool-2.0-1');
  ev['otherTool1'] = hub.tagBuild('other', 'kojitool-1.0-1');
}, 300_000);

afterAll(async () => {
  await hub?.stop();
});

describe('Koji client against the hub double', () => {
  it('answers POST only at /kojihub', async () => {
    const res = await fetch(address.hubUrl);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('gives the last event with a double timestamp that grows with each change', async () => {
    const before = await koji.getLastEvent();
    expect(before.id).toBe(hub.lastEventId);
    expect(before.ts % 1).not.toBe(0);
    hub.addTag(`scratch-${before.id}`);
    const after = await koji.getLastEvent();
    expect(after.id).toBe(before.id + 1);
    expect(after.ts).toBeGreaterThan(before.ts);
  });

  it('looks tags up by name or id, as they were at an event, nil when unknown', async () => {
    const child = await koji.getTag('child');
    expect(child).toMatchObject({ name: 'child', id: hub.tagId('child'), arches: null, locked: false, extra: {} });
    expect(await koji.getTag(child!.id)).toMatchObject({ name: 'child' });
    expect(await koji.getTag('nope')).toBeNull();
    expect(await koji.getTag('child', { event: ev['created']! - 3 })).toBeNull();
    await expect(koji.getTag('nope', { strict: true })).rejects.toMatchObject({
      name: 'KojiFault',
      faultCode: 1000,
      faultString: "No such tagInfo: 'nope'",
    });
  });

  it('lists the full inheritance depth first with parent ids', async () => {
    const chain = await koji.getFullInheritance('grandchild');
    expect(chain.map((l) => [l.name, l.parent_id, l.child_id, l.currdepth])).toEqual([
      ['child', hub.tagId('child'), hub.tagId('grandchild'), 1],
      ['base', hub.tagId('base'), hub.tagId('child'), 2],
    ]);
    expect(await koji.tagChainIds('grandchild')).toEqual([hub.tagId('grandchild'), hub.tagId('child'), hub.tagId('base')]);
    await expect(koji.tagChainIds('nope')).rejects.toBeInstanceOf(UnknownKojiTagError);
    await expect(koji.tagChainIds('nope')).rejects.toThrow('Unknown Koji tag nope.');
  });

  it('hides older builds of a package inherited from a parent with latest', async () => {
    const all = await koji.listTaggedRPMS('child', { inherit: true });
    expect(nvrs(all.builds).sort()).toEqual(['kojilib-1.0-1', 'kojitool-1.0-1', 'kojitool-2.0-1']);
    const latest = await koji.listTaggedRPMS('child', { inherit: true, latest: true });
    expect(latest.builds.map((b) => [b.nvr, b.tag_name]).sort()).toEqual([
      ['kojilib-1.0-1', 'base'],
      ['kojitool-1.0-1', 'child'],
    ]);
    expect(latest.rpms.map((r) => `${r.name}-${r.version}-${r.release}.${r.arch}`).sort()).toEqual([
      'kojilib-1.0-1.src',
      'kojilib-1.0-1.x86_64',
      'kojitool-1.0-1.src',
      'kojitool-1.0-1.x86_64',
      'kojitool-doc-1.0-1.noarch',
    ]);
    const lib = latest.rpms.find((r) => r.name === 'kojilib' && r.arch === 'x86_64')!;
    expect(lib.epoch).toBe(2);
    expect(lib.payloadhash).toMatch(/^[0-9a-f]{32}$/);
    expect(latest.rpms.find((r) => r.name === 'kojitool')!.epoch).toBeNull();
    // Without inheritance only the tag's own builds.
    expect(nvrs((await koji.listTaggedRPMS('child', { latest: true })).builds)).toEqual(['kojitool-1.0-1']);
  });

  it('takes the most recently tagged build as latest within a tag', async () => {
    expect(nvrs(await koji.listTagged('other', { latest: true }))).toEqual(['kojitool-1.0-1']);
    expect(nvrs(await koji.listTagged('other'))).toEqual(['kojitool-1.0-1', 'kojitool-2.0-1']);
  });

  it('says which tag each build came from in listTagged', async () => {
    const builds = await koji.listTagged('grandchild', { inherit: true, latest: true });
    expect(builds.map((b) => [b.nvr, b.tag_name, b.tag_id])).toEqual([
      ['kojitool-1.0-1', 'child', hub.tagId('child')],
      ['kojilib-1.0-1', 'base', hub.tagId('base')],
    ]);
    expect(builds[0]!.create_event).toBe(ev['tool1InChild']);
  });

  it('filters by arch', async () => {
    const { rpms } = await koji.listTaggedRPMS('child', { inherit: true, latest: true, arch: ['x86_64', 'noarch'] });
    expect(rpms.map((r) => r.arch).sort()).toEqual(['noarch', 'x86_64', 'x86_64']);
    const src = await koji.listTaggedRPMS('child', { inherit: true, latest: true, arch: 'src' });
    expect(src.rpms.map((r) => r.name).sort()).toEqual(['kojilib', 'kojitool']);
  });

  it('gives the tag as it was at an event', async () => {
    const atStart = await koji.listTaggedRPMS('child', { inherit: true, latest: true, event: ev['created'] });
    expect(atStart.builds).toEqual([]);
    const beforeChild = await koji.listTaggedRPMS('child', { inherit: true, latest: true, event: ev['libInBase'] });
    expect(nvrs(beforeChild.builds).sort()).toEqual(['kojilib-1.0-1', 'kojitool-2.0-1']);

    const untagged = hub.untagBuild('child', 'kojitool-1.0-1');
    try {
      const now = await koji.listTaggedRPMS('child', { inherit: true, latest: true });
      expect(nvrs(now.builds).sort()).toEqual(['kojilib-1.0-1', 'kojitool-2.0-1']);
      const pinned = await koji.listTaggedRPMS('child', { inherit: true, latest: true, event: untagged - 1 });
      expect(nvrs(pinned.builds).sort()).toEqual(['kojilib-1.0-1', 'kojitool-1.0-1']);
    } finally {
      hub.tagBuild('child', 'kojitool-1.0-1');
    }
  });

  it('checks tagChangedSinceEvent on the given ids only; the client expands the chain', async () => {
    const childId = hub.tagId('child');
    const since = hub.lastEventId;
    expect(await koji.tagChangedSinceEvent(since, [childId])).toBe(false);
    expect(await koji.tagOrParentsChangedSince('grandchild', since)).toBe(false);

    hub.tagBuild('base', 'kojitool-1.0-1');
    try {
      // Koji does not follow inheritance: the child itself did not change...
      expect(await koji.tagChangedSinceEvent(since, [childId])).toBe(false);
      expect(await koji.tagChangedSinceEvent(since, [hub.tagId('grandchild')])).toBe(false);
      // ...but its parent did, which the chain helper sees.
      expect(await koji.tagOrParentsChangedSince('child', since)).toBe(true);
      expect(await koji.tagOrParentsChangedSince('grandchild', since)).toBe(true);
      expect(await koji.tagOrParentsChangedSince('other', since)).toBe(false);
      // A future event is never "changed since".
      expect(await koji.tagChangedSinceEvent(hub.lastEventId + 100, [childId, hub.tagId('base')])).toBe(false);
    } finally {
      hub.untagBuild('base', 'kojitool-1.0-1');
    }
  });

  it('refuses tag names where Koji wants ids', async () => {
    const raw = new XmlRpcClient({ url: address.hubUrl, timeoutSeconds: 1 });
    await expect(raw.call('tagChangedSinceEvent', [1, ['child']])).rejects.toMatchObject({
      name: 'KojiFault',
      faultCode: 1019,
      faultString: "Invalid type for value 'child': <class 'str'>, expected type <class 'int'>",
    });
    // The typed client refuses before asking.
    await expect(koji.tagChangedSinceEvent(1, ['child' as unknown as number])).rejects.toThrow(/integer tag ids/);
  });

  it('finds builds and RPMs, nil when unknown, a fault with strict', async () => {
    const build = await koji.getBuild('kojitool-1.0-1');
    expect(build).toMatchObject({ name: 'kojitool', version: '1.0', release: '1', epoch: null, state: 1, nvr: 'kojitool-1.0-1' });
    expect(await koji.getBuild(build!.id)).toMatchObject({ nvr: 'kojitool-1.0-1' });
    expect(await koji.getBuild('nope-1-1')).toBeNull();
    await expect(koji.getBuild('nope-1-1', { strict: true })).rejects.toMatchObject({ faultCode: 1000, faultString: "No such build: 'nope-1-1'" });

    const rpms = await koji.listRPMs(build!.id);
    expect(rpms.map((r) => `${r.name}.${r.arch}`).sort()).toEqual(['kojitool-doc.noarch', 'kojitool.src', 'kojitool.x86_64']);
    expect((await koji.listRPMs(build!.id, { arches: ['noarch'] })).map((r) => r.name)).toEqual(['kojitool-doc']);
    const rpm = await koji.getRPM('kojitool-doc-1.0-1.noarch');
    expect(rpm).toMatchObject({ name: 'kojitool-doc', arch: 'noarch', build_id: build!.id, external_repo_id: 0 });
    expect(await koji.getRPM(rpm!.id)).toMatchObject({ name: 'kojitool-doc' });
    expect(await koji.getRPM('nope-1-1.noarch')).toBeNull();

    const many = await koji.getBuilds(['kojilib-1.0-1', 'nope-1-1', build!.id]);
    expect(many.map((b) => b?.nvr ?? null)).toEqual(['kojilib-1.0-1', null, 'kojitool-1.0-1']);
  });

  it('reads headers of one RPM; {} for an unknown one; a fault for an unknown field', async () => {
    const rpm = (await koji.getRPM('kojitool-1.0-1.x86_64'))!;
    const h = await koji.getRPMHeaders(rpm.id, ['name', 'epoch', 'requirename', 'conflictname', 'enhancename', 'filenames']);
    expect(h['name']).toBe('kojitool');
    expect(h['epoch']).toBeNull();
    expect(h['requirename']).toEqual(expect.arrayContaining(['kojilib', 'libkoji.so.1()(64bit)', 'rpmlib(CompressedFileNames)']));
    expect(h['conflictname']).toEqual(['kojitool-old']);
    expect(h['enhancename']).toEqual([]);
    expect(h['filenames']).toEqual(['/usr/bin/kojitool']);
    expect(await koji.getRPMHeaders(999_999, ['name'])).toEqual({});
    await expect(koji.getRPMHeaders(999_999, ['name'], { strict: true })).rejects.toBeInstanceOf(KojiFault);
    await expect(koji.getRPMHeaders(rpm.id, ['nosuchtag'])).rejects.toMatchObject({ faultString: 'No such rpm header field: NOSUCHTAG' });
  });

  it('batches calls with system.multicall, each fault staying with its call', async () => {
    const raw = new XmlRpcClient({ url: address.hubUrl, timeoutSeconds: 1 });
    hub.resetCounters();
    const results = await raw.multicall([
      { method: 'getTag', params: ['child'] },
      { method: 'getBuild', params: ['nope-1-1'], kwargs: { strict: true } },
      { method: 'noSuchMethod' },
      { method: 'getLastEvent' },
    ]);
    expect(hub.xmlrpcRequests).toBe(1);
    expect(results[0]).toMatchObject({ name: 'child' });
    expect(results[1]).toBeInstanceOf(KojiFault);
    expect(results[1]).toMatchObject({ faultCode: 1000, method: 'getBuild' });
    expect(results[2]).toMatchObject({ faultString: 'Invalid method: noSuchMethod' });
    expect(results[3]).toMatchObject({ id: hub.lastEventId });

    // The typed helpers split into batches and fail on the first fault.
    const small = new KojiClient({ hubUrl: address.hubUrl, topurl: address.topurl, multicallBatchSize: 2, timeoutSeconds: 1 });
    const ids = (await small.listTaggedRPMS('child', { inherit: true })).rpms.map((r) => r.id);
    hub.resetCounters();
    const sigs = await small.queryRPMSigsMany(ids);
    expect(hub.xmlrpcRequests).toBe(Math.ceil(ids.length / 2));
    expect(hub.callCounts.get('queryRPMSigs')).toBe(ids.length);
    expect([...sigs.keys()]).toEqual(ids);
    for (const list of sigs.values()) expect(list.map((s) => s.sigkey)).toEqual(['']);
    await expect(small.getRPMHeadersMany([ids[0]!, ids[1]!, ids[2]!], ['nosuchtag'])).rejects.toBeInstanceOf(KojiFault);
  });

  it('reports transport failures without retrying faults', async () => {
    hub.resetCounters();
    await expect(koji.getBuild('nope-1-1', { strict: true })).rejects.toBeInstanceOf(KojiFault);
    expect(hub.xmlrpcRequests).toBe(1);

    hub.failNextRequests(2, 503);
    expect(await koji.getTag('base')).toMatchObject({ name: 'base' });
    expect(hub.xmlrpcRequests).toBe(4);

    const impatient = new KojiClient({ hubUrl: address.hubUrl, topurl: address.topurl, timeoutSeconds: 0.2, retryIntervalSeconds: 0.05 });
    hub.failNextRequests(100, 502);
    try {
      const err = await impatient.getTag('base').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(XmlRpcTransportError);
      expect((err as XmlRpcTransportError).status).toBe(502);
      expect((err as XmlRpcTransportError).attempts).toBeGreaterThan(1);
      expect((err as Error).message).toMatch(/HTTP 502 .*gave up after \d+ attempts/);
    } finally {
      hub.clearInjectedFailures();
    }
  });
});
