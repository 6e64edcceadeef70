// The numeric values are part of ODCS's wire format: clients compare `state`
// and `source_type` as integers, so they must never change.

export const SOURCE_TYPES = {
  tag: 1,
  module: 2,
  repo: 3,
  pulp: 4,
  raw_config: 5,
  build: 6,
  pungi_compose: 7,
} as const;
export type SourceTypeName = keyof typeof SOURCE_TYPES;
export type SourceType = (typeof SOURCE_TYPES)[SourceTypeName];

export const STATES = {
  wait: 0,
  generating: 1,
  done: 2,
  removed: 3,
  failed: 4,
} as const;
export type StateName = keyof typeof STATES;
export type State = (typeof STATES)[StateName];

/** Bitmask; `no_flags` is a placeholder that is never listed in compose JSON. */
export const FLAGS = {
  no_flags: 0,
  no_deps: 1,
  no_inheritance: 2,
  include_unpublished_pulp_repos: 4,
  check_deps: 8,
  include_done_modules: 16,
  ignore_absent_pulp_repos: 32,
  no_reuse: 64,
  use_only_compatible_arch: 128,
  no_label: 256,
} as const;
export type FlagName = keyof typeof FLAGS;

export const RESULTS = {
  repository: 1,
  iso: 2,
  ostree: 4,
  'boot.iso': 8,
} as const;
export type ResultName = keyof typeof RESULTS;

export const MULTILIB_METHODS = {
  none: 0,
  runtime: 1,
  devel: 2,
  all: 4,
} as const;
export type MultilibMethodName = keyof typeof MULTILIB_METHODS;

function invert<T extends Record<string, number>>(table: T): Map<number, keyof T & string> {
  const out = new Map<number, keyof T & string>();
  for (const [name, value] of Object.entries(table)) out.set(value, name as keyof T & string);
  return out;
}

const SOURCE_TYPE_NAMES = invert(SOURCE_TYPES);
const STATE_NAMES = invert(STATES);

export function sourceTypeName(value: number): SourceTypeName | undefined {
  return SOURCE_TYPE_NAMES.get(value);
}

export function stateName(value: number): StateName | undefined {
  return STATE_NAMES.get(value);
}

export function isSourceTypeName(name: string): name is SourceTypeName {
  return Object.hasOwn(SOURCE_TYPES, name);
}

export function isStateName(name: string): name is StateName {
  return Object.hasOwn(STATES, name);
}

/** Names of the bits set in `mask`, in definition order (ODCS's JSON order). */
export function bitNames<T extends Record<string, number>>(table: T, mask: number): Array<keyof T & string> {
  const names: Array<keyof T & string> = [];
  for (const [name, bit] of Object.entries(table)) {
    if (bit !== 0 && (mask & bit) === bit) names.push(name as keyof T & string);
  }
  return names;
}

/** OR of the named bits; returns the first unknown name instead when there is one. */
export function bitMask<T extends Record<string, number>>(
  table: T,
  names: readonly string[],
): { mask: number } | { unknown: string } {
  let mask = 0;
  for (const name of names) {
    if (!Object.hasOwn(table, name)) return { unknown: name };
    mask |= table[name as keyof T];
  }
  return { mask };
}

/** States in which a compose will not change any more except to `removed`. */
export const FINAL_STATES: readonly State[] = [STATES.done, STATES.failed];
