import { spawn } from 'node:child_process';
import type { ComposeLog } from './compose-log';

export interface RunToolOptions {
  cwd?: string;
  log: ComposeLog;
  signal?: AbortSignal;
  /** Kill the tool (and its children) after this long. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export class ToolError extends Error {
  override name = 'ToolError';
  /**
   * @param logs the log files the message names, which users are shown as their URLs
   *   (ODCS's reason for a failed Pungi run names its logs that way).
   */
  constructor(
    message: string,
    readonly logs: readonly string[] = [],
  ) {
    super(message);
  }
}

function pythonList(argv: readonly string[]): string {
  return `[${argv.map((a) => `'${a.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}]`;
}

/** How long a tool gets between SIGTERM and SIGKILL when it is stopped. */
export const TOOL_KILL_GRACE_MS = 5000;

/** Tools running now, each until its process has exited. */
const running = new Set<Promise<void>>();

/**
 * Resolves once every tool started so far has exited. A compose may end (timeout, abort)
 * before its stopped tool is gone; a process that is about to exit waits here, so that no tool
 * outlives it (within TOOL_KILL_GRACE_MS of being stopped).
 */
export async function toolsExited(): Promise<void> {
  while (running.size) await Promise.allSettled([...running]);
}

/** Sends `signal` to the whole process group of `pid` (the tool and everything it started). */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  try {
    if (pid) process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Runs an external tool with an argument array (never a shell), its output appended to the
 * compose's log files. A non-zero exit fails with ODCS's message for a failed Pungi run, naming
 * the logs; a timeout or an abort stops the tool's whole process group: SIGTERM, then SIGKILL
 * after TOOL_KILL_GRACE_MS for a tool that ignores it, so a hung tool never holds a slot.
 */
export function runTool(command: string, args: readonly string[], options: RunToolOptions): Promise<void> {
  const argv = [command, ...args];
  options.log.info(`Running: ${argv.join(' ')}`);
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason instanceof Error ? options.signal.reason : new ToolError('aborted'));
      return;
    }
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((done) => {
      child.once('exit', () => done());
      child.once('error', () => done());
    });
    running.add(exited);
    void exited.then(() => running.delete(exited));
    // The log sinks never fail their writers (see ComposeLog), so the tool is never stalled on a full pipe.
    child.stdout.pipe(options.log.stdout, { end: false });
    child.stderr.pipe(options.log.stderr, { end: false });
    // A broken pipe from the tool only loses output; unhandled, it would end the process.
    child.stdout.on('error', () => undefined);
    child.stderr.on('error', () => undefined);
    let stopped: Error | undefined;
    let killer: NodeJS.Timeout | undefined;
    const kill = (why: Error): void => {
      if (stopped) return;
      stopped = why;
      signalGroup(child.pid, 'SIGTERM');
      killer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), TOOL_KILL_GRACE_MS);
    };
    const timer = options.timeoutMs
      ? setTimeout(() => kill(new ToolError(`${command} did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} seconds`)), options.timeoutMs)
      : undefined;
    const onAbort = (): void => kill(options.signal?.reason instanceof Error ? options.signal.reason : new ToolError('aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanUp = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => {
      cleanUp();
      clearTimeout(killer);
      reject(new ToolError(`Cannot run ${command}: ${err.message}`));
    });
    child.once('exit', () => {
      if (!stopped) return;
      // A stopped tool's group may still hold its pipes open: make sure the group is gone,
      // and do not wait for the pipes to close.
      signalGroup(child.pid, 'SIGKILL');
      clearTimeout(killer);
      cleanUp();
      child.stdout.destroy();
      child.stderr.destroy();
      reject(stopped);
    });
    child.once('close', (code, signal) => {
      cleanUp();
      clearTimeout(killer);
      if (stopped) return reject(stopped);
      if (code === 0) return resolve();
      reject(
        new ToolError(
          `Command '${pythonList(argv)}' returned non-zero value ${code ?? signal}, stdout log: ${options.log.stdoutPath}, stderr log: ${options.log.stderrPath}`,
          [options.log.stdoutPath, options.log.stderrPath],
        ),
      );
    });
  });
}
