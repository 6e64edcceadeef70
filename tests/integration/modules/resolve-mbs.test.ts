/**
 * Module resolution through the production MBS client against the MBS double: latest version
 * with all contexts, done builds, base_module_br_* filters, dependency lookups constrained to
 * the depending module's base module major version, base modules never looked up, conflicts.
 */
import { MbsClient } from '../../../backend/mbs/client';
import { nsvcOf, resolveThroughMbs, type MbsResolveOptions } from '../../../backend/modules/resolve-mbs';
import { MbsDouble } from '../../servers/mbs';

let mbs: MbsDouble;
let client: MbsClient;
const base: MbsResolveOptions = { includeDone: false, noDeps: false, baseModuleNames: ['platform', 'bootstrap'] };
const resolve = async (items: string[], options: Partial<MbsResolveOptions> = {}): Promise<string[]> =>
  (await resolveThroughMbs(items, client, { ...base, ...options })).map(nsvcOf);

beforeAll(async () => {
  mbs = new MbsDouble();
  const address = await mbs.start();
  client = new MbsClient({ url: address.mbsUrl, timeoutSeconds: 5, retryIntervalSeconds: 0.02 });
  // perl:5.30 for el8.1.0 and el8.2.0, and perl-libs for el8.2.0 and el9.0.0.
  mbs.addModuleBuild({ name: 'perl', stream: '5.30', version: '8010020200101000000', context: 'p810', platform: { stream: 'el8.1.0' }, requires: { 'perl-libs': ['5.30'] } });
  mbs.addModuleBuild({ name: 'perl', stream: '5.30', version: '8020020200601000000', context: 'p820', platform: { stream: 'el8.2.0' }, requires: { 'perl-libs': ['5.30'] } });
  mbs.addModuleBuild({ name: 'perl-libs', stream: '5.30', version: '8020020200501000000', context: 'l820', platform: { stream: 'el8.2.0' } });
  mbs.addModuleBuild({ name: 'perl-libs', stream: '5.30', version: '9000020210101000000', context: 'l900', platform: { stream: 'el9.0.0' } });
  // A dependency that exists in no ready build.
  mbs.addModuleBuild({ name: 'broken', stream: '1', version: '1', context: 'b1', requires: { missing: ['1'] } });
  mbs.addModuleBuild({ name: 'dup', stream: '1', version: '1', context: 'd1' });
  mbs.addModuleBuild({ name: 'dup', stream: '1', version: '2', context: 'd2' });
});

afterAll(async () => {
  await mbs?.stop();
});

describe('resolving module composes through MBS', () => {
  it('follows a runtime dependency within the base module major version (el8, not el9)', async () => {
    expect(await resolve(['perl:5.30'])).toEqual(['perl:5.30:8020020200601000000:p820', 'perl-libs:5.30:8020020200501000000:l820']);
    const depQuery = new URL(`http://x${mbs.requests.find((r) => r.includes('nsvc=perl-libs'))}`);
    expect(depQuery.searchParams.get('base_module_br_name')).toBe('platform');
    expect(depQuery.searchParams.get('base_module_br_stream_version_lte')).toBe('80200');
    expect(depQuery.searchParams.get('base_module_br_stream_version_gte')).toBe('80000');
    // platform is never asked for.
    expect(mbs.requests.some((r) => r.includes('nsvc=platform'))).toBe(false);
  });

  it('applies the compose base_module_br_* fields to the requested items', async () => {
    expect(await resolve(['perl:5.30'], { noDeps: true, baseModuleBr: { name: 'platform', stream: 'el8.1.0' } })).toEqual(['perl:5.30:8010020200101000000:p810']);
    expect(await resolve(['perl:5.30'], { noDeps: true, baseModuleBr: { lte: 80100 } })).toEqual(['perl:5.30:8010020200101000000:p810']);
    expect(await resolve(['perl-libs:5.30'], { noDeps: true, baseModuleBr: { gte: 90000 } })).toEqual(['perl-libs:5.30:9000020210101000000:l900']);
  });

  it('fails naming the module and the states asked for, for requested items and dependencies', async () => {
    await expect(resolve(['nope:1'])).rejects.toThrow('Failed to find module nope:1 in ready state in the MBS.');
    await expect(resolve(['nope:1'], { includeDone: true })).rejects.toThrow('Failed to find module nope:1 in ready or done state in the MBS.');
    await expect(resolve(['nope:1:2:c'])).rejects.toThrow('Failed to find module nope:1:2:c in ready or done state in the MBS.');
    await expect(resolve(['broken:1'])).rejects.toThrow('Failed to find module missing:1 in ready state in the MBS.');
    expect(await resolve(['broken:1'], { noDeps: true })).toEqual(['broken:1:1:b1']);
  });

  it('refuses two versions of one stream', async () => {
    await expect(resolve(['dup:1', 'dup:1:1'])).rejects.toThrow('dup:1:1:d1 conflicts with dup:1:2:d2');
    expect(await resolve(['dup:1', 'dup:1:2:d2'])).toEqual(['dup:1:2:d2']);
  });
});
