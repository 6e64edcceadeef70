/**
 * HTTP servers that misbehave the ways outside services do, for the outgoing-HTTP layer's
 * tests: redirecting elsewhere, never answering, dripping bytes, failing a few times first.
 * Every one listens on 127.0.0.1, records what it was asked, and stops itself (bounded loops).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { close, listen } from './http';

export interface RecordingServer {
  url: string;
  port: number;
  /** The paths asked for, in order. */
  requests: string[];
  /** How many connections were closed by the client before the server had finished answering. */
  closedEarly: number;
  close(): Promise<void>;
}

/** May return anything (e.g. `res.end()`); a returned promise is awaited. */
type Handler = (req: IncomingMessage, res: ServerResponse, n: number, server: RecordingServer) => unknown;

/** A server answering with `handler` (n = the request's number, from 0), recording every request. */
export async function recordingServer(handler: Handler): Promise<RecordingServer> {
  let server: Server | undefined;
  const state: RecordingServer = {
    url: '',
    port: 0,
    requests: [],
    closedEarly: 0,
    close: () => (server ? close(server) : Promise.resolve()),
  };
  server = createServer((req, res) => {
    const n = state.requests.length;
    state.requests.push(req.url ?? '');
    res.on('close', () => {
      if (!res.writableFinished) state.closedEarly += 1;
    });
    void Promise.resolve(handler(req, res, n, state)).catch(() => res.destroy());
  });
  state.port = await listen(server);
  state.url = `http://127.0.0.1:${state.port}`;
  return state;
}

/** Answers every request with `status` and a Location of `target` + the request's path. */
export function redirectingServer(status: number, target: () => string): Promise<RecordingServer> {
  return recordingServer((req, res) => {
    res.writeHead(status, { Location: `${target()}${req.url ?? '/'}`, 'Content-Length': 0 });
    res.end();
  });
}

/**
 * Answers 200 and then one byte every `intervalMs`, at most `bytes` of them (then ends): a
 * transfer that never pauses long enough for an idle timeout but never gets anywhere.
 */
export function drippingServer(intervalMs: number, bytes = 120): Promise<RecordingServer> {
  return recordingServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': bytes });
    let sent = 0;
    const timer = setInterval(() => {
      if (res.destroyed || sent >= bytes) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(' ');
      sent += 1;
    }, intervalMs);
    res.on('close', () => clearInterval(timer));
  });
}

export interface SilentServer {
  url: string;
  port: number;
  /** Connections accepted. */
  connections: number;
  /** Connections the client closed. */
  closedByClient: number;
  close(): Promise<void>;
}

/** Accepts connections and never answers a byte (until closed). */
export async function silentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const state = { url: '', port: 0, connections: 0, closedByClient: 0 } as SilentServer;
  let stopping = false;
  const server: TcpServer = createTcpServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      if (!stopping) state.closedByClient += 1;
    });
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  state.port = typeof address === 'object' && address ? address.port : 0;
  state.url = `http://127.0.0.1:${state.port}`;
  state.close = async () => {
    stopping = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}
