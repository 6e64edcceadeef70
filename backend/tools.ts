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
}

function pythonList(argv: readonly string[]): string {
  return `[${argv.map((a) => `'${a.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}]`;
}

/**
 * Runs an external tool with an argument array (never a shell), its output appended to the
 * compose's log files. A non-zero exit fails with ODCS's message for a failed Pungi run, naming
 * the logs; a timeout or an abort kills the tool's whole process group.
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
    child.stdout.pipe(options.log.stdout, { end: false });
    child.stderr.pipe(options.log.stderr, { end: false });
    let stopped: Error | undefined;
    const kill = (why: Error): void => {
      stopped = why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    };
    const timer = options.timeoutMs
      ? setTimeout(() => kill(new ToolError(`${command} did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} seconds`)), options.timeoutMs)
      : undefined;
    const onAbort = (): void => kill(options.signal?.reason instanceof Error ? options.signal.reason : new ToolError('aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(new ToolError(`Cannot run ${command}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (stopped) return reject(stopped);
      if (code === 0) return resolve();
      reject(
        new ToolError(
          `Command '${pythonList(argv)}' returned non-zero value ${code ?? signal}, stdout log: ${options.log.stdoutPath}, stderr log: ${options.log.stderrPath}`,
        ),
      );
    });
  });
}
