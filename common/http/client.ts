/**
 * The one outgoing-HTTP layer: Koji's XML-RPC and file downloads, MBS, remote `repo` sources
 * and lookasides, Pungi composes all go through it. What it guarantees to every caller:
 *
 *  - every hop of a request (the first URL and each redirect's target, at most MAX_REDIRECTS)
 *    is checked against the caller's allow list BEFORE anything connects to it;
 *  - every attempt is bounded in time: connecting and receiving the answer's headers within
 *    `net_timeout`, no pause longer than `net_timeout` between body bytes, and, once a body has
 *    streamed for `net_timeout`, an average of at least `net_min_rate_bytes` per second (a
 *    server dripping one byte a second never trips an idle timeout, but trips this);
 *  - every answer is bounded in size (caller's limit, bounded default);
 *  - transient failures (connect errors, timeouts, 5xx) are retried every `net_retry_interval`
 *    while less than `net_timeout` has passed since the first attempt; nothing else is;
 *  - an AbortSignal stops it at once, whatever it is doing.
 *
 * node:http rather than fetch: bodies are plain Node streams, several times faster to pipe into
 * a file than fetch's web streams (measured: 522 MB of RPMs in 5,000 files), and the socket is
 * at hand for the timeouts. Connections are kept alive and reused (one agent per protocol).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { hostAllowed } from '../repo-location';
import { abortReason, sleep } from '../sleep';
import { serviceWaits, slotsPerService } from './service-waits';
import {
  HttpConnectError,
  HttpError,
  HttpNotAllowedError,
  HttpRedirectError,
  HttpStatusError,
  HttpTimeoutError,
  HttpTooLargeError,
} from './errors';

export const DEFAULT_NET_TIMEOUT = 120;
export const DEFAULT_NET_RETRY_INTERVAL = 30;
export const DEFAULT_NET_MIN_RATE_BYTES = 1024;
export const MAX_REDIRECTS = 5;
/** Default size limit of a streamed answer: the largest RPM a non-large-file payload can hold. */
export const DEFAULT_MAX_STREAM_BYTES = 4 * 1024 ** 3;
/** Default size limit of an answer read into memory (XML-RPC, MBS pages, repomd.xml, rpms.json). */
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 ** 2;
/** How much of a refused answer's body is kept for the error message. */
const STATUS_BODY_BYTES = 4096;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** ODCS's network settings, in the units of the configuration. */
export interface NetOptions {
  /** `net_timeout`: the retry window, and the connect, answer and idle limit of one attempt, seconds. */
  timeoutSeconds?: number;
  /** `net_retry_interval`: seconds between attempts. */
  retryIntervalSeconds?: number;
  /** `net_min_rate_bytes`: the slowest average transfer accepted once a body has streamed for `net_timeout`. */
  minRateBytes?: number;
  /** The connect + answer and idle limit of one attempt, seconds, when shorter than the window (default: `timeoutSeconds`). */
  attemptTimeoutSeconds?: number;
  /**
   * `max_slots_per_service`: how many callers of this process may wait through retries on one
   * failing host at once; another failing on it fails at once (./service-waits). Unset: no limit.
   */
  maxWaitingPerService?: number;
}

/** The network settings of a configuration. */
export function netOptionsOf(
  cfg: { net_timeout: number; net_retry_interval: number; net_min_rate_bytes: number } & Parameters<typeof slotsPerService>[0],
): NetOptions {
  return {
    timeoutSeconds: cfg.net_timeout,
    retryIntervalSeconds: cfg.net_retry_interval,
    minRateBytes: cfg.net_min_rate_bytes,
    maxWaitingPerService: slotsPerService(cfg),
  };
}

/** Hosts (`host` or `host:port`) a request may reach, and the name of the setting they come from (for messages). */
export interface AllowList {
  hosts: readonly string[];
  /** e.g. `allowed_repo_hosts`, `koji_url/koji_topurl`, `mbs_url`. */
  name: string;
}

/** The allow list of a configured service: exactly the hosts (with ports) of its configured URLs. */
export function allowListOf(name: string, ...urls: Array<string | undefined | null>): AllowList {
  const hosts: string[] = [];
  for (const u of urls) {
    if (!u) continue;
    try {
      hosts.push(new URL(u).host);
    } catch {
      // An invalid URL allows nothing; the request to it fails with its own message.
    }
  }
  return { hosts, name };
}

export interface RetryOptions {
  net?: NetOptions;
  signal?: AbortSignal;
  /** Where the details of failed attempts go (the operator's log; never a compose's state_reason). */
  log?: (message: string) => void;
}

export interface HttpRequestOptions extends RetryOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Buffer;
  allow: AllowList;
  /** Statuses answered as a response (default: 200 only); any other is an HttpStatusError. */
  accept?: readonly number[];
  /** Size limit of the answer's body, bytes. */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  /** The URL that answered (after redirects). */
  url: string;
  headers: IncomingHttpHeaders;
  /** The body, bounded in time and size; it fails with an HttpError when a bound is crossed. */
  body: Readable;
}

export interface BufferedResponse extends Omit<HttpResponse, 'body'> {
  body: Buffer;
}

/**
 * Runs `attempt` until it succeeds, fails for a reason that is not transient, or `net_timeout`
 * has passed since the first attempt; transient failures wait `net_retry_interval` first. The
 * last error is thrown with its `attempts` set and the count in its message.
 */
export async function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const windowMs = (options.net?.timeoutSeconds ?? DEFAULT_NET_TIMEOUT) * 1000;
  const intervalMs = (options.net?.retryIntervalSeconds ?? DEFAULT_NET_RETRY_INTERVAL) * 1000;
  const { signal } = options;
  const started = Date.now();
  // Held from the first transient failure until this loop ends: this caller waits on that host.
  let leaveWait: (() => void) | undefined;
  try {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (signal?.aborted) throw abortReason(signal);
        if (!(err instanceof HttpError)) throw err;
        err.attempts = n;
        if (!err.transient) throw err;
        options.log?.(`${err.url}: ${err.message}${err.detail ? ` (${err.detail})` : ''} [attempt ${n}]`);
        const elapsed = Date.now() - started;
        if (elapsed >= windowMs) {
          err.message += ` (gave up after ${n} attempt${n === 1 ? '' : 's'} in ${(elapsed / 1000).toFixed(1)} s)`;
          throw err;
        }
        const limit = options.net?.maxWaitingPerService;
        if (!leaveWait && limit !== undefined) {
          const service = new URL(err.url).host;
          const place = serviceWaits.enter(service, limit);
          if (!place) {
            err.message += ` (not retried: ${limit} compose${limit === 1 ? '' : 's'} of this worker already wait on ${service}; max_slots_per_service)`;
            throw err;
          }
          leaveWait = place;
        }
        await sleep(intervalMs, signal);
      }
    }
  } finally {
    leaveWait?.();
  }
}

/** The answer to `url` (an accepted status), retried as `withRetry` says; the body is left to the caller to read. */
export function httpOpen(url: string | URL, options: HttpRequestOptions): Promise<HttpResponse> {
  return withRetry(() => openFollowingRedirects(new URL(url), options), options);
}

/** The whole answer to `url`, in memory; a failure while reading the body is retried too. */
export function httpFetch(url: string | URL, options: HttpRequestOptions): Promise<BufferedResponse> {
  const bounded = { ...options, maxBytes: options.maxBytes ?? DEFAULT_MAX_BUFFERED_BYTES };
  return withRetry(async () => {
    const res = await openFollowingRedirects(new URL(url), bounded);
    return { ...res, body: await readAll(res.body) };
  }, options);
}

/** Every byte of a (bounded) body. */
export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One attempt: the request, then each redirect's target once it passed the allow list. */
async function openFollowingRedirects(first: URL, options: HttpRequestOptions): Promise<HttpResponse> {
  let url = first;
  let method = options.method ?? 'GET';
  for (let hop = 0; ; hop++) {
    checkHop(url, hop, options.allow);
    const res = await exchangeOnce(url, method, options);
    if (REDIRECTS.has(res.status)) {
      res.body.destroy();
      const location = res.headers.location;
      if (!location) throw new HttpRedirectError(`HTTP ${res.status} without a Location`, url.href);
      if (hop >= MAX_REDIRECTS) throw new HttpRedirectError(`more than ${MAX_REDIRECTS} redirects`, url.href);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new HttpRedirectError(`redirected to an invalid URL`, url.href);
      }
      if (method === 'POST' && res.status !== 307 && res.status !== 308) {
        throw new HttpRedirectError(`HTTP ${res.status}: a POST is not followed to ${next.href}`, url.href);
      }
      url = next;
      continue;
    }
    if ((options.accept ?? [200]).includes(res.status)) return res;
    throw new HttpStatusError(url.href, res.status, res.statusText, await readStart(res.body));
  }
}

/** Refuses, without connecting, a URL that is not http(s) or whose host the allow list does not name. */
function checkHop(url: URL, hop: number, allow: AllowList): void {
  const what = hop === 0 ? url.href : `redirected to ${url.href}`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpNotAllowedError(`${what}: not an http(s) URL`, url.href);
  }
  if (!hostAllowed(allow.hosts, url)) {
    throw new HttpNotAllowedError(`${what}: refused, its host ${url.host} is not in ${allow.name}`, url.href);
  }
}

async function readStart(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= STATUS_BODY_BYTES) break;
    }
  } catch {
    // The status says enough.
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, STATUS_BODY_BYTES).toString('utf8');
}

const agents = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
};

/**
 * One request to one URL, bounded: headers within `net_timeout` of sending it (connecting
 * included), then the body with an idle limit, a minimum average rate and a size limit.
 */
function exchangeOnce(url: URL, method: 'GET' | 'POST', options: HttpRequestOptions, onFreshSocket = false): Promise<HttpResponse> {
  const timeoutMs = Math.max(1, (options.net?.attemptTimeoutSeconds ?? options.net?.timeoutSeconds ?? DEFAULT_NET_TIMEOUT) * 1000);
  const minRate = options.net?.minRateBytes ?? DEFAULT_NET_MIN_RATE_BYTES;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_STREAM_BYTES;
  const { signal } = options;
  const host = url.host;
  const href = url.href;
  const seconds = timeoutMs / 1000;

  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    let state: 'waiting' | 'streaming' | 'over' = 'waiting';
    let connected = false;
    let body: Transform | undefined;
    let rateTimer: NodeJS.Timeout | undefined;

    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method,
      agent: url.protocol === 'https:' ? agents.https : agents.http,
      headers: {
        'User-Agent': 'odcs-ts',
        ...(options.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(options.body)) } : {}),
        ...options.headers,
      },
    });

    const cleanup = (): void => {
      clearTimeout(answerTimer);
      if (rateTimer) clearInterval(rateTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error): void => {
      if (state === 'over') return;
      const was = state;
      state = 'over';
      cleanup();
      if (was === 'waiting') reject(err);
      else body!.destroy(err);
      req.destroy();
    };
    const onAbort = (): void => fail(abortReason(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });

    // Refused, unreachable, filtered and timed out look the same to the user (see ./errors).
    const notConnected = (detail: string): HttpConnectError => new HttpConnectError(`could not connect to ${host}`, href, detail);
    const broken = (detail: string): HttpConnectError => new HttpConnectError(`connection to ${host} broke off`, href, detail);

    const answerTimer = setTimeout(() => {
      fail(connected ? new HttpTimeoutError(`no answer from ${host} within ${seconds} s`, href) : notConnected(`no connection within ${seconds} s`));
    }, timeoutMs);

    req.on('socket', (socket: Socket) => {
      if (socket.connecting) socket.once('connect', () => (connected = true));
      else connected = true;
    });
    req.on('error', (err) => {
      if (state === 'over') return;
      if (signal?.aborted) return fail(abortReason(signal));
      if (state === 'waiting' && req.reusedSocket && !onFreshSocket) {
        // A kept-alive connection the server had closed meanwhile: try once more on a new one, at once.
        state = 'over';
        cleanup();
        resolve(exchangeOnce(url, method, options, true));
        return;
      }
      fail(connected ? broken(describeNetworkError(err)) : notConnected(describeNetworkError(err)));
    });
    req.on('response', (res: IncomingMessage) => {
      if (state !== 'waiting') {
        res.destroy();
        return;
      }
      clearTimeout(answerTimer);
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        return fail(new HttpTooLargeError(`answer of ${declared} bytes is larger than the limit of ${maxBytes}`, href));
      }
      state = 'streaming';
      let received = 0;
      const started = Date.now();
      body = new Transform({
        transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
          received += chunk.length;
          if (received > maxBytes) return done(new HttpTooLargeError(`answer larger than the limit of ${maxBytes} bytes`, href));
          done(null, chunk);
        },
      });
      req.setTimeout(timeoutMs, () => fail(new HttpTimeoutError(`no data from ${host} for ${seconds} s`, href)));
      // Bytes are counted as the reader takes them: a reader slower than net_min_rate_bytes would
      // count as a slow server. Readers here (a file, a checksum, the XML tokenizer) are far faster,
      // and the check only starts after net_timeout, so a small answer never meets it.
      if (minRate > 0) {
        rateTimer = setInterval(
          () => {
            const elapsed = Date.now() - started;
            if (elapsed >= timeoutMs && (received * 1000) / elapsed < minRate) {
              fail(new HttpTimeoutError(`transfer from ${host} slower than ${minRate} bytes/s (net_min_rate_bytes)`, href));
            }
          },
          Math.min(1000, timeoutMs),
        );
        rateTimer.unref();
      }
      res.on('end', () => {
        if (rateTimer) clearInterval(rateTimer);
      });
      res.on('error', (err) => fail(broken(describeNetworkError(err))));
      res.on('close', () => {
        if (!res.complete) fail(broken('closed before the end of the answer'));
      });
      body.on('close', () => {
        if (state === 'over') return;
        state = 'over';
        cleanup();
        // The reader stopped early: this socket cannot serve another request.
        if (!res.complete) req.destroy();
      });
      res.pipe(body);
      resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', url: href, headers: res.headers, body });
    });
    req.end(options.body);
  });
}

/**
 * "connect ECONNREFUSED 127.0.0.1:1234" rather than "fetch failed": for logs. Errors may come
 * from Node's own realm (not `instanceof Error` under jest's VM), hence the duck typing.
 */
export function describeNetworkError(err: unknown): string {
  const message = (e: unknown): string | undefined =>
    typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string'
      ? (e as { message: string }).message
      : undefined;
  const cause: unknown = typeof err === 'object' && err !== null ? (err as { cause?: unknown }).cause : undefined;
  const causeMessage = message(cause);
  const own = causeMessage !== undefined ? cause : err;
  const text = causeMessage ?? message(err) ?? String(err);
  const code = typeof own === 'object' && own !== null ? (own as { code?: unknown }).code : undefined;
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}
