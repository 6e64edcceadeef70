/**
 * The XML-RPC client's transport rules (ODCS's net_timeout / net_retry_interval): retried on
 * connection errors, timeouts and 5xx within the window; never on faults, 4xx or garbage;
 * an AbortSignal stops it at once.
 */
import { createServer, type Server } from 'node:http';
import { XmlRpcClient, XmlRpcProtocolError, XmlRpcTransportError, encodeMethodResponse } from '../../../backend/koji/xmlrpc';
import { KojiHubDouble, type KojiHubAddress } from '../../servers/koji-hub';
import { close, listen, readBody } from '../../servers/http';

let hub: KojiHubDouble;
let address: KojiHubAddress;

beforeAll(async () => {
  hub = new KojiHubDouble();
  address = await hub.start();
});

afterAll(async () => {
  await hub?.stop();
});

/** A server whose answers the test scripts: one behaviour per request, then 200 with `42`. */
async function scriptedServer(script: Array<'drop' | number | string>): Promise<{ url: string; server: Server; requests: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    void readBody(req).then(() => {
      const step = script[n++];
      if (step === 'drop') {
        req.socket.destroy();
      } else if (typeof step === 'number') {
        res.writeHead(step, { 'Content-Type': 'text/plain' });
        res.end(`status ${step}`);
      } else if (typeof step === 'string') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(step);
      } else {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        res.end(encodeMethodResponse(42));
      }
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/kojihub`, server, requests: () => n };
}

async function unusedPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await close(s);
  return port;
}

describe('XML-RPC transport', () => {
  it('retries dropped connections and 5xx, then succeeds', async () => {
    const s = await scriptedServer(['drop', 503, 'drop']);
    try {
      const client = new XmlRpcClient({ url: s.url, timeoutSeconds: 5, retryIntervalSeconds: 0.02 });
      expect(await client.call('getLastEvent')).toBe(42);
      expect(s.requests()).toBe(4);
    } finally {
      await close(s.server);
    }
  });

  it('gives up when the retry window has passed, saying why and how often it tried', async () => {
    const port = await unusedPort();
    const client = new XmlRpcClient({ url: `http://127.0.0.1:${port}/kojihub`, timeoutSeconds: 0.3, retryIntervalSeconds: 0.05 });
    const started = Date.now();
    const err = await client.call('getLastEvent').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XmlRpcTransportError);
    const e = err as XmlRpcTransportError;
    expect(e.retryable).toBe(true);
    expect(e.attempts).toBeGreaterThanOrEqual(3);
    // The user-visible text does not tell refused from filtered or timed out (no port scanning).
    expect(e.message).toBe(`POST http://127.0.0.1:${port}/kojihub (getLastEvent): could not connect to 127.0.0.1:${port}${e.message.slice(e.message.indexOf(' (gave up'))}`);
    expect(e.message).not.toMatch(/ECONNREFUSED/);
    expect(e.message).toMatch(/gave up after \d+ attempts/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('does not retry 4xx answers or a body that is not XML-RPC', async () => {
    const s = await scriptedServer([404, '<html>proxy error</html>']);
    try {
      const client = new XmlRpcClient({ url: s.url, timeoutSeconds: 5, retryIntervalSeconds: 0.02 });
      const notFound = await client.call('getLastEvent').catch((e: unknown) => e);
      expect(notFound).toMatchObject({ name: 'XmlRpcTransportError', status: 404, retryable: false, attempts: 1 });
      expect((notFound as Error).message).toBe(`POST ${s.url} (getLastEvent): HTTP 404 Not Found: status 404`);
      await expect(client.call('getLastEvent')).rejects.toBeInstanceOf(XmlRpcProtocolError);
      expect(s.requests()).toBe(2);
    } finally {
      await close(s.server);
    }
  });

  it('times out one attempt and retries it', async () => {
    hub.resetCounters();
    hub.delayNextRequests(1, 1500);
    const client = new XmlRpcClient({ url: address.hubUrl, timeoutSeconds: 5, retryIntervalSeconds: 0.02, requestTimeoutSeconds: 0.2 });
    const started = Date.now();
    expect(await client.call('getLastEvent')).toMatchObject({ id: hub.lastEventId });
    expect(hub.xmlrpcRequests).toBe(2);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('stops at once when aborted, also while waiting to retry', async () => {
    const port = await unusedPort();
    const controller = new AbortController();
    const client = new XmlRpcClient({ url: `http://127.0.0.1:${port}/kojihub`, timeoutSeconds: 60, retryIntervalSeconds: 30 });
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('compose canceled')), 100);
    await expect(client.call('getLastEvent', [], undefined, { signal: controller.signal })).rejects.toThrow('compose canceled');
    expect(Date.now() - started).toBeLessThan(5000);

    const aborted = AbortSignal.abort(new Error('already gone'));
    const bound = new XmlRpcClient({ url: address.hubUrl, timeoutSeconds: 5, signal: aborted });
    await expect(bound.call('getLastEvent')).rejects.toThrow('already gone');
  });
});
