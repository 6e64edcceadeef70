/**
 * Signed copies end to end: builds signed with test GPG keys by rpmsign in the Koji double,
 * signatures listed by the production client, the preferred copy chosen by sigkey order, and
 * the chosen URL downloaded and checked to carry that signature.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { KojiClient } from '../../../backend/koji/client';
import { chooseRpmCopies, groupSignatureRows, UnsignedRpmsError } from '../../../backend/koji/signatures';
import { buildKojiFixtures } from '../../fixtures/build-koji-rpms';
import { KojiHubDouble, type KojiHubAddress } from '../../servers/koji-hub';
import { createSigningKey, removeSigningKey, rpmFileSigkey, type TestSigningKey } from '../../servers/signing';

let hub: KojiHubDouble;
let address: KojiHubAddress;
let koji: KojiClient;
let keyA: TestSigningKey;
let keyB: TestSigningKey;
let work: string;

beforeAll(async () => {
  const fixtures = await buildKojiFixtures();
  [keyA, keyB] = await Promise.all([createSigningKey('ODCS Key A'), createSigningKey('ODCS Key B')]);
  hub = new KojiHubDouble();
  address = await hub.start();
  koji = new KojiClient({ hubUrl: address.hubUrl, topurl: address.topurl, timeoutSeconds: 5, retryIntervalSeconds: 0.05 });
  for (const b of fixtures.builds) await hub.importBuild(b.rpms);
  hub.addTag('f40');
  hub.tagBuild('f40', 'kojilib-1.0-1');
  hub.tagBuild('f40', 'kojitool-2.0-1');
  // kojilib has both keys, kojitool-2.0 only A.
  await hub.signBuild('kojilib-1.0-1', keyA);
  await hub.signBuild('kojilib-1.0-1', keyB);
  await hub.signBuild('kojitool-2.0-1', keyA);
  work = await mkdtemp(path.join(os.tmpdir(), 'odcs-kojisig-test-'));
}, 300_000);

afterAll(async () => {
  await hub?.stop();
  for (const k of [keyA, keyB]) if (k) await removeSigningKey(k);
  if (work) await rm(work, { recursive: true, force: true });
});

async function taggedWithSigs() {
  const { rpms, builds } = await koji.listTaggedRPMS('f40', { latest: true, rpmsigs: true, arch: ['x86_64', 'noarch'] });
  return groupSignatureRows(rpms, builds);
}

/** Downloads a URL and tells which key the file is signed with ('' for none). */
async function downloadedSigkey(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/x-redhat-package-manager');
  const file = path.join(work, `${Math.random().toString(36).slice(2)}.rpm`);
  await writeFile(file, Buffer.from(await res.arrayBuffer()));
  return rpmFileSigkey(file);
}

describe('signed copies', () => {
  it('generates distinct keys whose sigkeys Koji would store', () => {
    expect(keyA.sigkey).toMatch(/^[0-9a-f]{8}$/);
    expect(keyA.sigkey).toBe(keyA.keyId.slice(-8).toLowerCase());
    expect(keyA.sigkey).not.toBe(keyB.sigkey);
  });

  it('lists one row per rpm and sigkey with rpmsigs, the unsigned one always', async () => {
    const { rpms } = await koji.listTaggedRPMS('f40', { latest: true, rpmsigs: true });
    const rows = rpms.map((r) => `${r.name}.${r.arch}:${r.sigkey}`).sort();
    expect(rows).toEqual(
      [
        'kojilib.src:',
        `kojilib.src:${keyA.sigkey}`,
        `kojilib.src:${keyB.sigkey}`,
        'kojilib.x86_64:',
        `kojilib.x86_64:${keyA.sigkey}`,
        `kojilib.x86_64:${keyB.sigkey}`,
        'kojitool-doc.noarch:',
        `kojitool-doc.noarch:${keyA.sigkey}`,
        'kojitool.src:',
        `kojitool.src:${keyA.sigkey}`,
        'kojitool.x86_64:',
        `kojitool.x86_64:${keyA.sigkey}`,
      ].sort(),
    );
    const lib = (await koji.getRPM('kojilib-1.0-1.x86_64'))!;
    const sigs = await koji.queryRPMSigs(lib.id);
    expect(sigs.map((s) => s.sigkey).sort()).toEqual(['', keyA.sigkey, keyB.sigkey].sort());
    for (const s of sigs) expect(s.sighash).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(sigs.map((s) => s.sighash)).size).toBe(3);
  });

  it('prefers the keys in the order given and downloads a copy signed with the chosen key', async () => {
    const chosen = chooseRpmCopies(await taggedWithSigs(), [keyB.sigkey.toUpperCase(), keyA.sigkey], address.topurl);
    const byName = new Map(chosen.map((c) => [c.rpm.name, c]));
    expect(byName.get('kojilib')!.sigkey).toBe(keyB.sigkey);
    expect(byName.get('kojitool')!.sigkey).toBe(keyA.sigkey);
    expect(byName.get('kojitool-doc')!.sigkey).toBe(keyA.sigkey);
    expect(byName.get('kojilib')!.path).toBe(`packages/kojilib/1.0/1/data/signed/${keyB.sigkey}/x86_64/kojilib-1.0-1.x86_64.rpm`);
    // The doc subpackage lives under its build's directory.
    expect(byName.get('kojitool-doc')!.path).toBe(`packages/kojitool/2.0/1/data/signed/${keyA.sigkey}/noarch/kojitool-doc-2.0-1.noarch.rpm`);
    for (const c of chosen) expect(await downloadedSigkey(c.url)).toBe(c.sigkey);

    const reversed = chooseRpmCopies(await taggedWithSigs(), [keyA.sigkey, keyB.sigkey], address.topurl);
    expect(reversed.find((c) => c.rpm.name === 'kojilib')!.sigkey).toBe(keyA.sigkey);
  });

  it('falls back to the unsigned copy only when allowed', async () => {
    const candidates = await taggedWithSigs();
    const withUnsigned = chooseRpmCopies(candidates, [keyB.sigkey, ''], address.topurl);
    expect(withUnsigned.map((c) => [c.rpm.name, c.sigkey]).sort()).toEqual([
      ['kojilib', keyB.sigkey],
      ['kojitool', ''],
      ['kojitool-doc', ''],
    ]);
    const tool = withUnsigned.find((c) => c.rpm.name === 'kojitool')!;
    expect(tool.path).toBe('packages/kojitool/2.0/1/x86_64/kojitool-2.0-1.x86_64.rpm');
    expect(await downloadedSigkey(tool.url)).toBe('');

    const unsigned = chooseRpmCopies(candidates, [], address.topurl);
    expect(unsigned.every((c) => c.sigkey === '')).toBe(true);
  });

  it('names every package without an acceptable copy', async () => {
    expect(chooseRpmCopies([], [keyB.sigkey], address.topurl)).toEqual([]);
    let error: unknown;
    try {
      chooseRpmCopies(await taggedWithSigs(), [keyB.sigkey], address.topurl);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsignedRpmsError);
    expect((error as UnsignedRpmsError).rpms.map((r) => r.nevra)).toEqual(['kojitool-2.0-1.x86_64', 'kojitool-doc-2.0-1.noarch']);
    expect((error as Error).message).toBe(
      `RPM(s) not found for sigs: ${keyB.sigkey}. Packages without a copy signed with any of these keys: ` +
        `kojitool-2.0-1.x86_64 (available: unsigned, ${keyA.sigkey}), kojitool-doc-2.0-1.noarch (available: unsigned, ${keyA.sigkey})`,
    );
  });

  it('lists the next acceptable copy for a signature whose signed file was never written', async () => {
    hub.addSignatureOnly('kojitool-2.0-1.x86_64', keyB.sigkey);
    const chosen = chooseRpmCopies(await taggedWithSigs(), [keyB.sigkey, keyA.sigkey], address.topurl);
    const tool = chosen.find((c) => c.rpm.name === 'kojitool')!;
    expect(tool.copies.map((c) => c.sigkey)).toEqual([keyB.sigkey, keyA.sigkey]);
    expect((await fetch(tool.copies[0]!.url)).status).toBe(404);
    expect(await downloadedSigkey(tool.copies[1]!.url)).toBe(keyA.sigkey);
  });

  it('keeps the signature header in the sigcache and serves the signed copy with Range', async () => {
    const sigcache = `${address.topurl}/packages/kojilib/1.0/1/data/sigcache/${keyA.sigkey}/x86_64/kojilib-1.0-1.x86_64.rpm.sig`;
    const sig = Buffer.from(await (await fetch(sigcache)).arrayBuffer());
    expect(sig.readUInt32BE(0)).toBe(0x8eade801);
    const signed = `${address.topurl}/packages/kojilib/1.0/1/data/signed/${keyA.sigkey}/x86_64/kojilib-1.0-1.x86_64.rpm`;
    const res = await fetch(signed, { headers: { Range: 'bytes=96-111' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).equals(sig.subarray(0, 16))).toBe(true);
  });
});
