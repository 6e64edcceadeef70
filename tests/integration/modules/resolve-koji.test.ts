/**
 * Module resolution through Koji (`modular_koji_tags`) with the production Koji client against
 * the Koji double's module builds: the top-most tag of the inheritance wins for a stream, an
 * earlier tag of the list wins over a later one, all contexts of the highest version, exact
 * N:S:V[:C] by build search, runtime dependencies followed.
 */
import { stringify } from 'yaml';
import { KojiClient } from '../../../backend/koji/client';
import { resolveThroughKoji } from '../../../backend/modules/resolve-koji';
import { KojiHubDouble } from '../../servers/koji-hub';

let hub: KojiHubDouble;
let koji: KojiClient;

function modulemd(name: string, stream: string, version: string, context: string, requires: Record<string, string[]> = {}): string {
  return stringify({
    document: 'modulemd',
    version: 2,
    data: { name, stream, version: Number(version), context, summary: name, description: name, license: { module: ['MIT'] }, dependencies: [{ requires: { platform: ['f30'], ...requires } }] },
  });
}

function add(tag: string, name: string, stream: string, version: string, context: string, requires: Record<string, string[]> = {}): void {
  const nvr = hub.addModuleBuild({ name, stream, version, context, modulemd: modulemd(name, stream, version, context, requires), contentKojiTag: `module-${name}-${context}` });
  hub.tagBuild(tag, nvr);
}

const resolve = async (items: string[], tags: string[]): Promise<string[]> =>
  (await resolveThroughKoji(items, tags, koji, { baseModuleNames: ['platform', 'bootstrap'] })).map((m) => `${m.name}:${m.stream}:${m.version}:${m.context}`).sort();

beforeAll(async () => {
  hub = new KojiHubDouble();
  const address = await hub.start();
  koji = new KojiClient({ hubUrl: address.hubUrl, topurl: address.topurl, timeoutSeconds: 5 });
  hub.addTag('parent');
  hub.addTag('child', { parents: ['parent'] });
  hub.addTag('other');
  add('parent', 'app', '1', '20', 'p1');
  add('parent', 'app', '2', '20', 'p2', { lib: ['x-y'] });
  // Older, but in the child: the child's build of stream 1 hides the parent's.
  add('child', 'app', '1', '10', 'c1');
  add('child', 'app', '1', '10', 'c2');
  add('child', 'app', '1', '9', 'c0');
  // In a later tag of the list: stream 1 is taken from the first tag already, stream 3 is new.
  add('other', 'app', '1', '99', 'o1');
  add('other', 'app', '3', '5', 'o3');
  add('other', 'lib', 'x-y', '7', 'l1');
});

afterAll(async () => {
  await hub?.stop();
});

describe('resolving module composes through Koji tags', () => {
  it('takes each stream from the top-most tag that has it, all contexts of its highest version', async () => {
    expect(await resolve(['app:1'], ['child', 'other'])).toEqual(['app:1:10:c1', 'app:1:10:c2']);
    expect(await resolve(['app:3'], ['child', 'other'])).toEqual(['app:3:5:o3']);
    expect(await resolve(['app:1'], ['other', 'child'])).toEqual(['app:1:99:o1']);
  });

  it('follows runtime dependencies (stream with a dash) and finds exact versions by build search', async () => {
    expect(await resolve(['app:2'], ['child', 'other'])).toEqual(['app:2:20:p2', 'lib:x-y:7:l1']);
    expect(await resolve(['app:1:9'], ['child'])).toEqual(['app:1:9:c0']);
    expect(await resolve(['lib:x-y:7:l1'], [])).toEqual(['lib:x-y:7:l1']);
  });

  it('finds nothing, without failing, for a name no tag has (as ODCS)', async () => {
    expect(await resolve(['nope:1'], ['child'])).toEqual([]);
  });
});
