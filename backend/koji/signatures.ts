/**
 * Choosing which copy of each RPM a compose uses, from the compose's `sigkeys`, as Pungi does
 * for ODCS: the keys are tried in order and the first one the RPM has a copy for wins; an empty
 * key (`''`) means "the unsigned copy is acceptable", which is also what an empty list means
 * (ODCS gives Pungi `[None]` then). Koji keeps the unsigned copy of every RPM it built, so the
 * unsigned copy is always available; signed copies only for the keys Koji has signatures of.
 *
 * Every RPM without an acceptable copy is named in one error, so a release engineer sees the
 * whole list at once. Which RPMs must have one is the caller's choice: a Koji pool asks it only
 * of the RPMs the compose takes (sortRpmCopies + unsignedRpmsError), as Pungi does.
 */
import { ComposeError } from '../../common/errors';
import { nevra } from '../rpm/model';
import { normalizeSigkey, rpmPath, topurlJoin, type RpmNvra } from './paths';
import type { KojiBuildNvr, KojiRpm, KojiTaggedRpm } from './types';

/** An RPM and the signatures Koji has for it. */
export interface RpmWithSignatures<R extends RpmNvra = KojiRpm> {
  rpm: R;
  /** The build the RPM belongs to: its files live under the build's directory. */
  build: KojiBuildNvr;
  /** The sigkeys Koji has for the RPM (from `rpmsigs` rows or `queryRPMSigs`); `''` may be included. */
  sigkeys: Iterable<string>;
}

export interface RpmCopy {
  /** `''` for the unsigned copy. */
  sigkey: string;
  /** Relative to topurl. */
  path: string;
  url: string;
}

export interface ChosenRpm<R extends RpmNvra = KojiRpm> extends RpmCopy {
  rpm: R;
  build: KojiBuildNvr;
  /**
   * The acceptable copies in preference order, the chosen one first: Pungi takes the first
   * copy that exists on disk, so a downloader that finds a signed copy missing (a signature
   * Koji knows of whose signed file was never written) can fall back to the next.
   */
  copies: RpmCopy[];
}

export interface UnsignedRpm {
  /** `name-[epoch:]version-release.arch`. */
  nevra: string;
  /** What Koji has: `''` for the unsigned copy, else sigkeys. */
  available: string[];
}

/** Some RPMs have no copy signed with any of the compose's sigkeys. */
export class UnsignedRpmsError extends Error {
  override name = 'UnsignedRpmsError';
  readonly retryable = false;
  constructor(
    /** The compose's sigkeys, normalised, in order. */
    readonly sigkeys: string[],
    readonly rpms: UnsignedRpm[],
  ) {
    const keys = sigkeys.map((k) => k || '(unsigned)').join(', ');
    const list = rpms
      .map((r) => `${r.nevra} (available: ${r.available.map((k) => k || 'unsigned').join(', ') || 'nothing'})`)
      .join(', ');
    super(`RPM(s) not found for sigs: ${keys}. Packages without a copy signed with any of these keys: ${list}`);
  }
}

/** The compose's sigkeys as Koji writes them, in order, each once; `['']` for an empty list. */
export function preferenceOrder(sigkeys: readonly string[]): string[] {
  const out: string[] = [];
  for (const k of sigkeys.length === 0 ? [''] : sigkeys) {
    const n = normalizeSigkey(k);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/**
 * Picks, for every RPM, the first copy in `sigkeys` order that exists. Throws
 * UnsignedRpmsError naming every RPM that has none.
 */
export function chooseRpmCopies<R extends RpmNvra & { epoch?: number | null }>(
  candidates: Iterable<RpmWithSignatures<R>>,
  sigkeys: readonly string[],
  topurl: string,
): Array<ChosenRpm<R>> {
  const { chosen, missing } = sortRpmCopies(candidates, sigkeys, topurl);
  if (missing.length > 0) throw unsignedRpmsError(sigkeys, missing.map((m) => m.unsigned));
  return chosen;
}

/** An RPM without a copy signed with any of the compose's sigkeys. */
export interface RpmWithoutCopy<R extends RpmNvra = KojiRpm> {
  rpm: R;
  build: KojiBuildNvr;
  unsigned: UnsignedRpm;
}

/** UnsignedRpmsError for these RPMs, sorted by NEVRA. */
export function unsignedRpmsError(sigkeys: readonly string[], rpms: readonly UnsignedRpm[]): UnsignedRpmsError {
  return new UnsignedRpmsError(preferenceOrder(sigkeys), [...rpms].sort((a, b) => a.nevra.localeCompare(b.nevra)));
}

/**
 * Like chooseRpmCopies, without failing: the RPMs that have an acceptable copy, and those that
 * have none. Pungi allows such RPMs in a package set and fails only when one is gathered.
 */
export function sortRpmCopies<R extends RpmNvra & { epoch?: number | null }>(
  candidates: Iterable<RpmWithSignatures<R>>,
  sigkeys: readonly string[],
  topurl: string,
): { chosen: Array<ChosenRpm<R>>; missing: Array<RpmWithoutCopy<R>> } {
  const order = preferenceOrder(sigkeys);
  const chosen: Array<ChosenRpm<R>> = [];
  const missing: Array<RpmWithoutCopy<R>> = [];
  for (const c of candidates) {
    const have = new Set<string>(['']);
    for (const k of c.sigkeys) have.add(normalizeSigkey(k ?? ''));
    const copies: RpmCopy[] = order
      .filter((k) => have.has(k))
      .map((sigkey) => {
        const path = rpmPath(c.build, c.rpm, sigkey);
        return { sigkey, path, url: topurlJoin(topurl, path) };
      });
    if (copies.length === 0) {
      const available = [...have].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)));
      missing.push({ rpm: c.rpm, build: c.build, unsigned: { nevra: nevra({ ...c.rpm, epoch: c.rpm.epoch ?? 0 }), available } });
      continue;
    }
    chosen.push({ rpm: c.rpm, build: c.build, ...copies[0]!, copies });
  }
  return { chosen, missing };
}

/**
 * Folds `listTaggedRPMS(…, rpmsigs=True)` rows (one per rpm and sigkey) into one entry per RPM
 * with its sigkeys, joined with the build each RPM belongs to. RPM order is kept.
 */
export function groupSignatureRows(
  rows: readonly KojiTaggedRpm[],
  builds: ReadonlyArray<KojiBuildNvr & { id: number }>,
): Array<RpmWithSignatures<KojiTaggedRpm>> {
  const buildById = new Map(builds.map((b) => [b.id, b]));
  const byRpm = new Map<number, { rpm: KojiTaggedRpm; build: KojiBuildNvr; sigkeys: Set<string> }>();
  for (const row of rows) {
    let entry = byRpm.get(row.id);
    if (!entry) {
      const build = buildById.get(row.build_id);
      if (!build) throw new ComposeError(`rpm ${row.name}-${row.version}-${row.release}.${row.arch}: build ${row.build_id} not listed`);
      const { sigkey: _ignored, ...rpm } = row;
      entry = { rpm, build, sigkeys: new Set<string>() };
      byRpm.set(row.id, entry);
    }
    entry.sigkeys.add(normalizeSigkey(row.sigkey ?? ''));
  }
  return [...byRpm.values()];
}
