import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';

export { freePort } from '../../common/net';

export const ROOT = path.join(__dirname, '..', '..');

/** Compiles the service into dist/ (incremental, so cheap when nothing changed). */
export function buildDist(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'pipe',
  });
}

/** A process of the service run as users run it, with its output kept for assertions. */
export class ServiceProcess {
  output = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  /** `cwd`: where the user runs it from (the checkout unless said otherwise). */
  constructor(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string = ROOT) {
    this.child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Waits until the output contains `text`; fails early if the process exits. */
  async waitFor(text: string | RegExp, timeoutMs = 60000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (!(typeof text === 'string' ? this.output.includes(text) : text.test(this.output))) {
      if (exited) throw new Error(`process exited before printing ${String(text)}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** The environment of a spawned service: the machine's, minus anything that would point it elsewhere. */
export function serviceEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('ODCS_') || k === 'DATABASE_URL' || k === 'AMQP_URL' || k === 'PORT' || k === 'HOST') continue;
    if (k.startsWith('JEST') || k === 'NODE_ENV') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}
