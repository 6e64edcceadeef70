/**
 * Where Koji keeps RPM files under its `topurl` (`koji.pathinfo`):
 *
 *   packages/<build name>/<build version>/<build release>/<arch>/<rpm file>          unsigned
 *   packages/<build name>/<build version>/<build release>/data/signed/<sigkey>/<arch>/<rpm file>
 *   packages/<build name>/<build version>/<build release>/data/sigcache/<sigkey>/<arch>/<rpm file>.sig
 *
 * The directories are named after the BUILD (the source package), not the RPM: the
 * `python3-foo` RPM of build `foo-1.0-1` lives under `packages/foo/1.0/1/`. The file is
 * `<rpm name>-<rpm version>-<rpm release>.<arch>.rpm`. A sigkey is the last 8 hex digits of the
 * signing key id, lower case (`17e954bf`).
 */
import { ComposeError } from '../../common/errors';
import type { KojiBuildNvr } from './types';

export interface RpmNvra {
  name: string;
  version: string;
  release: string;
  arch: string;
}

export function rpmFileName(rpm: RpmNvra): string {
  return `${rpm.name}-${rpm.version}-${rpm.release}.${rpm.arch}.rpm`;
}

/** `packages/<name>/<version>/<release>`: the build's directory, relative to topurl. */
export function buildDirPath(build: KojiBuildNvr): string {
  return ['packages', build.name, build.version, build.release].map(segment).join('/');
}

/** The unsigned copy, relative to topurl. */
export function unsignedRpmPath(build: KojiBuildNvr, rpm: RpmNvra): string {
  return `${buildDirPath(build)}/${segment(rpm.arch)}/${segment(rpmFileName(rpm))}`;
}

/** The copy signed with `sigkey`, relative to topurl. */
export function signedRpmPath(build: KojiBuildNvr, rpm: RpmNvra, sigkey: string): string {
  const key = normalizeSigkey(sigkey);
  if (!key) throw new Error('signedRpmPath needs a sigkey; use unsignedRpmPath for the unsigned copy');
  return `${buildDirPath(build)}/data/signed/${segment(key)}/${segment(rpm.arch)}/${segment(rpmFileName(rpm))}`;
}

/** The cached signature header of the `sigkey` signature, relative to topurl. */
export function sigcachePath(build: KojiBuildNvr, rpm: RpmNvra, sigkey: string): string {
  const key = normalizeSigkey(sigkey);
  return `${buildDirPath(build)}/data/sigcache/${segment(key)}/${segment(rpm.arch)}/${segment(rpmFileName(rpm))}.sig`;
}

/** The unsigned copy for `''`, else the signed copy. */
export function rpmPath(build: KojiBuildNvr, rpm: RpmNvra, sigkey = ''): string {
  return normalizeSigkey(sigkey) ? signedRpmPath(build, rpm, sigkey) : unsignedRpmPath(build, rpm);
}

/** The URL of a path relative to topurl (with or without a trailing slash); segments are percent-encoded. */
export function topurlJoin(topurl: string, relative: string): string {
  const encoded = relative
    .replace(/^\/+/, '')
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
  return `${topurl.replace(/\/+$/, '')}/${encoded}`;
}

/**
 * Koji's form of a sigkey: lower case, and of a longer key id or fingerprint only the last 8
 * hex digits. `''` (unsigned) stays `''`.
 */
export function normalizeSigkey(sigkey: string): string {
  const k = sigkey.trim().toLowerCase();
  return /^[0-9a-f]{9,}$/.test(k) ? k.slice(-8) : k;
}

/** Paths are plain (not percent-encoded); a segment that could leave its directory is refused. */
function segment(s: string): string {
  if (s === '' || s === '.' || s === '..' || s.includes('/') || s.includes('\0')) {
    throw new ComposeError(`invalid Koji path segment "${s}"`);
  }
  return s;
}
