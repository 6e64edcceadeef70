import type { ClientRules, Config } from '../common/config';
import type { ComposeAttributes } from '../common/schemas/compose-request';

/** Who is asking. Under `noauth` there is no real user and every check passes (reference §4.1). */
export interface Caller {
  username: string;
  groups: readonly string[];
  /** True under the `noauth` backend. */
  anonymous: boolean;
  /** The backend that established who this is. */
  via: AuthVia;
  /** The token's scopes (reference §4.2); set by `openidc` only, which checks them per route. */
  scopes?: readonly string[];
}

export type AuthVia = 'noauth' | 'openidc' | 'kerberos' | 'ssl';

export type Decision = { allowed: true } | { allowed: false; message: string };

const ALLOW: Decision = { allowed: true };
const deny = (message: string): Decision => ({ allowed: false, message });

type Role = 'allowed_clients' | 'admins';

/** Reference §4.3: membership by user name or by any group. */
export function hasRole(cfg: Config, caller: Caller, role: Role): boolean {
  if (caller.anonymous) return true;
  if (role === 'admins') {
    return cfg.admins.users.includes(caller.username) || caller.groups.some((g) => cfg.admins.groups.includes(g));
  }
  const clients = cfg.allowed_clients;
  return Object.hasOwn(clients.users, caller.username) || caller.groups.some((g) => Object.hasOwn(clients.groups, g));
}

export function checkRole(cfg: Config, caller: Caller, role: Role): Decision {
  return hasRole(cfg, caller, role) ? ALLOW : deny(`User ${caller.username} is not in role ${role}.`);
}

/** The allowed values of each attribute when a client's rules do not name it (reference §4.4 table). */
function defaultsFor(cfg: Config): Required<ClientRules> {
  return {
    source_types: cfg.allowed_source_types,
    sources: cfg.allowed_sources,
    results: cfg.allowed_results,
    flags: cfg.allowed_flags,
    arches: cfg.allowed_arches,
    compose_types: cfg.allowed_compose_types,
    target_dirs: cfg.allowed_target_dirs,
    raw_config_keys: Object.keys(cfg.raw_config_urls),
  };
}

const ATTRIBUTE_ORDER: ReadonlyArray<keyof ComposeAttributes> = [
  'source_types',
  'sources',
  'results',
  'flags',
  'arches',
  'compose_types',
  'target_dirs',
  'raw_config_keys',
];

/** The errors of one rule set: one per attribute, naming its first value that is not allowed. */
function ruleSetErrors(cfg: Config, caller: Caller, rules: ClientRules, attrs: ComposeAttributes): string[] {
  const defaults = defaultsFor(cfg);
  const errors: string[] = [];
  for (const attr of ATTRIBUTE_ORDER) {
    const allowed = rules[attr] ?? defaults[attr];
    // [""] is ODCS's wildcard.
    if (allowed.length === 1 && allowed[0] === '') continue;
    const bad = attrs[attr].find((v) => !allowed.includes(v));
    if (bad !== undefined) errors.push(`User ${caller.username} not allowed to operate with compose with ${attr}=${bad}.`);
  }
  return errors;
}

/**
 * Reference §4.4 (`raise_if_input_not_allowed`): may this caller create or renew a compose with
 * these attributes? A user entry in allowed_clients overrides group entries; otherwise any one
 * matching group entry that allows everything suffices. Admins pass (ODCS 0.7+).
 */
export function checkComposeAttributes(cfg: Config, caller: Caller, attrs: ComposeAttributes): Decision {
  if (caller.anonymous || hasRole(cfg, caller, 'admins')) return ALLOW;
  const { users, groups } = cfg.allowed_clients;
  const ruleSets: ClientRules[] = Object.hasOwn(users, caller.username)
    ? [users[caller.username]]
    : caller.groups.filter((g) => Object.hasOwn(groups, g)).map((g) => groups[g]);
  if (ruleSets.length === 0) return deny(`User ${caller.username} not allowed to operate with any compose.`);
  const errors = new Set<string>();
  for (const rules of ruleSets) {
    const e = ruleSetErrors(cfg, caller, rules, attrs);
    if (e.length === 0) return ALLOW;
    for (const m of e) errors.add(m);
  }
  return deny([...errors].join(' '));
}

/**
 * Reference §1.6 step 2: the owner or an admin may cancel a `wait` compose. (ODCS prints a
 * literal `%s` instead of the id here; we fill it in.)
 */
export function checkCancel(cfg: Config, caller: Caller, compose: { id: number; owner: string }): Decision {
  if (caller.anonymous || caller.username === compose.owner || hasRole(cfg, caller, 'admins')) return ALLOW;
  return deny(`Compose (id=${compose.id}) can not be canceled, it's owned by someone else.`);
}
