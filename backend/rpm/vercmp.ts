/**
 * rpm's version ordering and version-range matching, as rpm 4.18 and libsolv apply them to
 * packages and to versioned dependencies.
 */

export type DepFlags = 'EQ' | 'LT' | 'LE' | 'GT' | 'GE';

/** An epoch:version-release triple; any part may be missing in a dependency. */
export interface Evr {
  epoch?: string | number | null;
  version?: string | null;
  release?: string | null;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const TILDE = 126;
const CARET = 94;

/**
 * Compares two version (or release) strings the way rpmvercmp does: the strings are cut into
 * runs of digits and runs of ASCII letters, everything else only separates runs; numeric runs
 * compare as numbers and beat alphabetic ones; `~` sorts before anything (even the end of the
 * string) and `^` sorts after the end of the string but before any further run.
 */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const la = a.length;
  const lb = b.length;
  while (i < la || j < lb) {
    while (i < la && !isAlnumOrMarker(a.charCodeAt(i))) i++;
    while (j < lb && !isAlnumOrMarker(b.charCodeAt(j))) j++;
    const ca = i < la ? a.charCodeAt(i) : -1;
    const cb = j < lb ? b.charCodeAt(j) : -1;

    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      // The end of a string sorts before a caret, a caret before any other run.
      if (ca === -1) return -1;
      if (cb === -1) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === -1 || cb === -1) break;

    const numeric = isDigit(ca);
    const inRun = numeric ? isDigit : isAlpha;
    const si = i;
    const sj = j;
    while (i < la && inRun(a.charCodeAt(i))) i++;
    while (j < lb && inRun(b.charCodeAt(j))) j++;
    // The other string has a run of the other kind here: a number is newer than letters.
    if (j === sj) return numeric ? 1 : -1;

    let ra = a.slice(si, i);
    let rb = b.slice(sj, j);
    if (numeric) {
      ra = stripLeadingZeros(ra);
      rb = stripLeadingZeros(rb);
      if (ra.length !== rb.length) return ra.length > rb.length ? 1 : -1;
    }
    if (ra !== rb) return ra > rb ? 1 : -1;
  }
  if (i >= la && j >= lb) return 0;
  return i < la ? 1 : -1;
}

function isAlnumOrMarker(c: number): boolean {
  return isDigit(c) || isAlpha(c) || c === TILDE || c === CARET;
}

function stripLeadingZeros(s: string): string {
  let k = 0;
  while (k < s.length - 1 && s.charCodeAt(k) === 48) k++;
  return k === 0 ? s : s.slice(k);
}

/** Splits `[epoch:]version[-release]`; a missing epoch or release stays undefined. */
export function parseEvr(text: string): { epoch?: string; version: string; release?: string } {
  let rest = text;
  let epoch: string | undefined;
  const colon = rest.indexOf(':');
  if (colon >= 0 && /^\d*$/.test(rest.slice(0, colon))) {
    epoch = rest.slice(0, colon) || undefined;
    rest = rest.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) {
    return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
  }
  return epoch === undefined ? { version: rest } : { epoch, version: rest };
}

/** `epoch:version-release`, leaving out what is missing (and a zero or missing epoch). */
export function formatEvr(evr: Evr): string {
  let out = '';
  const epoch = evr.epoch === undefined || evr.epoch === null ? '' : String(evr.epoch);
  if (epoch !== '' && epoch !== '0') out += `${epoch}:`;
  out += evr.version ?? '';
  if (evr.release) out += `-${evr.release}`;
  return out;
}

/** Epochs compare as integers; a missing epoch is 0. Strings avoid overflow on huge epochs. */
export function compareEpoch(a: Evr['epoch'], b: Evr['epoch']): -1 | 0 | 1 {
  const sa = stripLeadingZeros(a === undefined || a === null || a === '' ? '0' : String(a));
  const sb = stripLeadingZeros(b === undefined || b === null || b === '' ? '0' : String(b));
  if (sa === sb) return 0;
  if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
  return sa > sb ? 1 : -1;
}

/**
 * Orders two EVRs. A release missing on either side is not compared, which is how a dependency
 * on `foo = 1.2` matches every release of 1.2. Packages always carry a release, so for two
 * packages this is rpm's labelCompare.
 */
export function compareEvr(a: Evr, b: Evr): -1 | 0 | 1 {
  const e = compareEpoch(a.epoch, b.epoch);
  if (e !== 0) return e;
  const v = rpmvercmp(a.version ?? '', b.version ?? '');
  if (v !== 0) return v;
  if (!a.release || !b.release) return 0;
  return rpmvercmp(a.release, b.release);
}

const LESS = 1;
const GREATER = 2;
const EQUAL = 4;
const SENSE: Record<DepFlags, number> = { EQ: EQUAL, LT: LESS, LE: LESS | EQUAL, GT: GREATER, GE: GREATER | EQUAL };

/** A side of a version range: flags plus the EVR they apply to; no flags = any version. */
export interface VersionRange extends Evr {
  flags?: DepFlags | null;
}

/**
 * Whether two version ranges overlap, as rpm decides it for a versioned Requires against a
 * versioned Provides (rpmdsCompare). An unversioned side overlaps everything.
 */
export function rangesOverlap(a: VersionRange, b: VersionRange): boolean {
  if (!a.flags || !b.flags) return true;
  const sa = SENSE[a.flags];
  const sb = SENSE[b.flags];
  const cmp = compareEvr(a, b);
  if (cmp < 0) return (sa & GREATER) !== 0 || (sb & LESS) !== 0;
  if (cmp > 0) return (sa & LESS) !== 0 || (sb & GREATER) !== 0;
  return (
    ((sa & EQUAL) !== 0 && (sb & EQUAL) !== 0) ||
    ((sa & LESS) !== 0 && (sb & LESS) !== 0) ||
    ((sa & GREATER) !== 0 && (sb & GREATER) !== 0)
  );
}

/**
 * Whether something provided at `providedEvr` (an `[e:]v[-r]` string, an Evr, or null for an
 * unversioned provide) satisfies a requirement `<flags> requiredEvr`. Provides are `=`.
 */
export function evrMatches(
  providedEvr: string | Evr | null | undefined,
  flags: DepFlags | null | undefined,
  requiredEvr: string | Evr | null | undefined,
): boolean {
  if (providedEvr === null || providedEvr === undefined || !flags) return true;
  const provided = typeof providedEvr === 'string' ? parseEvr(providedEvr) : providedEvr;
  const required = typeof requiredEvr === 'string' ? parseEvr(requiredEvr) : (requiredEvr ?? { version: '' });
  return rangesOverlap({ ...provided, flags: 'EQ' }, { ...required, flags });
}

/** The rpm spelling of a comparison flag. */
export function flagsOperator(flags: DepFlags): string {
  switch (flags) {
    case 'EQ':
      return '=';
    case 'LT':
      return '<';
    case 'LE':
      return '<=';
    case 'GT':
      return '>';
    case 'GE':
      return '>=';
  }
}

/** Parses an rpm comparison operator into flags, or undefined if it is not one. */
export function operatorFlags(op: string): DepFlags | undefined {
  switch (op) {
    case '=':
    case '==':
      return 'EQ';
    case '<':
      return 'LT';
    case '<=':
    case '=<':
      return 'LE';
    case '>':
      return 'GT';
    case '>=':
    case '=>':
      return 'GE';
    default:
      return undefined;
  }
}
