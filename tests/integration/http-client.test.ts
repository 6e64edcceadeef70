/**
 * The one outgoing-HTTP layer (common/http) and what composes see of it (issue 10, items 7
 * and 8): every redirect hop and every absolute URL checked against the allow list before
 * anything connects there; connect, answer, idle and whole-transfer bounds; retries of
 * transient failures only; error texts that do not tell a refused port from a filtered one.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { allowListOf, httpFetch, httpOpen, readAll, type AllowList } from '../../common/http/client';
import { HttpConnectError, HttpNotAllowedError, HttpRedirectError, HttpStatusError, HttpTimeoutError, HttpTooLargeError } from '../../common/http/errors';
import { ServiceWaits } from '../../common/http/service-waits';
import { STATES } from '../../common/enums';
import { hostAllowed } from '../../common/repo-location';
import { freePort } from '../../common/net';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { serveStatic } from '../servers/http';
import { drippingServer, recordingServer, redirectingServer, silentServer, type RecordingServer } from '../servers/misbehaving-http';
import { requestCompose } from '../support/compose-e2e';
import { startTestStack, type TestStack } from '../support/stack';

const fast = { timeoutSeconds: 1, retryIntervalSeconds: 0.05 };
const only = (...servers: Array<{ url: string }>): AllowList => allowListOf('the test list', ...servers.map((s) => s.url));

describe('the HTTP layer', () => {
  let elsewhere: RecordingServer;
  beforeAll(async () => {
    elsewhere = await recordingServer((_req, res) => res.end('secret'));
  });
  afterAll(() => elsewhere.close());

  it.each([301, 302, 307])('refuses a %d redirect to a host off the allow list without connecting to it', async (status) => {
    const before = elsewhere.requests.length;
    const redirecting = await redirectingServer(status, () => elsewhere.url);
    try {
      const err = await httpFetch(`${redirecting.url}/repodata/repomd.xml`, { allow: only(redirecting), net: fast }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpNotAllowedError);
      expect((err as Error).message).toBe(
        `redirected to ${elsewhere.url}/repodata/repomd.xml: refused, its host 127.0.0.1:${elsewhere.port} is not in the test list`,
      );
      expect(redirecting.requests).toEqual(['/repodata/repomd.xml']);
      expect(elsewhere.requests.length).toBe(before);
    } finally {
      await redirecting.close();
    }
  });

  it('refuses a URL off the allow list before connecting, and follows redirects on it, at most five', async () => {
    const before = elsewhere.requests.length;
    await expect(httpFetch(`${elsewhere.url}/x`, { allow: { hosts: ['127.0.0.1:1'], name: 'allowed_repo_hosts' }, net: fast })).rejects.toThrow(
      `${elsewhere.url}/x: refused, its host 127.0.0.1:${elsewhere.port} is not in allowed_repo_hosts`,
    );
    expect(elsewhere.requests.length).toBe(before);

    const hops = await recordingServer((req, res) => {
      const n = Number(/^\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 0);
      if (n < 7) res.writeHead(302, { Location: `/${n + 1}` }).end();
      else res.end('arrived');
    });
    try {
      expect((await httpFetch(`${hops.url}/2`, { allow: only(hops), net: fast })).body.toString()).toBe('arrived');
      const err = await httpFetch(`${hops.url}/0`, { allow: only(hops), net: fast }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpRedirectError);
      expect((err as Error).message).toBe('more than 5 redirects');
      expect(hops.requests.slice(-6)).toEqual(['/0', '/1', '/2', '/3', '/4', '/5']);
    } finally {
      await hops.close();
    }
  });

  it('gives up on a server that accepts and never answers, and closes the connection', async () => {
    const silent = await silentServer();
    try {
      const err = await httpFetch(`${silent.url}/repodata/repomd.xml`, { allow: only(silent), net: { timeoutSeconds: 1, retryIntervalSeconds: 1 } }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(HttpTimeoutError);
      expect((err as Error).message).toMatch(new RegExp(`^no answer from 127\\.0\\.0\\.1:${silent.port} within 1 s \\(gave up after 1 attempt in`));
      await waitFor(() => silent.closedByClient === silent.connections);
      expect(silent.connections).toBe(1);
    } finally {
      await silent.close();
    }
  });

  it('bounds the whole transfer: a drip of bytes fails on net_min_rate_bytes, and the connection is closed', async () => {
    const drip = await drippingServer(100);
    try {
      const err = await httpFetch(`${drip.url}/primary.xml.gz`, { allow: only(drip), net: { timeoutSeconds: 1, retryIntervalSeconds: 1 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpTimeoutError);
      expect((err as Error).message).toMatch(new RegExp(`^transfer from 127\\.0\\.0\\.1:${drip.port} slower than 1024 bytes/s \\(net_min_rate_bytes\\)`));
      await waitFor(() => drip.closedEarly === 1);
      expect(drip.requests).toEqual(['/primary.xml.gz']);
    } finally {
      await drip.close();
    }
  });

  it('retries 5xx and then succeeds; does not retry a 404', async () => {
    const flaky = await recordingServer((req, res, n) => {
      if (req.url === '/missing') res.writeHead(404).end('no');
      else if (n < 2) res.writeHead(503).end('busy');
      else res.end('ok');
    });
    try {
      expect((await httpFetch(`${flaky.url}/file`, { allow: only(flaky), net: { timeoutSeconds: 5, retryIntervalSeconds: 0.05 } })).body.toString()).toBe('ok');
      expect(flaky.requests).toEqual(['/file', '/file', '/file']);
      const err = await httpFetch(`${flaky.url}/missing`, { allow: only(flaky), net: { timeoutSeconds: 5, retryIntervalSeconds: 0.05 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpStatusError);
      expect(err).toMatchObject({ status: 404, transient: false, attempts: 1, message: 'HTTP 404 Not Found' });
      expect(flaky.requests.filter((p) => p === '/missing')).toHaveLength(1);
    } finally {
      await flaky.close();
    }
  });

  it('says only "could not connect" to users when nothing listens; the cause goes to the log', async () => {
    const port = await freePort();
    const logged: string[] = [];
    const err = await httpFetch(`http://127.0.0.1:${port}/x`, {
      allow: { hosts: [`127.0.0.1:${port}`], name: 'allowed_repo_hosts' },
      net: { timeoutSeconds: 1, retryIntervalSeconds: 0.2 },
      log: (m) => logged.push(m),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpConnectError);
    expect((err as Error).message).toMatch(new RegExp(`^could not connect to 127\\.0\\.0\\.1:${port} \\(gave up after \\d+ attempts in`));
    expect((err as Error).message).not.toMatch(/ECONNREFUSED|refused/);
    expect((err as HttpConnectError).detail).toMatch(/ECONNREFUSED/);
    expect(logged.join('\n')).toMatch(/ECONNREFUSED/);
  });

  it('bounds the size of an answer and stops at once when aborted', async () => {
    const big = await recordingServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': 1_000_000 });
      res.end(Buffer.alloc(1_000_000));
    });
    const chunked = await recordingServer((_req, res) => {
      res.write(Buffer.alloc(600_000));
      res.end(Buffer.alloc(600_000));
    });
    const silent = await silentServer();
    try {
      await expect(httpFetch(big.url, { allow: only(big), net: fast, maxBytes: 1000 })).rejects.toBeInstanceOf(HttpTooLargeError);
      const opened = await httpOpen(chunked.url, { allow: only(chunked), net: fast, maxBytes: 1_000_000 });
      await expect(readAll(opened.body)).rejects.toThrow('answer larger than the limit of 1000000 bytes');

      const controller = new AbortController();
      const pending = httpFetch(silent.url, { allow: only(silent), net: { timeoutSeconds: 60 }, signal: controller.signal });
      await waitFor(() => silent.connections === 1);
      controller.abort(new Error('compose canceled'));
      await expect(pending).rejects.toThrow('compose canceled');
      await waitFor(() => silent.closedByClient === 1);
    } finally {
      await Promise.all([big.close(), chunked.close(), silent.close()]);
    }
  });

  it('matches allow list entries by host and port, the default port as written', () => {
    expect(hostAllowed(['repo.example.com:443'], new URL('https://REPO.example.com/x'))).toBe(true);
    expect(hostAllowed(['repo.example.com:443'], new URL('http://repo.example.com/x'))).toBe(false);
    expect(hostAllowed(['Repo.Example.com'], new URL('http://repo.example.com:8080/x'))).toBe(true);
    expect(hostAllowed(['127.0.0.1:8080'], new URL('http://127.0.0.1:8081/x'))).toBe(false);
    expect(hostAllowed(['127.0.0.1:8080'], new URL('http://127.0.0.2:8080/x'))).toBe(false);
  });

  it('lets only max_slots_per_service callers wait on one failing host; the next fails at once', async () => {
    const down = await recordingServer((_req, res) => res.writeHead(503).end());
    const waits = new ServiceWaits();
    const place = waits.enter(`127.0.0.1:${down.port}`, 1);
    expect(place).not.toBeNull();
    expect(waits.enter(`127.0.0.1:${down.port}`, 1)).toBeNull();
    place!();
    expect(waits.count(`127.0.0.1:${down.port}`)).toBe(0);
    try {
      const controller = new AbortController();
      const net = { timeoutSeconds: 60, retryIntervalSeconds: 30, maxWaitingPerService: 1 };
      const first = httpFetch(down.url, { allow: only(down), net, signal: controller.signal }).catch((e: unknown) => e);
      await waitFor(() => down.requests.length === 1);
      const second = await httpFetch(down.url, { allow: only(down), net }).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(HttpStatusError);
      expect((second as Error).message).toBe(
        `HTTP 503 Service Unavailable (not retried: 1 compose of this worker already wait on 127.0.0.1:${down.port}; max_slots_per_service)`,
      );
      controller.abort(new Error('done'));
      expect(await first).toMatchObject({ message: 'done' });
      // The place is given back: the next caller may wait again.
      const third = httpFetch(down.url, { allow: only(down), net: { ...net, retryIntervalSeconds: 0.05, timeoutSeconds: 0.2 } }).catch((e: unknown) => e);
      expect(((await third) as Error).message).toMatch(/gave up after \d+ attempts/);
    } finally {
      await down.close();
    }
  });
});

describe('remote repositories in composes', () => {
  let fixtures: FixtureRepos;
  let t: TestStack;
  let elsewhere: RecordingServer;
  let repos: RecordingServer;
  let drip: RecordingServer;
  let flakyRepomd = 0;
  let absolute: string;

  beforeAll(async () => {
    fixtures = await buildFixtureRepos();
    elsewhere = await recordingServer((_req, res) => res.end('not for you'));
    // A copy of the main repository whose repomd.xml names its primary.xml by an absolute URL on another host.
    absolute = await mkdtemp(path.join(tmpdir(), 'odcs-http-abs-'));
    await cp(fixtures.main, path.join(absolute, 'main'), { recursive: true });
    const repomdFile = path.join(absolute, 'main', 'repodata', 'repomd.xml');
    const repomd = await readFile(repomdFile, 'utf8');
    const rewritten = repomd
      .replace(/href="(repodata\/[^"]*primary\.xml[^"]*)"/, (_m, href: string) => `href="${elsewhere.url}/main/${href}"`)
      // Another checksum: parsed metadata cached from the same primary.xml must not stand in for it.
      .replace(/(<data type="primary">\s*<checksum type="sha256">)[0-9a-f]{64}/, (_m, start: string) => `${start}${'0'.repeat(64)}`);
    expect(rewritten).not.toBe(repomd);
    await writeFile(repomdFile, rewritten);
    drip = await drippingServer(200);
    // /<mode>/<repo>/…: the fixture repository <repo>, served as <mode> says.
    repos = await recordingServer(async (req, res) => {
      const [, mode, repo, ...rest] = (req.url ?? '').split('?')[0]!.split('/');
      const file = rest.join('/');
      if (mode === 'redirect-repomd' && file === 'repodata/repomd.xml') return void res.writeHead(302, { Location: `${elsewhere.url}/${repo}/${file}` }).end();
      if (mode === 'redirect-rpms' && file.endsWith('.rpm')) return void res.writeHead(307, { Location: `${elsewhere.url}/${repo}/${file}` }).end();
      if (mode === 'flaky' && file === 'repodata/repomd.xml' && flakyRepomd++ < 2) return void res.writeHead(503).end('busy');
      await serveStatic(req, res, { root: path.join(mode === 'absolute' ? absolute : fixtures.dir, repo!), relative: file });
    });
    t = await startTestStack({
      worker: true,
      relay: true,
      config: {
        allowed_repo_roots: [fixtures.dir],
        allowed_repo_hosts: [`127.0.0.1:${repos.port}`, `127.0.0.1:${drip.port}`],
        net_timeout: 3,
        net_retry_interval: 1,
      },
    });
  }, 300_000);

  afterAll(async () => {
    await t?.close();
    await Promise.all([elsewhere?.close(), repos?.close(), drip?.close()]);
    if (absolute) await rm(absolute, { recursive: true, force: true });
  });

  it('fails a compose whose repomd.xml redirects off allowed_repo_hosts; the other host gets no request', async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: `${repos.url}/redirect-repomd/main`, packages: ['app'] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toContain(`redirected to ${elsewhere.url}/main/repodata/repomd.xml: refused, its host 127.0.0.1:${elsewhere.port} is not in allowed_repo_hosts`);
    expect(elsewhere.requests).toEqual([]);
  });

  it('fails a compose whose package download redirects off allowed_repo_hosts; the other host gets no request', async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: `${repos.url}/redirect-rpms/main`, packages: ['app'] }, flags: ['no_deps'] });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toMatch(new RegExp(`redirected to ${elsewhere.url}/main/\\S+\\.rpm: refused, its host 127\\.0\\.0\\.1:${elsewhere.port} is not in allowed_repo_hosts`));
    expect(elsewhere.requests).toEqual([]);
  });

  it('fails a compose whose lookaside redirects off allowed_repo_hosts; the other host gets no request', async () => {
    const row = await requestCompose(t, {
      source: { type: 'repo', source: fixtures.main, packages: ['app'] },
      lookaside_repos: [`${repos.url}/redirect-repomd/lookaside`],
    });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toContain(`redirected to ${elsewhere.url}/lookaside/repodata/repomd.xml: refused`);
    expect(elsewhere.requests).toEqual([]);
  });

  it('refuses an absolute metadata href to another host without requesting it', async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: `${repos.url}/absolute/main`, packages: ['app'] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toMatch(/^Error while generating compose: Cannot read repository /);
    expect(row.state_reason).toContain(elsewhere.url);
    expect(elsewhere.requests).toEqual([]);
  });

  it('fails a compose whose repository drips its metadata, with the timeout reason, and closes the connection', async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: `${drip.url}/main`, packages: ['app'] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toContain(`transfer from 127.0.0.1:${drip.port} slower than 1024 bytes/s (net_min_rate_bytes)`);
    await waitFor(() => drip.closedEarly === drip.requests.length);
    expect(drip.requests.length).toBeGreaterThanOrEqual(1);
  });

  it('retries a repository answering 503 twice and builds the compose', async () => {
    const row = await requestCompose(t, { source: { type: 'repo', source: `${repos.url}/flaky/main`, packages: ['app'] }, flags: ['no_deps'] });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(row.state).toBe(STATES.done);
    expect(repos.requests.filter((p) => p === '/flaky/main/repodata/repomd.xml').length).toBeGreaterThanOrEqual(3);
  });

  it('does not retry a 404', async () => {
    const before = repos.requests.length;
    const row = await requestCompose(t, { source: { type: 'repo', source: `${repos.url}/plain/no-such-repo`, packages: ['app'] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toContain(`GET ${repos.url}/plain/no-such-repo/repodata/repomd.xml: 404 Not Found`);
    expect(repos.requests.slice(before)).toEqual(['/plain/no-such-repo/repodata/repomd.xml']);
  });
});

/** Polls a condition the servers' own events make true soon (no time threshold is asserted). */
async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
}
