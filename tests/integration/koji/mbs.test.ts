/**
 * The production MBS client against the MBS double: ODCS's queries (nsvc, ready/done states,
 * base module stream-version ranges), pagination through `meta.next`, modulemd parsing,
 * errors and retries.
 */
import { MbsClient, MbsError, streamVersion } from '../../../backend/mbs/client';
import { MbsDouble, type MbsAddress } from '../../servers/mbs';

let mbs: MbsDouble;
let address: MbsAddress;
let client: MbsClient;

const nsvc = (b: { name: string; stream: string; version: string; context: string }) => `${b.name}:${b.stream}:${b.version}:${b.context}`;

beforeAll(async () => {
  mbs = new MbsDouble();
  address = await mbs.start();
  client = new MbsClient({ url: address.mbsUrl, timeoutSeconds: 5, retryIntervalSeconds: 0.02 });
  // nodejs:12 — two contexts of the newest version, an older version, a newer failed one, a done one.
  mbs.addModuleBuild({ name: 'nodejs', stream: '12', version: '3020190101000000', context: 'aaaa0001' });
  mbs.addModuleBuild({ name: 'nodejs', stream: '12', version: '3020190201000000', context: 'aaaa0001', requires: { python: ['3.7'] } });
  mbs.addModuleBuild({ name: 'nodejs', stream: '12', version: '3020190201000000', context: 'bbbb0002', requires: { python: ['3.8'] } });
  mbs.addModuleBuild({ name: 'nodejs', stream: '12', version: '3020190301000000', context: 'aaaa0001', state: 'failed' });
  mbs.addModuleBuild({ name: 'nodejs', stream: '12', version: '3020190401000000', context: 'cccc0003', state: 'done' });
  // Built against el8.1.0 and el8.2.0: the base module stream-version filters pick between them.
  mbs.addModuleBuild({ name: 'perl', stream: '5.30', version: '8010020200101000000', context: 'dddd0004', platform: { stream: 'el8.1.0' } });
  mbs.addModuleBuild({ name: 'perl', stream: '5.30', version: '8020020200601000000', context: 'eeee0005', platform: { stream: 'el8.2.0' } });
  // Many versions, for pagination.
  for (let i = 1; i <= 23; i++) {
    mbs.addModuleBuild({ name: 'many', stream: 'x', version: String(1000 + i), context: `ctx${String(i).padStart(5, '0')}` });
  }
});

afterAll(async () => {
  await mbs?.stop();
});

describe('MBS client against the MBS double', () => {
  it('sends what ODCS sends and takes all contexts of the highest ready version', async () => {
    const latest = await client.getLatestModuleBuilds({ nsvc: 'nodejs:12', states: [5] });
    expect(latest.map(nsvc).sort()).toEqual(['nodejs:12:3020190201000000:aaaa0001', 'nodejs:12:3020190201000000:bbbb0002']);
    const query = new URL(`http://x${mbs.requests[mbs.requests.length - 1]}`);
    expect(query.pathname).toBe('/module-build-service/1/module-builds/');
    expect(query.searchParams.get('nsvc')).toBe('nodejs:12');
    expect(query.searchParams.getAll('state')).toEqual(['5']);
    expect(query.searchParams.get('verbose')).toBe('true');
    expect(query.searchParams.get('order_desc_by')).toBe('version');
  });

  it('includes done builds when asked for states 3 and 5', async () => {
    const latest = await client.getLatestModuleBuilds({ nsvc: 'nodejs:12', states: ['done', 'ready'] });
    expect(latest.map(nsvc)).toEqual(['nodejs:12:3020190401000000:cccc0003']);
    expect(latest[0]!.stateName).toBe('done');
    const all = await client.getModuleBuilds({ nsvc: 'nodejs:12', states: [3, 5] });
    expect(all.map((b) => b.version)).toEqual(['3020190401000000', '3020190201000000', '3020190201000000', '3020190101000000']);
    const full = await client.getModuleBuilds({ nsvc: 'nodejs:12:3020190101000000:aaaa0001', states: [3, 5] });
    expect(full.map(nsvc)).toEqual(['nodejs:12:3020190101000000:aaaa0001']);
    expect(await client.getModuleBuilds({ nsvc: 'nodejs:13', states: [5] })).toEqual([]);
  });

  it('returns typed builds with the modulemd parsed for runtime dependencies', async () => {
    const [b] = await client.getModuleBuilds({ nsvc: 'nodejs:12:3020190201000000:bbbb0002', states: [5] });
    expect(b).toMatchObject({
      name: 'nodejs',
      stream: '12',
      version: '3020190201000000',
      context: 'bbbb0002',
      state: 5,
      stateName: 'ready',
      kojiTag: 'module-nodejs-12-3020190201000000-bbbb0002',
    });
    expect(b!.modulemd).toMatch(/^document: modulemd\nversion: 2\n/);
    expect(b!.mmd!.mdversion).toBe(2);
    expect(b!.runtimeDeps).toEqual({ platform: ['f30'], python: ['3.8'] });
    expect(b!.baseModuleBuildrequires).toEqual([
      expect.objectContaining({ name: 'platform', stream: 'f30', stream_version: 300000 }),
    ]);
    expect(b!.buildrequires).toMatchObject({ platform: { stream: 'f30' } });
  });

  it('filters by the base module stream version range', async () => {
    const el82 = streamVersion('el8.2.0')!;
    expect(el82).toBe(80200);
    const upTo82 = await client.getLatestModuleBuilds({
      nsvc: 'perl:5.30',
      states: [5],
      baseModuleBrName: 'platform',
      baseModuleBrStreamVersionLte: el82,
      baseModuleBrStreamVersionGte: 80000,
    });
    expect(upTo82.map((b) => b.context)).toEqual(['eeee0005']);
    const upTo81 = await client.getLatestModuleBuilds({
      nsvc: 'perl:5.30',
      states: [5],
      baseModuleBrName: 'platform',
      baseModuleBrStreamVersionLte: streamVersion('el8.1.0')!,
      baseModuleBrStreamVersionGte: 80000,
    });
    expect(upTo81.map((b) => b.context)).toEqual(['dddd0004']);
    const byStream = await client.getModuleBuilds({ nsvc: 'perl:5.30', states: [5], baseModuleBrName: 'platform', baseModuleBrStream: 'el8.1.0' });
    expect(byStream.map((b) => b.context)).toEqual(['dddd0004']);
    expect(await client.getModuleBuilds({ nsvc: 'perl:5.30', states: [5], baseModuleBrStreamVersionGte: 90000 })).toEqual([]);
  });

  it('follows meta.next through every page, and stops early for the latest version', async () => {
    const before = mbs.requests.length;
    const all = await client.getModuleBuilds({ nsvc: 'many:x', states: [5] });
    expect(all.map((b) => Number(b.version))).toEqual(Array.from({ length: 23 }, (_, i) => 1023 - i));
    expect(mbs.requests.length - before).toBe(3);
    const next = new URL(`http://x${mbs.requests[mbs.requests.length - 1]}`).searchParams;
    expect(next.get('page')).toBe('3');
    expect(next.getAll('state')).toEqual(['5']);
    expect(next.get('nsvc')).toBe('many:x');

    const mark = mbs.requests.length;
    const latest = await client.getLatestModuleBuilds({ nsvc: 'many:x', states: [5] });
    expect(latest.map((b) => b.version)).toEqual(['1023']);
    expect(mbs.requests.length - mark).toBe(1);

    const small = await client.getModuleBuilds({ nsvc: 'many:x', states: [5], perPage: 5 });
    expect(small).toHaveLength(23);
  });

  it('reports MBS errors with the URL, retrying only 5xx', async () => {
    const bad = await client.getModuleBuilds({ nsvc: 'nodejs:12', states: [5], extra: { order_by: 'nope' } }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(MbsError);
    expect((bad as MbsError).retryable).toBe(false);
    expect((bad as Error).message).toMatch(
      /^MBS has failed to query http:\/\/127\.0\.0\.1:\d+\/module-build-service\/1\/module-builds\/\?.* : HTTP 400 Bad Request: You may not specify both order_by and order_desc_by$/,
    );

    const mark = mbs.requests.length;
    mbs.failNextRequests(2, 503);
    expect(await client.getLatestModuleBuilds({ nsvc: 'nodejs:12', states: [5] })).toHaveLength(2);
    expect(mbs.requests.length - mark).toBe(3);

    const impatient = new MbsClient({ url: address.mbsUrl, timeoutSeconds: 0.1, retryIntervalSeconds: 0.02 });
    mbs.failNextRequests(50, 500);
    try {
      const err = await impatient.getModuleBuilds({ nsvc: 'nodejs:12', states: [5] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'MbsError', status: 500, retryable: true });
    } finally {
      mbs.clearInjectedFailures();
    }
  });
});
