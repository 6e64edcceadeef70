/**
 * GET of a file under Koji's topurl (or of an external compose's metadata) with ODCS's retry
 * rules: connection errors, timeouts and HTTP 5xx are retried every `net_retry_interval`
 * seconds until `net_timeout` seconds have passed since the first attempt; 404 means "no such
 * copy" and is answered at once; any other status is an error.
 *
 * The per-attempt timeout covers only the wait for the response headers: a large RPM may take
 * longer than `net_timeout` to stream, and the compose's own timeout bounds that.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { abortReason, combineSignals, DEFAULT_NET_RETRY_INTERVAL, DEFAULT_NET_TIMEOUT, describeNetworkError, sleep } from './xmlrpc';

export interface RetryOptions {
  /** `net_timeout`: the retry window and the limit for one attempt's headers, seconds. */
  timeoutSeconds?: number;
  /** `net_retry_interval`, seconds. */
  retryIntervalSeconds?: number;
  signal?: AbortSignal;
}

export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The response to GET `url`, or null for 404. Throws DownloadError once retries are exhausted. */
export async function getWithRetry(url: string, options: RetryOptions = {}): Promise<Response | null> {
  const windowMs = (options.timeoutSeconds ?? DEFAULT_NET_TIMEOUT) * 1000;
  const intervalMs = (options.retryIntervalSeconds ?? DEFAULT_NET_RETRY_INTERVAL) * 1000;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptGet(url, windowMs, options.signal);
    } catch (err) {
      if (options.signal?.aborted) throw abortReason(options.signal);
      if (!(err instanceof DownloadError) || !err.retryable) throw err;
      const elapsed = Date.now() - started;
      if (elapsed >= windowMs) {
        throw new DownloadError(`${err.message} (gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${(elapsed / 1000).toFixed(1)} s)`, true, err.status);
      }
      await sleep(intervalMs, options.signal);
    }
  }
}

async function attemptGet(url: string, headersWithinMs: number, signal: AbortSignal | undefined): Promise<Response | null> {
  const attempt = new AbortController();
  const timer = setTimeout(() => attempt.abort(new Error('timeout')), Math.max(1, headersWithinMs));
  let res: Response;
  try {
    res = await fetch(url, { headers: { 'User-Agent': 'odcs-ts' }, signal: combineSignals(signal, attempt.signal) });
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    const detail = attempt.signal.aborted ? `no answer within ${headersWithinMs / 1000} s` : describeNetworkError(err);
    throw new DownloadError(`GET ${url}: ${detail}`, true);
  } finally {
    clearTimeout(timer);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new DownloadError(`GET ${url}: HTTP ${res.status} ${res.statusText}`, res.status >= 500, res.status);
  }
  return res;
}

/** The body of a 200 response as a Node stream. */
export function bodyStream(res: Response): Readable {
  if (!res.body) return Readable.from([]);
  return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
}
