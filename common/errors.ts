import { STATUS_CODES } from 'node:http';

/**
 * An error the API answers with ODCS's JSON shape `{status, error, message}` (reference §1.2).
 * The status decides the reason phrase; the message is shown to the client as is.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  get reason(): string {
    return STATUS_CODES[this.status] ?? 'Error';
  }

  toJSON(): { status: number; error: string; message: string } {
    return { status: this.status, error: this.reason, message: this.message };
  }
}

export class BadRequest extends ApiError {
  constructor(message: string) {
    super(400, message);
  }
}

export class Unauthorized extends ApiError {
  constructor(message: string, headers: Record<string, string> = {}) {
    super(401, message, headers);
  }
}

export class Forbidden extends ApiError {
  constructor(message: string) {
    super(403, message);
  }
}

export class NotFound extends ApiError {
  constructor(message: string) {
    super(404, message);
  }
}

export class ServiceUnavailable extends ApiError {
  constructor(message: string) {
    super(503, message, { 'Retry-After': '5' });
  }
}

/** A compose failed for a reason worth showing to its owner (becomes `state_reason`). */
export class ComposeError extends Error {
  override name = 'ComposeError';
}
