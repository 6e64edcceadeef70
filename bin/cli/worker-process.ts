import { type ChildProcess, fork } from 'node:child_process';
import type { Broker } from '../../common/broker/broker';
import { type ServedChild, serveBrokerToChild } from '../../common/broker/ipc-broker';
import type { Logger } from '../../common/log';

export interface WorkerProcessOptions {
  /** The compiled child entry (embedded-worker.js). */
  entry: string;
  /** V8's old-space bound of the child (--max-old-space-size), MB. */
  heapMb: number;
  env: NodeJS.ProcessEnv;
  /** The parent's in-process broker, served to the child over IPC; none when the child uses RabbitMQ. */
  broker?: Broker;
  log: Logger;
  /** Where the child's stderr goes (besides the last 8 KB kept to tell why it died); default ours. */
  stderr?: NodeJS.WritableStream;
  /** A child that ran this long before dying is restarted at once; a faster death doubles the wait. */
  healthyAfterMs?: number;
  maxBackoffMs?: number;
}

/** Exit and signal, plus what the child's last words say about it. */
function whyItDied(code: number | null, signal: NodeJS.Signals | null, stderrTail: string, heapMb: number): string {
  if (/heap out of memory|Reached heap limit/i.test(stderrTail)) return `ran out of memory (its heap is bounded to ${heapMb} MB by embedded_worker_heap_mb)`;
  if (signal) return `killed by ${signal}`;
  return `exited with code ${code}`;
}

/**
 * The embedded default's worker and beat, in a child process of their own: a compose that grows
 * the heap past its bound, or parses and depsolves for seconds, takes down or slows that child
 * only, never the API. A dead child is replaced (with a growing pause if it keeps dying), and
 * what it held unacknowledged is redelivered to the new one.
 */
export class WorkerProcess {
  private child?: ChildProcess;
  private served?: ServedChild;
  private stopping = false;
  private failures = 0;
  private restartTimer?: NodeJS.Timeout;
  private exited: Promise<void> = Promise.resolve();
  private readonly healthyAfterMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly o: WorkerProcessOptions) {
    this.healthyAfterMs = o.healthyAfterMs ?? 60000;
    this.maxBackoffMs = o.maxBackoffMs ?? 30000;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopping) return;
    const startedAt = Date.now();
    const child = fork(this.o.entry, [], {
      env: this.o.env,
      execArgv: [`--max-old-space-size=${this.o.heapMb}`],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child = child;
    this.served = this.o.broker ? serveBrokerToChild(this.o.broker, child) : undefined;
    const served = this.served;
    let stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      (this.o.stderr ?? process.stderr).write(chunk);
      stderrTail = (stderrTail + chunk.toString()).slice(-8192);
    });
    child.on('error', (err) => this.o.log.error({ err: err.message }, 'worker process error'));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        void (served ? served.detach() : Promise.resolve()).finally(() => resolve());
        if (this.stopping) return;
        const ranMs = Date.now() - startedAt;
        this.failures = ranMs >= this.healthyAfterMs ? 1 : this.failures + 1;
        const restartInMs = Math.min(this.maxBackoffMs, 500 * 2 ** (this.failures - 1));
        this.o.log.error(
          { workerPid: child.pid, code, signal, reason: whyItDied(code, signal, stderrTail, this.o.heapMb), restartInMs },
          'worker process died; the API keeps running and a new worker process starts',
        );
        this.restartTimer = setTimeout(() => this.start(), restartInMs);
      });
    });
    this.o.log.info({ workerPid: child.pid, heapMb: this.o.heapMb }, 'worker process started');
  }

  /** Asks the child to stop gracefully (SIGTERM) and waits; a child that will not stop is killed. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // The child bounds its own graceful stop; this is only for one that hangs past it.
      const kill = setTimeout(() => child.kill('SIGKILL'), 60000);
      kill.unref();
      await this.exited;
      clearTimeout(kill);
    }
    await this.served?.detach();
  }
}
