import { z } from 'zod';
import type { Config } from '../config';
import type { NewCompose } from '../db/entities';
import {
  bitMask,
  bitNames,
  FLAGS,
  isSourceTypeName,
  MULTILIB_METHODS,
  RESULTS,
  SOURCE_TYPES,
  type SourceTypeName,
} from '../enums';
import { BadRequest } from '../errors';
import { pyRepr } from '../python-repr';
import { checkPungiComposeUrl, checkRepoLocation, expandBasearch } from '../repo-location';
import { validateJsonData } from './generic';
import {
  checkArches,
  checkComposeType,
  checkContentSets,
  checkGitRef,
  checkLabel,
  checkModuleParts,
  checkNvrs,
  checkSigkeys,
  checkTagNames,
  checkTaskIds,
} from './safe-names';

// ---------------------------------------------------------------------------------------------
// Shapes. The generic check (validateJsonData) runs first and gives ODCS's own messages; these
// schemas add what ODCS leaves unchecked (and then crashes on) with messages in the same style.

const MAX_INT = Number.MAX_SAFE_INTEGER;

const integer = (key: string) =>
  z
    .union([z.boolean().transform((b) => (b ? 1 : 0)), z.number()], { error: `${key} should be an integer` })
    .refine((n) => Number.isInteger(n) && Math.abs(n) <= MAX_INT, { error: `${key} should be an integer` });

const nonNegativeInteger = (key: string) =>
  integer(key).refine((n) => n >= 0, { error: `${key} should not be negative` });

const text = (key: string) => z.string({ error: `${key} should be a string` }).max(4096, { error: `${key} is too long` });

const textList = (key: string) =>
  z
    .array(z.string({ error: `${key} should be a list of strings` }).max(4096, { error: `${key} holds a too long value` }), {
      error: `${key} should be a list`,
    })
    .max(10000, { error: `${key} holds too many values` });

export const composeSourceSchema = z.looseObject({
  type: z.string(),
  source: text('source').max(1 << 20, { error: 'source is too long' }).optional(),
  packages: textList('packages').optional(),
  builds: textList('builds').optional(),
  sigkeys: textList('sigkeys').optional(),
  koji_event: nonNegativeInteger('koji_event').optional(),
  modular_koji_tags: textList('modular_koji_tags').optional(),
  module_defaults_url: text('module_defaults_url').optional(),
  module_defaults_commit: text('module_defaults_commit').optional(),
  scratch_modules: textList('scratch_modules').optional(),
  scratch_build_tasks: textList('scratch_build_tasks').optional(),
  modules: textList('modules').optional(),
  base_module_br_name: text('base_module_br_name').optional(),
  base_module_br_stream: text('base_module_br_stream').optional(),
  base_module_br_stream_version_lte: nonNegativeInteger('base_module_br_stream_version_lte').optional(),
  base_module_br_stream_version_gte: nonNegativeInteger('base_module_br_stream_version_gte').optional(),
});

export const composeRequestSchema = z.looseObject({
  source: composeSourceSchema,
  seconds_to_live: integer('seconds_to_live').optional(),
  flags: textList('flags').optional(),
  results: textList('results').optional(),
  arches: textList('arches').optional(),
  multilib_arches: textList('multilib_arches').optional(),
  multilib_method: textList('multilib_method').optional(),
  lookaside_repos: textList('lookaside_repos').optional(),
  label: text('label').optional(),
  compose_type: text('compose_type').optional(),
  target_dir: text('target_dir').optional(),
  parent_pungi_compose_ids: textList('parent_pungi_compose_ids').optional(),
  respin_of: text('respin_of').optional(),
});
export type ComposeRequest = z.infer<typeof composeRequestSchema>;

export const renewRequestSchema = z.looseObject({
  seconds_to_live: integer('seconds_to_live').optional(),
  sigkeys: textList('sigkeys').optional(),
  label: text('label').optional(),
  source: z
    .looseObject({
      builds: textList('builds').optional(),
      modules: textList('modules').optional(),
    })
    .optional(),
});
export type RenewRequest = z.infer<typeof renewRequestSchema>;

function parseShape<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new BadRequest(parsed.error.issues[0]?.message ?? 'Invalid request');
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Shared steps of POST and PATCH.

/** Reference §1.5.1 steps 1–3: something was sent, and it passes ODCS's generic check. */
export function checkBody(body: unknown, allowEmpty: boolean): Record<string, unknown> {
  const empty = !body || (typeof body === 'object' && Object.keys(body).length === 0);
  if (empty) {
    if (allowEmpty) return {};
    throw new BadRequest('No JSON POST data submitted');
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    // ODCS would iterate a list or crash on a scalar; neither is a compose request.
    throw new BadRequest(`Invalid source configuration provided: ${pyRepr(body)}`);
  }
  validateJsonData(body);
  return body as Record<string, unknown>;
}

/** The default and the maximum lifetime of a compose. */
export interface Lifetime {
  seconds_to_live: number;
  max_seconds_to_live: number;
}

/**
 * Reference §6.2 [latest]: a raw_config compose takes the `seconds_to_live` and
 * `max_seconds_to_live` of its raw_config_urls entry where the entry sets them; every other
 * compose takes the global ones.
 */
export function lifetimeFor(cfg: Config, c: { source_type: number; source: string }): Lifetime {
  const global: Lifetime = { seconds_to_live: cfg.seconds_to_live, max_seconds_to_live: cfg.max_seconds_to_live };
  if (c.source_type !== SOURCE_TYPES.raw_config) return global;
  const name = c.source.split('#')[0];
  const entry = Object.hasOwn(cfg.raw_config_urls, name) ? cfg.raw_config_urls[name] : undefined;
  const max = entry?.max_seconds_to_live ?? global.max_seconds_to_live;
  return { seconds_to_live: Math.min(entry?.seconds_to_live ?? global.seconds_to_live, max), max_seconds_to_live: max };
}

/**
 * Reference §1.5.1 step 10 / §6.2: the requested lifetime, capped at the maximum; the default
 * when missing or zero. `seconds-to-live` is the spelling the Python client still sends.
 */
export function secondsToLive(
  cfg: Config,
  body: Record<string, unknown>,
  lifetime: Lifetime = { seconds_to_live: cfg.seconds_to_live, max_seconds_to_live: cfg.max_seconds_to_live },
): number {
  const raw = body.seconds_to_live !== undefined ? body.seconds_to_live : body['seconds-to-live'];
  if (!raw) return lifetime.seconds_to_live;
  const n = pythonInt(raw);
  if (n === undefined) throw new BadRequest(`Invalid seconds_to_live specified in request: ${pyRepr(body)}`);
  if (n === 0) return lifetime.seconds_to_live;
  // No lower bound in ODCS (a negative value gives an already expired compose); clamp only so
  // that a huge negative number cannot overflow the database's interval arithmetic.
  return Math.max(-lifetime.max_seconds_to_live, Math.min(n, lifetime.max_seconds_to_live));
}

/** Python's int() of a JSON value, or undefined where Python raises. */
function pythonInt(v: unknown): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : undefined;
  if (typeof v === 'string') {
    const s = v.trim().replace(/(\d)_(?=\d)/g, '$1');
    if (!/^[+-]?\d+$/.test(s)) return undefined;
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : Math.sign(n) * MAX_INT;
  }
  return undefined;
}

/** What the permission rules of reference §4.4 look at. */
export interface ComposeAttributes {
  source_types: string[];
  sources: string[];
  results: string[];
  flags: string[];
  arches: string[];
  compose_types: string[];
  /** Name of an extra target dir; empty for the default one, which is always allowed. */
  target_dirs: string[];
  /** The `name` of a raw_config `name#commit` source; empty for other types. */
  raw_config_keys: string[];
}

export function composeAttributes(
  c: Pick<NewCompose, 'source_type' | 'source' | 'results' | 'flags' | 'arches' | 'compose_type'>,
  targetDirName: string | undefined,
): ComposeAttributes {
  const typeName = Object.entries(SOURCE_TYPES).find(([, v]) => v === c.source_type)?.[0] ?? String(c.source_type);
  const sources = c.source ? c.source.split(' ') : [];
  return {
    source_types: [typeName],
    sources,
    results: bitNames(RESULTS, c.results),
    // ODCS lists `no_flags` for every compose (reference §4.4).
    flags: ['no_flags', ...bitNames(FLAGS, c.flags)],
    arches: c.arches,
    compose_types: [c.compose_type ?? 'test'],
    target_dirs: targetDirName && targetDirName !== 'default' ? [targetDirName] : [],
    raw_config_keys: c.source_type === SOURCE_TYPES.raw_config ? sources.map((s) => s.split('#')[0]) : [],
  };
}

// ---------------------------------------------------------------------------------------------
// POST /api/1/composes/

export interface ParsedComposeRequest {
  compose: Omit<NewCompose, 'owner'>;
  attributes: ComposeAttributes;
}

/**
 * Turns a decoded POST body into the compose to create, following reference §1.5.1 steps 2–17
 * with Appendix A's messages. Throws BadRequest; never touches the database.
 */
export function parseComposeRequest(cfg: Config, body: unknown): ParsedComposeRequest {
  const data = checkBody(body, false);

  // Steps 4–6 quote the request back as Python printed it.
  const rawSource = data.source;
  if (rawSource === null || typeof rawSource !== 'object' || Array.isArray(rawSource)) {
    throw new BadRequest(`Invalid source configuration provided: ${pyRepr(data)}`);
  }
  if (!('type' in rawSource)) {
    throw new BadRequest(`Missing type in source configuration, received: ${pyRepr(rawSource)}`);
  }
  const typeName = (rawSource as { type: unknown }).type;
  if (typeof typeName !== 'string' || !isSourceTypeName(typeName)) {
    throw new BadRequest(`Unknown source type "${String(typeName)}"`);
  }
  const sourceType = SOURCE_TYPES[typeName];
  const req = parseShape(composeRequestSchema, data);
  const src = req.source;

  // Step 7: split on spaces, drop duplicates (first occurrence wins) and empty items.
  const sources = [...new Set((src.source ?? '').split(' ').filter(Boolean))];
  if (sources.length === 0 && !(typeName === 'build' || (typeName === 'module' && src.scratch_modules?.length))) {
    throw new BadRequest(`No source provided for ${sourceType}`);
  }
  checkSources(cfg, typeName, sources);
  checkPathBoundFields(req);

  const seconds_to_live = secondsToLive(cfg, data, lifetimeFor(cfg, { source_type: sourceType, source: sources.join(' ') }));

  const flags = namesToMask(FLAGS, req.flags ?? [], (n) => `Unknown flag ${n}`);
  const results = RESULTS.repository | namesToMask(RESULTS, req.results ?? [], (n) => `Unknown result ${n}`);
  const multilib_method = namesToMask(MULTILIB_METHODS, req.multilib_method ?? [], (n) => `Unknown multilib method "${n}"`);

  const hasDefaultsUrl = src.module_defaults_url !== undefined;
  if (hasDefaultsUrl !== (src.module_defaults_commit !== undefined)) {
    throw new BadRequest('The "module_defaults_url" and "module_defaults_commit" must be used together.');
  }

  const { storedPath: target_dir, name: targetName } = resolveTargetDir(cfg, req.target_dir);
  for (const repo of req.lookaside_repos ?? []) {
    const checked = checkRepoLocation(cfg, expandBasearch(repo, 'x86_64'));
    if ('problem' in checked) throw new BadRequest(`Invalid lookaside repository: ${checked.problem}`);
  }

  const compose: Omit<NewCompose, 'owner'> = {
    source_type: sourceType,
    source: sources.join(' '),
    modular_koji_tags: src.modular_koji_tags ?? null,
    module_defaults_url: hasDefaultsUrl ? `${src.module_defaults_url} ${src.module_defaults_commit}` : null,
    koji_event: src.koji_event ?? null,
    sigkeys: src.sigkeys ?? [...cfg.sigkeys],
    results,
    packages: src.packages ?? null,
    builds: src.builds ?? null,
    flags,
    arches: req.arches?.length ? dedupe(req.arches) : [...cfg.arches],
    multilib_arches: dedupe(req.multilib_arches ?? []),
    multilib_method,
    lookaside_repos: req.lookaside_repos ?? [],
    label: req.label ?? null,
    compose_type: req.compose_type || 'test',
    pungi_config_dump: null,
    target_dir,
    scratch_modules: src.scratch_modules ?? null,
    scratch_build_tasks: src.scratch_build_tasks ?? null,
    parent_pungi_compose_ids: req.parent_pungi_compose_ids ?? null,
    modules: src.modules ?? null,
    respin_of: req.respin_of ?? null,
    base_module_br_name: src.base_module_br_name ?? null,
    base_module_br_stream: src.base_module_br_stream ?? null,
    base_module_br_stream_version_lte: src.base_module_br_stream_version_lte ?? null,
    base_module_br_stream_version_gte: src.base_module_br_stream_version_gte ?? null,
    seconds_to_live,
  };
  return { compose, attributes: composeAttributes(compose, targetName) };
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}

function namesToMask(table: Record<string, number>, names: readonly string[], message: (name: string) => string): number {
  const r = bitMask(table, names);
  if ('unknown' in r) throw new BadRequest(message(r.unknown));
  return r.mask;
}

/** Reference §1.5.1 step 17: "default" or a key of extra_target_dirs. */
function resolveTargetDir(cfg: Config, requested: string | undefined): { storedPath: string | null; name: string } {
  if (!requested || requested === 'default') return { storedPath: null, name: 'default' };
  if (!Object.hasOwn(cfg.extra_target_dirs, requested)) throw new BadRequest(`Unknown "target_dir" "${requested}"`);
  return { storedPath: cfg.extra_target_dirs[requested], name: requested };
}

/** Step 9, plus the location rules of `repo` sources (a request never chooses an arbitrary path or URL). */
function checkSources(cfg: Config, type: SourceTypeName, sources: string[]): void {
  if (type === 'raw_config') {
    if (sources.length !== 1) throw new BadRequest('Only single source is allowed for "raw_config" source_type');
    const [name, commit, ...rest] = sources[0].split('#');
    if (!name || !commit || rest.length) {
      throw new BadRequest('Source must be in "source_name#commit_hash" format for "raw_config" source_type.');
    }
    if (!Object.hasOwn(cfg.raw_config_urls, name)) throw new BadRequest(`Source "${name}" does not exist in server configuration.`);
    checkGitRef(commit);
  } else if (type === 'module') {
    for (const item of sources) {
      const parts = moduleParts(item);
      if (cfg.base_module_names.includes(parts[0])) {
        throw new BadRequest(`ODCS currently cannot create compose with base modules, but ${parts[0]} was requested.`);
      }
      checkModuleParts('source', item, parts);
    }
  } else if (type === 'tag') {
    checkTagNames('source', sources);
  } else if (type === 'build') {
    checkNvrs('source', sources);
  } else if (type === 'pulp') {
    checkContentSets(sources);
  } else if (type === 'repo') {
    for (const item of sources) {
      const checked = checkRepoLocation(cfg, item);
      if ('problem' in checked) throw new BadRequest(checked.problem);
    }
  } else if (type === 'pungi_compose') {
    if (sources.length !== 1) throw new BadRequest('Only single source is allowed for "pungi_compose" source_type');
    const checked = checkPungiComposeUrl(cfg, sources[0]);
    if ('problem' in checked) throw new BadRequest(checked.problem);
  }
}

/** Splits a module N:S[:V[:C]] item, refusing other shapes with ODCS's message. */
function moduleParts(item: string): string[] {
  const parts = item.split(':');
  if (parts.length < 2 || parts.length > 4 || parts.some((p) => p === '')) {
    throw new BadRequest(`Module definition must be in "n:s", "n:s:v" or "n:s:v:c" format, but got ${item}`);
  }
  return parts;
}

function checkModules(key: string, items: readonly string[]): void {
  for (const item of items) checkModuleParts(key, item, moduleParts(item));
}

/**
 * Beyond ODCS: every other list item or string that the worker turns into a path component, a
 * URL or a command-line argument keeps to the narrow character set of its kind (safe-names.ts),
 * so that no request value can leave the compose's own tree or pass an option to a tool.
 */
function checkPathBoundFields(req: ComposeRequest): void {
  const src = req.source;
  if (req.arches) checkArches('arches', req.arches);
  if (req.multilib_arches) checkArches('multilib_arches', req.multilib_arches);
  if (req.compose_type) checkComposeType(req.compose_type);
  if (req.label !== undefined) checkLabel(req.label);
  if (src.sigkeys) checkSigkeys(src.sigkeys);
  if (src.builds) checkNvrs('builds', src.builds);
  if (src.modular_koji_tags) checkTagNames('modular_koji_tags', src.modular_koji_tags);
  if (src.modules) checkModules('modules', src.modules);
  if (src.scratch_modules) checkModules('scratch_modules', src.scratch_modules);
  if (src.scratch_build_tasks) checkTaskIds(src.scratch_build_tasks);
}

// ---------------------------------------------------------------------------------------------
// PATCH /api/1/composes/<id>

export interface ParsedRenewRequest {
  /** The lifetime asked for, within the limits of the compose being renewed (reference §1.7 step 4). */
  secondsToLive(original: { source_type: number; source: string }): number;
  sigkeys: string[] | undefined;
  label: string | undefined;
  builds: string[] | undefined;
  modules: string[] | undefined;
}

/** Reference §1.7: an optional body with the same generic checks as POST. */
export function parseRenewRequest(cfg: Config, body: unknown): ParsedRenewRequest {
  const data = checkBody(body, true);
  const req = parseShape(renewRequestSchema, data);
  // Refuse a bad value now, before looking the compose up, as ODCS does.
  secondsToLive(cfg, data);
  if (req.sigkeys) checkSigkeys(req.sigkeys);
  if (req.label !== undefined) checkLabel(req.label);
  if (req.source?.builds) checkNvrs('builds', req.source.builds);
  if (req.source?.modules) checkModules('modules', req.source.modules);
  return {
    secondsToLive: (original) => secondsToLive(cfg, data, lifetimeFor(cfg, original)),
    sigkeys: req.sigkeys,
    label: req.label,
    builds: req.source?.builds,
    modules: req.source?.modules,
  };
}
