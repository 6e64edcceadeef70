import type { NewCompose } from '../../common/db/entities';
import { SOURCE_TYPES } from '../../common/enums';

/** A valid new compose (alice's tag compose of f30-build) with `overrides`, for tests that use the store directly. */
export function newCompose(overrides: Partial<NewCompose> = {}): NewCompose {
  return {
    owner: 'alice',
    source_type: SOURCE_TYPES.tag,
    source: 'f30-build',
    modular_koji_tags: null,
    module_defaults_url: null,
    koji_event: null,
    sigkeys: [],
    results: 1,
    packages: null,
    builds: null,
    flags: 0,
    arches: ['x86_64'],
    multilib_arches: [],
    multilib_method: 0,
    lookaside_repos: [],
    label: null,
    compose_type: 'test',
    pungi_config_dump: null,
    target_dir: null,
    scratch_modules: null,
    scratch_build_tasks: null,
    parent_pungi_compose_ids: null,
    modules: null,
    respin_of: null,
    base_module_br_name: null,
    base_module_br_stream: null,
    base_module_br_stream_version_lte: null,
    base_module_br_stream_version_gte: null,
    seconds_to_live: 86400,
    ...overrides,
  };
}
