/** Small helpers for the rpm integration tests: run external tools, build repos of a selection. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, link, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RpmPackage } from '../../backend/rpm/model';

/**
 * installcheck checks only the arches named: plain `x86_64` skips noarch packages and
 * `x86_64:noarch` skips i686 ones (both exit 0 on a broken repository).
 */
export const X86_64_POLICY = 'x86_64:athlon:i686:i586:i486:i386:noarch';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool with an argument array; resolves with its exit code instead of throwing. */
export function runTool(
  command: string,
  args: string[],
  options: { cwd?: string; timeout?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, timeout: options.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

export async function mustRun(command: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  const r = await runTool(command, args, options);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `odcs-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A new repository (hard links + createrepo_c) holding exactly `packages` from `sourceRepo`. */
export async function repoOf(packages: readonly RpmPackage[], sourceRepo: string, dir: string): Promise<string> {
  await mkdir(path.join(dir, 'Packages'), { recursive: true });
  for (const p of packages) {
    await link(path.join(sourceRepo, p.location), path.join(dir, 'Packages', path.basename(p.location)));
  }
  await mustRun('createrepo_c', ['--quiet', '--no-database', dir]);
  return dir;
}

/** libsolv's view: a .solv file with primary and filelists of the repository in `repoDir`. */
export async function toSolv(repoDir: string, out: string): Promise<string> {
  await mustRun('repo2solv', ['-F', '-o', out, repoDir]);
  return out;
}

/**
 * libsolv's installcheck over `checked` (every package must be installable), using `helpers`
 * only to satisfy dependencies. Returns the "nothing provides X needed by Y" pairs and the
 * raw output. `arch` is an arch policy listing every arch to check (see X86_64_POLICY).
 */
export async function installcheck(
  arch: string,
  checked: string,
  helpers: string[] = [],
): Promise<{ code: number; output: string; nothingProvides: Array<{ requirement: string; package: string }> }> {
  const args = [arch, checked];
  if (helpers.length > 0) args.push('--nocheck', ...helpers);
  const r = await runTool('installcheck', args);
  const output = r.stdout + r.stderr;
  const nothingProvides = [...output.matchAll(/nothing provides (.+) needed by (\S+)/g)].map((m) => ({
    requirement: m[1]!,
    package: m[2]!,
  }));
  return { code: r.code, output, nothingProvides };
}
