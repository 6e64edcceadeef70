/** Looking at a running embedded default (`npm start`) from outside, as an operator would. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Pids of PostgreSQL postmasters serving `pgDir` (`postgres … -D <pgDir>`), from /proc. */
export function postmastersOf(pgDir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const d = argv.indexOf('-D');
    if (path.basename(argv[0] ?? '') === 'postgres' && d > 0 && argv[d + 1] === pgDir) out.push(Number(entry));
  }
  // A backend the postmaster has just forked shows the postmaster's command line until it sets
  // its own title: count only processes whose parent is not one of them.
  return out.filter((pid) => !out.includes(parentOf(pid)));
}

function parentOf(pid: number): number {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Whether process `pid` exists (and is not a zombie we could still reap). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** The pids of the worker processes the embedded default said it started, in order. */
export function workerPids(output: string): number[] {
  return [...output.matchAll(/"workerPid":(\d+)[^\n]*"msg":"worker process started"/g)].map((m) => Number(m[1]));
}
