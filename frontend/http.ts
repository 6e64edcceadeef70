import type { Request } from 'express';
import { ApiError, BadRequest } from '../common/errors';

export const MAX_BODY_BYTES = 1024 * 1024;

/** `application/json`, with or without parameters such as `charset`. */
const JSON_MEDIA_TYPE = /^application\/json\s*(;.*)?$/i;

/**
 * Reads and decodes a JSON body. A body must come as `application/json`, which is what the
 * Python client sends: ODCS parses any Content-Type (`get_json(force=True)`), which lets a web
 * page create composes cross-site with a `text/plain` or form POST (no CORS preflight for
 * those). An empty body (a PATCH renew without data, which the client sends with no
 * Content-Type) needs none. Returns undefined for an empty body.
 */
export async function readJsonBody(req: Request, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new ApiError(413, `The request body is larger than ${limit} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError(413, `The request body is larger than ${limit} bytes.`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  const type = req.headers['content-type'];
  if (!type || !JSON_MEDIA_TYPE.test(type)) {
    throw new ApiError(415, `The request body must be sent with Content-Type: application/json, not ${type ? JSON.stringify(type) : 'none'}.`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`Failed to decode JSON object: ${(err as Error).message}`);
  }
}

/** The first value of a query parameter (repeated parameters arrive as arrays). */
export function queryValue(req: Request, key: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[key];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}
