/**
 * Failures of outgoing HTTP, one hierarchy: every error says whether it is transient (worth
 * another attempt within `net_timeout`) and carries, apart from its user-visible message, a
 * `detail` for the operator's log.
 *
 * User-visible messages never tell a refused connection from a filtered or timed-out one: a
 * compose's `state_reason` must not turn the worker into a port scanner for whoever can ask
 * for composes. The low-level cause (ECONNREFUSED, ETIMEDOUT, …) is in `detail` only.
 */
export abstract class HttpError extends Error {
  /** Whether another attempt may succeed (connect errors, timeouts, 5xx). */
  abstract readonly transient: boolean;
  /** How many attempts were made before giving up (set by the retry loop). */
  attempts = 1;
  constructor(
    message: string,
    /** The URL of the hop that failed. */
    readonly url: string,
    /** What the operator's log gets in addition to the message. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** A URL (the first one or a redirect's target) outside the caller's allow list; no connection was attempted. */
export class HttpNotAllowedError extends HttpError {
  override name = 'HttpNotAllowedError';
  readonly transient = false;
}

/** No connection could be made, or it broke before an answer (refused, unreachable, filtered, timed out, reset). */
export class HttpConnectError extends HttpError {
  override name = 'HttpConnectError';
  readonly transient = true;
}

/** Connected, but the answer or its bytes did not come in time (headers, idle, too slow a transfer). */
export class HttpTimeoutError extends HttpError {
  override name = 'HttpTimeoutError';
  readonly transient = true;
}

/** An HTTP status the caller does not accept; 5xx are transient. */
export class HttpStatusError extends HttpError {
  override name = 'HttpStatusError';
  readonly transient: boolean;
  constructor(
    url: string,
    readonly status: number,
    readonly statusText: string,
    /** The start of the answer's body (at most a few KiB), for messages such as XML-RPC's or MBS's. */
    readonly bodyText: string,
  ) {
    super(`HTTP ${status} ${statusText}`.trimEnd(), url);
    this.transient = status >= 500;
  }
}

/** The answer was larger than the caller's limit. */
export class HttpTooLargeError extends HttpError {
  override name = 'HttpTooLargeError';
  readonly transient = false;
}

/** A redirect that cannot be followed (too many, no Location, another scheme, a POST moved). */
export class HttpRedirectError extends HttpError {
  override name = 'HttpRedirectError';
  readonly transient = false;
}
