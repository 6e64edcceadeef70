/**
 * The package model shared by the repodata reader and the depsolver: plain data, so a parsed
 * repository can be cached as JSON and handed between processes.
 */
import type { DepFlags } from './vercmp';

/** One Provides/Requires/Conflicts/Obsoletes entry. A rich dependency is carried whole in `name`. */
export interface Dep {
  name: string;
  flags?: DepFlags;
  epoch?: string;
  version?: string;
  release?: string;
  /** Requires(pre)/(post) and friends: createrepo_c marks them `pre="1"`. */
  pre?: boolean;
}

export interface RpmPackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  /** File name of the source RPM (`foo-1.0-1.src.rpm`); null for source packages themselves. */
  sourcerpm: string | null;
  /** location href, relative to the repository's base URL (or to `locationBase`). */
  location: string;
  /** `xml:base` of the location, when the metadata points outside the repository. */
  locationBase?: string;
  checksum: { type: string; value: string };
  /** Size of the .rpm file in bytes. */
  size: number;
  provides: Dep[];
  requires: Dep[];
  conflicts: Dep[];
  obsoletes: Dep[];
  /** Every path the package ships (files, directories and ghosts; primary.xml and filelists.xml merged). */
  files: string[];
  /** Which repository the package came from; the reader's caller chooses the id. */
  repoId: string;
  /**
   * ExclusiveArch / ExcludeArch of the package's source RPM, set on noarch packages whose
   * source says so (Koji pools read them from the SRPM header, as Pungi does): such a package
   * is left out of the trees of the excluded arches (see excludedFromArch).
   */
  exclusiveArch?: readonly string[];
  excludeArch?: readonly string[];
}

/** `name-[epoch:]version-release.arch`, the usual way to name one package in messages. */
export function nevra(pkg: Pick<RpmPackage, 'name' | 'epoch' | 'version' | 'release' | 'arch'>): string {
  const epoch = pkg.epoch ? `${pkg.epoch}:` : '';
  return `${pkg.name}-${epoch}${pkg.version}-${pkg.release}.${pkg.arch}`;
}

/** Whether a dependency string is a rich (boolean) dependency: those always start with `(`. */
export function isRichDepName(name: string): boolean {
  return name.charCodeAt(0) === 40;
}
