/**
 * The Koji plumbing every Koji-family source shares (tag, build, module, pungi_compose): the
 * client built from configuration, the RPMs of builds, and the package pool built from Koji RPM
 * rows without downloading the pool.
 *
 * What a pool costs:
 *  - dependency data comes from `getRPMHeaders` (multicall batches), cached on disk by rpm id +
 *    payloadhash under `<target_dir>/.cache/koji-headers`, so an RPM seen before costs nothing;
 *  - only the packages the compose selects are downloaded, each as the copy the compose's
 *    sigkeys prefer, into the package store keyed by the sha256 computed while downloading; the
 *    store remembers `koji:<rpm id>:<payloadhash>:<sigkey>` -> file, so the same copy is a link
 *    the next time.
 */
import path from 'node:path';
import type { Config } from '../../common/config';
import { ComposeError } from '../../common/errors';
import { KojiClient } from '../koji/client';
import { slotsPerService } from '../../common/http/service-waits';
import { getWithRetry } from '../koji/download';
import { KojiHeaderCache } from '../koji/header-cache';
import { archRestrictions, rpmPackageFromKoji, type KojiRpmPackage } from '../koji/package';
import { rpmPath, topurlJoin } from '../koji/paths';
import { sortRpmCopies, unsignedRpmsError, type ChosenRpm, type RpmCopy, type RpmWithSignatures } from '../koji/signatures';
import { BUILD_STATES, type KojiBuild, type KojiRpm } from '../koji/types';
import { KojiFault, XmlRpcTransportError } from '../koji/xmlrpc';
import { archSet } from '../rpm/arches';
import type { ComposeLog } from '../compose-log';
import type { RpmPackage } from '../rpm/model';
import type { KeyedCopy } from '../store/package-store';
import type { PackageRepo, SourceContext } from './types';

/** Directory (under each target dir) of RPM header fields read through Koji. */
export const KOJI_HEADER_CACHE_DIR = '.cache/koji-headers';

/** A Koji client and header cache for one compose. */
export interface KojiSession {
  koji: KojiClient;
  headers: KojiHeaderCache;
  cfg: Config;
  log: ComposeLog;
  signal: AbortSignal;
}

/** The configured Koji (never one a request names), with ODCS's timeouts and retries. */
export function openKoji(ctx: SourceContext, targetDir: string): KojiSession {
  const { cfg } = ctx;
  if (!cfg.koji_url || !cfg.koji_topurl) {
    throw new ComposeError('Koji is not configured on this server: koji_url and koji_topurl must be set.');
  }
  const koji = new KojiClient({
    hubUrl: cfg.koji_url,
    topurl: cfg.koji_topurl,
    ...netSettings(cfg),
    log: (message) => ctx.log.warning(message),
    signal: ctx.signal,
  });
  return { koji, headers: new KojiHeaderCache(path.join(targetDir, KOJI_HEADER_CACHE_DIR)), cfg, log: ctx.log, signal: ctx.signal };
}

/** ODCS's network settings as the Koji, MBS and download clients take them. */
export function netSettings(cfg: Config): {
  timeoutSeconds: number;
  retryIntervalSeconds: number;
  minRateBytes: number;
  maxWaitingPerService: number;
} {
  return {
    timeoutSeconds: cfg.net_timeout,
    retryIntervalSeconds: cfg.net_retry_interval,
    minRateBytes: cfg.net_min_rate_bytes,
    maxWaitingPerService: slotsPerService(cfg),
  };
}

/**
 * The package arches a compose can use: for each compose arch its native arches, its multilib
 * arches when it is a multilib arch, and noarch. Source RPMs are not among them: listings add
 * `src` themselves (the source tree, and the SRPM headers of noarch RPMs: see kojiPackageRepo).
 */
export function poolArches(compose: { arches: readonly string[]; multilib_arches: readonly string[] }): string[] {
  const out = new Set<string>();
  for (const arch of compose.arches) for (const a of archSet(arch, compose.multilib_arches.includes(arch)).order) out.add(a);
  return [...out];
}

/** Koji failures as compose failures that say what was asked of Koji. */
export async function askKoji<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KojiFault) throw new ComposeError(`Koji ${what} failed: ${err.faultString}`);
    if (err instanceof XmlRpcTransportError) throw new ComposeError(`Koji ${what} failed: ${err.message}`);
    throw err;
  }
}

/**
 * The RPMs (of `arches`) of the builds named by NVR, with the signatures Koji has for each.
 * Unknown builds and builds that are not complete fail the compose, all named at once.
 */
export async function rpmsOfBuilds(session: KojiSession, nvrs: readonly string[], arches: readonly string[]): Promise<Array<RpmWithSignatures<KojiRpm>>> {
  if (nvrs.length === 0) return [];
  const { koji } = session;
  const found = await askKoji('build lookup', () => koji.getBuilds(nvrs));
  const unknown = nvrs.filter((_, i) => found[i] === null);
  if (unknown.length) throw new ComposeError(`Unknown Koji build(s): ${unknown.join(', ')}.`);
  const builds = found as KojiBuild[];
  const incomplete = builds.filter((b) => b.state !== BUILD_STATES.COMPLETE);
  if (incomplete.length) {
    const state = (n: number): string => Object.entries(BUILD_STATES).find(([, v]) => v === n)?.[0] ?? String(n);
    throw new ComposeError(`Koji build(s) not complete: ${incomplete.map((b) => `${b.nvr} (${state(b.state)})`).join(', ')}.`);
  }
  const rpmLists = await askKoji('RPM listing', () => koji.listRPMsMany(builds.map((b) => b.id), { arches }));
  const rpms = rpmLists.flat();
  const sigs = await askKoji('signature query', () => koji.queryRPMSigsMany(rpms.map((r) => r.id)));
  const out: Array<RpmWithSignatures<KojiRpm>> = [];
  rpmLists.forEach((list, i) => {
    for (const rpm of list) out.push({ rpm, build: builds[i]!, sigkeys: (sigs.get(rpm.id) ?? []).map((s) => s.sigkey) });
  });
  return out;
}

/**
 * The source RPM (by build id) of every build that has a noarch RPM among `binaries`: Pungi
 * reads ExclusiveArch / ExcludeArch from it. Builds without a listed SRPM have no restriction.
 */
function sourcesOfNoarchBuilds(
  candidates: ReadonlyArray<RpmWithSignatures<KojiRpm>>,
  binaries: ReadonlyArray<ChosenRpm<KojiRpm>>,
): Map<number, KojiRpm> {
  const noarchBuilds = new Set(binaries.filter((c) => c.rpm.arch === 'noarch').map((c) => c.rpm.build_id));
  const out = new Map<number, KojiRpm>();
  for (const c of candidates) if (c.rpm.arch === 'src' && noarchBuilds.has(c.rpm.build_id)) out.set(c.rpm.build_id, c.rpm);
  return out;
}

/** Each RPM once (the first occurrence wins): a build may be in the tag and in `builds` too. */
export function uniqueRpms<R extends { rpm: { id: number } }>(lists: ReadonlyArray<readonly R[]>): R[] {
  const seen = new Set<number>();
  const out: R[] = [];
  for (const list of lists) {
    for (const entry of list) {
      if (seen.has(entry.rpm.id)) continue;
      seen.add(entry.rpm.id);
      out.push(entry);
    }
  }
  return out;
}

export interface KojiPoolOptions {
  /** How the repository is named in logs and in depsolve.json. */
  name: string;
  /** The candidate RPMs with the signatures Koji has for each. */
  candidates: ReadonlyArray<RpmWithSignatures<KojiRpm>>;
  /** The compose's sigkeys in preference order; `''` allows unsigned, an empty list too. */
  sigkeys: readonly string[];
}

/** The store key of one copy of an RPM: its bytes never change under it. */
function copyKey(rpm: KojiRpm, sigkey: string): string {
  return `koji:${rpm.id}:${rpm.payloadhash}:${sigkey}`;
}

/**
 * A PackageRepo of Koji RPMs: the copy of each chosen by sigkeys, dependency data from cached
 * headers, and an origin that downloads only what is placed.
 *
 * RPMs without an acceptable copy stay in the pool (Pungi builds its package set with invalid
 * sigkeys allowed); checkSelection fails the compose naming every one of them the compose takes.
 * Source RPMs among the candidates are packages of the pool (for the source tree), and their
 * ExclusiveArch / ExcludeArch go onto the noarch RPMs of their build, as Pungi copies them.
 */
export async function kojiPackageRepo(session: KojiSession, options: KojiPoolOptions): Promise<PackageRepo> {
  const { koji, log, cfg } = session;
  // Source RPMs are packages of the pool too: the depsolver never selects them, the engine
  // puts those of the gathered packages in the source tree (backend/repo/trees.ts).
  const { chosen, missing } = sortRpmCopies(options.candidates, options.sigkeys, koji.topurl);
  // Without a copy, the package points at the unsigned file; it is never downloaded.
  const unavailable: Array<ChosenRpm<KojiRpm>> = missing.map((m) => {
    const where = rpmPath(m.build, m.rpm, '');
    return { rpm: m.rpm, build: m.build, sigkey: '', path: where, url: topurlJoin(koji.topurl, where), copies: [] };
  });
  const unsignedOf = new Map(missing.map((m) => [m.rpm.id, m.unsigned]));
  const all = [...chosen, ...unavailable];
  const srpms = sourcesOfNoarchBuilds(options.candidates, all);
  const { headers, stats } = await askKoji('header query', () => session.headers.headersOf(koji, [...new Map([...all.map((c) => c.rpm), ...srpms.values()].map((r) => [r.id, r])).values()]));
  log.info(
    `${options.name}: ${all.length} RPMs (${missing.length} without an acceptable copy), ${srpms.size} SRPMs of noarch RPMs; headers of ${stats.cached} from the cache, ${stats.fetched} asked of Koji`,
  );
  const byPackage = new Map<RpmPackage, ChosenRpm<KojiRpm>>();
  const noHeaders: string[] = [];
  const packages: KojiRpmPackage[] = [];
  for (const c of all) {
    const fields = headers.get(c.rpm.id);
    if (!fields) {
      noHeaders.push(`${c.rpm.name}-${c.rpm.version}-${c.rpm.release}.${c.rpm.arch}`);
      continue;
    }
    const pkg = rpmPackageFromKoji(c.rpm, fields, { location: c.path, locationBase: koji.topurl, repoId: options.name, sigkey: c.sigkey });
    const srpm = pkg.arch === 'noarch' ? srpms.get(c.rpm.build_id) : undefined;
    const srpmFields = srpm ? headers.get(srpm.id) : undefined;
    if (srpm && !srpmFields) noHeaders.push(`${srpm.name}-${srpm.version}-${srpm.release}.${srpm.arch}`);
    if (srpmFields) {
      const { exclusiveArch, excludeArch } = archRestrictions(srpmFields, `${srpm!.name}-${srpm!.version}-${srpm!.release}.src`);
      if (exclusiveArch.length) pkg.exclusiveArch = exclusiveArch;
      if (excludeArch.length) pkg.excludeArch = excludeArch;
    }
    byPackage.set(pkg, c);
    packages.push(pkg);
  }
  if (noHeaders.length) throw new ComposeError(`Koji has no headers for: ${noHeaders.join(', ')}`);
  // Koji lists the copies under its own topurl; a redirect elsewhere is refused (common/http).
  const net = { ...netSettings(cfg), allow: koji.allow, log: (message: string) => log.warning(message) };
  return {
    name: options.name,
    packages,
    checkSelection(selected) {
      const without = selected.flatMap((pkg) => {
        const c = byPackage.get(pkg);
        const unsigned = c ? unsignedOf.get(c.rpm.id) : undefined;
        return unsigned ? [unsigned] : [];
      });
      if (without.length) throw new ComposeError(unsignedRpmsError(options.sigkeys, without).message);
    },
    origin(pkg) {
      const c = byPackage.get(pkg);
      if (!c) throw new ComposeError(`${pkg.name} is not a package of ${options.name}`);
      const copyOf = new Map<KeyedCopy, RpmCopy>();
      const copies = c.copies.map((copy) => {
        const keyed: KeyedCopy = {
          key: copyKey(c.rpm, copy.sigkey),
          async open(signal) {
            const res = await getWithRetry(copy.url, { ...net, signal });
            if (!res) log.warning(`${copy.url} does not exist although Koji lists the ${copy.sigkey || 'unsigned'} copy; trying the next acceptable copy`);
            return res;
          },
        };
        copyOf.set(keyed, copy);
        return keyed;
      });
      return {
        kind: 'keyed',
        copies,
        placed(keyed, checksum) {
          const copy = copyOf.get(keyed)!;
          // The package now describes the very file placed: createrepo_c writes the same checksum.
          const k = pkg as KojiRpmPackage;
          k.checksum = checksum;
          k.location = copy.path;
          k.koji.sigkey = copy.sigkey;
        },
      };
    },
  };
}
