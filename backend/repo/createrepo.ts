import type { ComposeLog } from '../compose-log';
import { runTool } from '../tools';

export interface CreaterepoOptions {
  /** The createrepo_c binary. */
  command: string;
  log: ComposeLog;
  signal?: AbortSignal;
  /** Repositories whose existing metadata describes (some of) these packages. */
  reuseFrom?: readonly string[];
  timeoutMs?: number;
}

/**
 * createrepo_c on one arch repository. With `reuseFrom`, packages already described there (by
 * file name) are taken from that metadata instead of being read again. That is only right when
 * every file is exactly the one the metadata describes, which the caller guarantees: each file
 * came out of the package store, where it was verified against that metadata's checksum, and
 * no two described packages share a file name. sha256 checksums as Pungi configures; no sqlite
 * databases (dnf does not use them).
 */
export function createrepo(dir: string, options: CreaterepoOptions): Promise<void> {
  const args = ['--checksum', 'sha256', '--no-database', '--workers', '2'];
  if (options.reuseFrom?.length) {
    args.push('--update', '--skip-stat');
    for (const md of options.reuseFrom) args.push('--update-md-path', md);
  }
  args.push(dir);
  return runTool(options.command, args, { log: options.log, signal: options.signal, timeoutMs: options.timeoutMs });
}
