/**
 * modulemd documents as a module compose puts them into each arch's repodata (`modules.yaml`,
 * the `modules` record of repomd.xml), which is what `dnf module` reads.
 *
 * MBS stores one modulemd per module build with the RPM artifacts of every arch. Pungi instead
 * reads the per-arch modulemd files MBS imports into Koji (`modulemd.<arch>.txt`): `data.arch`
 * set to the arch and `artifacts` cut down to that arch's RPMs (plus noarch and source RPMs).
 * We derive the same per-arch document from the MBS one, so Koji's archives are not needed.
 *
 * The YAML is edited as a document, not re-serialised from plain objects: module versions are
 * integers of up to 19 digits, beyond what a JavaScript number holds exactly.
 */
import { isMap, isSeq, parseAllDocuments, type Document } from 'yaml';
import { ComposeError } from '../../common/errors';
import { archSet } from '../rpm/arches';

/** A module artifact NEVRA (`name-epoch:version-release.arch`) split up; null when malformed. */
export interface ArtifactNevra {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
}

export function parseArtifactNevra(nevra: string): ArtifactNevra | null {
  const m = /^(.+)-(?:(\d+):)?([^-:]+)-([^-]+)\.([^.]+)$/.exec(nevra);
  if (!m) return null;
  return { name: m[1]!, epoch: m[2] === undefined ? 0 : Number(m[2]), version: m[3]!, release: m[4]!, arch: m[5]! };
}

/** The form modulemd artifacts use, epoch always written. */
export function artifactNevra(p: { name: string; epoch: number | null; version: string; release: string; arch: string }): string {
  return `${p.name}-${p.epoch ?? 0}:${p.version}-${p.release}.${p.arch}`;
}

/** yum's name of a compose (tree) arch, as modulemd's `arch` field takes it (Pungi's tree_arch_to_yum_arch). */
export function yumArch(arch: string): string {
  return ({ i386: 'i686', armhfp: 'armv7hl' } as Record<string, string>)[arch] ?? arch;
}

/** The package arches whose RPMs belong to compose arch `arch` in a module compose (plus noarch and src). */
export function moduleArches(arch: string, multilib: boolean): Set<string> {
  const set = archSet(arch, multilib);
  return new Set([...set.native, ...set.multilib, 'noarch', 'src']);
}

function modulemdDocument(text: string): Document.Parsed {
  const docs = parseAllDocuments(text, { intAsBigInt: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    if (doc.errors.length > 0) throw new ComposeError(`invalid modulemd YAML: ${doc.errors[0]!.message}`);
    if (doc.get('document') === 'modulemd') return doc;
  }
  throw new ComposeError('no modulemd document found');
}

/** name, stream, version and context of a modulemd (version as written: it may exceed 2^53). */
export function modulemdIdentity(text: string): { name: string; stream: string; version: string; context: string } {
  const doc = modulemdDocument(text);
  const str = (key: string): string => {
    const v: unknown = doc.getIn(['data', key]);
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? String(v) : '';
  };
  return { name: str('name'), stream: str('stream'), version: str('version'), context: str('context') };
}

/**
 * The modulemd of the `-devel` module of a module build, as MBS makes it: named `<name>-devel`,
 * requiring the module itself at runtime, without API and profiles, and (when given) with
 * `artifacts` as its RPMs: the ones filtered out of the module.
 */
export function develModulemd(text: string, artifacts?: readonly string[]): string {
  const doc = modulemdDocument(text);
  const name = String(doc.getIn(['data', 'name']));
  const stream = String(doc.getIn(['data', 'stream']));
  doc.setIn(['data', 'name'], `${name}-devel`);
  const deps = doc.getIn(['data', 'dependencies']);
  if (isSeq(deps) && deps.items.length > 0) {
    for (const block of deps.items) if (isMap(block)) block.setIn(['requires', name], doc.createNode([stream]));
  } else {
    doc.setIn(['data', 'dependencies'], doc.createNode([{ requires: { [name]: [stream] } }]));
  }
  doc.deleteIn(['data', 'api']);
  doc.deleteIn(['data', 'profiles']);
  if (artifacts) setArtifacts(doc, artifacts);
  return doc.toString({ directives: true, lineWidth: 0 });
}

function setArtifacts(doc: Document.Parsed, artifacts: readonly string[]): void {
  doc.deleteIn(['data', 'artifacts']);
  if (artifacts.length) doc.setIn(['data', 'artifacts'], doc.createNode({ rpms: [...artifacts] }));
}

/** The modulemd with `artifacts` replaced by these RPMs. */
export function withArtifacts(text: string, artifacts: readonly string[]): string {
  const doc = modulemdDocument(text);
  setArtifacts(doc, artifacts);
  return doc.toString({ directives: true, lineWidth: 0 });
}

/** The RPM artifacts (NEVRAs) a modulemd lists. */
export function modulemdArtifacts(text: string): string[] {
  const rpms = modulemdDocument(text).getIn(['data', 'artifacts', 'rpms']);
  return isSeq(rpms) ? rpms.items.map((i) => String((i as { value?: unknown }).value ?? i)) : [];
}

/**
 * The per-arch modulemd of one module: `data.arch` set (modulemd v2) and the artifacts (and
 * `rpm-map`, when present) limited to `arches`. Returned as one YAML document with its
 * `---`/`...` markers, ready to be concatenated with others.
 */
export function archModulemd(text: string, arch: string, arches: ReadonlySet<string>): string {
  const doc = modulemdDocument(text);
  const fits = (nevra: string): boolean => {
    const parsed = parseArtifactNevra(nevra);
    return parsed !== null && arches.has(parsed.arch);
  };
  if (Number(doc.get('version')) >= 2) doc.setIn(['data', 'arch'], yumArch(arch));
  const rpms = doc.getIn(['data', 'artifacts', 'rpms']);
  if (isSeq(rpms)) rpms.items = rpms.items.filter((i) => fits(String((i as { value?: unknown }).value ?? i)));
  // rpm-map: digest type -> digest -> {name, epoch, version, release, arch, nevra}.
  const map = doc.getIn(['data', 'artifacts', 'rpm-map']);
  if (isMap(map)) {
    for (const byDigest of map.items) {
      if (!isMap(byDigest.value)) continue;
      byDigest.value.items = byDigest.value.items.filter((entry) => {
        const info = entry.value;
        const nevra = isMap(info) ? info.get('nevra') : undefined;
        return typeof nevra !== 'string' || fits(nevra);
      });
    }
  }
  // Always the `---` marker; the `...` end marker only when the source had one, so add it then.
  const out = doc.toString({ directives: true, lineWidth: 0 });
  return /^\.\.\.$/m.test(out) ? out : `${out}...\n`;
}

/** modules.yaml for one compose arch: the per-arch documents of every module, in order. */
export function modulesYaml(modulemds: readonly string[], arch: string, arches: ReadonlySet<string>): string {
  return modulemds.map((m) => archModulemd(m, arch, arches)).join('');
}
