/**
 * A typed client for the read-only Koji hub calls ODCS needs, plus the topurl file helpers.
 *
 * Koji conventions this client takes care of:
 *  - optional arguments go as keyword arguments (Koji's `__starstar` struct), so the call does
 *    not depend on positional order, which changed between Koji versions;
 *  - lookups of unknown things answer nil (null here) unless `strict` is asked for, in which
 *    case the hub answers a fault (KojiFault, faultCode 1000, `No such build: 'x-1-1'`);
 *  - `tagChangedSinceEvent` takes integer tag ids and does not follow inheritance:
 *    `tagOrParentsChangedSince` expands the chain first;
 *  - many small calls (headers, signatures) are batched with `system.multicall`.
 */
import { normalizeSigkey, rpmPath, topurlJoin, type RpmNvra } from './paths';
import {
  asList,
  toBuild,
  toEvent,
  toHeaders,
  toInheritanceEntry,
  toRpm,
  toSignature,
  toTag,
  toTaggedBuild,
  type KojiBuild,
  type KojiBuildNvr,
  type KojiEvent,
  type KojiInheritanceEntry,
  type KojiRpm,
  type KojiRpmSignature,
  type KojiTag,
  type KojiTaggedBuild,
  type KojiTaggedRpm,
  type RpmHeaderFields,
} from './types';
import {
  KojiFault,
  XmlRpcClient,
  XmlRpcProtocolError,
  type XmlRpcCall,
  type XmlRpcClientOptions,
  type XmlRpcKwargs,
  type XmlRpcValue,
} from './xmlrpc';
import { allowListOf, type AllowList } from '../../common/http/client';

export interface KojiClientOptions extends Omit<XmlRpcClientOptions, 'url'> {
  /** The hub's XML-RPC endpoint, e.g. `https://koji.fedoraproject.org/kojihub`. */
  hubUrl: string;
  /** Where Koji's files are served, e.g. `https://kojipkgs.fedoraproject.org` (packages/… below it). */
  topurl: string;
  /** Calls per `system.multicall` request (default 500). */
  multicallBatchSize?: number;
  /** multicall requests in flight at once (default 4). */
  multicallConcurrency?: number;
}

/** `getTag` found nothing for the name or id. */
export class UnknownKojiTagError extends Error {
  override name = 'UnknownKojiTagError';
  readonly retryable = false;
  constructor(readonly tag: string | number) {
    super(`Unknown Koji tag ${tag}.`);
  }
}

export interface ListTaggedRpmsOptions {
  /** Follow inheritance (default false, as in Koji). */
  inherit?: boolean;
  /**
   * true: only the latest build of each package; N: the N latest. "Latest" is Koji's: the most
   * recently TAGGED build of the package in the nearest tag of the inheritance chain (not the
   * highest NVR); a build in a child tag hides every build of that package in its parents.
   */
  latest?: boolean | number;
  /** The tag as it was at this event. */
  event?: number;
  /** Only RPMs of these arches (`src` for source RPMs). */
  arch?: string | readonly string[];
  /** One row per (rpm, sigkey) with a `sigkey` field, `''` for the unsigned copy. */
  rpmsigs?: boolean;
  /** Only this package (source package name). */
  package?: string;
}

export interface ListTaggedOptions {
  inherit?: boolean;
  latest?: boolean | number;
  event?: number;
  package?: string;
  /** Build type, e.g. `module` or `rpm` (Koji btype). */
  type?: string;
}

export interface TaggedRpms {
  rpms: KojiTaggedRpm[];
  /** The builds the RPMs belong to, each with the tag it was found in. */
  builds: KojiTaggedBuild[];
}

export class KojiClient {
  readonly hubUrl: string;
  readonly topurl: string;
  readonly xmlrpc: XmlRpcClient;
  /** The hosts of the hub and of topurl: the only ones calls, downloads and their redirects may reach. */
  readonly allow: AllowList;
  private readonly batchSize: number;
  private readonly concurrency: number;

  constructor(readonly options: KojiClientOptions) {
    this.hubUrl = options.hubUrl;
    this.topurl = options.topurl;
    this.allow = options.allow ?? allowListOf('koji_url/koji_topurl', options.hubUrl, options.topurl);
    this.xmlrpc = new XmlRpcClient({ ...options, url: options.hubUrl, allow: this.allow });
    this.batchSize = Math.max(1, options.multicallBatchSize ?? 500);
    this.concurrency = Math.max(1, options.multicallConcurrency ?? 4);
  }

  /** The same client whose calls are also aborted by `signal`. */
  withSignal(signal: AbortSignal): KojiClient {
    const combined = this.options.signal ? AbortSignal.any([this.options.signal, signal]) : signal;
    return new KojiClient({ ...this.options, signal: combined });
  }

  /** A raw call, for what this class does not wrap. */
  call(method: string, params: readonly XmlRpcValue[] = [], kwargs?: XmlRpcKwargs): Promise<XmlRpcValue> {
    return this.xmlrpc.call(method, params, kwargs);
  }

  async getLastEvent(): Promise<KojiEvent> {
    return toEvent(await this.call('getLastEvent'), 'getLastEvent');
  }

  /**
   * The event `id`. Koji's getEvent is strict by default: an event the hub does not have (a
   * future one) is Fault 1000 "query returned no rows", which this passes on as a KojiFault.
   */
  async getEvent(id: number): Promise<KojiEvent> {
    return toEvent(await this.call('getEvent', [id]), 'getEvent');
  }

  /** The tag by name or id (as it was at `event`), or null when there is no such tag. */
  async getTag(tag: string | number, options: { event?: number; strict?: boolean } = {}): Promise<KojiTag | null> {
    const v = await this.call('getTag', [tag], { event: options.event, strict: options.strict || undefined });
    return v === null ? null : toTag(v, 'getTag');
  }

  /** Every tag `tag` inherits from, depth first, nearest first. */
  async getFullInheritance(tag: string | number, options: { event?: number } = {}): Promise<KojiInheritanceEntry[]> {
    const v = await this.call('getFullInheritance', [tag], { event: options.event });
    return asList(v, 'getFullInheritance').map((e) => toInheritanceEntry(e, 'getFullInheritance'));
  }

  /**
   * Whether any of the tags (integer ids, not names) changed after `event`. Does NOT follow
   * inheritance; a future event answers false.
   */
  async tagChangedSinceEvent(event: number, tagIds: readonly number[]): Promise<boolean> {
    if (!Number.isSafeInteger(event)) throw new TypeError(`tagChangedSinceEvent: event must be an integer, got ${event}`);
    for (const id of tagIds) {
      if (!Number.isSafeInteger(id)) throw new TypeError(`tagChangedSinceEvent takes integer tag ids, got ${JSON.stringify(id)}`);
    }
    const v = await this.call('tagChangedSinceEvent', [event, [...tagIds]]);
    if (typeof v !== 'boolean') throw new XmlRpcProtocolError('tagChangedSinceEvent: expected a boolean');
    return v;
  }

  /**
   * The ids of `tag` and of every tag it inherits from (now, or at `event`), in inheritance
   * order, each once. Throws UnknownKojiTagError for an unknown tag.
   */
  async tagChainIds(tag: string | number, options: { event?: number } = {}): Promise<number[]> {
    const [info, inheritance] = await this.xmlrpc.multicall([
      { method: 'getTag', params: [tag], kwargs: { event: options.event } },
      { method: 'getFullInheritance', params: [tag], kwargs: { event: options.event } },
    ]);
    if (info instanceof KojiFault) throw info;
    // Decided by getTag: getFullInheritance of an unknown tag is a fault whose wording varies.
    if (info === null || info === undefined) throw new UnknownKojiTagError(tag);
    if (inheritance instanceof KojiFault) throw inheritance;
    const ids = [toTag(info, 'getTag').id];
    for (const link of asList(inheritance!, 'getFullInheritance')) {
      const id = toInheritanceEntry(link, 'getFullInheritance').parent_id;
      if (!ids.includes(id)) ids.push(id);
    }
    return ids;
  }

  /**
   * Whether `tag` or any tag it inherits from changed since `event`: what ODCS checks before
   * reusing a cached event or an earlier compose of the tag.
   */
  async tagOrParentsChangedSince(tag: string | number, event: number): Promise<boolean> {
    return this.tagChangedSinceEvent(event, await this.tagChainIds(tag));
  }

  async listTaggedRPMS(tag: string | number, options: ListTaggedRpmsOptions = {}): Promise<TaggedRpms> {
    const arch = typeof options.arch === 'string' || options.arch === undefined ? options.arch : [...options.arch];
    const v = await this.call('listTaggedRPMS', [tag], {
      inherit: options.inherit,
      latest: options.latest,
      event: options.event,
      arch,
      rpmsigs: options.rpmsigs,
      package: options.package,
    });
    const pair = asList(v, 'listTaggedRPMS');
    if (pair.length !== 2) throw new XmlRpcProtocolError('listTaggedRPMS: expected [rpms, builds]');
    return {
      rpms: asList(pair[0]!, 'listTaggedRPMS rpms').map((r) => toRpm(r, 'listTaggedRPMS rpm')),
      builds: asList(pair[1]!, 'listTaggedRPMS builds').map((b) => toTaggedBuild(b, 'listTaggedRPMS build')),
    };
  }

  async listTagged(tag: string | number, options: ListTaggedOptions = {}): Promise<KojiTaggedBuild[]> {
    const v = await this.call('listTagged', [tag], {
      inherit: options.inherit,
      latest: options.latest,
      event: options.event,
      package: options.package,
      type: options.type,
    });
    return asList(v, 'listTagged').map((b) => toTaggedBuild(b, 'listTagged'));
  }

  /** A build by NVR or id; null when unknown (a KojiFault with `strict`). */
  async getBuild(build: string | number, options: { strict?: boolean } = {}): Promise<KojiBuild | null> {
    const v = await this.call('getBuild', [build], { strict: options.strict || undefined });
    return v === null ? null : toBuild(v, 'getBuild');
  }

  /** Several builds in one request; null for the unknown ones. */
  async getBuilds(builds: ReadonlyArray<string | number>): Promise<Array<KojiBuild | null>> {
    const results = await this.batched(builds.map((b) => ({ method: 'getBuild', params: [b] })));
    return results.map((v) => (v === null ? null : toBuild(v, 'getBuild')));
  }

  /** The RPMs of a build (source RPM included unless `arches` leaves it out). */
  async listRPMs(buildId: number, options: { arches?: string | readonly string[] } = {}): Promise<KojiRpm[]> {
    const arches = typeof options.arches === 'string' || options.arches === undefined ? options.arches : [...options.arches];
    const v = await this.call('listRPMs', [], { buildID: buildId, arches });
    return asList(v, 'listRPMs').map((r) => toRpm(r, 'listRPMs'));
  }

  /** The RPMs of several builds in multicall batches, in the order of `buildIds`. */
  async listRPMsMany(buildIds: readonly number[], options: { arches?: readonly string[] } = {}): Promise<KojiRpm[][]> {
    const arches = options.arches === undefined ? undefined : [...options.arches];
    const results = await this.batched(buildIds.map((id) => ({ method: 'listRPMs', params: [], kwargs: { buildID: id, arches } })));
    return results.map((v) => asList(v, 'listRPMs').map((r) => toRpm(r, 'listRPMs')));
  }

  /** An RPM by id or NVRA string (`name-version-release.arch`); null when unknown. */
  async getRPM(rpm: string | number, options: { strict?: boolean } = {}): Promise<KojiRpm | null> {
    const v = await this.call('getRPM', [rpm], { strict: options.strict || undefined });
    return v === null ? null : toRpm(v, 'getRPM');
  }

  async queryRPMSigs(rpmId: number): Promise<KojiRpmSignature[]> {
    const v = await this.call('queryRPMSigs', [], { rpm_id: rpmId });
    return asList(v, 'queryRPMSigs').map((s) => toSignature(s, 'queryRPMSigs'));
  }

  /** Signatures of many RPMs, batched; by rpm id. */
  async queryRPMSigsMany(rpmIds: readonly number[]): Promise<Map<number, KojiRpmSignature[]>> {
    const results = await this.batched(rpmIds.map((id) => ({ method: 'queryRPMSigs', kwargs: { rpm_id: id } })));
    const out = new Map<number, KojiRpmSignature[]>();
    results.forEach((v, i) => out.set(rpmIds[i]!, asList(v, 'queryRPMSigs').map((s) => toSignature(s, 'queryRPMSigs'))));
    return out;
  }

  /**
   * Header fields of an RPM, read by the hub from the file: keys are the names asked for
   * (lower case, e.g. `requirename`). An unknown rpm gives `{}` unless `strict`.
   */
  async getRPMHeaders(rpmId: number, headers: readonly string[], options: { strict?: boolean } = {}): Promise<RpmHeaderFields> {
    const v = await this.call('getRPMHeaders', [], { rpmID: rpmId, headers: [...headers], strict: options.strict || undefined });
    return toHeaders(v, 'getRPMHeaders');
  }

  /** Header fields of many RPMs with `system.multicall`; by rpm id. Any fault fails the whole. */
  async getRPMHeadersMany(rpmIds: readonly number[], headers: readonly string[]): Promise<Map<number, RpmHeaderFields>> {
    const results = await this.batched(
      rpmIds.map((id) => ({ method: 'getRPMHeaders', kwargs: { rpmID: id, headers: [...headers] } })),
    );
    const out = new Map<number, RpmHeaderFields>();
    results.forEach((v, i) => out.set(rpmIds[i]!, toHeaders(v, 'getRPMHeaders')));
    return out;
  }

  /** One `system.multicall` request; the first fault rejects. */
  async multicallStrict(calls: readonly XmlRpcCall[]): Promise<XmlRpcValue[]> {
    const results = await this.xmlrpc.multicall(calls);
    return results.map((r) => {
      if (r instanceof KojiFault) throw r;
      return r;
    });
  }

  /** Runs calls in multicall batches (several batches in flight); the first fault rejects. */
  async batched(calls: readonly XmlRpcCall[]): Promise<XmlRpcValue[]> {
    const batches: Array<readonly XmlRpcCall[]> = [];
    for (let i = 0; i < calls.length; i += this.batchSize) batches.push(calls.slice(i, i + this.batchSize));
    const results: XmlRpcValue[][] = new Array<XmlRpcValue[]>(batches.length);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < batches.length && !failed) {
        const n = next++;
        try {
          results[n] = await this.multicallStrict(batches[n]!);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, worker));
    return results.flat();
  }

  /** The URL of a path relative to topurl. */
  fileUrl(relative: string): string {
    return topurlJoin(this.topurl, relative);
  }

  /** The URL of an RPM: the unsigned copy for sigkey `''`, else the copy signed with that key. */
  rpmUrl(build: KojiBuildNvr, rpm: RpmNvra, sigkey = ''): string {
    return this.fileUrl(rpmPath(build, rpm, normalizeSigkey(sigkey)));
  }
}
