/**
 * Character rules for request values that end up in a file path, a URL or a command line
 * (Koji tags and NVRs in download URLs and cache names, sigkeys in `data/signed/<key>/`, module
 * NSVCs in MBS queries, compose types and labels in directory and link names, raw_config commits
 * on git's command line). ODCS's generic check still allows `/`, `.`, `..`, `$` and a leading
 * `-`, which is enough to leave a directory, expand a variable or pass an option. Each rule
 * below is the narrowest set the real names use; a value outside it is a 400.
 */
import { isKnownArch } from '../arches';
import { BadRequest } from '../errors';

/** Koji tag names, build NVRs, pulp content sets: no `/`, no leading `.` or `-`. */
const KOJI_NAME = /^[A-Za-z0-9_+~^][A-Za-z0-9._+~^-]*$/;
/** One part of a module's name:stream:version:context. */
const MODULE_PART = /^[A-Za-z0-9_+~^][A-Za-z0-9._+~^-]*$/;
/** A Koji sigkey: a hex key id (Koji lowercases them); `''` stands for "unsigned". */
const SIGKEY = /^([0-9A-Fa-f]{1,40})?$/;
/** A compose type (Pungi's production, development, test, ci, nightly and the like). */
const COMPOSE_TYPE = /^[A-Za-z0-9][A-Za-z0-9_+-]*$/;
/** A git commit or ref for raw_config: never a leading `-` (an option), never `..`. */
const GIT_REF = /^[A-Za-z0-9_][A-Za-z0-9._/+-]*$/;
/** A Koji task id. */
const TASK_ID = /^[0-9]{1,19}$/;

/** What a list-valued check reports: the first bad value. */
function firstBad(values: readonly string[], ok: (v: string) => boolean): string | undefined {
  return values.find((v) => !ok(v));
}

function isKojiName(v: string): boolean {
  return KOJI_NAME.test(v);
}

export function checkArches(key: 'arches' | 'multilib_arches', arches: readonly string[]): void {
  const bad = firstBad(arches, isKnownArch);
  if (bad !== undefined) throw new BadRequest(`Unknown arch "${bad}" in ${key}`);
}

/** Koji tag names (`tag` sources, `modular_koji_tags`). */
export function checkTagNames(key: string, tags: readonly string[]): void {
  const bad = firstBad(tags, isKojiName);
  if (bad !== undefined) throw new BadRequest(`Invalid Koji tag name "${bad}" in ${key}`);
}

/** Build NVRs (`build` sources, `builds`). */
export function checkNvrs(key: string, nvrs: readonly string[]): void {
  const bad = firstBad(nvrs, isKojiName);
  if (bad !== undefined) throw new BadRequest(`Invalid build NVR "${bad}" in ${key}`);
}

/** Pulp content set names. */
export function checkContentSets(sets: readonly string[]): void {
  const bad = firstBad(sets, isKojiName);
  if (bad !== undefined) throw new BadRequest(`Invalid content set "${bad}" in source`);
}

export function checkSigkeys(sigkeys: readonly string[]): void {
  const bad = firstBad(sigkeys, (k) => SIGKEY.test(k));
  if (bad !== undefined) throw new BadRequest(`Invalid sigkey "${bad}": a sigkey is a hexadecimal key id`);
}

/**
 * Module N:S[:V[:C]] items, already split on `:` into 2–4 non-empty parts by the caller's
 * format check. The version is a number.
 */
export function checkModuleParts(key: string, item: string, parts: readonly string[]): void {
  const ok = parts.every((p) => MODULE_PART.test(p)) && (parts.length < 3 || /^[0-9]+$/.test(parts[2]));
  if (!ok) throw new BadRequest(`Invalid module "${item}" in ${key}`);
}

export function checkComposeType(value: string): void {
  if (!COMPOSE_TYPE.test(value)) throw new BadRequest(`Invalid compose_type "${value}"`);
}

/** A label names nothing on disk by itself, but ends a link name: no `/`, nothing hidden. */
export function checkLabel(value: string): void {
  if (value.includes('/') || value.startsWith('.') || value.startsWith('-')) throw new BadRequest(`Invalid label "${value}"`);
}

export function checkGitRef(value: string): void {
  if (!GIT_REF.test(value) || value.includes('..') || value.endsWith('/')) {
    throw new BadRequest(`Invalid commit "${value}" in raw_config source`);
  }
}

export function checkTaskIds(ids: readonly string[]): void {
  const bad = firstBad(ids, (v) => TASK_ID.test(v));
  if (bad !== undefined) throw new BadRequest(`Invalid Koji task id "${bad}" in scratch_build_tasks`);
}
