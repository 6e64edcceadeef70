import type { Config } from './config';
import type { ComposeRow } from './db/entities';
import { bitNames, FLAGS, RESULTS, SOURCE_TYPES, stateName } from './enums';

/** ODCS's time format, `%Y-%m-%dT%H:%M:%SZ` in UTC. */
export function isoTime(d: Date): string;
export function isoTime(d: Date | null): string | null;
export function isoTime(d: Date | null): string | null {
  return d ? `${d.toISOString().slice(0, 19)}Z` : null;
}

function joined(list: readonly string[] | null): string | null {
  return list ? list.join(' ') : null;
}

/** The name of a compose's storage: "default", a key of extra_target_dirs, or "unknown". */
export function targetDirName(cfg: Config, storedPath: string | null): string {
  if (storedPath === null || storedPath === cfg.target_dir) return 'default';
  for (const [name, dir] of Object.entries(cfg.extra_target_dirs)) if (dir === storedPath) return name;
  return 'unknown';
}

/** `odcs-<id>`, or the name of the compose whose files a reusing compose shares (reference §2.8). */
export function composeName(row: Pick<ComposeRow, 'id' | 'reused_id'>): string {
  return `odcs-${row.reused_id ?? row.id}`;
}

export interface ComposeUrls {
  toplevel_url: string;
  result_repo: string;
  result_repofile: string;
}

export function composeUrls(cfg: Config, row: ComposeRow): ComposeUrls {
  if (targetDirName(cfg, row.target_dir) !== 'default') return { toplevel_url: '', result_repo: '', result_repofile: '' };
  const name = composeName(row);
  const toplevel = `${cfg.target_dir_url}/${name}`;
  const repo = `${toplevel}/compose/Temporary`;
  if (row.source_type === SOURCE_TYPES.raw_config) return { toplevel_url: toplevel, result_repo: '', result_repofile: '' };
  return { toplevel_url: toplevel, result_repo: repo, result_repofile: `${repo}/${name}.repo` };
}

export type ComposeJson = ReturnType<typeof composeJson>;

/**
 * A compose as ODCS's API shows it (reference §2.1): exactly its key set, list strings
 * space-joined, flag/result names, ISO times. `full` adds `pungi_config_dump` (single GET).
 */
export function composeJson(cfg: Config, row: ComposeRow, full = false) {
  const urls = composeUrls(cfg, row);
  const json = {
    id: row.id,
    owner: row.owner,
    source_type: row.source_type,
    source: row.source,
    state: row.state,
    state_name: stateName(row.state) ?? 'unknown',
    state_reason: row.state_reason,
    time_to_expire: isoTime(row.time_to_expire),
    time_submitted: isoTime(row.time_submitted),
    time_started: isoTime(row.time_started),
    time_done: isoTime(row.time_done),
    time_removed: isoTime(row.time_removed),
    removed_by: row.removed_by,
    result_repo: urls.result_repo,
    result_repofile: urls.result_repofile,
    toplevel_url: urls.toplevel_url,
    flags: bitNames(FLAGS, row.flags),
    results: bitNames(RESULTS, row.results),
    sigkeys: row.sigkeys.join(' '),
    koji_event: row.koji_event,
    koji_task_id: row.koji_task_id,
    packages: joined(row.packages),
    builds: joined(row.builds),
    arches: row.arches.join(' '),
    multilib_arches: row.multilib_arches.join(' '),
    multilib_method: row.multilib_method,
    lookaside_repos: joined(row.lookaside_repos),
    modular_koji_tags: joined(row.modular_koji_tags),
    module_defaults_url: row.module_defaults_url,
    label: row.label,
    compose_type: row.compose_type,
    pungi_compose_id: row.pungi_compose_id,
    target_dir: targetDirName(cfg, row.target_dir),
    scratch_modules: joined(row.scratch_modules),
    parent_pungi_compose_ids: joined(row.parent_pungi_compose_ids),
    scratch_build_tasks: joined(row.scratch_build_tasks),
    modules: joined(row.modules),
    respin_of: row.respin_of,
    base_module_br_name: row.base_module_br_name,
    base_module_br_stream: row.base_module_br_stream,
    base_module_br_stream_version_lte: row.base_module_br_stream_version_lte,
    base_module_br_stream_version_gte: row.base_module_br_stream_version_gte,
  };
  return full ? { ...json, pungi_config_dump: row.pungi_config_dump } : json;
}
