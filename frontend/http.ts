import type { Request } from 'express';
import { ApiError, BadRequest } from '../common/errors';

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads and decodes a JSON body whatever its Content-Type (as ODCS's `get_json(force=True)`).
 * Returns undefined for an empty body.
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
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`Failed to decode JSON object: ${(err as Error).message}`);
  }
}

/** scheme://host[/prefix] as the client sees us, honouring the reverse-proxy headers ODCS honours. */
export function externalBase(req: Request): string {
  const first = (v: string | string[] | undefined): string | undefined =>
    (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim() || undefined;
  const scheme = first(req.headers['x-scheme']) ?? req.protocol;
  const host = first(req.headers['x-forwarded-host']) ?? req.headers.host ?? 'localhost';
  // A prefix without its leading slash would run into the host name.
  const prefix = (first(req.headers['x-script-name']) ?? '').replace(/\/+$/, '').replace(/^(?=[^/])/, '/');
  return `${scheme}://${host}${prefix}`;
}

/** The first value of a query parameter (repeated parameters arrive as arrays). */
export function queryValue(req: Request, key: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[key];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}
