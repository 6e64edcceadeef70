import { checkPungiComposeUrl } from '../../common/repo-location';
import { ComposeError } from '../../common/errors';
import { DEFAULT_MAX_BUFFERED_BYTES } from '../../common/http/client';
import { getWithRetry, readText } from '../koji/download';
import { productmdNevra } from '../repo/productmd';
import type { DepsolveResult } from '../rpm/depsolve';
import type { RpmPackage } from '../rpm/model';
import { exactSelection } from './exact-selection';
import { kojiPackageRepo, netSettings, openKoji, rpmsOfBuilds } from './koji-pool';
import type { SourceHandler } from './types';

/** What the external compose lists for the variant. */
export interface ListedRpms {
  /** Compose arch -> the RPM NEVRAs (productmd form, `name-epoch:version-release.arch`) in it. */
  byArch: Map<string, Set<string>>;
  /** The builds (SRPM NVRs) the RPMs come from, sorted. */
  builds: string[];
  /** The RPM names, sorted. */
  packages: string[];
  /** The sigkeys used, sorted; `''` last when some RPMs are unsigned (ODCS's trailing space). */
  sigkeys: string[];
}

const NEVRA = /^(.+)-(\d+):([^-:]+)-([^-:]+)\.([^.]+)$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads `payload.rpms.<variant>` of a productmd rpms.json (reference §5.2): arch -> SRPM NEVRA
 * -> RPM NEVRA -> {path, sigkey, category}. Source RPMs only name the builds.
 */
export function listedRpms(rpmsJson: unknown, variant: string, sourceUrl: string): ListedRpms {
  const section = isObject(rpmsJson) && isObject(rpmsJson['payload']) && isObject(rpmsJson['payload']['rpms']) ? rpmsJson['payload']['rpms'][variant] : undefined;
  if (!isObject(section)) throw new ComposeError(`The ${sourceUrl} does not contain payload -> rpms -> ${variant} section`);
  const byArch = new Map<string, Set<string>>();
  const builds = new Set<string>();
  const names = new Set<string>();
  const sigkeys = new Set<string>();
  let unsigned = false;
  for (const [arch, bySrpm] of Object.entries(section)) {
    if (!isObject(bySrpm)) throw new ComposeError(`${sourceUrl}: rpms.json entry for ${arch} is not an object`);
    const listed = new Set<string>();
    for (const [srpm, rpms] of Object.entries(bySrpm)) {
      const s = NEVRA.exec(srpm);
      if (!s || !isObject(rpms)) throw new ComposeError(`${sourceUrl}: rpms.json has an unreadable entry ${srpm}`);
      builds.add(`${s[1]}-${s[3]}-${s[4]}`);
      for (const [nevra, info] of Object.entries(rpms)) {
        const m = NEVRA.exec(nevra);
        if (!m) throw new ComposeError(`${sourceUrl}: rpms.json has an unreadable RPM ${nevra}`);
        if (m[5] === 'src' || m[5] === 'nosrc') continue;
        listed.add(nevra);
        names.add(m[1]!);
        const sigkey = isObject(info) ? info['sigkey'] : null;
        if (typeof sigkey === 'string' && sigkey !== '') sigkeys.add(sigkey.toLowerCase());
        else unsigned = true;
      }
    }
    if (arch !== 'src' && arch !== 'nosrc') byArch.set(arch, listed);
  }
  const keys = [...sigkeys].sort();
  if (unsigned) keys.push('');
  return { byArch, builds: [...builds].sort(), packages: [...names].sort(), sigkeys: keys };
}

/** The packages of each arch exactly as listed: no selection and no dependency resolution. */
function listedSelection(byArch: ReadonlyMap<string, ReadonlySet<string>>, pool: readonly RpmPackage[], sourceUrl: string): DepsolveResult {
  const { solution, missing } = exactSelection(byArch, pool, (n) => `${n} (listed by ${sourceUrl})`);
  if (missing.length) throw new ComposeError(`Koji has none of these RPMs listed by ${sourceUrl}: ${missing.join(' ')}`);
  return solution;
}

/**
 * `pungi_compose` (reference §5.2): the RPMs another Pungi compose has in one variant, taken
 * again from Koji: its `<compose>/metadata/rpms.json` names them; the compose's arches, builds,
 * packages and sigkeys are rewritten from it as ODCS does, and exactly those NEVRAs are placed
 * (per arch, as listed: multilib RPMs of an arch stay in it).
 */
export const pungiComposeSource: SourceHandler = {
  async resolve(compose, ctx) {
    const checked = checkPungiComposeUrl(ctx.cfg, compose.source);
    if ('problem' in checked) throw new ComposeError(checked.problem);
    const segments = checked.url.pathname.replace(/\/+$/, '').split('/');
    const variant = decodeURIComponent(segments.pop()!);
    const rpmsUrl = new URL(`${segments.join('/')}/metadata/rpms.json`, checked.url).href;
    ctx.log.info(`Reading ${rpmsUrl} for variant ${variant}`);
    const res = await getWithRetry(rpmsUrl, {
      ...netSettings(ctx.cfg),
      allow: { hosts: ctx.cfg.allowed_pungi_compose_hosts, name: 'allowed_pungi_compose_hosts' },
      maxBytes: DEFAULT_MAX_BUFFERED_BYTES,
      log: (message) => ctx.log.warning(message),
      signal: ctx.signal,
    }).catch((err: Error) => {
      throw new ComposeError(`Cannot read ${rpmsUrl}: ${err.message}`);
    });
    if (!res) throw new ComposeError(`Cannot read ${rpmsUrl}: 404 Not Found`);
    let json: unknown;
    try {
      json = JSON.parse(await readText(res));
    } catch (err) {
      throw new ComposeError(`Cannot read ${rpmsUrl}: ${(err as Error).message}`);
    }
    const listed = listedRpms(json, variant, compose.source);
    const rpmArches = new Set<string>();
    for (const nevras of listed.byArch.values()) for (const n of nevras) rpmArches.add(NEVRA.exec(n)![5]!);
    const wanted = new Set([...listed.byArch.values()].flatMap((s) => [...s]));
    ctx.log.info(`${wanted.size} RPMs of ${listed.builds.length} builds in ${listed.byArch.size} arch(es); sigkeys ${listed.sigkeys.map((k) => k || '(unsigned)').join(' ') || '(none)'}`);

    const session = openKoji(ctx, compose.target_dir ?? ctx.cfg.target_dir);
    const candidates = (await rpmsOfBuilds(session, listed.builds, [...rpmArches])).filter((c) =>
      wanted.has(productmdNevra({ ...c.rpm, epoch: c.rpm.epoch ?? 0 })),
    );
    const repo = await kojiPackageRepo(session, { name: 'koji-pungi-compose', candidates, sigkeys: listed.sigkeys });
    return {
      repos: [repo],
      lookaside: [],
      selection: listedSelection(listed.byArch, repo.packages, compose.source),
      extras: { arches: [...listed.byArch.keys()].sort(), builds: listed.builds, packages: listed.packages, sigkeys: listed.sigkeys },
    };
  },
};
