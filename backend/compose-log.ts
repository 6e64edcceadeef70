import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';

export const STDOUT_LOG = 'pungi-stdout.log';
export const STDERR_LOG = 'pungi-stderr.log';

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * One log file that can never throw or emit 'error' at its writers: a full disk (ENOSPC), a
 * vanished directory or a write after close is recorded in `failure` and the bytes are dropped,
 * so tool output piped into it keeps flowing (a stalled pipe would hang the tool) and an
 * unhandled 'error' event cannot end the process. The compose checks `failure` at its end.
 */
class LogSink extends Writable {
  failure?: NodeJS.ErrnoException;

  constructor(private readonly file: WriteStream) {
    super();
    file.on('error', (err) => this.fail(err));
    // Writes after close (a tool still running when the compose was abandoned) land here.
    this.on('error', (err) => this.fail(err));
  }

  private fail(err: NodeJS.ErrnoException): void {
    this.failure ??= err;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.failure || this.file.destroyed) return done();
    // Waiting for the file keeps back-pressure on the tool; an error is recorded, not passed on.
    this.file.write(chunk, (err) => {
      if (err) this.fail(err);
      done();
    });
  }

  override _final(done: () => void): void {
    if (this.file.closed) return done();
    this.file.once('close', () => done());
    if (this.file.destroyed) return;
    this.file.end();
  }
}

/**
 * The log files at the top of a compose. Progress goes to `pungi-stderr.log` in Pungi's line
 * format, because the Python client's `--watch` tails that file (with Range requests) while
 * the compose is generating; tool output goes to both files as the tools write it. Logging
 * never fails the caller: a write error is kept in `failure` (see LogSink).
 */
export class ComposeLog {
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly stdout: Writable,
    readonly stderr: Writable,
  ) {}

  static async open(dir: string): Promise<ComposeLog> {
    await mkdir(dir, { recursive: true });
    const open = (name: string): LogSink => new LogSink(createWriteStream(path.join(dir, name), { flags: 'a' }));
    return new ComposeLog(dir, open(STDOUT_LOG), open(STDERR_LOG));
  }

  get stdoutPath(): string {
    return path.join(this.dir, STDOUT_LOG);
  }

  get stderrPath(): string {
    return path.join(this.dir, STDERR_LOG);
  }

  /** The first error writing either log file, if any (e.g. ENOSPC). */
  get failure(): NodeJS.ErrnoException | undefined {
    return (this.stdout as LogSink).failure ?? (this.stderr as LogSink).failure;
  }

  private line(level: string, message: string): void {
    if (this.closed) return;
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
    this.closed = true;
    await Promise.all(
      [this.stdout, this.stderr].map(
        (s) => new Promise<void>((resolve) => (s.writableFinished || s.destroyed ? resolve() : s.end(() => resolve()))),
      ),
    );
  }
}
