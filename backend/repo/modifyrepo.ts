import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ComposeLog } from '../compose-log';
import { runTool } from '../tools';

export interface ModulesMetadataOptions {
  /** The modifyrepo_c binary. */
  command: string;
  log: ComposeLog;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * Adds `modules.yaml` to an arch repository's repodata as the `modules` record, gzip
 * compressed, as Pungi's createrepo phase does for module composes; dnf reads module streams
 * from it. The file is written beside repodata/ (not inside the tree) and removed after.
 */
export async function addModulesMetadata(repoDir: string, yaml: string, options: ModulesMetadataOptions): Promise<void> {
  const tmp = await mkdtemp(path.join(path.dirname(repoDir), '.modules-'));
  try {
    const file = path.join(tmp, 'modules.yaml');
    await writeFile(file, yaml);
    await runTool(options.command, ['--mdtype=modules', '--compress-type=gz', file, path.join(repoDir, 'repodata')], {
      log: options.log,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
