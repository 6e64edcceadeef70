/**
 * Module Build Service client: `GET <mbs_url>/1/module-builds/` as ODCS queries it (§5.2),
 * following `meta.next` through the pages, with ODCS's retry rules (`net_timeout` window,
 * `net_retry_interval`; connection errors, timeouts and 5xx are retried, other answers not).
 *
 * Module builds come back typed, with the modulemd document parsed (YAML, modulemd v1 or v2)
 * for the runtime dependencies.
 */
import { parseAllDocuments } from 'yaml';
import { allowListOf, DEFAULT_NET_RETRY_INTERVAL, DEFAULT_NET_TIMEOUT, httpFetch, type AllowList, type NetOptions } from '../../common/http/client';
import { HttpError, HttpStatusError } from '../../common/http/errors';
import { ComposeError } from '../../common/errors';
import { abortReason } from '../../common/sleep';
import { combineSignals } from '../koji/xmlrpc';

/** MBS's module build states. */
export const MBS_STATES = { init: 0, wait: 1, build: 2, done: 3, failed: 4, ready: 5, garbage: 6 } as const;
export type MbsStateName = keyof typeof MBS_STATES;

export interface MbsClientOptions {
  /** ODCS's `mbs_url`, e.g. `https://mbs.example.com/module-build-service` (the API is at `/1/…` below it). */
  url: string;
  /** `net_timeout`: overall retry window, seconds (default 120). */
  timeoutSeconds?: number;
  /** `net_retry_interval`, seconds (default 30). */
  retryIntervalSeconds?: number;
  /** `net_min_rate_bytes`: the slowest average answer accepted once it has streamed for `timeoutSeconds`. */
  minRateBytes?: number;
  /** `max_slots_per_service` (common/http/service-waits); unset: no limit. */
  maxWaitingPerService?: number;
  /** Hosts pages and redirects may come from (default: mbs_url's own host). */
  allow?: AllowList;
  /** Where details of failed attempts go (the operator's log). */
  log?: (message: string) => void;
  signal?: AbortSignal;
  /** Safety limit on pages followed (default 1000). */
  maxPages?: number;
}

export interface ModuleBuildQuery {
  /** `name[:stream[:version[:context]]]`. */
  nsvc?: string;
  name?: string;
  stream?: string;
  version?: string | number;
  context?: string;
  /** Any of these states (numbers or names). ODCS: `[5]` (ready) or `[3, 5]` (done + ready). */
  states?: ReadonlyArray<number | MbsStateName>;
  baseModuleBrName?: string;
  baseModuleBrStream?: string;
  baseModuleBrStreamVersionLte?: number;
  baseModuleBrStreamVersionGte?: number;
  /** Default `version` (newest first), as ODCS asks. */
  orderDescBy?: string;
  perPage?: number;
  /** Anything else MBS filters on (`koji_tag`, `scmurl`, …). */
  extra?: Record<string, string | number>;
}

export interface MbsBaseModuleBuildrequire {
  id: number;
  name: string;
  stream: string;
  version: string;
  context: string;
  stream_version: number | null;
}

/** The parsed modulemd: runtime dependencies, one map per `dependencies` entry. */
export interface ModulemdInfo {
  /** 1 or 2. */
  mdversion: number;
  /** name -> streams (`[]` = any stream; a `-` prefix excludes a stream), per dependencies block. */
  runtimeDeps: Array<Record<string, string[]>>;
  buildtimeDeps: Array<Record<string, string[]>>;
  /** The document's `data` as YAML parsed it. */
  data: Record<string, unknown>;
}

export interface MbsModuleBuild {
  id: number;
  name: string;
  stream: string;
  /** MBS sends versions as strings; they compare numerically. */
  version: string;
  context: string;
  state: number;
  stateName: string;
  kojiTag: string | null;
  scmurl: string | null;
  owner: string | null;
  /** The modulemd YAML text as MBS stores it (verbose answers only). */
  modulemd: string | null;
  /** Parsed from `modulemd` when present. */
  mmd: ModulemdInfo | null;
  /** Union over the dependencies blocks: module name -> streams. */
  runtimeDeps: Record<string, string[]>;
  baseModuleBuildrequires: MbsBaseModuleBuildrequire[];
  /** `xmd.mbs.buildrequires` as MBS reports it. */
  buildrequires: Record<string, unknown>;
  /** The whole JSON item. */
  raw: Record<string, unknown>;
}

/** MBS could not be asked, or answered an error. */
export class MbsError extends Error {
  override name = 'MbsError';
  readonly retryable: boolean;
  readonly status?: number;
  constructor(
    readonly url: string,
    readonly params: Record<string, string | string[]>,
    detail: string,
    options: { retryable: boolean; status?: number; cause?: unknown },
  ) {
    super(`MBS has failed to query ${url} : ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

export class MbsClient {
  readonly url: string;
  private readonly net: NetOptions;
  private readonly allow: AllowList;

  constructor(readonly options: MbsClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.net = {
      timeoutSeconds: options.timeoutSeconds ?? DEFAULT_NET_TIMEOUT,
      retryIntervalSeconds: options.retryIntervalSeconds ?? DEFAULT_NET_RETRY_INTERVAL,
      minRateBytes: options.minRateBytes,
      maxWaitingPerService: options.maxWaitingPerService,
    };
    this.allow = options.allow ?? allowListOf('mbs_url', this.url);
  }

  /** The list endpoint. */
  get moduleBuildsUrl(): string {
    return `${this.url}/1/module-builds/`;
  }

  /** Every module build matching the query, all pages, in MBS's order. */
  async getModuleBuilds(query: ModuleBuildQuery, options: { signal?: AbortSignal } = {}): Promise<MbsModuleBuild[]> {
    const out: MbsModuleBuild[] = [];
    for await (const page of this.pages(query, options.signal)) out.push(...page);
    return out;
  }

  /**
   * The builds of the highest version matching the query, all their contexts (what ODCS takes
   * for an N:S or N:S:V request). Pages are read only until the version drops.
   */
  async getLatestModuleBuilds(query: ModuleBuildQuery, options: { signal?: AbortSignal } = {}): Promise<MbsModuleBuild[]> {
    const out: MbsModuleBuild[] = [];
    let top: bigint | null = null;
    for await (const page of this.pages({ ...query, orderDescBy: 'version' }, options.signal)) {
      for (const b of page) {
        const v = versionNumber(b.version);
        if (top === null) top = v;
        if (v === top) out.push(b);
        else if (v < top) return out;
      }
    }
    return out;
  }

  /**
   * The module build of exactly this N:S:V:C, whatever its state, or null (Pungi's
   * get_module_build_by_nsvc, used for scratch module builds: they stay in state done).
   */
  async getModuleBuildByNsvc(nsvc: string, options: { signal?: AbortSignal } = {}): Promise<MbsModuleBuild | null> {
    for await (const page of this.pages({ nsvc }, options.signal)) return page[0] ?? null;
    return null;
  }

  /**
   * `GET <mbs_url>/1/final-modulemd/<id>/`: the module build's final modulemd per arch (artifacts
   * included), as MBS generates it for builds Koji has no module archive of (scratch builds).
   */
  async getFinalModulemd(id: number, options: { signal?: AbortSignal } = {}): Promise<Record<string, string>> {
    const url = `${this.url}/1/final-modulemd/${id}/`;
    const body = await this.getJson(url, {}, options.signal);
    const out: Record<string, string> = {};
    for (const [arch, text] of Object.entries(body)) {
      if (typeof text !== 'string') throw new MbsError(url, {}, `the modulemd of arch ${arch} is not a string`, { retryable: false });
      out[arch] = text;
    }
    return out;
  }

  private async *pages(query: ModuleBuildQuery, signal?: AbortSignal): AsyncGenerator<MbsModuleBuild[]> {
    const params = queryParams(query);
    let next: string | null = `${this.moduleBuildsUrl}?${toSearch(params)}`;
    const maxPages = this.options.maxPages ?? 1000;
    for (let n = 0; next !== null; n++) {
      if (n >= maxPages) throw new MbsError(this.moduleBuildsUrl, params, `more than ${maxPages} pages`, { retryable: false });
      const body = await this.getJson(next, params, signal);
      const items = body['items'];
      if (!Array.isArray(items)) throw new MbsError(next, params, 'answer has no "items" list', { retryable: false });
      yield items.map((item) => toModuleBuild(item, next!, params));
      const meta = body['meta'];
      const link = isRecord(meta) ? meta['next'] : null;
      next = typeof link === 'string' && link !== '' ? link : null;
    }
  }

  /** One page through the common HTTP layer (bounds, allow list, retries); its failures as MbsError. */
  private async getJson(url: string, params: Record<string, string | string[]>, callSignal?: AbortSignal): Promise<Record<string, unknown>> {
    const signal = combineSignals(this.options.signal, callSignal);
    let text: string;
    try {
      const res = await httpFetch(url, {
        headers: { Accept: 'application/json' },
        allow: this.allow,
        net: this.net,
        signal,
        log: this.options.log,
      });
      text = res.body.toString('utf8');
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      if (!(err instanceof HttpError)) throw err;
      let detail = err.message;
      if (err instanceof HttpStatusError) {
        try {
          const body: unknown = JSON.parse(err.bodyText);
          if (isRecord(body) && typeof body['message'] === 'string') detail += `: ${body['message']}`;
        } catch {
          const snippet = err.bodyText.replace(/\s+/g, ' ').trim().slice(0, 200);
          if (snippet) detail += `: ${snippet}`;
        }
      }
      throw new MbsError(url, params, detail, {
        retryable: err.transient,
        status: err instanceof HttpStatusError ? err.status : undefined,
        cause: err,
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new MbsError(url, params, 'answer is not JSON', { retryable: false, status: 200 });
    }
    if (!isRecord(body)) throw new MbsError(url, params, 'answer is not a JSON object', { retryable: false });
    return body;
  }
}

/** The query string ODCS sends (`verbose=true`, `order_desc_by=version`, repeated `state`). */
export function queryParams(query: ModuleBuildQuery): Record<string, string | string[]> {
  const p: Record<string, string | string[]> = {};
  if (query.nsvc !== undefined) p['nsvc'] = query.nsvc;
  if (query.name !== undefined) p['name'] = query.name;
  if (query.stream !== undefined) p['stream'] = query.stream;
  if (query.version !== undefined) p['version'] = String(query.version);
  if (query.context !== undefined) p['context'] = query.context;
  if (query.states && query.states.length > 0) {
    p['state'] = query.states.map((s) => String(typeof s === 'number' ? s : MBS_STATES[s]));
  }
  p['verbose'] = 'true';
  p['order_desc_by'] = query.orderDescBy ?? 'version';
  if (query.baseModuleBrName !== undefined) p['base_module_br_name'] = query.baseModuleBrName;
  if (query.baseModuleBrStream !== undefined) p['base_module_br_stream'] = query.baseModuleBrStream;
  if (query.baseModuleBrStreamVersionLte !== undefined) p['base_module_br_stream_version_lte'] = String(query.baseModuleBrStreamVersionLte);
  if (query.baseModuleBrStreamVersionGte !== undefined) p['base_module_br_stream_version_gte'] = String(query.baseModuleBrStreamVersionGte);
  if (query.perPage !== undefined) p['per_page'] = String(query.perPage);
  for (const [k, v] of Object.entries(query.extra ?? {})) p[k] = String(v);
  return p;
}

function toSearch(params: Record<string, string | string[]>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const item of Array.isArray(v) ? v : [v]) s.append(k, item);
  return s.toString();
}

/**
 * MBS's stream version of a base module stream: `f27` -> 270000, `el8.2.0` -> 80200,
 * `f27.0.1` -> 270001 (digits from the first digit on, dotted parts zero-padded to two digits,
 * right-padded with zeros to six digits). Null when the stream has no digits.
 */
export function streamVersion(stream: string, rightPad = true): number | null {
  const m = /\d[\d.]*/.exec(stream);
  if (!m) return null;
  let digits = m[0]
    .replace(/\.+$/, '')
    .split('.')
    .map((part) => part.padStart(2, '0'))
    .join('');
  if (rightPad && digits.length < 6) digits = digits.padEnd(6, '0');
  return Number(digits);
}

/** Parses a modulemd YAML document (v1 or v2) for its dependencies. */
export function parseModulemd(text: string): ModulemdInfo {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    if (doc.errors.length > 0) throw new ComposeError(`invalid modulemd YAML: ${doc.errors[0]!.message}`);
    const js: unknown = doc.toJS();
    if (!isRecord(js)) continue;
    const kind = js['document'];
    if (kind !== undefined && kind !== 'modulemd') continue;
    const mdversion = Number(js['version']);
    const data = isRecord(js['data']) ? js['data'] : {};
    if (mdversion === 1) {
      return {
        mdversion,
        runtimeDeps: [streamMap(data['requires'], true)],
        buildtimeDeps: [streamMap(data['buildrequires'], true)],
        data,
      };
    }
    if (mdversion === 2) {
      const deps = Array.isArray(data['dependencies']) ? data['dependencies'] : [];
      return {
        mdversion,
        runtimeDeps: deps.map((d) => streamMap(isRecord(d) ? d['requires'] : undefined, false)),
        buildtimeDeps: deps.map((d) => streamMap(isRecord(d) ? d['buildrequires'] : undefined, false)),
        data,
      };
    }
    throw new ComposeError(`unsupported modulemd version ${String(js['version'])}`);
  }
  throw new ComposeError('no modulemd document found');
}

/** name -> streams; modulemd v1 has one stream per name, v2 a list. */
function streamMap(v: unknown, single: boolean): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!isRecord(v)) return out;
  for (const [name, streams] of Object.entries(v)) {
    if (single || !Array.isArray(streams)) out[name] = streams === null || streams === undefined ? [] : [String(streams)];
    else out[name] = streams.map((s) => String(s));
  }
  return out;
}

/** Union of the runtime dependency blocks. */
export function unionDeps(blocks: ReadonlyArray<Record<string, string[]>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const block of blocks) {
    for (const [name, streams] of Object.entries(block)) {
      const have = (out[name] ??= []);
      for (const s of streams) if (!have.includes(s)) have.push(s);
    }
  }
  return out;
}

function toModuleBuild(item: unknown, url: string, params: Record<string, string | string[]>): MbsModuleBuild {
  if (!isRecord(item)) throw new MbsError(url, params, 'an item is not an object', { retryable: false });
  const str = (k: string): string => {
    const v = item[k];
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    throw new MbsError(url, params, `module build field "${k}" missing`, { retryable: false });
  };
  const optStr = (k: string): string | null => (typeof item[k] === 'string' ? (item[k] as string) : null);
  const modulemd = optStr('modulemd');
  let mmd: ModulemdInfo | null = null;
  if (modulemd) {
    try {
      mmd = parseModulemd(modulemd);
    } catch (err) {
      throw new MbsError(url, params, `module build ${str('name')}:${str('stream')}: ${(err as Error).message}`, { retryable: false });
    }
  }
  const bases = Array.isArray(item['base_module_buildrequires']) ? item['base_module_buildrequires'] : [];
  const state = Number(item['state']);
  return {
    id: Number(item['id']),
    name: str('name'),
    stream: str('stream'),
    version: str('version'),
    context: optStr('context') ?? '',
    state,
    stateName: optStr('state_name') ?? (Object.entries(MBS_STATES).find(([, n]) => n === state)?.[0] ?? String(state)),
    kojiTag: optStr('koji_tag'),
    scmurl: optStr('scmurl'),
    owner: optStr('owner'),
    modulemd,
    mmd,
    runtimeDeps: mmd ? unionDeps(mmd.runtimeDeps) : {},
    baseModuleBuildrequires: bases.filter(isRecord).map((b) => ({
      id: Number(b['id']),
      name: String(b['name']),
      stream: String(b['stream']),
      version: String(b['version']),
      context: String(b['context'] ?? ''),
      stream_version: typeof b['stream_version'] === 'number' ? b['stream_version'] : null,
    })),
    buildrequires: isRecord(item['buildrequires']) ? item['buildrequires'] : {},
    raw: item,
  };
}

function versionNumber(v: string): bigint {
  return /^\d+$/.test(v) ? BigInt(v) : 0n;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
