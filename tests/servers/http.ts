/** Small helpers shared by the test doubles: listen on an ephemeral port, stop, serve files. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function close(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/** Reads a request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export interface StaticFileOptions {
  root: string;
  /** The URL path below the mount point, still percent-encoded (e.g. `packages/foo/…`). */
  relative: string;
  /** Called with every chunk of file content sent. */
  onBytes?: (n: number) => void;
}

/**
 * Serves one file under `root` like an ordinary static server: GET and HEAD, Content-Length,
 * `Accept-Ranges: bytes`, one `Range` (`a-b`, `a-`, `-n`) answered with 206, an unsatisfiable
 * one with 416; several ranges are ignored (the whole file, 200), as servers may do.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, options: StaticFileOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  let relative: string;
  try {
    relative = decodeURIComponent(options.relative);
  } catch {
    sendText(res, 400, 'Bad Request\n');
    return;
  }
  const root = path.resolve(options.root);
  const file = path.resolve(root, `.${path.posix.sep}${relative}`);
  if (file !== root && !file.startsWith(root + path.sep)) {
    sendText(res, 403, 'Forbidden\n');
    return;
  }
  let size: number;
  let mtime: Date;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
    mtime = st.mtime;
  } catch {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  const type = file.endsWith('.rpm') ? 'application/x-redhat-package-manager' : 'application/octet-stream';
  const headers: Record<string, string | number> = {
    'Content-Type': type,
    'Accept-Ranges': 'bytes',
    'Last-Modified': mtime.toUTCString(),
  };
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.range;
  if (range !== undefined) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        const suffix = Number(m[2]);
        start = Math.max(0, size - suffix);
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start >= size || start > end || (m[1] === '' && Number(m[2]) === 0)) {
        sendText(res, 416, 'Range Not Satisfiable\n', { 'Content-Range': `bytes */${size}` });
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
  }
  const length = size === 0 ? 0 : end - start + 1;
  headers['Content-Length'] = length;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(file, { start, end });
  stream.on('data', (chunk) => options.onBytes?.((chunk as Buffer).length));
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}
