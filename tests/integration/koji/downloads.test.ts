/**
 * Files under the Koji double's topurl: Koji's layout, Range requests as any static server
 * answers them, and the byte counter a benchmark reads.
 */
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import { KojiClient } from '../../../backend/koji/client';
import { DownloadError, getWithRetry } from '../../../backend/koji/download';
import { recordingServer, redirectingServer } from '../../servers/misbehaving-http';
import { buildKojiFixtures, type KojiFixtures } from '../../fixtures/build-koji-rpms';
import { KojiHubDouble, type KojiHubAddress } from '../../servers/koji-hub';

let fixtures: KojiFixtures;
let hub: KojiHubDouble;
let address: KojiHubAddress;
let koji: KojiClient;
let original: Buffer;
let url: string;

beforeAll(async () => {
  fixtures = await buildKojiFixtures();
  hub = new KojiHubDouble();
  address = await hub.start();
  koji = new KojiClient({ hubUrl: address.hubUrl, topurl: address.topurl, timeoutSeconds: 5 });
  for (const b of fixtures.builds) await hub.importBuild(b.rpms);
  const file = fixtures.byNvr.get('kojitool-1.0-1')!.rpms.find((f) => f.endsWith('kojitool-doc-1.0-1.noarch.rpm'))!;
  original = await readFile(file);
  const build = (await koji.getBuild('kojitool-1.0-1'))!;
  const rpm = (await koji.getRPM('kojitool-doc-1.0-1.noarch'))!;
  url = koji.rpmUrl(build, rpm);
}, 300_000);

afterAll(async () => {
  await hub?.stop();
});

/** A raw HTTP exchange, to see exactly what the server sends. */
function rawRequest(request: string): Promise<string> {
  const { port } = new URL(address.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('files under topurl', () => {
  it('serves the unsigned copy at Koji path with its type and size, and counts the bytes', async () => {
    expect(url).toBe(`${address.topurl}/packages/kojitool/1.0/1/noarch/kojitool-doc-1.0-1.noarch.rpm`);
    hub.resetCounters();
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-redhat-package-manager');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(res.headers.get('content-length'))).toBe(original.length);
    expect(Buffer.from(await res.arrayBuffer()).equals(original)).toBe(true);
    expect(hub.bytesServed).toBe(original.length);
    expect(hub.fileRequests).toBe(1);
    expect((await koji.getRPM('kojitool-doc-1.0-1.noarch'))!.size).toBe(original.length);
  });

  it('answers Range requests with 206 and only the bytes asked for', async () => {
    hub.resetCounters();
    const lead = await fetch(url, { headers: { Range: 'bytes=0-95' } });
    expect(lead.status).toBe(206);
    expect(lead.headers.get('content-range')).toBe(`bytes 0-95/${original.length}`);
    const body = Buffer.from(await lead.arrayBuffer());
    expect(body.equals(original.subarray(0, 96))).toBe(true);
    expect(body.readUInt32BE(0)).toBe(0xedabeedb);

    const tail = await fetch(url, { headers: { Range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(original.subarray(original.length - 10))).toBe(true);

    const rest = await fetch(url, { headers: { Range: `bytes=${original.length - 5}-` } });
    expect(rest.headers.get('content-range')).toBe(`bytes ${original.length - 5}-${original.length - 1}/${original.length}`);
    expect((await rest.arrayBuffer()).byteLength).toBe(5);
    expect(hub.bytesServed).toBe(96 + 10 + 5);

    const beyond = await fetch(url, { headers: { Range: `bytes=${original.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${original.length}`);
    await beyond.arrayBuffer();
  });

  it('answers HEAD without a body and refuses what is not a file', async () => {
    const head = await rawRequest(`HEAD ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toContain(`Content-Length: ${original.length}`);
    expect(head.endsWith('\r\n\r\n')).toBe(true);

    expect((await fetch(`${address.topurl}/packages/nope/1/1/noarch/nope-1-1.noarch.rpm`)).status).toBe(404);
    expect((await fetch(`${address.topurl}/packages/kojitool/1.0/1`)).status).toBe(404);
    const traversal = await rawRequest('GET /kojifiles/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(traversal).toMatch(/^HTTP\/1\.1 40[34] /);
    expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(405);
  });
});

describe('downloads through the HTTP layer', () => {
  it('reads a copy under topurl, answers null for 404, and refuses a redirect off Koji\'s hosts without following it', async () => {
    const body = await getWithRetry(url, { allow: koji.allow, timeoutSeconds: 5 });
    const chunks: Buffer[] = [];
    for await (const c of body!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(original)).toBe(true);
    expect(await getWithRetry(`${address.topurl}/packages/nope/1/1/noarch/nope-1-1.noarch.rpm`, { allow: koji.allow, timeoutSeconds: 5 })).toBeNull();

    const elsewhere = await recordingServer((_req, res) => res.end('not Koji'));
    const mirror = await redirectingServer(302, () => elsewhere.url);
    try {
      const fromMirror = new KojiClient({ hubUrl: address.hubUrl, topurl: mirror.url, timeoutSeconds: 5 });
      const err = await getWithRetry(`${mirror.url}/packages/x.rpm`, { allow: fromMirror.allow, timeoutSeconds: 5 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DownloadError);
      expect((err as Error).message).toBe(
        `GET ${mirror.url}/packages/x.rpm: redirected to ${elsewhere.url}/packages/x.rpm: refused, its host 127.0.0.1:${elsewhere.port} is not in koji_url/koji_topurl`,
      );
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await Promise.all([elsewhere.close(), mirror.close()]);
    }
  });
});
