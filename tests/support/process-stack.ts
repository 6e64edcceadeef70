import { mkdtempSync, rmSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AmqpBroker } from '../../common/broker/amqp-broker';
import { silentLogger } from '../../common/log';
import { freePort, ROOT, ServiceProcess, serviceEnv } from './processes';
import { uniqueName } from './stack';

export type Role = 'frontend' | 'backend' | 'beat';

const READY: Record<Role, string> = { frontend: 'API listening', backend: 'worker consuming', beat: 'beat started' };

export interface ProcessStackOptions {
  databaseUrl: string;
  amqpUrl: string;
  /** Which processes to run (one of each, in this order). */
  roles: Role[];
  /** Directories `repo` sources may name (allowed_repo_roots); `repo` is then an allowed source type. */
  repoRoots?: string[];
  /** More ODCS_* settings. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The service as users run it: bin/odcs-frontend, bin/odcs-backend and bin/odcs-beat as
 * separate processes on the given PostgreSQL and RabbitMQ, with a work queue, topic prefix and
 * target_dir of their own. Call buildDist() first.
 */
export class ProcessStack {
  readonly procs = new Map<Role, ServiceProcess>();

  private constructor(
    readonly env: NodeJS.ProcessEnv,
    /** http://127.0.0.1:<port> of the API. */
    readonly api: string,
    readonly dir: string,
    readonly targetDir: string,
  ) {}

  static async start(o: ProcessStackOptions): Promise<ProcessStack> {
    const dir = mkdtempSync(path.join(tmpdir(), 'odcs-procs-'));
    const port = await freePort();
    const targetDir = path.join(dir, 'composes');
    const env = serviceEnv({
      DATABASE_URL: o.databaseUrl,
      AMQP_URL: o.amqpUrl,
      PORT: String(port),
      ODCS_WORK_QUEUE: uniqueName('odcs.procs.composes'),
      ODCS_TARGET_DIR: targetDir,
      ODCS_DATA_DIR: dir,
      ODCS_MESSAGING_TOPIC_PREFIX: uniqueName('procs'),
      ODCS_LOG_LEVEL: 'info',
      ...(o.repoRoots
        ? { ODCS_ALLOWED_SOURCE_TYPES: 'tag module build repo', ODCS_ALLOWED_REPO_ROOTS: JSON.stringify(o.repoRoots) }
        : {}),
      ...o.env,
    });
    const stack = new ProcessStack(env, `http://127.0.0.1:${port}`, dir, targetDir);
    try {
      await Promise.all(o.roles.map((role) => stack.run(role)));
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  /** Starts (or restarts) the process of `role` and waits until it is ready. */
  async run(role: Role): Promise<ServiceProcess> {
    const p = new ServiceProcess(path.join(ROOT, 'bin', `odcs-${role}`), [], this.env);
    this.procs.set(role, p);
    await p.waitFor(READY[role], 60000);
    return p;
  }

  /** Stops the process of `role` for good (it no longer counts as crashed). */
  async halt(role: Role): Promise<number | null | undefined> {
    const p = this.procs.get(role);
    this.procs.delete(role);
    return p?.stop();
  }

  /** Roles whose process has exited although nobody stopped it. */
  crashed(): Role[] {
    return [...this.procs].filter(([, p]) => p.child.exitCode !== null || p.child.signalCode !== null).map(([r]) => r);
  }

  /** Stops every process (SIGTERM), deletes the work queue; returns the exit codes by role. */
  async stop(): Promise<Partial<Record<Role, number | null>>> {
    const codes: Partial<Record<Role, number | null>> = {};
    await Promise.all([...this.procs].map(async ([role, p]) => (codes[role] = await p.stop())));
    // The queue is durable: left on a shared broker it would outlive the test with its messages.
    const broker = new AmqpBroker(this.env.AMQP_URL ?? '', silentLogger(), { connectTimeoutMs: 2000 });
    await broker.deleteQueue(this.env.ODCS_WORK_QUEUE ?? '').catch(() => undefined);
    await broker.close();
    rmSync(this.dir, { recursive: true, force: true });
    return codes;
  }
}

/** One HTTP exchange: the status, the Content-Type and the decoded JSON body (undefined if not JSON). */
export interface Answer {
  status: number;
  contentType: string;
  body: unknown;
  text: string;
}

/** Sends a request and reads the whole answer. Network failures reject. */
export async function exchange(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body, text };
}

export const postJson = (url: string, body: unknown): Promise<Answer> =>
  exchange(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

/**
 * Why `a` is not an ODCS error answer (reference §1.2: JSON `{status, error, message}` whose
 * status is the HTTP status and error its reason phrase), or undefined when it is one.
 */
export function odcsErrorProblem(a: Answer): string | undefined {
  if (!a.contentType.startsWith('application/json')) return `Content-Type ${a.contentType}`;
  const b = a.body as Record<string, unknown> | undefined;
  if (!b || typeof b !== 'object' || Array.isArray(b)) return `body ${a.text.slice(0, 200)}`;
  const keys = Object.keys(b).sort().join(',');
  if (keys !== 'error,message,status') return `keys ${keys}`;
  if (b.status !== a.status) return `status ${String(b.status)} in a ${a.status} answer`;
  if (b.error !== STATUS_CODES[a.status]) return `error ${String(b.error)}`;
  if (typeof b.message !== 'string' || b.message === '') return 'no message';
  return undefined;
}

/** An answer of a request sent by a RequestStream, with when it was sent and how long it took. */
export interface Sent<T> {
  label: T;
  at: number;
  ms: number;
  answer?: Answer;
  /** The network error, when there was no answer at all. */
  error?: string;
}

/**
 * Sends requests at a steady rate (one every `intervalMs`, not waiting for earlier answers, as
 * independent clients would) until stopped, and keeps every answer.
 */
export class RequestStream<T> {
  readonly sent: Array<Sent<T>> = [];
  private readonly pending = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private n = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly next: (n: number) => { label: T; send: () => Promise<Answer> },
  ) {}

  start(): this {
    const fire = (): void => {
      const { label, send } = this.next(this.n++);
      const record: Sent<T> = { label, at: Date.now(), ms: 0 };
      this.sent.push(record);
      const p = send().then(
        (answer) => {
          record.answer = answer;
        },
        (err: unknown) => {
          record.error = (err as Error).message;
        },
      );
      const tracked = p.finally(() => {
        record.ms = Date.now() - record.at;
        this.pending.delete(tracked);
      });
      this.pending.add(tracked);
    };
    fire();
    this.timer = setInterval(fire, this.intervalMs);
    return this;
  }

  /** Stops sending and waits for the answers still outstanding. */
  async stop(): Promise<Array<Sent<T>>> {
    clearInterval(this.timer);
    await Promise.all([...this.pending]);
    return this.sent;
  }
}

/** Package sets that resolve in the fixture repositories (with the lookaside), for varied real composes. */
const PACKAGE_SETS: readonly string[][] = [['app'], ['app', 'richapp'], ['usesshared'], ['app', 'richapp', 'usesshared'], ['toolx']];

/**
 * The n-th of a stream of `repo` compose requests over the fixture repositories: varied package
 * sets; three in four with `no_reuse`, so they are really built, the others free to be reused.
 */
export function repoComposeRequest(repos: { main: string; lookaside: string }, n: number): Record<string, unknown> {
  return {
    source: { type: 'repo', source: repos.main, packages: PACKAGE_SETS[n % PACKAGE_SETS.length] },
    lookaside_repos: [repos.lookaside],
    ...(n % 4 === 3 ? {} : { flags: ['no_reuse'] }),
  };
}
