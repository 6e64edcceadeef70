import { BadRequest } from '../errors';

/** Keys that must hold arrays wherever they appear (reference §1.5.1 step 3). */
const LIST_KEYS = new Set(['builds', 'multilib_method', 'packages', 'scratch_build_tasks', 'scratch_modules', 'sigkeys', 'modules']);
const STRING_KEYS = new Set(['base_module_br_name', 'base_module_br_stream', 'compose_type', 'label', 'target_dir', 'type']);
const INTEGER_KEYS = new Set(['seconds_to_live', 'koji_event', 'base_module_br_stream_version_lte', 'base_module_br_stream_version_gte']);

export const ALLOWED_CHARS = [' ', '-', '/', '_', '.', ':', '#', '+', '?', '$', '~'];
const ALLOWED_STRING = /^[\p{L}\p{N} \-/_.:#+?$~]*$/u;
const ALLOWED_CHARS_MESSAGE = `Only alphanumerical characters and [${ALLOWED_CHARS.map((c) => `'${c}'`).join(', ')}] characters are allowed in ODCS input variables`;

/** A NUL character or half a surrogate pair: PostgreSQL text cannot store either. */
const UNSTORABLE = /[\u0000\p{Cs}]/u;
const UNSTORABLE_MESSAGE = 'Package names must not contain NUL characters or unpaired surrogates';

/** Nothing legitimate nests deeper than source -> list -> value; this bounds hostile input. */
const MAX_DEPTH = 16;

function pythonTypeName(v: unknown): string {
  if (v === null) return "<class 'NoneType'>";
  return `<class '${typeof v}'>`;
}

function isInteger(v: unknown): boolean {
  // Python's bool is an int, so ODCS accepts true/false where it wants integers.
  return typeof v === 'boolean' || (typeof v === 'number' && Number.isInteger(v));
}

/**
 * ODCS's generic input check, applied to the whole decoded body: types of known keys, dicts
 * only under `source`, a restricted character set for strings (except package names), and no
 * nulls. Throws BadRequest with ODCS's message at the first violation, in document order.
 */
export function validateJsonData(data: unknown): void {
  visit(data, 0, undefined);
}

function visit(container: unknown, level: number, lastKey: string | undefined): void {
  if (level > MAX_DEPTH) throw new BadRequest('The request is nested too deeply.');
  const entries: Array<[string, unknown]> = Array.isArray(container)
    ? container.map((v, i) => [String(i), v])
    : Object.entries(container as Record<string, unknown>);
  for (const [key, value] of entries) {
    if (LIST_KEYS.has(key) && !Array.isArray(value)) throw new BadRequest(`${key} should be a list`);
    if (STRING_KEYS.has(key) && typeof value !== 'string') throw new BadRequest(`${key} should be a string`);
    if (INTEGER_KEYS.has(key) && !isInteger(value)) throw new BadRequest(`${key} should be an integer`);

    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      if (level !== 0 || key !== 'source') throw new BadRequest("Only 'source' key is allowed to contain dict.");
      visit(value, level + 1, key);
    } else if (Array.isArray(value)) {
      visit(value, level + 1, key);
    } else if (typeof value === 'string') {
      // Package names end up in comps-like data, not in configuration, so ODCS lets them be;
      // except what no text column can hold (ODCS answers those with a 500 from the database).
      if (lastKey === 'packages' && Array.isArray(container)) {
        if (UNSTORABLE.test(value)) throw new BadRequest(UNSTORABLE_MESSAGE);
        continue;
      }
      if (!ALLOWED_STRING.test(value)) throw new BadRequest(ALLOWED_CHARS_MESSAGE);
    } else if (typeof value === 'number' || typeof value === 'boolean') {
      continue;
    } else {
      throw new BadRequest(
        `Only dict, list, str, unicode, int, float and bool types are allowed in ODCS input variables, but '${key}' has '${pythonTypeName(value)}' type`,
      );
    }
  }
}
