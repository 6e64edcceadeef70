/**
 * An in-process Koji hub for tests: real XML-RPC at `/kojihub` (POST only) and Koji's file
 * layout under `/kojifiles` (static, with Range), built from real RPM files.
 *
 * The model follows Koji's tables closely enough for the calls ODCS makes to behave as on a
 * real hub (see shared/reference/koji-notes.md):
 *  - every change (tag, inheritance link, import, tag/untag, signature) happens at a new event;
 *    tag listings and inheritance links carry create/revoke events, so `event=` queries see the
 *    tag as it was (Koji's eventCondition: create <= e < revoke);
 *  - `latest` keeps, per package, the most recently tagged build of the first tag in the
 *    inheritance order that has one (Koji's readTaggedBuilds), not the highest NVR;
 *  - `tagChangedSinceEvent` takes integer ids (anything else is a ParameterError fault) and
 *    looks only at the tags given;
 *  - lookups of unknown things answer nil, or with `strict` a GenericError fault;
 *  - `listTaggedRPMS(rpmsigs=True)` gives one row per (rpm, sigkey), the unsigned '' row always;
 *  - `getRPMHeaders` answers header fields read from the RPM file (rpm --xml), `{}` for an
 *    unknown rpm unless strict;
 *  - `system.multicall` answers `[result]` or `{faultCode, faultString}` per call.
 * Signatures are not versioned (Koji's rpmsigs table has no events either).
 *
 * Module builds (btype `module`, as MBS imports them: name = module name, version = stream with
 * `-` as `_`, release = `<version>.<context>`, the modulemd in `extra.typeinfo.module`) can be
 * added, tagged and found with `listTagged(type='module')` and `search`; they have no RPMs (those
 * are in the module's content tag).
 *
 * Scratch builds (addScratchBuildTask) are tasks, as Koji keeps them: a `build` task and its
 * `buildArch` children (`getTaskInfo`, `getTaskChildren`, `getTaskResult` with `rpms`/`srpms`
 * relative to `work/`, `listTaskOutput`), the files under `/kojifiles/work/tasks/<id % 10000>/<id>/`;
 * nothing is imported. A task not CLOSED answers getTaskResult with Koji's faults.
 *
 * Not modelled: package lists and blocking, inheritance filters/maxdepth, build types other
 * than rpm and module, external repos, authentication.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildDirPath, sigcachePath, signedRpmPath, unsignedRpmPath } from '../../backend/koji/paths';
import {
  decodeMethodCall,
  encodeFault,
  encodeMethodResponse,
  isStruct,
  KojiFault,
  splitKwargs,
  XmlRpcDouble,
  type XmlRpcStruct,
  type XmlRpcValue,
} from '../../backend/koji/xmlrpc';
import { close, listen, readBody, sendText, serveStatic } from './http';
import { headerFilenames, headerNumber, headerString, readRpmHeaders, rpmQueryTags, SCALAR_TAGS, type RpmHeader } from './rpm-headers';
import { readSignatureHeader, rpmFileSigkey, signatureHash, signRpms, type TestSigningKey } from './signing';

/** Koji's fault codes used here. */
export const FAULT = { GENERIC: 1000, PARAMETER: 1019, PYTHON: 1 } as const;

interface HubEvent {
  id: number;
  ts: number;
}

interface HubTag {
  id: number;
  name: string;
  arches: string | null;
  createEvent: number;
}

interface InheritanceLink {
  childId: number;
  parentId: number;
  priority: number;
  createEvent: number;
  revokeEvent: number | null;
}

interface HubBuild {
  id: number;
  packageId: number;
  name: string;
  version: string;
  release: string;
  epoch: number | null;
  state: number;
  createEvent: number;
  createTs: number;
  rpmIds: number[];
  /** Koji's btype; rpm unless added by addModuleBuild. */
  btype?: 'rpm' | 'module';
  extra?: XmlRpcStruct | null;
}

interface HubRpm {
  id: number;
  buildId: number;
  name: string;
  version: string;
  release: string;
  epoch: number | null;
  arch: string;
  payloadhash: string;
  size: number;
  buildtime: number;
  /** The unsigned copy under topdir. */
  file: string;
  header: RpmHeader;
  /** sigkey -> sighash; '' is the unsigned copy. */
  sigs: Map<string, string>;
}

/** A task (Koji's task table): scratch builds are a `build` task with one `buildArch` child per arch. */
interface HubTask {
  id: number;
  method: string;
  state: number;
  parent: number | null;
  arch: string;
  createTs: number;
  /** getTaskResult's answer once CLOSED. */
  result: XmlRpcValue;
}

interface TagListing {
  id: number;
  tagId: number;
  buildId: number;
  createEvent: number;
  revokeEvent: number | null;
}

export interface ImportedBuild {
  id: number;
  nvr: string;
  name: string;
  version: string;
  release: string;
  event: number;
  rpms: Array<{ id: number; nvra: string; arch: string; path: string }>;
}

export interface KojiHubOptions {
  /** Directory served as topurl (the hub writes `packages/…` there). Default: a new temp dir, removed by stop(). */
  topdir?: string;
}

export interface KojiHubAddress {
  /** Base URL of the server. */
  url: string;
  /** The XML-RPC endpoint. */
  hubUrl: string;
  /** Koji's topurl: files are under `<topurl>/packages/…`. */
  topurl: string;
}

class Fault extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const COMPLETE = 1;
/** Koji's task states (`koji.TASK_STATES`). */
export const TASK_STATE = { FREE: 0, OPEN: 1, CLOSED: 2, CANCELED: 3, ASSIGNED: 4, FAILED: 5 } as const;

/** Koji's pathinfo.taskrelpath: `tasks/<id % 10000>/<id>`, relative to `work/`. */
function taskRelPath(id: number): string {
  return `tasks/${id % 10000}/${id}`;
}

type Args = Record<string, XmlRpcValue | undefined>;
interface MethodSpec {
  params: string[];
  run: (a: Args) => XmlRpcValue | Promise<XmlRpcValue>;
}

export class KojiHubDouble {
  private server: Server | null = null;
  private address: KojiHubAddress | null = null;
  private topdir: string;
  private readonly ownTopdir: boolean;
  private ready: Promise<void> | null = null;

  private readonly events: HubEvent[] = [];
  private readonly tags: HubTag[] = [];
  private readonly links: InheritanceLink[] = [];
  private readonly packages = new Map<string, number>();
  private readonly builds: HubBuild[] = [];
  private readonly rpms: HubRpm[] = [];
  private readonly listings: TagListing[] = [];
  private readonly tasks: HubTask[] = [];
  private nextListing = 1;

  /** Bytes of file content sent under /kojifiles since the last resetCounters(). */
  bytesServed = 0;
  /** HTTP requests under /kojifiles. */
  fileRequests = 0;
  /** HTTP requests to /kojihub. */
  xmlrpcRequests = 0;
  /** Calls by method name (calls inside system.multicall counted one by one). */
  readonly callCounts = new Map<string, number>();
  private failures: Array<{ status: number } | { delayMs: number }> = [];

  private readonly methods: Record<string, MethodSpec>;

  constructor(options: KojiHubOptions = {}) {
    this.ownTopdir = options.topdir === undefined;
    this.topdir = options.topdir ?? '';
    this.methods = this.defineMethods();
    this.newEvent();
  }

  // -------------------------------------------------------------------------------------------
  // Server

  async start(): Promise<KojiHubAddress> {
    if (this.address) return this.address;
    await this.prepare();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendText(res, 500, `Internal Server Error: ${(err as Error).message}\n`);
        else res.destroy();
      });
    });
    const port = await listen(this.server);
    const url = `http://127.0.0.1:${port}`;
    this.address = { url, hubUrl: `${url}/kojihub`, topurl: `${url}/kojifiles` };
    return this.address;
  }

  async stop(): Promise<void> {
    if (this.server) await close(this.server);
    this.server = null;
    this.address = null;
    if (this.ownTopdir && this.topdir) await rm(this.topdir, { recursive: true, force: true });
  }

  /** The directory served as topurl. */
  get topDir(): string {
    return this.topdir;
  }

  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      if (!this.topdir) this.topdir = await mkdtemp(path.join(os.tmpdir(), 'odcs-kojihub-'));
      await mkdir(path.join(this.topdir, 'packages'), { recursive: true });
    })();
    return this.ready;
  }

  resetCounters(): void {
    this.bytesServed = 0;
    this.fileRequests = 0;
    this.xmlrpcRequests = 0;
    this.callCounts.clear();
  }

  /** The next `count` XML-RPC requests answer HTTP `status` (default 503) instead. */
  failNextRequests(count: number, status = 503): void {
    for (let i = 0; i < count; i++) this.failures.push({ status });
  }

  /** The next `count` XML-RPC requests are answered only after `delayMs`. */
  delayNextRequests(count: number, delayMs: number): void {
    for (let i = 0; i < count; i++) this.failures.push({ delayMs });
  }

  /** Forgets failures and delays injected but not yet used. */
  clearInjectedFailures(): void {
    this.failures = [];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    if (url.pathname === '/kojihub' || url.pathname === '/kojihub/') {
      await this.handleXmlRpc(req, res);
    } else if (url.pathname.startsWith('/kojifiles/')) {
      this.fileRequests++;
      await serveStatic(req, res, {
        root: this.topdir,
        relative: url.pathname.slice('/kojifiles/'.length),
        onBytes: (n) => {
          this.bytesServed += n;
        },
      });
    } else {
      sendText(res, 404, 'Not Found\n');
    }
  }

  private async handleXmlRpc(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      sendText(res, 405, 'Method Not Allowed\n', { Allow: 'POST' });
      return;
    }
    this.xmlrpcRequests++;
    const body = await readBody(req);
    const failure = this.failures.shift();
    if (failure && 'status' in failure) {
      sendText(res, failure.status, `injected failure ${failure.status}\n`);
      return;
    }
    if (failure) await new Promise((r) => setTimeout(r, failure.delayMs).unref());
    let xml: string;
    try {
      const call = decodeMethodCall(body);
      xml = encodeMethodResponse(await this.dispatch(call.method, call.params));
    } catch (err) {
      if (err instanceof Fault) xml = encodeFault(err.code, err.message);
      else if (err instanceof KojiFault) xml = encodeFault(err.faultCode, err.faultString);
      else xml = encodeFault(FAULT.PYTHON, `<class 'Exception'>: ${(err as Error).message}`);
    }
    if (res.destroyed) return;
    res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(xml) });
    res.end(xml);
  }

  private count(method: string): void {
    this.callCounts.set(method, (this.callCounts.get(method) ?? 0) + 1);
  }

  private async dispatch(method: string, params: XmlRpcValue[]): Promise<XmlRpcValue> {
    this.count(method);
    if (method === 'system.multicall') return this.multicall(params);
    const spec = this.methods[method];
    if (!spec) throw new Fault(FAULT.GENERIC, `Invalid method: ${method}`);
    return spec.run(bind(method, spec.params, params));
  }

  private async multicall(params: XmlRpcValue[]): Promise<XmlRpcValue> {
    const calls = params[0];
    if (!Array.isArray(calls)) throw new Fault(FAULT.PARAMETER, 'system.multicall expects a list of calls');
    const out: XmlRpcValue[] = [];
    for (const c of calls) {
      try {
        if (!isStruct(c) || typeof c['methodName'] !== 'string' || !Array.isArray(c['params'])) {
          throw new Fault(FAULT.PARAMETER, 'malformed multicall entry');
        }
        if (c['methodName'] === 'system.multicall') throw new Fault(FAULT.GENERIC, 'recursive multicall is not allowed');
        out.push([await this.dispatch(c['methodName'], c['params'])]);
      } catch (err) {
        const code = err instanceof Fault ? err.code : FAULT.PYTHON;
        out.push({ faultCode: code, faultString: (err as Error).message });
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Building the model

  private newEvent(): number {
    const last = this.events[this.events.length - 1];
    // Real timestamps with a fraction; strictly increasing even within one millisecond.
    let ts = Date.now() / 1000 + 0.000123;
    if (last && ts <= last.ts) ts = last.ts + 0.001;
    const event = { id: (last?.id ?? 0) + 1, ts };
    this.events.push(event);
    return event.id;
  }

  /** The id of the latest event. */
  get lastEventId(): number {
    return this.events[this.events.length - 1]!.id;
  }

  /** Creates a tag inheriting from `parents` (in priority order); returns its id and event. */
  addTag(name: string, options: { parents?: string[]; arches?: string } = {}): { id: number; event: number } {
    if (this.tags.some((t) => t.name === name)) throw new Error(`tag ${name} exists`);
    const parents = (options.parents ?? []).map((p) => this.tagByName(p));
    const event = this.newEvent();
    const tag: HubTag = { id: this.tags.length + 1, name, arches: options.arches ?? null, createEvent: event };
    this.tags.push(tag);
    parents.forEach((p, i) =>
      this.links.push({ childId: tag.id, parentId: p.id, priority: i * 10, createEvent: event, revokeEvent: null }),
    );
    return { id: tag.id, event };
  }

  /** Adds an inheritance link child -> parent at a new event. */
  addInheritance(child: string, parent: string, priority?: number): number {
    const c = this.tagByName(child);
    const p = this.tagByName(parent);
    const active = this.links.filter((l) => l.childId === c.id && l.revokeEvent === null);
    if (active.some((l) => l.parentId === p.id)) throw new Error(`${child} already inherits from ${parent}`);
    const event = this.newEvent();
    const prio = priority ?? (active.length ? Math.max(...active.map((l) => l.priority)) + 10 : 0);
    this.links.push({ childId: c.id, parentId: p.id, priority: prio, createEvent: event, revokeEvent: null });
    return event;
  }

  /** Removes an inheritance link at a new event. */
  removeInheritance(child: string, parent: string): number {
    const c = this.tagByName(child);
    const p = this.tagByName(parent);
    const link = this.links.find((l) => l.childId === c.id && l.parentId === p.id && l.revokeEvent === null);
    if (!link) throw new Error(`${child} does not inherit from ${parent}`);
    const event = this.newEvent();
    link.revokeEvent = event;
    return event;
  }

  /**
   * Imports one build from RPM files (binary RPMs and optionally the SRPM), all from the same
   * source RPM; the build's NVR is the SRPM's. Unsigned copies go to Koji's unsigned path.
   */
  async importBuild(rpmPaths: readonly string[]): Promise<ImportedBuild> {
    const [build] = await this.importGroups(rpmPaths, true);
    return build!;
  }

  /**
   * Imports the files as one build per source RPM (in the order the source RPMs first appear).
   * With `reuseExisting`, a build already imported with exactly these RPMs is returned as it is
   * (the same build may be found in several fixture repositories).
   */
  async importBuilds(rpmPaths: readonly string[], options: { reuseExisting?: boolean } = {}): Promise<ImportedBuild[]> {
    return this.importGroups(rpmPaths, false, options.reuseExisting ?? false);
  }

  private async importGroups(rpmPaths: readonly string[], single: boolean, reuse = false): Promise<ImportedBuild[]> {
    if (rpmPaths.length === 0) throw new Error('importBuild: no RPM files');
    await this.prepare();
    const headers = await readRpmHeaders(rpmPaths);
    const groups = new Map<string, Array<{ file: string; header: RpmHeader; arch: string }>>();
    headers.forEach((header, i) => {
      const sourcerpm = headerString(header, 'sourcerpm');
      const isSource = sourcerpm === null;
      const name = headerString(header, 'name')!;
      const srpm = isSource ? `${name}-${headerString(header, 'version')}-${headerString(header, 'release')}.src.rpm` : sourcerpm;
      const nvr = srpm.replace(/\.src\.rpm$/, '');
      let list = groups.get(nvr);
      if (!list) groups.set(nvr, (list = []));
      list.push({ file: rpmPaths[i]!, header, arch: isSource ? 'src' : headerString(header, 'arch')! });
    });
    if (single && groups.size !== 1) throw new Error(`importBuild: the files come from ${groups.size} source RPMs: ${[...groups.keys()].join(', ')}`);
    const out: ImportedBuild[] = [];
    for (const [nvr, files] of groups) {
      const existing = reuse ? this.builds.find((b) => `${b.name}-${b.version}-${b.release}` === nvr) : undefined;
      if (existing) {
        const summary = this.importedSummary(existing);
        const have = new Set(summary.rpms.map((r) => r.nvra));
        for (const f of files) {
          const n = `${headerString(f.header, 'name')}-${headerString(f.header, 'version')}-${headerString(f.header, 'release')}.${f.arch}`;
          if (!have.has(n)) throw new Error(`build ${nvr} exists without ${n}`);
        }
        out.push(summary);
      } else {
        out.push(await this.importOne(nvr, files));
      }
    }
    return out;
  }

  private async importOne(nvr: string, files: Array<{ file: string; header: RpmHeader; arch: string }>): Promise<ImportedBuild> {
    const m = /^(.+)-([^-]+)-([^-]+)$/.exec(nvr);
    if (!m) throw new Error(`cannot parse build NVR ${nvr}`);
    const [, name, version, release] = m as unknown as [string, string, string, string];
    if (this.builds.some((b) => b.name === name && b.version === version && b.release === release)) {
      throw new Error(`build ${nvr} already imported`);
    }
    const src = files.find((f) => f.arch === 'src');
    const epochHeader = (src ?? files[0]!).header;
    for (const f of files) {
      const n = `${headerString(f.header, 'name')}-${headerString(f.header, 'version')}-${headerString(f.header, 'release')}.${f.arch}`;
      if (this.rpms.some((r) => `${r.name}-${r.version}-${r.release}.${r.arch}` === n)) throw new Error(`rpm ${n} already imported`);
    }
    const sizes = await Promise.all(files.map(async (f) => (await stat(f.file)).size));
    // Ids are taken and rows added without an await in between, so parallel imports cannot collide.
    const build: HubBuild = {
      id: this.builds.length + 1,
      packageId: this.packageId(name),
      name,
      version,
      release,
      epoch: headerNumber(epochHeader, 'epoch'),
      state: COMPLETE,
      createEvent: 0,
      createTs: 0,
      rpmIds: [],
    };
    this.builds.push(build);
    const rpms = files.map((f, i) => {
      const rpm: HubRpm = {
        id: this.rpms.length + 1,
        buildId: build.id,
        name: headerString(f.header, 'name')!,
        version: headerString(f.header, 'version')!,
        release: headerString(f.header, 'release')!,
        epoch: headerNumber(f.header, 'epoch'),
        arch: f.arch,
        payloadhash: sigmd5(f.header),
        size: sizes[i]!,
        buildtime: headerNumber(f.header, 'buildtime') ?? 0,
        file: '',
        header: f.header,
        sigs: new Map(),
      };
      rpm.file = path.join(this.topdir, unsignedRpmPath(build, rpm));
      this.rpms.push(rpm);
      build.rpmIds.push(rpm.id);
      return rpm;
    });
    const imported: ImportedBuild['rpms'] = [];
    for (let i = 0; i < rpms.length; i++) {
      const rpm = rpms[i]!;
      await mkdir(path.dirname(rpm.file), { recursive: true });
      // A hard link when possible (large pools import fast); the double never writes to it.
      await link(files[i]!.file, rpm.file).catch(() => copyFile(files[i]!.file, rpm.file));
      rpm.sigs.set('', await signatureHash(rpm.file));
      imported.push({ id: rpm.id, nvra: `${rpm.name}-${rpm.version}-${rpm.release}.${rpm.arch}`, arch: rpm.arch, path: unsignedRpmPath(build, rpm) });
    }
    const event = this.newEvent();
    build.createEvent = event;
    build.createTs = this.eventTs(event);
    return { id: build.id, nvr, name, version, release, event, rpms: imported };
  }

  private importedSummary(b: HubBuild): ImportedBuild {
    return {
      id: b.id,
      nvr: `${b.name}-${b.version}-${b.release}`,
      name: b.name,
      version: b.version,
      release: b.release,
      event: b.createEvent,
      rpms: b.rpmIds.map((id) => {
        const r = this.rpms[id - 1]!;
        return { id: r.id, nvra: `${r.name}-${r.version}-${r.release}.${r.arch}`, arch: r.arch, path: unsignedRpmPath(b, r) };
      }),
    };
  }

  /**
   * Signs every RPM of the build with the key (rpmsign on a copy of the unsigned file), puts the
   * signed copy at Koji's signed path and the signature header in the sigcache, and records the
   * signature. Returns the sigkey and the event.
   */
  async signBuild(nvr: string, key: TestSigningKey): Promise<{ sigkey: string; event: number }> {
    const build = this.buildByNvr(nvr);
    const rpms = build.rpmIds.map((id) => this.rpms[id - 1]!);
    const work = await mkdtemp(path.join(os.tmpdir(), 'odcs-kojisign-'));
    try {
      const copies = rpms.map((r, i) => path.join(work, `${i}-${path.basename(r.file)}`));
      for (let i = 0; i < rpms.length; i++) await copyFile(rpms[i]!.file, copies[i]!);
      await signRpms(copies, key);
      let sigkey = '';
      for (let i = 0; i < rpms.length; i++) {
        const rpm = rpms[i]!;
        const copy = copies[i]!;
        const found = await rpmFileSigkey(copy);
        if (!found) throw new Error(`rpmsign did not sign ${copy}`);
        sigkey = found;
        const signed = path.join(this.topdir, signedRpmPath(build, rpm, found));
        await mkdir(path.dirname(signed), { recursive: true });
        await rename(copy, signed).catch(async () => copyFile(copy, signed));
        const cache = path.join(this.topdir, sigcachePath(build, rpm, found));
        await mkdir(path.dirname(cache), { recursive: true });
        await writeFile(cache, await readSignatureHeader(signed));
        rpm.sigs.set(found, await signatureHash(signed));
      }
      return { sigkey, event: this.newEvent() };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Records a signature without writing a signed copy, as Koji does when a signature is
   * imported but the signed RPM was never written out (`koji write-signed-rpm` not run).
   */
  addSignatureOnly(nvra: string, sigkey: string): void {
    const rpm = this.rpms.find((r) => `${r.name}-${r.version}-${r.release}.${r.arch}` === nvra);
    if (!rpm) throw new Error(`no rpm ${nvra}`);
    rpm.sigs.set(sigkey.toLowerCase(), randomBytes(16).toString('hex'));
  }

  /**
   * Adds a module build as MBS's content generator import makes it (no RPMs; the module's RPMs
   * are tagged into `contentKojiTag`). Returns its NVR.
   */
  addModuleBuild(m: { name: string; stream: string; version: string; context: string; modulemd: string; contentKojiTag: string }): string {
    const version = m.stream.replace(/-/g, '_');
    const release = `${m.version}.${m.context}`;
    if (this.builds.some((b) => b.name === m.name && b.version === version && b.release === release)) {
      throw new Error(`module build ${m.name}-${version}-${release} already added`);
    }
    const event = this.newEvent();
    this.builds.push({
      id: this.builds.length + 1,
      packageId: this.packageId(m.name),
      name: m.name,
      version,
      release,
      epoch: null,
      state: COMPLETE,
      createEvent: event,
      createTs: this.eventTs(event),
      rpmIds: [],
      btype: 'module',
      extra: {
        typeinfo: {
          module: {
            name: m.name,
            stream: m.stream,
            version: m.version,
            context: m.context,
            modulemd_str: m.modulemd,
            content_koji_tag: m.contentKojiTag,
          },
        },
      },
    });
    return `${m.name}-${version}-${release}`;
  }

  /** Tags a build at a new event; returns the event. */
  tagBuild(tag: string, nvr: string): number {
    const t = this.tagByName(tag);
    const b = this.buildByNvr(nvr);
    if (this.listings.some((l) => l.tagId === t.id && l.buildId === b.id && l.revokeEvent === null)) {
      throw new Error(`build ${nvr} already tagged in ${tag}`);
    }
    const event = this.newEvent();
    this.listings.push({ id: this.nextListing++, tagId: t.id, buildId: b.id, createEvent: event, revokeEvent: null });
    return event;
  }

  /** Untags a build at a new event; returns the event. */
  untagBuild(tag: string, nvr: string): number {
    const t = this.tagByName(tag);
    const b = this.buildByNvr(nvr);
    const listing = this.listings.find((l) => l.tagId === t.id && l.buildId === b.id && l.revokeEvent === null);
    if (!listing) throw new Error(`build ${nvr} not in tag ${tag}`);
    const event = this.newEvent();
    listing.revokeEvent = event;
    return event;
  }

  tagId(name: string): number {
    return this.tagByName(name).id;
  }

  private tagByName(name: string): HubTag {
    const t = this.tags.find((x) => x.name === name);
    if (!t) throw new Error(`no tag ${name}`);
    return t;
  }

  private buildByNvr(nvr: string): HubBuild {
    const b = this.builds.find((x) => `${x.name}-${x.version}-${x.release}` === nvr);
    if (!b) throw new Error(`no build ${nvr}`);
    return b;
  }

  private packageId(name: string): number {
    let id = this.packages.get(name);
    if (id === undefined) {
      id = this.packages.size + 1;
      this.packages.set(name, id);
    }
    return id;
  }

  private eventTs(id: number): number {
    return this.events[id - 1]!.ts;
  }

  // -------------------------------------------------------------------------------------------
  // Tasks (scratch builds): files under <topdir>/work/tasks/<id % 10000>/<id>/, as Koji keeps them

  /**
   * A scratch build of these RPM files, as `koji build --scratch` leaves it: a `build` task
   * (CLOSED unless `state` says otherwise) with one `buildArch` child per binary arch (noarch
   * RPMs go with the first), each child's result naming its files relative to `work/`, the
   * SRPM in the first child's `srpms`. Nothing is imported: no build, rpm ids or signatures.
   * Returns the parent task id.
   */
  async addScratchBuildTask(rpmPaths: readonly string[], options: { state?: number } = {}): Promise<number> {
    await this.prepare();
    const state = options.state ?? TASK_STATE.CLOSED;
    const parent = this.newTask('build', null, 'noarch', state, null);
    const files = rpmPaths.map((file) => ({ file, arch: /\.([^.]+)\.rpm$/.exec(path.basename(file))?.[1] ?? 'noarch' }));
    const binaryArches = [...new Set(files.map((f) => f.arch).filter((a) => a !== 'noarch' && a !== 'src' && a !== 'nosrc'))];
    const childArches = binaryArches.length ? binaryArches : ['noarch'];
    for (const [i, arch] of childArches.entries()) {
      const mine = files.filter((f) => f.arch === arch || (i === 0 && (f.arch === 'noarch' || f.arch === 'src' || f.arch === 'nosrc') && !childArches.includes(f.arch)));
      const child = this.newTask('buildArch', parent.id, arch, state, null);
      const rel = taskRelPath(child.id);
      await mkdir(path.join(this.topdir, 'work', rel), { recursive: true });
      const rpms: string[] = [];
      const srpms: string[] = [];
      for (const f of mine) {
        await copyFile(f.file, path.join(this.topdir, 'work', rel, path.basename(f.file)));
        (f.arch === 'src' || f.arch === 'nosrc' ? srpms : rpms).push(`${rel}/${path.basename(f.file)}`);
      }
      const log = `${rel}/build.log`;
      await writeFile(path.join(this.topdir, 'work', log), 'build log\n');
      child.result = { rpms, srpms, logs: [log], brootid: child.id };
    }
    return parent.id;
  }

  private newTask(method: string, parent: number | null, arch: string, state: number, result: XmlRpcValue): HubTask {
    const task: HubTask = { id: 1000 + this.tasks.length + 1, method, state, parent, arch, createTs: Date.now() / 1000, result };
    this.tasks.push(task);
    return task;
  }

  private taskInfo(t: HubTask): XmlRpcStruct {
    const ts = new XmlRpcDouble(t.createTs);
    const closed = t.state === TASK_STATE.CLOSED || t.state === TASK_STATE.FAILED || t.state === TASK_STATE.CANCELED;
    return {
      id: t.id,
      state: t.state,
      create_time: pyTime(t.createTs),
      create_ts: ts,
      start_time: pyTime(t.createTs),
      start_ts: ts,
      completion_time: closed ? pyTime(t.createTs) : null,
      completion_ts: closed ? ts : null,
      channel_id: 1,
      host_id: 1,
      parent: t.parent,
      label: t.parent === null ? null : t.arch,
      waiting: null,
      awaited: t.parent === null ? null : false,
      owner: 1,
      method: t.method,
      arch: t.arch,
      priority: t.parent === null ? 50 : 49,
      weight: 0.2,
    };
  }

  private taskMethods(): Record<string, MethodSpec> {
    const find = (v: XmlRpcValue | undefined): HubTask | null => this.tasks.find((t) => t.id === int(v, 'task_id')) ?? null;
    return {
      getTaskInfo: {
        params: ['task_id', 'request', 'strict'],
        run: (a) => {
          const t = find(a['task_id']);
          if (!t) {
            if (truthy(a['strict'])) throw new Fault(FAULT.GENERIC, `No such task id: ${int(a['task_id'], 'task_id')}`);
            return null;
          }
          return this.taskInfo(t);
        },
      },
      getTaskChildren: {
        params: ['task_id', 'request', 'strict'],
        run: (a) => {
          const id = int(a['task_id'], 'task_id');
          if (truthy(a['strict']) && !find(id)) throw new Fault(FAULT.GENERIC, `No such task id: ${id}`);
          return this.tasks.filter((t) => t.parent === id).map((t) => this.taskInfo(t));
        },
      },
      getTaskResult: {
        params: ['taskId', 'raise_fault'],
        run: (a) => {
          const t = find(a['taskId']);
          if (!t) throw new Fault(FAULT.GENERIC, `No such task id: ${int(a['taskId'], 'taskId')}`);
          if (t.state === TASK_STATE.CANCELED) throw new Fault(FAULT.GENERIC, `Task ${t.id} is canceled`);
          if (t.state === TASK_STATE.FAILED) throw new Fault(FAULT.GENERIC, `Task ${t.id} failed`);
          if (t.state !== TASK_STATE.CLOSED) throw new Fault(FAULT.GENERIC, `Task ${t.id} is not finished`);
          return t.result;
        },
      },
      listTaskOutput: {
        params: ['taskID', 'stat', 'all_volumes', 'strict'],
        run: async (a) => {
          const id = int(a['taskID'], 'taskID');
          const dir = path.join(this.topdir, 'work', taskRelPath(id));
          const names = await readdir(dir).catch(() => [] as string[]);
          if (!truthy(a['stat'])) return names.sort();
          const out: XmlRpcStruct = {};
          for (const n of names.sort()) {
            const st = await stat(path.join(dir, n));
            out[n] = { st_size: String(st.size), st_atime: st.atimeMs / 1000, st_mtime: st.mtimeMs / 1000, st_ctime: st.ctimeMs / 1000 };
          }
          return out;
        },
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Queries (Koji semantics)

  private defineMethods(): Record<string, MethodSpec> {
    return {
      getAPIVersion: { params: [], run: () => 1 },
      getKojiVersion: { params: [], run: () => '1.35.0' },
      getLastEvent: {
        params: ['before'],
        run: (a) => {
          const b = a['before'];
          const before = typeof b === 'number' ? b : b === undefined || b === null ? null : int(b, 'before');
          const candidates = this.events.filter((e) => before === null || e.ts < before);
          const e = candidates[candidates.length - 1];
          return e ? { id: e.id, ts: new XmlRpcDouble(e.ts) } : null;
        },
      },
      getEvent: {
        params: ['id', 'strict'],
        run: (a) => {
          const id = int(a['id'], 'id');
          const e = this.events[id - 1];
          if (!e) {
            // Koji's getEvent(id, strict=True): strict unless told otherwise, with the
            // database layer's text (koji-notes.md).
            if (a['strict'] === undefined || truthy(a['strict'])) throw new Fault(FAULT.GENERIC, 'query returned no rows');
            return null;
          }
          return { id: e.id, ts: new XmlRpcDouble(e.ts) };
        },
      },
      getTag: {
        params: ['tagInfo', 'strict', 'event', 'blocked'],
        run: (a) => {
          const event = optInt(a['event'], 'event');
          const tag = this.findTag(a['tagInfo'], event);
          if (!tag) {
            if (truthy(a['strict'])) throw new Fault(FAULT.GENERIC, `No such tagInfo: ${pyRepr(a['tagInfo'])}`);
            return null;
          }
          return this.tagInfo(tag);
        },
      },
      getFullInheritance: {
        params: ['tag', 'event', 'reverse'],
        run: (a) => {
          const event = optInt(a['event'], 'event');
          const tag = this.requireTag(a['tag'], event);
          if (truthy(a['reverse'])) throw new Fault(FAULT.GENERIC, 'reverse inheritance is not supported by this test hub');
          return this.fullInheritance(tag.id, event).map((l) => ({ ...l }));
        },
      },
      tagChangedSinceEvent: {
        params: ['event', 'taglist'],
        run: (a) => {
          const event = castInt(a['event']);
          const list = a['taglist'];
          if (!Array.isArray(list)) throw new Fault(FAULT.PARAMETER, `Invalid type for value ${pyRepr(list)}: ${pyType(list)}, expected type <class 'list'>`);
          const ids = list.map(castInt);
          return this.changedSince(event, ids);
        },
      },
      listTagged: {
        params: ['tag', 'event', 'inherit', 'prefix', 'latest', 'package', 'owner', 'type', 'strict', 'extra', 'draft'],
        run: (a) => {
          const event = optInt(a['event'], 'event');
          const tag = this.requireTag(a['tag'], event);
          let builds = this.taggedBuilds(tag.id, event, truthy(a['inherit']), latestArg(a['latest']), optStr(a['package']));
          const prefix = optStr(a['prefix']);
          if (prefix) builds = builds.filter((b) => b.build.name.startsWith(prefix));
          const btype = checkType(a['type']);
          if (btype) builds = builds.filter((b) => (b.build.btype ?? 'rpm') === btype);
          return builds.map((b) => this.taggedBuildInfo(b.build, b.listing));
        },
      },
      listTaggedRPMS: {
        params: ['tag', 'event', 'inherit', 'latest', 'package', 'arch', 'rpmsigs', 'owner', 'type', 'extra', 'draft'],
        run: (a) => {
          const event = optInt(a['event'], 'event');
          const tag = this.requireTag(a['tag'], event);
          checkType(a['type']);
          const inherit = truthy(a['inherit']);
          const tagged = this.taggedBuilds(tag.id, event, inherit, latestArg(a['latest']), optStr(a['package']));
          const arch = a['arch'];
          let arches: string[] | null = null;
          if (typeof arch === 'string') arches = [arch];
          else if (Array.isArray(arch)) arches = arch.map((x) => String(x));
          else if (arch !== null && arch !== undefined) throw new Fault(FAULT.GENERIC, `Invalid type for arch option: ${pyType(arch)}`);
          const rpmsigs = truthy(a['rpmsigs']);
          // As Koji: a build listed twice (child and parent) gives its RPMs once, for the last listing.
          const buildIdx = new Map(tagged.map((t) => [t.build.id, t]));
          const taglist = inherit ? [tag.id, ...this.fullInheritance(tag.id, event).map((l) => l.parent_id)] : [tag.id];
          const seenTags = new Set<number>();
          const rows: XmlRpcValue[] = [];
          for (const tid of taglist) {
            if (seenTags.has(tid)) continue;
            seenTags.add(tid);
            for (const listing of this.activeListings(tid, event)) {
              const entry = buildIdx.get(listing.buildId);
              if (!entry || entry.listing.tagId !== tid) continue;
              for (const rid of entry.build.rpmIds) {
                const rpm = this.rpms[rid - 1]!;
                if (arches && !arches.includes(rpm.arch)) continue;
                const row = this.taggedRpmRow(rpm);
                if (rpmsigs) for (const sigkey of rpm.sigs.keys()) rows.push({ ...row, sigkey });
                else rows.push(row);
              }
            }
          }
          return [rows, tagged.map((t) => this.taggedBuildInfo(t.build, t.listing))];
        },
      },
      search: {
        params: ['terms', 'type', 'matchType', 'queryOpts'],
        run: (a) => {
          const terms = optStr(a['terms']) ?? '';
          if (a['type'] !== 'build') throw new Fault(FAULT.GENERIC, `search type ${String(a['type'])} is not supported by this test hub`);
          const matchType = optStr(a['matchType']) ?? 'exact';
          const test =
            matchType === 'glob'
              ? (s: string) => globRegExp(terms).test(s)
              : matchType === 'regexp'
                ? (s: string) => new RegExp(terms).test(s)
                : (s: string) => s === terms;
          return this.builds.filter((b) => test(`${b.name}-${b.version}-${b.release}`)).map((b) => ({ id: b.id, name: `${b.name}-${b.version}-${b.release}` }));
        },
      },
      getBuild: {
        params: ['buildInfo', 'strict'],
        run: (a) => {
          const b = this.findBuild(a['buildInfo']);
          if (!b) {
            if (truthy(a['strict'])) throw new Fault(FAULT.GENERIC, `No such build: ${pyRepr(a['buildInfo'])}`);
            return null;
          }
          return this.buildInfo(b);
        },
      },
      listRPMs: {
        params: ['buildID', 'buildrootID', 'imageID', 'componentBuildrootID', 'hostID', 'arches', 'queryOpts', 'draft'],
        run: (a) => {
          for (const k of ['buildrootID', 'imageID', 'componentBuildrootID', 'hostID', 'queryOpts']) {
            if (a[k] !== undefined && a[k] !== null) throw new Fault(FAULT.GENERIC, `${k} is not supported by this test hub`);
          }
          const buildId = optInt(a['buildID'], 'buildID');
          const arches = a['arches'];
          const wanted = typeof arches === 'string' ? [arches] : Array.isArray(arches) ? arches.map(String) : null;
          return this.rpms
            .filter((r) => (buildId === null || r.buildId === buildId) && (!wanted || wanted.includes(r.arch)))
            .map((r) => this.rpmInfo(r));
        },
      },
      getRPM: {
        params: ['rpminfo', 'strict', 'multi'],
        run: (a) => {
          const rpm = this.findRpm(a['rpminfo']);
          if (truthy(a['multi'])) return rpm ? [this.rpmInfo(rpm)] : [];
          if (!rpm) {
            if (truthy(a['strict'])) throw new Fault(FAULT.GENERIC, `No such rpm: ${pyRepr(a['rpminfo'])}`);
            return null;
          }
          return this.rpmInfo(rpm);
        },
      },
      queryRPMSigs: {
        params: ['rpm_id', 'sigkey', 'queryOpts'],
        run: (a) => {
          const rpmArg = a['rpm_id'];
          let rpms = this.rpms;
          if (rpmArg !== undefined && rpmArg !== null) {
            const rpm = this.findRpm(rpmArg);
            if (!rpm) throw new Fault(FAULT.GENERIC, `No such rpm: ${pyRepr(rpmArg)}`);
            rpms = [rpm];
          }
          const sigkey = optStr(a['sigkey']);
          const out: XmlRpcValue[] = [];
          for (const r of rpms) {
            for (const [key, hash] of r.sigs) {
              if (sigkey === null || key === sigkey.toLowerCase()) out.push({ rpm_id: r.id, sigkey: key, sighash: hash });
            }
          }
          return out;
        },
      },
      getRPMHeaders: {
        params: ['rpmID', 'taskID', 'filepath', 'headers', 'strict'],
        run: async (a) => {
          if ((a['taskID'] ?? null) !== null || (a['filepath'] ?? null) !== null) {
            throw new Fault(FAULT.GENERIC, 'taskID and filepath are not supported by this test hub');
          }
          const rpm = a['rpmID'] === undefined || a['rpmID'] === null ? null : this.findRpm(a['rpmID']);
          if (!rpm) {
            if (truthy(a['strict'])) throw new Fault(FAULT.GENERIC, `No such rpm: ${pyRepr(a['rpmID'] ?? null)}`);
            return {};
          }
          const wanted = a['headers'];
          const names = Array.isArray(wanted) ? wanted.map((h) => String(h)) : [...rpm.header.keys()];
          return headerFields(rpm.header, names, await rpmQueryTags());
        },
      },
      ...this.taskMethods(),
    };
  }

  private findTag(info: XmlRpcValue | undefined, event: number | null): HubTag | null {
    let tag: HubTag | undefined;
    if (typeof info === 'number') tag = this.tags.find((t) => t.id === info);
    else if (typeof info === 'string') tag = this.tags.find((t) => t.name === info);
    else throw new Fault(FAULT.PARAMETER, `Invalid type for tagInfo: ${pyType(info)}`);
    if (!tag || (event !== null && tag.createEvent > event)) return null;
    return tag;
  }

  private requireTag(info: XmlRpcValue | undefined, event: number | null): HubTag {
    const tag = this.findTag(info, event);
    if (!tag) throw new Fault(FAULT.GENERIC, `No such tagInfo: ${pyRepr(info ?? null)}`);
    return tag;
  }

  private tagInfo(t: HubTag): XmlRpcStruct {
    return {
      id: t.id,
      name: t.name,
      arches: t.arches,
      locked: false,
      perm: null,
      perm_id: null,
      maven_support: false,
      maven_include_all: false,
      extra: {},
    };
  }

  private activeAt(row: { createEvent: number; revokeEvent: number | null }, event: number | null): boolean {
    if (event === null) return row.revokeEvent === null;
    return row.createEvent <= event && (row.revokeEvent === null || event < row.revokeEvent);
  }

  /** Koji's readFullInheritance: depth first by priority, each parent once. */
  private fullInheritance(tagId: number, event: number | null): Array<{
    child_id: number;
    parent_id: number;
    name: string;
    currdepth: number;
    nextdepth: null;
    priority: number;
    maxdepth: null;
    intransitive: boolean;
    noconfig: boolean;
    pkg_filter: string;
    filter: string[];
  }> {
    const out: ReturnType<KojiHubDouble['fullInheritance']> = [];
    const seen = new Set<number>([tagId]);
    const visit = (childId: number, depth: number): void => {
      const links = this.links
        .filter((l) => l.childId === childId && this.activeAt(l, event))
        .sort((x, y) => x.priority - y.priority || x.parentId - y.parentId);
      for (const l of links) {
        if (seen.has(l.parentId)) continue;
        seen.add(l.parentId);
        const parent = this.tags[l.parentId - 1]!;
        out.push({
          child_id: childId,
          parent_id: parent.id,
          name: parent.name,
          currdepth: depth,
          nextdepth: null,
          priority: l.priority,
          maxdepth: null,
          intransitive: false,
          noconfig: false,
          pkg_filter: '',
          filter: [],
        });
        visit(parent.id, depth + 1);
      }
    };
    visit(tagId, 1);
    return out;
  }

  private activeListings(tagId: number, event: number | null): TagListing[] {
    // Latest first, as Koji orders tag_listing by -create_event.
    return this.listings
      .filter((l) => l.tagId === tagId && this.activeAt(l, event))
      .sort((x, y) => y.createEvent - x.createEvent || y.id - x.id);
  }

  /** Koji's readTaggedBuilds. */
  private taggedBuilds(
    tagId: number,
    event: number | null,
    inherit: boolean,
    latest: number,
    pkg: string | null,
  ): Array<{ build: HubBuild; listing: TagListing }> {
    const taglist = inherit ? [tagId, ...this.fullInheritance(tagId, event).map((l) => l.parent_id)] : [tagId];
    const seen = new Map<number, number>();
    const out: Array<{ build: HubBuild; listing: TagListing }> = [];
    for (const tid of taglist) {
      for (const listing of this.activeListings(tid, event)) {
        const build = this.builds[listing.buildId - 1]!;
        if (build.state !== COMPLETE) continue;
        if (pkg !== null && build.name !== pkg) continue;
        if (latest > 0) {
          const n = seen.get(build.packageId) ?? 0;
          if (n >= latest) continue;
          seen.set(build.packageId, n + 1);
        }
        out.push({ build, listing });
      }
    }
    return out;
  }

  private changedSince(event: number, tagIds: number[]): boolean {
    const after = (e: number | null): boolean => e !== null && e > event;
    for (const id of tagIds) {
      const tag = this.tags.find((t) => t.id === id);
      if (!tag) continue;
      if (after(tag.createEvent)) return true;
      if (this.listings.some((l) => l.tagId === id && (after(l.createEvent) || after(l.revokeEvent)))) return true;
      if (this.links.some((l) => l.childId === id && (after(l.createEvent) || after(l.revokeEvent)))) return true;
    }
    return false;
  }

  private findBuild(info: XmlRpcValue | undefined): HubBuild | null {
    if (typeof info === 'number') return this.builds[info - 1] ?? null;
    if (typeof info === 'string') {
      if (/^\d+$/.test(info)) return this.builds[Number(info) - 1] ?? null;
      return this.builds.find((b) => `${b.name}-${b.version}-${b.release}` === info) ?? null;
    }
    if (isStruct(info)) {
      const id = info['id'] ?? info['build_id'];
      if (typeof id === 'number') return this.builds[id - 1] ?? null;
      const { name, version, release } = info;
      return this.builds.find((b) => b.name === name && b.version === version && b.release === release) ?? null;
    }
    throw new Fault(FAULT.GENERIC, `Invalid type for buildInfo: ${pyType(info)}`);
  }

  private findRpm(info: XmlRpcValue | undefined): HubRpm | null {
    if (typeof info === 'number') return this.rpms[info - 1] ?? null;
    if (typeof info === 'string') {
      const nvra = info.replace(/\.rpm$/, '');
      return (
        this.rpms.find((r) => {
          const plain = `${r.name}-${r.version}-${r.release}.${r.arch}`;
          const withEpoch = `${r.name}-${r.epoch ?? 0}:${r.version}-${r.release}.${r.arch}`;
          return nvra === plain || nvra === withEpoch;
        }) ?? null
      );
    }
    throw new Fault(FAULT.GENERIC, `Invalid type for rpminfo: ${pyType(info)}`);
  }

  private buildInfo(b: HubBuild): XmlRpcStruct {
    const time = pyTime(b.createTs);
    return {
      id: b.id,
      build_id: b.id,
      name: b.name,
      package_name: b.name,
      package_id: b.packageId,
      version: b.version,
      release: b.release,
      epoch: b.epoch,
      nvr: `${b.name}-${b.version}-${b.release}`,
      state: b.state,
      draft: false,
      task_id: null,
      owner_id: 1,
      owner_name: 'kojiadmin',
      creation_event_id: b.createEvent,
      creation_time: time,
      creation_ts: new XmlRpcDouble(b.createTs),
      start_time: time,
      start_ts: new XmlRpcDouble(b.createTs),
      completion_time: time,
      completion_ts: new XmlRpcDouble(b.createTs),
      volume_id: 0,
      volume_name: 'DEFAULT',
      source: null,
      extra: b.extra ?? null,
      cg_id: null,
      cg_name: null,
    };
  }

  /** listTagged / listTaggedRPMS build rows (readTaggedBuilds' columns). */
  private taggedBuildInfo(b: HubBuild, l: TagListing): XmlRpcStruct {
    const tag = this.tags[l.tagId - 1]!;
    const time = pyTime(b.createTs);
    return {
      tag_id: tag.id,
      tag_name: tag.name,
      id: b.id,
      build_id: b.id,
      version: b.version,
      release: b.release,
      epoch: b.epoch,
      state: b.state,
      completion_time: time,
      start_time: time,
      task_id: null,
      draft: false,
      owner_id: 1,
      owner_name: 'kojiadmin',
      creation_event_id: b.createEvent,
      creation_time: time,
      volume_id: 0,
      volume_name: 'DEFAULT',
      package_id: b.packageId,
      package_name: b.name,
      name: b.name,
      nvr: `${b.name}-${b.version}-${b.release}`,
      create_event: l.createEvent,
    };
  }

  /** listTaggedRPMS rows (readTaggedRPMS' columns). */
  private taggedRpmRow(r: HubRpm): XmlRpcStruct {
    return {
      name: r.name,
      version: r.version,
      release: r.release,
      arch: r.arch,
      id: r.id,
      epoch: r.epoch,
      draft: false,
      payloadhash: r.payloadhash,
      size: r.size,
      buildtime: r.buildtime,
      buildroot_id: null,
      build_id: r.buildId,
      metadata_only: false,
      extra: null,
    };
  }

  /** getRPM / listRPMs rows. */
  private rpmInfo(r: HubRpm): XmlRpcStruct {
    return {
      ...this.taggedRpmRow(r),
      nvr: `${r.name}-${r.version}-${r.release}`,
      external_repo_id: 0,
      external_repo_name: 'INTERNAL',
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Binds positional and keyword arguments to parameter names, as Python would. */
function bind(method: string, names: string[], params: XmlRpcValue[]): Args {
  const { args, kwargs } = splitKwargs(params);
  if (args.length > names.length) {
    throw new Fault(FAULT.PYTHON, `<class 'TypeError'>: ${method}() takes at most ${names.length} arguments (${args.length} given)`);
  }
  const out: Args = {};
  args.forEach((v, i) => (out[names[i]!] = v));
  for (const [k, v] of Object.entries(kwargs)) {
    if (!names.includes(k)) throw new Fault(FAULT.PYTHON, `<class 'TypeError'>: ${method}() got an unexpected keyword argument '${k}'`);
    if (k in out) throw new Fault(FAULT.PYTHON, `<class 'TypeError'>: ${method}() got multiple values for argument '${k}'`);
    out[k] = v;
  }
  return out;
}

function truthy(v: XmlRpcValue | undefined): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '' || v === 0n) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isStruct(v)) return Object.keys(v).length > 0;
  return true;
}

/** Koji's `latest`: false -> 0 (all), true -> 1, N -> N. */
function latestArg(v: XmlRpcValue | undefined): number {
  if (typeof v === 'number') return Math.max(0, Math.trunc(v));
  return truthy(v) ? 1 : 0;
}

function int(v: XmlRpcValue | undefined, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new Fault(FAULT.PARAMETER, `Invalid type for ${what}: ${pyType(v)}, expected type <class 'int'>`);
}

function optInt(v: XmlRpcValue | undefined, what: string): number | null {
  return v === undefined || v === null ? null : int(v, what);
}

function optStr(v: XmlRpcValue | undefined): string | null {
  return typeof v === 'string' ? v : null;
}

/** Koji's convert_value(value, cast=int): a name where an id belongs is a ParameterError. */
function castInt(v: XmlRpcValue | undefined): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new Fault(FAULT.PARAMETER, `Invalid type for value ${pyRepr(v ?? null)}: ${pyType(v)}, expected type <class 'int'>`);
}

/** The build type asked for (null: any). */
function checkType(v: XmlRpcValue | undefined): 'rpm' | 'module' | null {
  if (v === undefined || v === null) return null;
  if (v !== 'rpm' && v !== 'module') throw new Fault(FAULT.GENERIC, `unsupported build type: ${String(v)}`);
  return v;
}

/** Koji's glob search (fnmatch-like: `*`, `?`), anchored. */
function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

function pyType(v: XmlRpcValue | undefined): string {
  if (v === undefined || v === null) return "<class 'NoneType'>";
  if (typeof v === 'string') return "<class 'str'>";
  if (typeof v === 'boolean') return "<class 'bool'>";
  if (typeof v === 'number') return Number.isInteger(v) ? "<class 'int'>" : "<class 'float'>";
  if (typeof v === 'bigint') return "<class 'int'>";
  if (Array.isArray(v)) return "<class 'list'>";
  if (isStruct(v)) return "<class 'dict'>";
  return "<class 'object'>";
}

/** Python's repr for the simple values that appear in Koji's messages. */
function pyRepr(v: XmlRpcValue | undefined): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Koji's time strings: `2026-11-20 22:44:32.170525+00:00`. */
function pyTime(ts: number): string {
  const d = new Date(Math.floor(ts * 1000));
  const micro = String(Math.round((ts % 1) * 1e6) % 1e6).padStart(6, '0');
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}.${micro}+00:00`;
}

function sigmd5(h: RpmHeader): string {
  const v = h.get('sigmd5')?.[0];
  return Buffer.isBuffer(v) ? v.toString('hex') : '';
}

/**
 * getRPMHeaders' answer: fields by the names asked for. Scalar tags give a value (nil when
 * absent), others a list ([] when absent); `filenames` is computed; a name rpm does not know
 * is a fault, as on Koji.
 */
function headerFields(h: RpmHeader, names: string[], known: Set<string>): XmlRpcStruct {
  const out: XmlRpcStruct = {};
  for (const name of names) {
    const tag = name.toLowerCase();
    if (tag === 'filenames') {
      out[name] = headerFilenames(h);
      continue;
    }
    if (!known.has(tag) && !h.has(tag)) throw new Fault(FAULT.GENERIC, `No such rpm header field: ${name.toUpperCase()}`);
    const values = h.get(tag);
    if (SCALAR_TAGS.has(tag)) out[name] = values?.[0] ?? null;
    else out[name] = values ?? [];
  }
  return out;
}

/** The path of the build's directory (for tests that look at files directly). */
export function kojiBuildDir(topdir: string, build: { name: string; version: string; release: string }): string {
  return path.join(topdir, buildDirPath(build));
}
