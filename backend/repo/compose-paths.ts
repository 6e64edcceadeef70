import path from 'node:path';
import { isKnownArch } from '../../common/arches';
import { ComposeError } from '../../common/errors';
import { VARIANT } from './layout';

/** Whether `p` is `root` itself or below it, after resolving `.` and `..`. */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(p));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** A short, printable quotation of untrusted text for a failure reason. */
function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/**
 * Refuses an arch that is not a known RPM architecture (and so not a single plain path
 * segment). The API refuses them too, but a row may come from an older server or a hostile
 * work message: the worker does not rely on it.
 */
export function checkArch(arch: string): string {
  if (typeof arch !== 'string' || !isKnownArch(arch)) {
    throw new ComposeError(`Architecture ${quote(arch)} is not a known RPM architecture`);
  }
  return arch;
}

/**
 * `<target dir>/<compose name>`, the compose's top directory (logs and the published tree);
 * refused unless the name is one plain path segment.
 */
export function composeTopDir(targetDir: string, name: string): string {
  const top = path.resolve(targetDir, name);
  if (path.dirname(top) !== path.resolve(targetDir) || name !== path.basename(top)) {
    throw new ComposeError(`Compose name ${quote(name)} is not a plain directory name`);
  }
  return top;
}

/**
 * Every output path of a compose's tree, built in one place: each is resolved and refused
 * (a ComposeError, which fails the compose) unless it lies under the tree's own root, so no
 * compose data (arches) or repository metadata (package hrefs) can make the worker write into
 * another compose or anywhere else.
 */
export class ComposePaths {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** A path below the root from plain segments; refused if it resolves outside. */
  inside(what: string, ...segments: string[]): string {
    const p = path.resolve(this.root, ...segments);
    if (p === this.root || !isInside(this.root, p)) {
      throw new ComposeError(`Refusing to write ${what} outside the compose's tree: ${quote(segments.join('/'))}`);
    }
    return p;
  }

  /** `<root>/Temporary/<arch>/os`: one repository per compose arch. */
  archRepo(arch: string): string {
    return this.inside(`the repository of arch ${quote(arch)}`, VARIANT, checkArch(arch), 'os');
  }

  /** `<root>/Temporary/source/tree`: the source RPMs of the compose (Pungi's source tree). */
  sourceRepo(): string {
    return this.inside('the source repository', VARIANT, 'source', 'tree');
  }

  /** `<root>/Temporary/<arch>/debug/tree`: the debuginfo packages of one compose arch. */
  debugRepo(arch: string): string {
    return this.inside(`the debug repository of arch ${quote(arch)}`, VARIANT, checkArch(arch), 'debug', 'tree');
  }

  /** Where a package goes in an arch repository, `rel` from packageRelativePath / hashedPath. */
  package(arch: string, rel: string): string {
    return this.packageIn(this.archRepo(arch), rel);
  }

  /** Where a package goes in `repo` (one of the repository directories above). */
  packageIn(repo: string, rel: string): string {
    const p = path.resolve(repo, rel);
    if (!isInside(repo, p) || p === repo || path.relative(repo, p).split(path.sep)[0] === 'repodata') {
      throw new ComposeError(`Refusing to place a package outside its arch repository: location ${quote(rel)}`);
    }
    return p;
  }

  /** `<root>/Temporary/<name>.repo` */
  repoFile(name: string): string {
    return this.inside('the .repo file', VARIANT, `${name}.repo`);
  }

  /** `<root>/metadata/<file>` (productmd files). */
  metadata(file: string): string {
    return this.inside('a metadata file', 'metadata', file);
  }
}
