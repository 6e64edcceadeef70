import path from 'node:path';
import type { KojiRpmPackage } from '../koji/package';
import type { RpmPackage } from '../rpm/model';
import { VARIANT } from './layout';

/** productmd's compose type suffixes (`.t` for test, none for production). */
const TYPE_SUFFIX: Record<string, string> = { test: '.t', nightly: '.n', ci: '.ci', development: '.d', production: '' };

export interface ComposeIdentity {
  /** odcs-<id> */
  name: string;
  /** YYYYMMDD, server local time, as Pungi writes it. */
  date: string;
  type: string;
  respin: number;
  /** `<short>-<version>-<date><suffix>.<respin>`, e.g. odcs-12-1-20240101.t.0 */
  id: string;
}

export function composeIdentity(name: string, composeType: string | null, now: Date, respin = 0): ComposeIdentity {
  const type = composeType && Object.hasOwn(TYPE_SUFFIX, composeType) ? composeType : 'test';
  const p = (n: number): string => String(n).padStart(2, '0');
  const date = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}`;
  // Release short is the first 16 characters of the name (reference §5.3), version "1".
  const short = name.slice(0, 16);
  return { name, date, type, respin, id: `${short}-1-${date}${TYPE_SUFFIX[type]}.${respin}` };
}

function header(kind: string): { type: string; version: string } {
  return { type: `productmd.${kind}`, version: '1.2' };
}

function composeBlock(c: ComposeIdentity): Record<string, unknown> {
  return { id: c.id, date: c.date, respin: c.respin, type: c.type };
}

/** `name-epoch:version-release.arch` as productmd keys RPMs (epoch always written). */
export function productmdNevra(pkg: Pick<RpmPackage, 'name' | 'epoch' | 'version' | 'release' | 'arch'>): string {
  return `${pkg.name}-${pkg.epoch}:${pkg.version}-${pkg.release}.${pkg.arch}`;
}

/** The source RPM's NEVRA from its file name; its epoch is the binary package's. */
function sourceNevra(pkg: RpmPackage): string {
  const file = pkg.sourcerpm ?? `${pkg.name}-${pkg.version}-${pkg.release}.src.rpm`;
  const nvr = file.replace(/\.(no)?src\.rpm$/, '');
  const m = /^(.+)-([^-]+)-([^-]+)$/.exec(nvr);
  return m ? `${m[1]}-${pkg.epoch}:${m[2]}-${m[3]}.src` : `${nvr}.src`;
}

/** The key the placed copy is signed with, as Pungi records it: null for unsigned or unknown. */
function sigkeyOf(pkg: RpmPackage): string | null {
  const koji = (pkg as Partial<KojiRpmPackage>).koji;
  return koji?.sigkey ? koji.sigkey : null;
}

/** One RPM of an arch in rpms.json: where it is in the compose and which tree it belongs to. */
export interface RpmEntry {
  pkg: RpmPackage;
  path: string;
  category: 'binary' | 'debug' | 'source';
}

/**
 * compose/metadata/rpms.json: for each arch, source RPM → its RPMs in this compose (binary and
 * debug ones, and the source RPM itself when the source tree has it), with paths.
 */
export function rpmsJson(c: ComposeIdentity, byArch: ReadonlyMap<string, readonly RpmEntry[]>): unknown {
  const variant: Record<string, Record<string, Record<string, { category: string; path: string; sigkey: string | null }>>> = {};
  for (const [arch, entries] of byArch) {
    const archMap: Record<string, Record<string, { category: string; path: string; sigkey: string | null }>> = {};
    for (const { pkg, path: p, category } of entries) {
      const srpm = category === 'source' ? productmdNevra(pkg) : sourceNevra(pkg);
      archMap[srpm] ??= {};
      archMap[srpm][productmdNevra(pkg)] = { category, path: p, sigkey: sigkeyOf(pkg) };
    }
    variant[arch] = archMap;
  }
  return { header: header('rpms'), payload: { compose: composeBlock(c), rpms: { [VARIANT]: variant } } };
}

/** compose/metadata/composeinfo.json: the release and the one variant with its per-arch paths. */
export function composeinfoJson(c: ComposeIdentity, arches: readonly string[]): unknown {
  const perArch = (...sub: string[]): Record<string, string> => Object.fromEntries(arches.map((a) => [a, path.posix.join(VARIANT, a, ...sub)]));
  const source = (sub: string): Record<string, string> => Object.fromEntries(arches.map((a) => [a, path.posix.join(VARIANT, 'source', 'tree', sub)]));
  return {
    header: header('composeinfo'),
    payload: {
      compose: composeBlock(c),
      release: { name: c.name, short: c.name.slice(0, 16), version: '1', type: 'ga', internal: false },
      variants: {
        [VARIANT]: {
          id: VARIANT,
          uid: VARIANT,
          name: VARIANT,
          type: 'variant',
          arches: [...arches].sort(),
          paths: {
            os_tree: perArch('os'),
            repository: perArch('os'),
            packages: perArch('os', 'Packages'),
            source_tree: source(''),
            source_repository: source(''),
            source_packages: source('Packages'),
            debug_tree: perArch('debug', 'tree'),
            debug_repository: perArch('debug', 'tree'),
            debug_packages: perArch('debug', 'tree', 'Packages'),
          },
        },
      },
    },
  };
}
