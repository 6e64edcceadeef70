import path from 'node:path';
import { ComposeError } from '../../common/errors';
import type { RpmPackage } from '../rpm/model';

/**
 * Relative paths inside a compose's arch repositories; ComposePaths (compose-paths.ts) turns
 * them into absolute paths and confines them.
 */

/** The variant every ODCS compose has (reference §2.8). */
export const VARIANT = 'Temporary';

/** Pungi's hashed directories, `Packages/<first letter>/<file>`. */
export function hashedPath(pkg: Pick<RpmPackage, 'location'>): string {
  const file = path.posix.basename(pkg.location);
  // The file name comes from repository metadata: it must name a file, not a directory.
  if (file === '' || file === '.' || file === '..') throw new ComposeError(`Package location ${JSON.stringify(pkg.location.slice(0, 80))} names no file`);
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
