import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

export const STDOUT_LOG = 'pungi-stdout.log';
export const STDERR_LOG = 'pungi-stderr.log';

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * The log files at the top of a compose. Progress goes to `pungi-stderr.log` in Pungi's line
 * format, because the Python client's `--watch` tails that file (with Range requests) while
 * the compose is generating; tool output goes to both files as the tools write it.
 */
export class ComposeLog {
  private constructor(
    readonly dir: string,
    readonly stdout: WriteStream,
    readonly stderr: WriteStream,
  ) {}

  static async open(dir: string): Promise<ComposeLog> {
    await mkdir(dir, { recursive: true });
    const open = (name: string): WriteStream => createWriteStream(path.join(dir, name), { flags: 'a' });
    return new ComposeLog(dir, open(STDOUT_LOG), open(STDERR_LOG));
  }

  get stdoutPath(): string {
    return path.join(this.dir, STDOUT_LOG);
  }

  get stderrPath(): string {
    return path.join(this.dir, STDERR_LOG);
  }

  private line(level: string, message: string): void {
    this.stderr.write(`${stamp(new Date())} [${level.padEnd(8)}] ${message}\n`);
  }

  info(message: string): void {
    this.line('INFO', message);
  }

  warning(message: string): void {
    this.line('WARNING', message);
  }

  error(message: string): void {
    this.line('ERROR', message);
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.stdout, this.stderr].map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.end(() => resolve())))),
    );
  }
}
