/**
 * Reads a yum/dnf repository's metadata (repomd.xml, primary.xml, filelists.xml) from a local
 * directory or an http(s) base URL into the plain package model of ./model.
 *
 * The XML is streamed: compressed bytes are checksummed as they arrive, decompressed (zlib for
 * gzip, the `xz`/`zstd`/`bzip2` tools for the others) and tokenized chunk by chunk, so memory
 * holds the package model, never a whole document.
 */
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { AsyncLocalStorage } from 'node:async_hooks';
import { httpOpen, type AllowList, type NetOptions } from '../../common/http/client';
import { HttpError, HttpStatusError } from '../../common/http/errors';
import { abortReason } from '../../common/sleep';
import type { Dep, RpmPackage } from './model';
import type { DepFlags } from './vercmp';
import { XmlTokenizer, type XmlAttributes, type XmlHandler } from './xml-stream';

/** The repository's metadata could not be fetched, verified or understood. */
export class RepodataError extends Error {
  override name = 'RepodataError';
}

export interface RepomdChecksum {
  type: string;
  value: string;
}

export interface RepomdRecord {
  type: string;
  /** href relative to the repository base. */
  location: string;
  /** Checksum of the file as stored (compressed). */
  checksum: RepomdChecksum;
  /** Checksum of the uncompressed content, when the repository gives it. */
  openChecksum?: RepomdChecksum;
  size?: number;
  openSize?: number;
  timestamp?: number;
}

export interface Repomd {
  /** `<revision>` as written (createrepo_c: a Unix timestamp unless --revision is given). */
  revision: string | null;
  /** Records by data type (`primary`, `filelists`, `other`, `modules`, …). */
  records: Record<string, RepomdRecord>;
}

export interface ReadRepositoryOptions {
  /** Stored in every package's `repoId`. */
  repoId: string;
  /** Read filelists.xml too (default true): needed for file dependencies outside primary. */
  filelists?: boolean;
  /** Verify the compressed files against repomd.xml's checksums (default true). */
  verifyChecksums?: boolean;
  signal?: AbortSignal;
}

export interface Repository {
  repomd: Repomd;
  packages: RpmPackage[];
}

/** Reads repomd.xml, primary.xml and (unless disabled) filelists.xml of the repository at `base`. */
export async function readRepository(base: string, options: ReadRepositoryOptions): Promise<Repository> {
  const repomd = await readRepomd(base, options.signal);
  const primary = primaryRecord(base, repomd);
  const verify = options.verifyChecksums !== false;

  const packages = await parsePrimary(await openMetadata(base, primary, verify, options.signal), options.repoId).catch(
    (err: unknown) => rethrow(err, `${base}/${primary.location}`),
  );

  const filelists = repomd.records['filelists'];
  if (options.filelists !== false && filelists) {
    await mergeFilelists(packages, await openMetadata(base, filelists, verify, options.signal)).catch((err: unknown) =>
      rethrow(err, `${base}/${filelists.location}`),
    );
  }
  return { repomd, packages };
}

function primaryRecord(base: string, repomd: Repomd): RepomdRecord {
  const primary = repomd.records['primary'];
  if (!primary) throw new RepodataError(`${base}: repomd.xml has no primary data`);
  return primary;
}

/** Fetches and parses `<base>/repodata/repomd.xml`. */
export async function readRepomd(base: string, signal?: AbortSignal): Promise<Repomd> {
  const where = resolveLocation(base, 'repodata/repomd.xml');
  let bytes: Buffer;
  if (typeof where === 'string') {
    bytes = await readFile(where).catch((err: NodeJS.ErrnoException) => {
      throw new RepodataError(`cannot read ${where}: ${err.code ?? err.message}`);
    });
  } else {
    const response = await httpGet(where, signal);
    bytes = Buffer.from(await response.arrayBuffer());
  }
  return parseRepomd(bytes);
}

/** Parses the text of a repomd.xml. */
export function parseRepomd(xml: string | Buffer): Repomd {
  const repomd: Repomd = { revision: null, records: {} };
  let record: Partial<RepomdRecord> | null = null;
  let text = '';
  let checksumType = '';
  const h: XmlHandler = {
    wantText: false,
    open(name, attrs) {
      text = '';
      switch (name) {
        case 'data':
          record = { type: attrs.get('type') ?? '' };
          break;
        case 'location':
          if (record) record.location = attrs.get('href') ?? '';
          break;
        case 'checksum':
        case 'open-checksum':
          checksumType = attrs.get('type') ?? '';
          h.wantText = true;
          break;
        case 'revision':
        case 'size':
        case 'open-size':
        case 'timestamp':
          h.wantText = true;
          break;
      }
    },
    text(t) {
      text += t;
    },
    close(name) {
      h.wantText = false;
      const value = text.trim();
      if (name === 'revision' && !record) repomd.revision = value;
      if (!record) return;
      switch (name) {
        case 'checksum':
          record.checksum = { type: checksumType, value };
          break;
        case 'open-checksum':
          record.openChecksum = { type: checksumType, value };
          break;
        case 'size':
          record.size = Number(value);
          break;
        case 'open-size':
          record.openSize = Number(value);
          break;
        case 'timestamp':
          record.timestamp = Number(value);
          break;
        case 'data':
          if (!record.type || !record.location || !record.checksum) {
            throw new RepodataError(`repomd.xml: incomplete <data type="${record.type ?? ''}"> record`);
          }
          repomd.records[record.type] = record as RepomdRecord;
          record = null;
          break;
      }
    },
  };
  const tokenizer = new XmlTokenizer(h);
  try {
    tokenizer.write(typeof xml === 'string' ? Buffer.from(xml) : xml);
    tokenizer.end();
  } catch (err) {
    rethrow(err, 'repomd.xml');
  }
  return repomd;
}

// ---------------------------------------------------------------------------------------------
// primary.xml

/**
 * Streams primary.xml (already decompressed) into packages. Repeated strings (dependency names,
 * versions, arches) are shared so a large pool stays small in memory.
 */
export async function parsePrimary(source: AsyncIterable<Buffer>, repoId: string): Promise<RpmPackage[]> {
  const handler = new PrimaryHandler(repoId);
  await tokenize(source, handler);
  return handler.packages;
}

/**
 * The file checksum of every package in a repository's primary.xml, by location href: what a
 * caller that only checks files needs, without building whole packages.
 */
export async function readPackageChecksums(base: string, signal?: AbortSignal): Promise<Map<string, { type: string; value: string }>> {
  const primary = primaryRecord(base, await readRepomd(base, signal));
  const sums = new Map<string, { type: string; value: string }>();
  let type = '';
  let value = '';
  let location = '';
  const handler: XmlHandler = {
    wantText: false,
    open(name, attrs) {
      if (name === 'package') {
        location = '';
        value = '';
      } else if (name === 'checksum') {
        type = attrs.get('type') ?? '';
        handler.wantText = true;
      } else if (name === 'location') {
        location = attrs.get('href') ?? '';
      }
    },
    text(text) {
      value += text;
    },
    close(name) {
      if (name === 'checksum') handler.wantText = false;
      else if (name === 'package' && location) sums.set(location, { type, value: value.trim() });
    },
  };
  await tokenize(await openMetadata(base, primary, false, signal), handler).catch((err: unknown) => rethrow(err, `${base}/${primary.location}`));
  return sums;
}

type DepSection = 'provides' | 'requires' | 'conflicts' | 'obsoletes';
const DEP_SECTIONS = new Set<string>(['provides', 'requires', 'conflicts', 'obsoletes']);
const TEXT_FIELDS = new Set<string>(['name', 'arch', 'checksum', 'sourcerpm', 'file']);
const FLAGS = new Set<string>(['EQ', 'LT', 'LE', 'GT', 'GE']);

class PrimaryHandler implements XmlHandler {
  readonly packages: RpmPackage[] = [];
  wantText = false;
  private pkg: RpmPackage | null = null;
  private section: DepSection | null = null;
  private buffered = '';
  private checksumType = '';
  private readonly strings = new Map<string, string>();
  private lastInterned = '';
  private lastSourcerpm = '';
  private readonly plainDeps = new Map<string, Dep>();
  private readonly preDeps = new Map<string, Dep>();

  constructor(private readonly repoId: string) {}

  open(name: string, attrs: XmlAttributes): void {
    const pkg = this.pkg;
    if (name === 'entry') {
      if (pkg && this.section) pkg[this.section].push(this.dep(attrs));
      return;
    }
    if (name === 'package') {
      const type = attrs.get('type');
      if (type === undefined || type === 'rpm') this.pkg = newPackage(this.repoId);
      return;
    }
    if (!pkg) return;
    if (TEXT_FIELDS.has(name)) {
      this.buffered = '';
      this.wantText = true;
      if (name === 'checksum') this.checksumType = attrs.get('type') ?? '';
      return;
    }
    switch (name) {
      case 'version':
        pkg.epoch = Number(attrs.get('epoch') ?? 0) || 0;
        pkg.version = this.intern(attrs.get('ver') ?? '');
        pkg.release = this.intern(attrs.get('rel') ?? '');
        break;
      case 'size':
        pkg.size = Number(attrs.get('package') ?? 0);
        break;
      case 'location': {
        pkg.location = attrs.get('href') ?? '';
        const base = attrs.get('xml:base');
        if (base) pkg.locationBase = base;
        break;
      }
      default:
        if (DEP_SECTIONS.has(name)) this.section = name as DepSection;
    }
  }

  text(t: string): void {
    this.buffered = this.buffered === '' ? t : this.buffered + t;
  }

  close(name: string): void {
    const pkg = this.pkg;
    if (!pkg) return;
    if (this.wantText) {
      this.wantText = false;
      const value = this.buffered;
      this.buffered = '';
      switch (name) {
        case 'name':
          pkg.name = value;
          break;
        case 'arch':
          pkg.arch = this.intern(value);
          break;
        case 'checksum':
          pkg.checksum = { type: this.intern(this.checksumType), value };
          break;
        case 'sourcerpm':
          // Sibling packages follow each other: share the string with the previous one.
          pkg.sourcerpm =
            value === '' ? null : value === this.lastSourcerpm ? this.lastSourcerpm : (this.lastSourcerpm = value);
          break;
        case 'file':
          pkg.files.push(value);
          break;
      }
      return;
    }
    if (name === 'package') {
      this.packages.push(pkg);
      this.pkg = null;
    } else if (this.section === name) {
      this.section = null;
    }
  }

  private intern(s: string): string {
    // Consecutive packages mostly share arch, release and checksum type.
    if (s === this.lastInterned) return this.lastInterned;
    const known = this.strings.get(s);
    if (known !== undefined) return (this.lastInterned = known);
    this.strings.set(s, s);
    return (this.lastInterned = s);
  }

  /** Unversioned entries repeat across thousands of packages: those share one object. */
  private dep(attrs: XmlAttributes): Dep {
    const name = attrs.get('name') ?? '';
    const flags = attrs.get('flags');
    const pre = attrs.get('pre') === '1';
    if (!flags) {
      const cache = pre ? this.preDeps : this.plainDeps;
      let dep = cache.get(name);
      if (!dep) {
        dep = pre ? { name, pre: true } : { name };
        cache.set(name, dep);
      }
      return dep;
    }
    if (!FLAGS.has(flags)) throw new RepodataError(`unknown dependency flags "${flags}" on "${name}"`);
    const dep: Dep = { name: this.intern(name), flags: flags as DepFlags };
    const epoch = attrs.get('epoch');
    const version = attrs.get('ver');
    const release = attrs.get('rel');
    if (epoch !== undefined) dep.epoch = epoch === '0' ? '0' : this.intern(epoch);
    if (version !== undefined) dep.version = this.sameAsPackage(version);
    if (release !== undefined) dep.release = this.sameAsPackage(release);
    if (pre) dep.pre = true;
    return dep;
  }

  /** Most versioned entries carry the package's own version or release: share those. */
  private sameAsPackage(s: string): string {
    const pkg = this.pkg!;
    if (s === pkg.release) return pkg.release;
    if (s === pkg.version) return pkg.version;
    return this.intern(s);
  }
}

function newPackage(repoId: string): RpmPackage {
  return {
    name: '',
    epoch: 0,
    version: '',
    release: '',
    arch: '',
    sourcerpm: null,
    location: '',
    checksum: { type: '', value: '' },
    size: 0,
    provides: [],
    requires: [],
    conflicts: [],
    obsoletes: [],
    files: [],
    repoId,
  };
}

// ---------------------------------------------------------------------------------------------
// filelists.xml

/**
 * Streams filelists.xml into the packages parsed from primary.xml, matched by pkgid (the
 * package checksum), or by NEVRA when a writer left pkgid out.
 */
export async function mergeFilelists(packages: RpmPackage[], source: AsyncIterable<Buffer>): Promise<void> {
  const byPkgid = new Map<string, RpmPackage[]>();
  const byNevra = new Map<string, RpmPackage>();
  for (const p of packages) {
    const list = byPkgid.get(p.checksum.value);
    if (list) list.push(p);
    else byPkgid.set(p.checksum.value, [p]);
    byNevra.set(`${p.name}\0${p.epoch}\0${p.version}\0${p.release}\0${p.arch}`, p);
  }

  let pkgid = '';
  let name = '';
  let arch = '';
  let evr = '';
  let files: string[] = [];
  let text = '';
  const h: XmlHandler = {
    wantText: false,
    open(tag, attrs) {
      if (tag === 'package') {
        pkgid = attrs.get('pkgid') ?? '';
        name = attrs.get('name') ?? '';
        arch = attrs.get('arch') ?? '';
        evr = '';
        files = [];
      } else if (tag === 'version') {
        evr = `${Number(attrs.get('epoch') ?? 0) || 0}\0${attrs.get('ver') ?? ''}\0${attrs.get('rel') ?? ''}`;
      } else if (tag === 'file') {
        text = '';
        h.wantText = true;
      }
    },
    text(t) {
      text = text === '' ? t : text + t;
    },
    close(tag) {
      if (tag === 'file') {
        h.wantText = false;
        files.push(text);
      } else if (tag === 'package') {
        const candidates = byPkgid.get(pkgid);
        const target =
          candidates?.find((p) => p.name === name && p.arch === arch) ??
          candidates?.[0] ??
          byNevra.get(`${name}\0${evr}\0${arch}`);
        if (target) target.files = mergeFileLists(target.files, files);
      }
    },
  };
  await tokenize(source, h);
}

/** filelists.xml lists every file; primary.xml a subset. Keep filelists' order, lose nothing. */
function mergeFileLists(fromPrimary: string[], fromFilelists: string[]): string[] {
  if (fromPrimary.length === 0) return fromFilelists;
  if (fromFilelists.length === 0) return fromPrimary;
  // primary.xml lists a handful of paths: scanning beats hashing the whole list.
  const count = fromFilelists.length;
  const known = fromPrimary.length > 8 ? new Set(fromFilelists) : null;
  for (const f of fromPrimary) {
    const present = known ? known.has(f) : fromFilelists.lastIndexOf(f, count - 1) >= 0;
    if (!present) fromFilelists.push(f);
  }
  return fromFilelists;
}

// ---------------------------------------------------------------------------------------------
// Fetching, verifying and decompressing

async function tokenize(source: AsyncIterable<Buffer>, handler: XmlHandler): Promise<void> {
  const tokenizer = new XmlTokenizer(handler);
  for await (const chunk of source) tokenizer.write(chunk);
  tokenizer.end();
}

/**
 * Opens one metadata file of the repository as a stream of decompressed bytes, checking the
 * compressed bytes against the repomd record while they pass.
 */
export async function openMetadata(
  base: string,
  record: RepomdRecord,
  verify = true,
  signal?: AbortSignal,
): Promise<Readable> {
  const where = resolveLocation(base, record.location);
  let raw: Readable;
  if (typeof where === 'string') {
    raw = createReadStream(where, { highWaterMark: 256 * 1024 });
  } else {
    // A Node stream straight from the HTTP layer (bounded in time and size, hops on the allow list).
    raw = await httpStream(where, signal);
  }
  const checked = verify ? raw.pipe(new ChecksumCheck(record, String(where))) : raw;
  raw.on('error', (err) => checked.destroy(err));
  return decompress(checked, record.location);
}

/** Passes bytes through and fails the stream at its end if their checksum is not the expected. */
class ChecksumCheck extends Transform {
  private readonly hash: Hash;
  constructor(
    private readonly record: RepomdRecord,
    private readonly where: string,
  ) {
    super();
    this.hash = createHash(hashAlgorithm(record.checksum.type));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (actual.toLowerCase() !== this.record.checksum.value.toLowerCase()) {
      done(
        new RepodataError(
          `${this.where}: ${this.record.checksum.type} checksum mismatch (repomd.xml says ` +
            `${this.record.checksum.value}, file has ${actual})`,
        ),
      );
    } else {
      done();
    }
  }
}

function hashAlgorithm(type: string): string {
  const t = type.toLowerCase();
  if (t === 'sha') return 'sha1';
  if (['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'].includes(t)) return t;
  throw new RepodataError(`unsupported checksum type "${type}"`);
}

const DECOMPRESSORS: Array<[suffix: string, command: string]> = [
  ['.xz', 'xz'],
  ['.zst', 'zstd'],
  ['.zstd', 'zstd'],
  ['.bz2', 'bzip2'],
];

/** Decompresses by the file name's suffix: gzip in-process, the rest through their CLI tools. */
export function decompress(input: Readable, fileName: string): Readable {
  if (fileName.endsWith('.gz')) {
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    input.on('error', (err) => gunzip.destroy(err));
    // A reader that stops early (a parse error) must not leave the file or socket open.
    gunzip.once('close', () => input.destroy());
    return input.pipe(gunzip);
  }
  if (fileName.endsWith('.zck')) throw new RepodataError(`${fileName}: zchunk metadata is not supported`);
  const tool = DECOMPRESSORS.find(([suffix]) => fileName.endsWith(suffix));
  return tool ? throughTool(input, tool[1], fileName) : input;
}

function throughTool(input: Readable, command: string, fileName: string): Readable {
  const child = spawn(command, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = child.stdout;
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const fail = (err: Error): void => {
    child.kill();
    output.destroy(err);
  };
  child.on('error', (err) => fail(new RepodataError(`${fileName}: cannot run ${command}: ${err.message}`)));
  input.on('error', fail);
  // The tool exiting early closes its stdin; that EPIPE is reported through the exit code.
  child.stdin.on('error', () => undefined);
  input.pipe(child.stdin);
  // stdout can end before the exit status is known: hold the end back until the tool exits.
  const result = new Transform({
    transform(chunk: Buffer, _enc, done) {
      done(null, chunk);
    },
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  output.on('error', (err) => result.destroy(err));
  output.pipe(result, { end: false });
  output.on('end', () => {
    void exited.then((code) => {
      if (code === 0) result.end();
      else result.destroy(new RepodataError(`${fileName}: ${command} -dc failed (exit ${code}): ${stderr.trim()}`));
    });
  });
  // A reader that stops early must not leave the tool blocked on a full pipe.
  result.once('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    input.destroy();
  });
  return result;
}

/** A local path for directory bases (plain paths or file: URLs), a URL for http(s) bases. */
export function resolveLocation(base: string, href: string): string | URL {
  if (/^https?:\/\//i.test(href)) return new URL(href);
  if (/^https?:\/\//i.test(base)) return new URL(href, base.endsWith('/') ? base : `${base}/`);
  const dir = base.startsWith('file:') ? fileURLToPath(base) : base;
  return path.join(dir, href);
}

/**
 * How remote repositories are reached: the hosts every hop (redirects included) may go to, and
 * ODCS's network bounds (common/http). A compose's sources set it from the configuration around
 * their reads (`withRemoteAccess`: allowed_repo_hosts, net_*), so that every metadata read below
 * them obeys it without each signature carrying it. Outside one, a request may reach only its
 * own URL's host, with the default bounds.
 */
export interface RemoteAccess {
  allow: AllowList;
  net?: NetOptions;
  /** Details of failed attempts (the operator's log). */
  log?: (message: string) => void;
}

const remoteAccess = new AsyncLocalStorage<RemoteAccess>();

/** Runs `fn` with every remote repository read inside it bound by `access`. */
export function withRemoteAccess<T>(access: RemoteAccess, fn: () => Promise<T>): Promise<T> {
  return remoteAccess.run(access, fn);
}

/** GET `url` (status 200) through the common HTTP layer, as a Node stream bounded in time and size. */
export async function httpStream(url: URL, signal?: AbortSignal, access?: RemoteAccess, maxBytes?: number): Promise<Readable> {
  const using = access ?? remoteAccess.getStore() ?? { allow: { hosts: [url.host], name: "the repository's own host" } };
  try {
    const res = await httpOpen(url, { allow: using.allow, net: using.net, log: using.log, signal, maxBytes });
    return res.body;
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    if (err instanceof HttpStatusError) throw new RepodataError(`GET ${url.href}: ${err.message.replace(/^HTTP /, '')}`);
    if (err instanceof HttpError) throw new RepodataError(`GET ${url.href}: ${err.message}`);
    throw err;
  }
}

/** `httpStream` as a fetch Response (status 200), for readers of web streams. */
export async function httpGet(url: URL, signal?: AbortSignal): Promise<Response> {
  const body = await httpStream(url, signal);
  return new Response(Readable.toWeb(body) as ReadableStream<Uint8Array>, { status: 200 });
}

function rethrow(err: unknown, where: string): never {
  if (err instanceof RepodataError) throw err;
  throw new RepodataError(`${where}: ${(err as Error).message}`);
}
