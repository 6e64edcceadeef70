/**
 * Koji RPM info + `getRPMHeaders` fields -> our RpmPackage, the way createrepo_c would describe
 * the same file in primary.xml/filelists.xml, so the depsolver sees the same package whichever
 * way it was read.
 *
 * Header fields (lower-case rpm tag names, as Koji takes them):
 *   sourcerpm; providename/provideflags/provideversion; requirename/requireflags/requireversion;
 *   conflictname/…; obsoletename/…; basenames + dirnames + dirindexes (a file is
 *   dirnames[dirindexes[i]] + basenames[i]), or `filenames` when a hub gives it.
 *
 * RPMSENSE flag bits (rpm's rpmds.h) used here:
 *   LESS 1<<1 (2), GREATER 1<<2 (4), EQUAL 1<<3 (8): the comparison (LE = 10, GE = 12);
 *   PREREQ 1<<6 (64, legacy PreReq), SCRIPT_PRE 1<<9 (512), SCRIPT_POST 1<<10 (1024):
 *     Requires(pre)/Requires(post) — createrepo_c's `pre="1"` (not preun, postun, pretrans,
 *     posttrans; checked against createrepo_c 0.20 on the same RPMs);
 *   RPMLIB 1<<24: `rpmlib(…)` requirements, which createrepo_c leaves out (so do we, also by name).
 * Like createrepo_c, an entry equal in (name, comparison, epoch, version, release, pre) to the
 * entry just before it is dropped; equal entries further apart are both kept (rpm sorts by name,
 * so `Requires(posttrans)`, `(pre)`, `(preun)` on one name give: plain, pre, plain).
 * A dependency version `E:V-R` is split as createrepo_c splits it: epoch `0` when not written.
 *
 * What Koji does not give: a checksum of the file. `payloadhash` is RPM's SIGMD5 (MD5 of header
 * + payload), not the checksum of the .rpm, which also holds the signature header and differs
 * between the unsigned and each signed copy. The package's `checksum` is therefore left empty
 * (`{type: '', value: ''}`, see `hasFileChecksum`) for the downloader to fill in; the content
 * is identified by `koji.payloadhash` + `koji.sigkey` meanwhile. `size` is Koji's, the size of
 * the unsigned copy.
 */
import { isRichDepName, type Dep, type RpmPackage } from '../rpm/model';
import type { DepFlags } from '../rpm/vercmp';
import type { KojiRpm, RpmHeaderFields } from './types';
import { XmlRpcProtocolError, type XmlRpcValue } from './xmlrpc';

export const RPMSENSE = {
  LESS: 1 << 1,
  GREATER: 1 << 2,
  EQUAL: 1 << 3,
  SENSEMASK: 0x0e,
  POSTTRANS: 1 << 5,
  PREREQ: 1 << 6,
  PRETRANS: 1 << 7,
  INTERP: 1 << 8,
  SCRIPT_PRE: 1 << 9,
  SCRIPT_POST: 1 << 10,
  SCRIPT_PREUN: 1 << 11,
  SCRIPT_POSTUN: 1 << 12,
  MISSINGOK: 1 << 19,
  RPMLIB: 1 << 24,
} as const;

const PRE_MASK = RPMSENSE.PREREQ | RPMSENSE.SCRIPT_PRE | RPMSENSE.SCRIPT_POST;

const SENSE: Record<number, DepFlags> = {
  [RPMSENSE.LESS]: 'LT',
  [RPMSENSE.GREATER]: 'GT',
  [RPMSENSE.EQUAL]: 'EQ',
  [RPMSENSE.LESS | RPMSENSE.EQUAL]: 'LE',
  [RPMSENSE.GREATER | RPMSENSE.EQUAL]: 'GE',
};

/** The header fields rpmPackageFromKoji needs: pass these to getRPMHeaders. */
export const PACKAGE_HEADERS: readonly string[] = [
  'sourcerpm',
  'providename',
  'provideflags',
  'provideversion',
  'requirename',
  'requireflags',
  'requireversion',
  'conflictname',
  'conflictflags',
  'conflictversion',
  'obsoletename',
  'obsoleteflags',
  'obsoleteversion',
  'basenames',
  'dirnames',
  'dirindexes',
  // Read from SRPMs: Pungi applies them to the build's noarch RPMs (koji-pool.ts).
  'exclusivearch',
  'excludearch',
];

/** ExclusiveArch / ExcludeArch of a (source) RPM's header fields; empty lists when unset. */
export function archRestrictions(headers: RpmHeaderFields, what = 'rpm'): { exclusiveArch: string[]; excludeArch: string[] } {
  return { exclusiveArch: strings(headers['exclusivearch'], `${what}: exclusivearch`), excludeArch: strings(headers['excludearch'], `${what}: excludearch`) };
}

/** Where a Koji-sourced package came from, beside the plain package data. */
export interface KojiPackageOrigin {
  rpmId: number;
  buildId: number;
  /** The copy `location` points at: `''` for unsigned. */
  sigkey: string;
  /** Koji's payloadhash (SIGMD5, hex): the same for every copy of the RPM. */
  payloadhash: string;
}

export interface KojiRpmPackage extends RpmPackage {
  koji: KojiPackageOrigin;
}

export interface KojiPackageOptions {
  /** The file, relative to `locationBase` (typically the topurl path chosen for the sigkey). */
  location: string;
  /** Usually the Koji topurl. */
  locationBase?: string;
  repoId: string;
  /** Which copy `location` is (`''` unsigned). */
  sigkey?: string;
}

/** The file checksum is not known yet (Koji-sourced packages until downloaded). */
export function hasFileChecksum(pkg: Pick<RpmPackage, 'checksum'>): boolean {
  return pkg.checksum.type !== '' && pkg.checksum.value !== '';
}

export class RpmHeaderError extends Error {
  override name = 'RpmHeaderError';
  readonly retryable = false;
}

export function rpmPackageFromKoji(rpm: KojiRpm, headers: RpmHeaderFields, options: KojiPackageOptions): KojiRpmPackage {
  const what = `${rpm.name}-${rpm.version}-${rpm.release}.${rpm.arch}`;
  const sourcerpm = headers['sourcerpm'];
  const pkg: KojiRpmPackage = {
    name: rpm.name,
    epoch: rpm.epoch ?? 0,
    version: rpm.version,
    release: rpm.release,
    arch: rpm.arch,
    sourcerpm: typeof sourcerpm === 'string' && sourcerpm !== '' && rpm.arch !== 'src' ? sourcerpm : null,
    location: options.location,
    checksum: { type: '', value: '' },
    size: rpm.size,
    provides: depsFrom(headers, 'provide', what),
    requires: depsFrom(headers, 'require', what),
    conflicts: depsFrom(headers, 'conflict', what),
    obsoletes: depsFrom(headers, 'obsolete', what),
    files: filesFrom(headers, what),
    repoId: options.repoId,
    koji: { rpmId: rpm.id, buildId: rpm.build_id, sigkey: options.sigkey ?? '', payloadhash: rpm.payloadhash },
  };
  if (options.locationBase !== undefined) pkg.locationBase = options.locationBase;
  return pkg;
}

/** Dependencies of one kind from the `<kind>name/flags/version` header arrays. */
export function depsFrom(headers: RpmHeaderFields, kind: 'provide' | 'require' | 'conflict' | 'obsolete', what = 'rpm'): Dep[] {
  const names = strings(headers[`${kind}name`], `${what}: ${kind}name`);
  const flags = ints(headers[`${kind}flags`], `${what}: ${kind}flags`);
  const versions = strings(headers[`${kind}version`], `${what}: ${kind}version`);
  if (flags.length !== names.length || versions.length !== names.length) {
    throw new RpmHeaderError(`${what}: ${kind}name/${kind}flags/${kind}version have different lengths`);
  }
  const out: Dep[] = [];
  let previous = '';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const f = flags[i]!;
    if (kind === 'require' && (name.startsWith('rpmlib(') || (f & RPMSENSE.RPMLIB) !== 0)) continue;
    const dep = makeDep(name, f, versions[i]!, kind === 'require', what);
    const key = `${dep.name}\0${dep.flags ?? ''}\0${dep.epoch ?? ''}\0${dep.version ?? ''}\0${dep.release ?? ''}\0${dep.pre ? 1 : 0}`;
    if (key === previous) continue;
    previous = key;
    out.push(dep);
  }
  return out;
}

function makeDep(name: string, flags: number, evr: string, isRequire: boolean, what: string): Dep {
  const pre = isRequire && (flags & PRE_MASK) !== 0;
  const sense = flags & RPMSENSE.SENSEMASK;
  if (sense === 0 || evr === '' || isRichDepName(name)) return pre ? { name, pre: true } : { name };
  const f = SENSE[sense];
  if (!f) throw new RpmHeaderError(`${what}: dependency "${name}" has unsupported comparison flags ${sense}`);
  const dep: Dep = { name, flags: f, ...splitEvr(evr) };
  if (pre) dep.pre = true;
  return dep;
}

/** `E:V-R` as createrepo_c splits it: epoch `0` when not written, release only when written. */
export function splitEvr(evr: string): { epoch: string; version: string; release?: string } {
  let rest = evr;
  let epoch = '0';
  const colon = rest.indexOf(':');
  if (colon >= 0 && /^\d*$/.test(rest.slice(0, colon))) {
    epoch = rest.slice(0, colon) || '0';
    rest = rest.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
  return { epoch, version: rest };
}

/** Every path the package ships: `filenames`, or dirnames[dirindexes[i]] + basenames[i]. */
export function filesFrom(headers: RpmHeaderFields, what = 'rpm'): string[] {
  if (headers['filenames'] !== undefined && headers['filenames'] !== null) {
    return strings(headers['filenames'], `${what}: filenames`);
  }
  const basenames = strings(headers['basenames'], `${what}: basenames`);
  const dirnames = strings(headers['dirnames'], `${what}: dirnames`);
  const dirindexes = ints(headers['dirindexes'], `${what}: dirindexes`);
  if (dirindexes.length !== basenames.length) throw new RpmHeaderError(`${what}: basenames and dirindexes have different lengths`);
  return basenames.map((base, i) => {
    const dir = dirnames[dirindexes[i]!];
    if (dir === undefined) throw new RpmHeaderError(`${what}: dirindex ${dirindexes[i]} out of range`);
    return dir + base;
  });
}

/** A header array of strings; a missing field or nil is empty, a lone string one element. */
function strings(v: XmlRpcValue | undefined, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new XmlRpcProtocolError(`${what}: expected a list of strings`);
}

function ints(v: XmlRpcValue | undefined, what: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    if (typeof x === 'number' && Number.isInteger(x)) return x;
    if (typeof x === 'bigint') return Number(x);
    throw new XmlRpcProtocolError(`${what}: expected a list of integers`);
  });
}
