/**
 * An in-process Module Build Service for tests: `GET /module-build-service/1/module-builds/`
 * (and `/module-builds/<id>`) with real modulemd v2 YAML documents, filtering and paginating
 * as MBS does:
 *  - `nsvc=name[:stream[:version[:context]]]` and the column filters (name, stream, version,
 *    context, koji_tag, …) compare for equality; `state` may repeat (numbers or names);
 *  - `base_module_br_{name,stream,version,context,stream_version}` and `…_stream_version_lte/_gte`
 *    match the base modules a build was built against (one base module must satisfy them all);
 *  - `order_by`/`order_desc_by` (default: id descending), `version` ordered as an integer;
 *  - `page`/`per_page` (default 10) and a `meta` block with absolute first/last/prev/next links
 *    that keep the other query arguments;
 *  - `verbose=true` gives the extended JSON (modulemd, koji_tag, base_module_buildrequires, …),
 *    otherwise the short one.
 * Base modules (platform:f30, …) are module builds too, created on first reference.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { stringify } from 'yaml';
import { close, listen, sendJson } from './http';

export const MBS_BUILD_STATES = { init: 0, wait: 1, build: 2, done: 3, failed: 4, ready: 5, garbage: 6 } as const;
type StateName = keyof typeof MBS_BUILD_STATES;

export interface BaseModuleRef {
  name?: string;
  stream: string;
  version?: string;
  context?: string;
}

export interface ModuleBuildSpec {
  name: string;
  stream: string;
  version: string | number;
  context: string;
  state?: StateName | number;
  kojiTag?: string;
  /** Runtime module dependencies: name -> streams (modulemd v2 `requires`). `platform` is added from `platform` below. */
  requires?: Record<string, string[]>;
  /** Build-time module dependencies besides the base module. */
  buildrequires?: Record<string, string[]>;
  /** The base module built against (default platform:f30). */
  platform?: BaseModuleRef;
  /** RPM artifacts (NEVRAs). */
  rpms?: string[];
  /** Install profiles: name -> RPM names (what `dnf module install n:s/profile` installs). */
  profiles?: Record<string, string[]>;
  /** The module's public RPM API (`data.api.rpms`). */
  api?: string[];
  owner?: string;
  scmurl?: string;
  /** A scratch module build (MBS's `scratch`); such builds end in state done. */
  scratch?: boolean;
  /** Component name -> the Koji task id of its (scratch) build, listed as `tasks.rpms`. */
  componentTasks?: Record<string, number>;
}

interface StoredBuild {
  id: number;
  name: string;
  stream: string;
  version: string;
  context: string;
  state: number;
  kojiTag: string;
  owner: string;
  scmurl: string;
  modulemd: string;
  /** xmd.mbs.buildrequires */
  buildrequires: Record<string, Record<string, unknown>>;
  baseModuleIds: number[];
  streamVersion: number | null;
  time: string;
  scratch: boolean;
  componentTasks: Record<string, number>;
}

export interface MbsAddress {
  /** Server base URL. */
  url: string;
  /** ODCS's `mbs_url`: the API is at `<mbsUrl>/1/…`. */
  mbsUrl: string;
}

const COLUMNS = new Set(['id', 'name', 'stream', 'version', 'context', 'state', 'koji_tag', 'owner', 'scmurl', 'stream_version', 'time_submitted', 'time_modified', 'time_completed']);

export class MbsDouble {
  private server: Server | null = null;
  private address: MbsAddress | null = null;
  private readonly builds: StoredBuild[] = [];
  /** Request URLs (path and query) received, in order. */
  readonly requests: string[] = [];
  private failures: number[] = [];

  async start(): Promise<MbsAddress> {
    if (this.address) return this.address;
    this.server = createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (err) {
        sendJson(res, 500, { status: 500, error: 'Internal Server Error', message: (err as Error).message });
      }
    });
    const port = await listen(this.server);
    const url = `http://127.0.0.1:${port}`;
    this.address = { url, mbsUrl: `${url}/module-build-service` };
    return this.address;
  }

  async stop(): Promise<void> {
    if (this.server) await close(this.server);
    this.server = null;
    this.address = null;
  }

  /** The next `count` requests answer HTTP `status` (default 503). */
  failNextRequests(count: number, status = 503): void {
    for (let i = 0; i < count; i++) this.failures.push(status);
  }

  /** Forgets failures injected but not yet used. */
  clearInjectedFailures(): void {
    this.failures = [];
  }

  /** Adds a module build (and its base module, if new); returns its id. */
  addModuleBuild(spec: ModuleBuildSpec): number {
    const version = String(spec.version);
    const state = typeof spec.state === 'number' ? spec.state : MBS_BUILD_STATES[spec.state ?? 'ready'];
    const platform = spec.platform ?? { stream: 'f30' };
    const base = this.baseModule(platform);
    const baseInfo = {
      stream: base.stream,
      version: base.version,
      context: base.context,
      koji_tag: base.kojiTag,
      ref: 'virtual',
      filtered_rpms: [],
      stream_collision_modules: '',
      ursine_rpms: '',
    };
    const buildrequires: Record<string, Record<string, unknown>> = { [base.name]: baseInfo };
    for (const [name, streams] of Object.entries(spec.buildrequires ?? {})) {
      buildrequires[name] = { stream: streams[0] ?? 'master', version: '1', context: '00000000', koji_tag: `module-${name}`, ref: 'virtual', filtered_rpms: [] };
    }
    const id = this.builds.length + 1;
    const kojiTag = spec.kojiTag ?? `module-${spec.name}-${spec.stream}-${version}-${spec.context}`;
    const scmurl = spec.scmurl ?? `https://src.example.com/modules/${spec.name}.git?#${id.toString(16).padStart(8, '0')}`;
    const requires = { [base.name]: [base.stream], ...(spec.requires ?? {}) };
    const modulemd = modulemdText({
      name: spec.name,
      stream: spec.stream,
      version,
      context: spec.context,
      kojiTag,
      scmurl,
      requires,
      buildrequires: { [base.name]: [base.stream], ...(spec.buildrequires ?? {}) },
      xmdBuildrequires: buildrequires,
      rpms: spec.rpms ?? [],
      profiles: spec.profiles,
      api: spec.api,
    });
    this.builds.push({
      id,
      name: spec.name,
      stream: spec.stream,
      version,
      context: spec.context,
      state,
      kojiTag,
      owner: spec.owner ?? 'mbs-user',
      scmurl,
      modulemd,
      buildrequires,
      baseModuleIds: [base.id],
      streamVersion: null,
      time: timestamp(id),
      scratch: spec.scratch ?? false,
      componentTasks: spec.componentTasks ?? {},
    });
    return id;
  }

  private baseModule(ref: BaseModuleRef): StoredBuild {
    const name = ref.name ?? 'platform';
    const version = ref.version ?? '1';
    const context = ref.context ?? '00000000';
    const found = this.builds.find((b) => b.name === name && b.stream === ref.stream && b.version === version && b.context === context);
    if (found) return found;
    const id = this.builds.length + 1;
    const kojiTag = `module-${name}-${ref.stream}-build`;
    const b: StoredBuild = {
      id,
      name,
      stream: ref.stream,
      version,
      context,
      state: MBS_BUILD_STATES.ready,
      kojiTag,
      owner: 'mbs-admin',
      scmurl: '',
      modulemd: modulemdText({
        name,
        stream: ref.stream,
        version,
        context,
        kojiTag,
        scmurl: '',
        requires: {},
        buildrequires: {},
        xmdBuildrequires: {},
        rpms: [],
        virtual: true,
      }),
      buildrequires: {},
      scratch: false,
      componentTasks: {},
      baseModuleIds: [],
      streamVersion: mbsStreamVersion(ref.stream),
      time: timestamp(id),
    };
    this.builds.push(b);
    return b;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://mbs');
    this.requests.push(`${url.pathname}${url.search}`);
    const failure = this.failures.shift();
    if (failure !== undefined) {
      sendJson(res, failure, { status: failure, error: 'Injected', message: `injected failure ${failure}` });
      return;
    }
    const finalMd = /^\/module-build-service\/1\/final-modulemd\/(\d+)\/?$/.exec(url.pathname);
    if (finalMd) {
      // MBS's final modulemd of each arch the module was built for (here: the stored one, with data.arch).
      const b = this.builds[Number(finalMd[1]) - 1];
      if (!b) sendJson(res, 404, { status: 404, error: 'Not Found', message: 'No such module found.' });
      else sendJson(res, 200, { x86_64: b.modulemd.replace(/^data:\n/m, 'data:\n  arch: x86_64\n') });
      return;
    }
    const m = /^\/module-build-service\/(\d+)\/module-builds\/(?:(\d+)\/?)?$/.exec(url.pathname);
    if (!m) {
      sendJson(res, 404, { status: 404, error: 'Not Found', message: 'The requested URL was not found on the server.' });
      return;
    }
    if (req.method !== 'GET') {
      sendJson(res, 405, { status: 405, error: 'Method Not Allowed', message: 'The method is not allowed for the requested URL.' });
      return;
    }
    if (m[1] !== '1' && m[1] !== '2') {
      sendJson(res, 404, { status: 404, error: 'Not Found', message: 'The requested API version is not available' });
      return;
    }
    const verbose = ['true', '1'].includes((url.searchParams.get('verbose') ?? 'false').toLowerCase());
    if (m[2]) {
      const b = this.builds[Number(m[2]) - 1];
      if (!b) sendJson(res, 404, { status: 404, error: 'Not Found', message: 'No such module found.' });
      else sendJson(res, 200, verbose ? this.extendedJson(b) : this.shortJson(b));
      return;
    }
    let result: { items: StoredBuild[]; page: number; perPage: number; total: number };
    try {
      result = this.query(url.searchParams);
    } catch (err) {
      sendJson(res, 400, { status: 400, error: 'Bad Request', message: (err as Error).message });
      return;
    }
    const pages = Math.max(1, Math.ceil(result.total / result.perPage));
    const link = (page: number): string => {
      const params = new URLSearchParams();
      for (const [k, v] of url.searchParams) if (k !== 'page' && k !== 'per_page') params.append(k, v);
      params.set('page', String(page));
      params.set('per_page', String(result.perPage));
      return `${this.address!.url}${url.pathname}?${params.toString()}`;
    };
    sendJson(res, 200, {
      items: result.items.map((b) => (verbose ? this.extendedJson(b) : this.shortJson(b))),
      meta: {
        page: result.page,
        pages,
        per_page: result.perPage,
        total: result.total,
        first: link(1),
        last: link(pages),
        prev: result.page > 1 ? link(result.page - 1) : null,
        next: result.page < pages ? link(result.page + 1) : null,
      },
    });
  }

  private query(q: URLSearchParams): { items: StoredBuild[]; page: number; perPage: number; total: number } {
    const filters: Record<string, string> = {};
    for (const [k, v] of q) if (COLUMNS.has(k) && k !== 'state' && k !== 'stream_version') filters[k] = v;
    const nsvc = q.get('nsvc');
    if (nsvc) {
      const keys = ['name', 'stream', 'version', 'context'];
      nsvc.split(':').forEach((part, i) => {
        if (i < keys.length) filters[keys[i]!] = part;
      });
    }
    const states = q.getAll('state').map((s) => {
      if (/^\d+$/.test(s)) return Number(s);
      if (s in MBS_BUILD_STATES) return MBS_BUILD_STATES[s as StateName];
      throw new Error(`Invalid state was supplied: ${s}`);
    });
    const br: Array<(b: StoredBuild) => boolean> = [];
    const brArg = q.get('base_module_br');
    if (brArg) {
      const parts = brArg.split(':');
      if (parts.length !== 4) throw new Error('The filter argument for "base_module_br" must be in the format of N:S:V:C');
      const [n, s, v, c] = parts;
      br.push((b) => b.name === n && b.stream === s && b.version === v && b.context === c);
    }
    for (const item of ['name', 'stream', 'version', 'context', 'stream_version', 'stream_version_lte', 'stream_version_gte']) {
      const arg = q.get(`base_module_br_${item}`);
      if (!arg) continue;
      if (item.startsWith('stream_version')) {
        const limit = Number(arg);
        if (Number.isNaN(limit)) throw new Error(`An invalid value of base_module_br_${item} was provided`);
        if (item.endsWith('_lte')) br.push((b) => b.streamVersion !== null && b.streamVersion <= limit);
        else if (item.endsWith('_gte')) br.push((b) => b.streamVersion !== null && b.streamVersion >= limit);
        else br.push((b) => b.streamVersion === limit);
      } else {
        const key = item as 'name' | 'stream' | 'version' | 'context';
        br.push((b) => b[key] === arg);
      }
    }
    let items = this.builds.filter((b) => {
      for (const [k, v] of Object.entries(filters)) if (String(column(b, k)) !== v) return false;
      if (states.length > 0 && !states.includes(b.state)) return false;
      if (br.length > 0) {
        const bases = b.baseModuleIds.map((id) => this.builds[id - 1]!);
        if (!bases.some((base) => br.every((test) => test(base)))) return false;
      }
      return true;
    });
    const orderBy = q.getAll('order_by');
    const orderDescBy = q.getAll('order_desc_by');
    if (orderBy.length && orderDescBy.length) throw new Error('You may not specify both order_by and order_desc_by');
    const keys = orderBy.length ? orderBy : orderDescBy.length ? orderDescBy : ['id'];
    const descending = orderBy.length === 0;
    for (const k of keys) if (!COLUMNS.has(k)) throw new Error(`An invalid ordering key of "${k}" was supplied`);
    items = [...items].sort((x, y) => {
      for (const k of keys) {
        const c = compareColumn(x, y, k);
        if (c !== 0) return descending ? -c : c;
      }
      return 0;
    });
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const perPage = Math.max(1, Number(q.get('per_page') ?? 10) || 10);
    return { items: items.slice((page - 1) * perPage, page * perPage), page, perPage, total: items.length };
  }

  private shortJson(b: StoredBuild): Record<string, unknown> {
    return {
      id: b.id,
      state: b.state,
      state_name: stateName(b.state),
      stream: b.stream,
      version: b.version,
      name: b.name,
      context: b.context,
      scratch: b.scratch,
    };
  }

  private extendedJson(b: StoredBuild): Record<string, unknown> {
    return {
      ...this.shortJson(b),
      component_builds: [],
      koji_tag: b.kojiTag,
      owner: b.owner,
      rebuild_strategy: 'changed-and-after',
      scmurl: b.scmurl,
      srpms: [],
      siblings: this.builds.filter((o) => o.id !== b.id && o.name === b.name && o.stream === b.stream && o.version === b.version).map((o) => o.id),
      state_reason: null,
      time_completed: b.time,
      time_modified: b.time,
      time_submitted: b.time,
      buildrequires: b.buildrequires,
      tasks: Object.keys(b.componentTasks).length
        ? { rpms: Object.fromEntries(Object.entries(b.componentTasks).map(([name, taskId]) => [name, { task_id: taskId, state: 1, state_reason: 'Build succeeded', nvr: null }])) }
        : {},
      base_module_buildrequires: b.baseModuleIds.map((id) => {
        const base = this.builds[id - 1]!;
        return { ...this.shortJson(base), stream_version: base.streamVersion, scratch: undefined };
      }),
      build_context: '0'.repeat(40),
      modulemd: b.modulemd,
      reused_module_id: null,
      runtime_context: '0'.repeat(40),
      state_trace: [],
      state_url: `/module-build-service/1/module-builds/${b.id}`,
      stream_version: b.streamVersion,
      virtual_streams: [],
      arches: ['x86_64'],
    };
  }
}

function column(b: StoredBuild, k: string): string | number | null {
  switch (k) {
    case 'koji_tag':
      return b.kojiTag;
    case 'stream_version':
      return b.streamVersion;
    case 'time_submitted':
    case 'time_modified':
    case 'time_completed':
      return b.time;
    case 'id':
    case 'name':
    case 'stream':
    case 'version':
    case 'context':
    case 'state':
    case 'owner':
    case 'scmurl':
      return b[k];
    default:
      return null;
  }
}

function compareColumn(x: StoredBuild, y: StoredBuild, k: string): number {
  if (k === 'version') {
    const a = BigInt(/^\d+$/.test(x.version) ? x.version : '0');
    const b = BigInt(/^\d+$/.test(y.version) ? y.version : '0');
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const a = column(x, k);
  const b = column(y, k);
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

function stateName(state: number): string {
  return Object.entries(MBS_BUILD_STATES).find(([, n]) => n === state)?.[0] ?? String(state);
}

function timestamp(id: number): string {
  return new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** MBS's stream version (written again here on purpose, so the client's copy is checked against it). */
function mbsStreamVersion(stream: string): number | null {
  let version = '';
  for (const ch of stream) {
    if (ch >= '0' && ch <= '9') version += ch;
    else if (version) {
      if (ch === '.') version += '.';
      else break;
    }
  }
  if (!version) return null;
  const joined = version
    .replace(/\.+$/, '')
    .split('.')
    .map((s) => (s.length < 2 ? `0${s}`.slice(-2) : s))
    .join('');
  return Number(joined + '0'.repeat(Math.max(0, 6 - joined.length)));
}

function modulemdText(m: {
  name: string;
  stream: string;
  version: string;
  context: string;
  kojiTag: string;
  scmurl: string;
  requires: Record<string, string[]>;
  buildrequires: Record<string, string[]>;
  xmdBuildrequires: Record<string, Record<string, unknown>>;
  rpms: string[];
  profiles?: Record<string, string[]>;
  api?: string[];
  virtual?: boolean;
}): string {
  const data: Record<string, unknown> = {
    name: m.name,
    stream: m.stream,
    version: Number(m.version),
    context: m.context,
    summary: `${m.name} module`,
    description: `The ${m.name} module, stream ${m.stream}.`,
    license: { module: ['MIT'] },
    xmd: {
      mbs: {
        buildrequires: m.xmdBuildrequires,
        commit: m.scmurl.split('#')[1] ?? 'virtual',
        koji_tag: m.kojiTag,
        mse: 'TRUE',
        requires: Object.fromEntries(Object.entries(m.requires).map(([n, s]) => [n, { stream: s[0] ?? '', version: '1', context: '00000000' }])),
        rpms: {},
        scmurl: m.scmurl,
        ...(m.virtual ? { virtual_streams: [m.stream] } : {}),
      },
    },
  };
  if (Object.keys(m.requires).length > 0 || Object.keys(m.buildrequires).length > 0) {
    data['dependencies'] = [{ buildrequires: m.buildrequires, requires: m.requires }];
  }
  if (m.profiles) data['profiles'] = Object.fromEntries(Object.entries(m.profiles).map(([n, rpms]) => [n, { rpms }]));
  if (m.api) data['api'] = { rpms: m.api };
  if (m.rpms.length > 0) data['artifacts'] = { rpms: m.rpms };
  return stringify({ document: 'modulemd', version: 2, data });
}
