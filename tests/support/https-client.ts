import { request } from 'node:https';

export interface TlsIdentity {
  cert: Buffer;
  key: Buffer;
}

export interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * One HTTPS request with an optional client certificate, on its own connection (no agent, so
 * no TLS session or socket is shared between identities); the body is sent and read as JSON,
 * as ODCS's Python client does (requests with `cert=`).
 */
export function httpsJson(
  baseUrl: string,
  method: string,
  path: string,
  options: { ca: Buffer; identity?: TlsIdentity; body?: unknown; headers?: Record<string, string> },
): Promise<JsonResponse> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, baseUrl),
      {
        method,
        agent: false,
        ca: options.ca,
        cert: options.identity?.cert,
        key: options.identity?.key,
        headers: { ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json')) body = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
