import path from 'node:path';
import type { RpmPackage } from '../rpm/model';

/** The variant every ODCS compose has (reference §2.8). */
export const VARIANT = 'Temporary';

/** `<compose dir>/Temporary/<arch>/os`: one repository per compose arch. */
export function archRepoDir(composeDir: string, arch: string): string {
  return path.join(composeDir, VARIANT, arch, 'os');
}

/** Where a package sits below its arch repository: Pungi's hashed directories, `Packages/<first letter>/<file>`. */
export function packageRelativePath(pkg: Pick<RpmPackage, 'location'>): string {
  const file = path.basename(pkg.location);
  return path.join('Packages', file[0].toLowerCase(), file);
}
