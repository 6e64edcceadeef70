import path from 'node:path';
import type { RpmPackage } from '../rpm/model';

/** The variant every ODCS compose has (reference §2.8). */
export const VARIANT = 'Temporary';

/** `<compose dir>/Temporary/<arch>/os`: one repository per compose arch. */
export function archRepoDir(composeDir: string, arch: string): string {
  return path.join(composeDir, VARIANT, arch, 'os');
}

/** Pungi's hashed directories, `Packages/<first letter>/<file>`. */
export function hashedPath(pkg: Pick<RpmPackage, 'location'>): string {
  const file = path.basename(pkg.location);
  return path.posix.join('Packages', file[0].toLowerCase(), file);
}

/**
 * Where a package sits below its arch repository: where its source repository has it (so
 * createrepo_c can reuse that repository's metadata, which it matches by path), when that is a
 * plain relative path to an .rpm; otherwise Pungi's hashed directories.
 */
export function packageRelativePath(pkg: Pick<RpmPackage, 'location' | 'locationBase'>, keepSourceLayout: boolean): string {
  const rel = path.posix.normalize(pkg.location);
  const plain = !pkg.locationBase && !rel.startsWith('/') && !rel.startsWith('../') && rel !== '..' && rel.endsWith('.rpm') && !rel.startsWith('repodata/');
  return keepSourceLayout && plain ? rel : hashedPath(pkg);
}
