/**
 * Reads a yum/dnf repository's metadata (repomd.xml, primary.xml, filelists.xml) from a local
 * directory or an http(s) base URL into the plain package model of ./model.
 *
 * The XML is streamed: compressed bytes are checksummed as they arrive, decompressed (zlib for
 * gzip, the `xz`/`zstd`/`bzip2` tools for the others) and tokenized chunk by chunk, so memory
 * holds the package model, never a whole document.
 *
 * Everything here comes from outside and is treated so: every file is read from inside the
 * repository's own repodata/ (a regular file, never a FIFO or device), every size and count is
 * bounded (MetadataLimits, each a configuration option), every value is checked before it
 * reaches the database, and no error message quotes a file's content or hash.
 */
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { addAbortSignal, Readable, Transform, type TransformCallback } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { isKnownArch } from '../../common/arches';
import { AsyncLocalStorage } from 'node:async_hooks';
import { httpOpen, type AllowList, type NetOptions } from '../../common/http/client';
import { HttpError, HttpStatusError } from '../../common/http/errors';
import { abortReason } from '../../common/sleep';
import type { Dep, RpmPackage } from './model';
import type { DepFlags } from './vercmp';
import { XmlTokenizer, XmlTokenTooLongError, type XmlAttributes, type XmlHandler } from './xml-stream';

/** The repository's metadata could not be fetched, verified or understood. */
export class RepodataError extends Error {
  override name = 'RepodataError';
}

/** The metadata is larger than a configured limit allows. */
export class RepodataLimitError extends RepodataError {
  override name = 'RepodataLimitError';
}

/** Bounds on what one repository's metadata may make this process hold (each a configuration option). */
export interface MetadataLimits {
  /** Decompressed bytes of one metadata file. */
  maxBytes: number;
  /** Packages of one repository. */
  maxPackages: number;
  /** File entries of one package. */
  maxFilesPerPackage: number;
  /** File entries of one repository, all packages together. */
  maxFiles: number;
  /** Provides, requires, conflicts and obsoletes entries of one package together. */
  maxDepsPerPackage: number;
  /** Characters of one value (a name, a version, a path, a dependency). */
  maxStringLength: number;
}

/**
 * Defaults with a wide margin over the largest real repositories (Fedora Everything: ~75,000
 * packages, primary.xml and filelists.xml of some hundreds of MB uncompressed, a few million
 * file entries; rawhide already had 2.4 million in 2010).
 */
export const DEFAULT_METADATA_LIMITS: Readonly<MetadataLimits> = Object.freeze({
  maxBytes: 2 * 1024 ** 3,
  maxPackages: 500_000,
  maxFilesPerPackage: 100_000,
  maxFiles: 30_000_000,
  maxDepsPerPackage: 100_000,
  maxStringLength: 64 * 1024,
});

/** The configuration option behind each limit: an error names it so the operator knows what to raise. */
export const LIMIT_OPTIONS: Readonly<Record<keyof MetadataLimits, string>> = Object.freeze({
  maxBytes: 'metadata_max_bytes',
  maxPackages: 'metadata_max_packages',
  maxFilesPerPackage: 'metadata_max_files_per_package',
  maxFiles: 'metadata_max_files',
  maxDepsPerPackage: 'metadata_max_deps_per_package',
  maxStringLength: 'metadata_max_string_length',
});

function overLimit(limits: MetadataLimits, key: keyof MetadataLimits, what: string): RepodataLimitError {
  return new RepodataLimitError(`${what} more than ${limits[key]} (the limit set by ${LIMIT_OPTIONS[key]})`);
}

/** repomd.xml is a short index (a few KB): more than this is not a repository. */
const REPOMD_MAX_BYTES = 16 * 1024 * 1024;

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
  /** Bounds on sizes and counts (DEFAULT_METADATA_LIMITS where not given). */
  limits?: Partial<MetadataLimits>;
}

export interface Repository {
  repomd: Repomd;
  packages: RpmPackage[];
}

/** Reads repomd.xml, primary.xml and (unless disabled) filelists.xml of the repository at `base`. */
export async function readRepository(base: string, options: ReadRepositoryOptions): Promise<Repository> {
  const { signal } = options;
  const limits = { ...DEFAULT_METADATA_LIMITS, ...options.limits };
  const repomd = await readRepomd(base, signal);
  const primary = primaryRecord(base, repomd);
  const verify = options.verifyChecksums !== false;

  const packages = await openMetadata(base, primary, verify, signal)
    .then((source) => parsePrimary(source, options.repoId, limits, signal))
    .catch((err: unknown) => rethrow(err, `${base}/${primary.location}`));

  const filelists = repomd.records['filelists'];
  if (options.filelists !== false && filelists) {
    await openMetadata(base, filelists, verify, signal)
      .then((source) => mergeFilelists(packages, source, limits, signal))
      .catch((err: unknown) => rethrow(err, `${base}/${filelists.location}`));
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
  const href = 'repodata/repomd.xml';
  let bytes: Buffer;
  if (isRemote(base)) {
    const response = await httpGet(remoteMetadataUrl(base, href), signal);
    bytes = await readCapped(response.body, REPOMD_MAX_BYTES, href, signal);
  } else {
    const handle = await openLocalMetadata(localDir(base), href);
    try {
      if ((await handle.stat()).size > REPOMD_MAX_BYTES) throw new RepodataLimitError(`${href}: larger than ${REPOMD_MAX_BYTES} bytes`);
      bytes = await handle.readFile({ signal }).catch(readFailure(href));
    } finally {
      await handle.close();
    }
  }
  return parseRepomd(bytes);
}

/** The whole body, failing once it passes `max` bytes instead of holding whatever is sent. */
async function readCapped(body: Response['body'], max: number, href: string, signal?: AbortSignal): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    signal?.throwIfAborted();
    size += chunk.length;
    // Leaving the loop cancels the body.
    if (size > max) throw new RepodataLimitError(`${href}: larger than ${max} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
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
export async function parsePrimary(
  source: AsyncIterable<Buffer>,
  repoId: string,
  limits: MetadataLimits = DEFAULT_METADATA_LIMITS,
  signal?: AbortSignal,
): Promise<RpmPackage[]> {
  const handler = new PrimaryHandler(repoId, limits);
  // Which package, by number: the text itself may be what is wrong, so it is not quoted.
  await tokenize(source, handler, limits, signal, () => `package ${handler.packages.length + 1}`);
  return handler.packages;
}

/**
 * The file checksum of every package in a repository's primary.xml, by location href: what a
 * caller that only checks files needs, without building whole packages.
 */
export async function readPackageChecksums(
  base: string,
  signal?: AbortSignal,
  limits: MetadataLimits = DEFAULT_METADATA_LIMITS,
): Promise<Map<string, { type: string; value: string }>> {
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
      if (value.length > limits.maxStringLength) throw overLimit(limits, 'maxStringLength', 'a checksum has');
    },
    close(name) {
      if (name === 'checksum') handler.wantText = false;
      else if (name === 'package' && location) {
        sums.set(location, { type, value: value.trim() });
        if (sums.size > limits.maxPackages) throw overLimit(limits, 'maxPackages', 'the repository has');
      }
    },
  };
  await openMetadata(base, primary, false, signal)
    .then((source) => tokenize(source, handler, limits, signal))
    .catch((err: unknown) => rethrow(err, `${base}/${primary.location}`));
  return sums;
}

type DepSection = 'provides' | 'requires' | 'conflicts' | 'obsoletes';
const DEP_SECTIONS = new Set<string>(['provides', 'requires', 'conflicts', 'obsoletes']);
const TEXT_FIELDS = new Set<string>(['name', 'arch', 'checksum', 'sourcerpm', 'file']);
const FLAGS = new Set<string>(['EQ', 'LT', 'LE', 'GT', 'GE']);

/** rpm's epoch is a 32-bit tag; the database column is an integer. */
const EPOCH = /^\d{1,10}$/;
const MAX_EPOCH = 2 ** 31 - 1;
const SIZE = /^\d{1,15}$/;
const HEX = /^[0-9a-fA-F]{1,128}$/;
/** Whitespace, `/` and control characters: none belongs in an RPM name, version, release or file name of a source RPM. */
const NOT_IN_IDENTITY = /[\s/\p{Cc}]/u;
const NOT_IN_VERREL = /[\s\p{Cc}]/u;
const CONTROL = /\p{Cc}/u;

/** A value for a message: JSON-escaped and cut short, so that no raw bytes reach a reason. */
function shown(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

class PrimaryHandler implements XmlHandler {
  readonly packages: RpmPackage[] = [];
  wantText = false;
  private pkg: RpmPackage | null = null;
  private section: DepSection | null = null;
  private deps = 0;
  private files = 0;
  private buffered = '';
  private checksumType = '';
  private readonly strings = new Map<string, string>();
  private lastInterned = '';
  private lastSourcerpm = '';
  private readonly plainDeps = new Map<string, Dep>();
  private readonly preDeps = new Map<string, Dep>();

  constructor(
    private readonly repoId: string,
    private readonly limits: MetadataLimits,
  ) {}

  open(name: string, attrs: XmlAttributes): void {
    const pkg = this.pkg;
    if (name === 'entry') {
      if (pkg && this.section) {
        if (++this.deps > this.limits.maxDepsPerPackage) throw overLimit(this.limits, 'maxDepsPerPackage', 'the package has');
        pkg[this.section].push(this.dep(attrs));
      }
      return;
    }
    if (name === 'package') {
      const type = attrs.get('type');
      if (type === undefined || type === 'rpm') {
        this.pkg = newPackage(this.repoId);
        this.deps = 0;
      }
      return;
    }
    if (!pkg) return;
    if (TEXT_FIELDS.has(name)) {
      this.buffered = '';
      this.wantText = true;
      if (name === 'checksum') this.checksumType = this.attr(attrs, 'type');
      return;
    }
    switch (name) {
      case 'version': {
        const epoch = this.attr(attrs, 'epoch');
        if (epoch !== '' && (!EPOCH.test(epoch) || Number(epoch) > MAX_EPOCH)) throw new RepodataError(`epoch ${shown(epoch)} is not a number rpm allows`);
        pkg.epoch = Number(epoch);
        pkg.version = this.intern(this.attr(attrs, 'ver'));
        pkg.release = this.intern(this.attr(attrs, 'rel'));
        break;
      }
      case 'size': {
        const size = this.attr(attrs, 'package') || '0';
        if (!SIZE.test(size)) throw new RepodataError(`package size ${shown(size)} is not a number`);
        pkg.size = Number(size);
        break;
      }
      case 'location': {
        pkg.location = this.attr(attrs, 'href');
        const base = attrs.get('xml:base');
        if (base) pkg.locationBase = this.checkedLength(base);
        break;
      }
      default:
        if (DEP_SECTIONS.has(name)) this.section = name as DepSection;
    }
  }

  text(t: string): void {
    this.buffered = this.buffered === '' ? t : this.buffered + t;
    // Text may arrive in many pieces (split by comments or CDATA): bound the sum, not each piece.
    this.checkedLength(this.buffered);
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
          if (pkg.files.length >= this.limits.maxFilesPerPackage) throw overLimit(this.limits, 'maxFilesPerPackage', 'the package lists');
          if (++this.files > this.limits.maxFiles) throw overLimit(this.limits, 'maxFiles', 'the repository lists');
          pkg.files.push(value);
          break;
      }
      return;
    }
    if (name === 'package') {
      checkPackage(pkg);
      this.packages.push(pkg);
      if (this.packages.length > this.limits.maxPackages) throw overLimit(this.limits, 'maxPackages', 'the repository has');
      this.pkg = null;
    } else if (this.section === name) {
      this.section = null;
    }
  }

  private attr(attrs: XmlAttributes, name: string): string {
    return this.checkedLength(attrs.get(name) ?? '');
  }

  private checkedLength(value: string): string {
    if (value.length > this.limits.maxStringLength) throw overLimit(this.limits, 'maxStringLength', 'a value has');
    return value;
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
    const name = this.attr(attrs, 'name');
    const flags = attrs.get('flags');
    const pre = attrs.get('pre') === '1';
    if (name === '') throw new RepodataError('a dependency without a name');
    if (!flags) {
      const cache = pre ? this.preDeps : this.plainDeps;
      let dep = cache.get(name);
      if (!dep) {
        dep = pre ? { name, pre: true } : { name };
        cache.set(name, dep);
      }
      return dep;
    }
    if (!FLAGS.has(flags)) throw new RepodataError(`unknown dependency flags ${shown(flags)} on ${shown(name)}`);
    const dep: Dep = { name: this.intern(name), flags: flags as DepFlags };
    const epoch = attrs.get('epoch');
    const version = attrs.get('ver');
    const release = attrs.get('rel');
    if (epoch !== undefined) dep.epoch = epoch === '0' ? '0' : this.intern(this.checkedLength(epoch));
    if (version !== undefined) dep.version = this.sameAsPackage(this.checkedLength(version));
    if (release !== undefined) dep.release = this.sameAsPackage(this.checkedLength(release));
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

/**
 * What a package must be to go on (into a compose, its NEVRAs into the database, its location
 * into a path): the XML reader already refused NUL, control characters and broken UTF-8 or
 * surrogates; this refuses what rpm itself would never have written.
 */
function checkPackage(pkg: RpmPackage): void {
  if (pkg.name === '' || NOT_IN_IDENTITY.test(pkg.name)) throw new RepodataError(`package name ${shown(pkg.name)} is not a valid RPM name`);
  const id = `package ${shown(pkg.name)}`;
  if (pkg.version === '' || NOT_IN_VERREL.test(pkg.version)) throw new RepodataError(`${id}: version ${shown(pkg.version)} is not valid`);
  if (pkg.release === '' || NOT_IN_VERREL.test(pkg.release)) throw new RepodataError(`${id}: release ${shown(pkg.release)} is not valid`);
  if (!isKnownArch(pkg.arch)) throw new RepodataError(`${id}: arch ${shown(pkg.arch)} is not an RPM architecture`);
  if (!HEX.test(pkg.checksum.value)) throw new RepodataError(`${id}: its checksum is not a hexadecimal digest`);
  if (pkg.location === '' || CONTROL.test(pkg.location)) throw new RepodataError(`${id}: location ${shown(pkg.location)} is not valid`);
  if (pkg.sourcerpm !== null && NOT_IN_IDENTITY.test(pkg.sourcerpm)) throw new RepodataError(`${id}: source RPM ${shown(pkg.sourcerpm)} is not valid`);
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
export async function mergeFilelists(
  packages: RpmPackage[],
  source: AsyncIterable<Buffer>,
  limits: MetadataLimits = DEFAULT_METADATA_LIMITS,
  signal?: AbortSignal,
): Promise<void> {
  const byPkgid = new Map<string, RpmPackage[]>();
  const byNevra = new Map<string, RpmPackage>();
  let fileCount = 0;
  for (let i = 0; i < packages.length; i++) {
    // A pool of hundreds of thousands of packages: let the process answer HTTP meanwhile.
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await nextTurn();
    const p = packages[i]!;
    const list = byPkgid.get(p.checksum.value);
    if (list) list.push(p);
    else byPkgid.set(p.checksum.value, [p]);
    byNevra.set(`${p.name}\0${p.epoch}\0${p.version}\0${p.release}\0${p.arch}`, p);
    fileCount += p.files.length;
  }

  let pkgid = '';
  let name = '';
  let arch = '';
  let evr = '';
  let files: string[] = [];
  let text = '';
  let seen = 0;
  const h: XmlHandler = {
    wantText: false,
    open(tag, attrs) {
      if (tag === 'package') {
        seen++;
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
      if (text.length > limits.maxStringLength) throw overLimit(limits, 'maxStringLength', 'a file name has');
    },
    close(tag) {
      if (tag === 'file') {
        h.wantText = false;
        if (files.length >= limits.maxFilesPerPackage) throw overLimit(limits, 'maxFilesPerPackage', 'the package lists');
        files.push(text);
      } else if (tag === 'package') {
        const candidates = byPkgid.get(pkgid);
        const target =
          candidates?.find((p) => p.name === name && p.arch === arch) ??
          candidates?.[0] ??
          byNevra.get(`${name}\0${evr}\0${arch}`);
        if (target) {
          const before = target.files.length;
          target.files = mergeFileLists(target.files, files);
          fileCount += target.files.length - before;
          if (target.files.length > limits.maxFilesPerPackage) throw overLimit(limits, 'maxFilesPerPackage', 'the package lists');
          if (fileCount > limits.maxFiles) throw overLimit(limits, 'maxFiles', 'the repository lists');
        }
      }
    },
  };
  await tokenize(source, h, limits, signal, () => `package ${seen}`);
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

/** How many packages a loop over a whole pool handles before it lets other work run. */
const YIELD_EVERY = 5_000;
/**
 * Longest the parse runs before it lets other work (the embedded default's HTTP API) run:
 * decompressed chunks can arrive faster than they are parsed, and then the stream hands them
 * over without ever returning to the event loop.
 */
const PARSE_SLICE_MS = 10;

/**
 * Feeds the decompressed file to the handler, counting its bytes against the limit. Errors of
 * the content (not of the transfer) are prefixed with `where()`, which says where in the file.
 */
async function tokenize(
  source: AsyncIterable<Buffer>,
  handler: XmlHandler,
  limits: MetadataLimits,
  signal?: AbortSignal,
  where?: () => string,
): Promise<void> {
  // A token holds at most one value of maxStringLength characters per attribute, each up to
  // 10 bytes when written as character references: this is a margin, the exact limit is the handler's.
  const tokenizer = new XmlTokenizer(handler, { maxTokenBytes: 40 * limits.maxStringLength + 64 * 1024 });
  let bytes = 0;
  const content = (feed: () => void): void => {
    try {
      feed();
    } catch (err) {
      if (err instanceof XmlTokenTooLongError) {
        throw new RepodataLimitError(`a tag or text longer than ${err.maxBytes} bytes (the limit follows metadata_max_string_length)`);
      }
      if (where && err instanceof Error && !(err instanceof RepodataLimitError)) err.message = `${where()}: ${err.message}`;
      throw err;
    }
  };
  let sliceStart = performance.now();
  for await (const chunk of source) {
    signal?.throwIfAborted();
    bytes += chunk.length;
    if (bytes > limits.maxBytes) throw overLimit(limits, 'maxBytes', 'the file decompresses to');
    content(() => tokenizer.write(chunk));
    if (performance.now() - sliceStart > PARSE_SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  content(() => tokenizer.end());
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
  signal?.throwIfAborted();
  if (record.location.endsWith('.zck')) throw new RepodataError(`${record.location}: zchunk metadata is not supported`);
  let raw: Readable;
  if (isRemote(base)) {
    // A Node stream straight from the HTTP layer (bounded in time and size, hops on the allow list).
    raw = await httpStream(remoteMetadataUrl(base, record.location), signal);
  } else {
    const handle = await openLocalMetadata(localDir(base), record.location);
    raw = handle.createReadStream({ highWaterMark: 256 * 1024 });
    // A compose's timeout or cancel ends the read (the stream closes the file).
    if (signal) addAbortSignal(signal, raw);
  }
  const checked = verify ? raw.pipe(new ChecksumCheck(record)) : raw;
  raw.on('error', (err) => checked.destroy(err));
  return decompress(checked, record.location);
}

function isRemote(base: string): boolean {
  return /^https?:\/\//i.test(base);
}

function localDir(base: string): string {
  return base.startsWith('file:') ? fileURLToPath(base) : base;
}

function readFailure(href: string): (err: NodeJS.ErrnoException) => never {
  return (err) => {
    if (err.name === 'AbortError') throw err;
    throw new RepodataError(`cannot read ${href}: ${err.code ?? err.message}`);
  };
}

/**
 * Opens metadata file `href` of the local repository `dir` for reading, only if it really is
 * a regular file inside the repository's own repodata/ directory (symbolic links resolved, and
 * repodata/ itself inside the repository): repomd.xml decides the href, and it must not make
 * the worker read, hash or quote any other file. A FIFO or device is refused before a
 * read could block on it.
 */
async function openLocalMetadata(dir: string, href: string): Promise<FileHandle> {
  const outside = new RepodataError(`${href}: not a file inside the repository's repodata/ directory`);
  if (href.includes('\0') || path.isAbsolute(href)) throw outside;
  const root = path.resolve(dir);
  const lexical = path.resolve(root, href);
  if (!lexical.startsWith(path.join(root, 'repodata') + path.sep)) throw outside;
  const realRoot = await realpath(root).catch(readFailure(dir));
  const repodata = await realpath(path.join(root, 'repodata')).catch(readFailure('repodata/'));
  if (!repodata.startsWith(realRoot + path.sep)) throw new RepodataError(`repodata/ leads outside the repository`);
  const real = await realpath(lexical).catch(readFailure(href));
  if (!real.startsWith(repodata + path.sep)) throw outside;
  // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: no link swapped in since.
  const handle = await open(real, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW).catch(readFailure(href));
  const stats = await handle.stat().catch(async (err: NodeJS.ErrnoException) => {
    await handle.close();
    return readFailure(href)(err);
  });
  if (!stats.isFile()) {
    await handle.close();
    throw new RepodataError(`${href}: not a regular file`);
  }
  return handle;
}

/** The URL of metadata file `href` of the remote repository `base`: same origin, under its path. */
function remoteMetadataUrl(base: string, href: string): URL {
  const root = new URL(base.endsWith('/') ? base : `${base}/`);
  let url: URL;
  try {
    url = new URL(href, root);
  } catch {
    throw new RepodataError(`${shown(href)} is not a valid location`);
  }
  if (url.origin !== root.origin || !url.pathname.startsWith(root.pathname)) {
    throw new RepodataError(`${shown(href)}: not a location inside the repository`);
  }
  return url;
}

/** Passes bytes through and fails the stream at its end if their checksum is not the expected. */
class ChecksumCheck extends Transform {
  private readonly hash: Hash;
  constructor(private readonly record: RepomdRecord) {
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
      // Neither hash is shown: the file may be one the repository should never have named.
      done(new RepodataError(`the ${this.record.checksum.type} checksum of ${this.record.location} does not match repomd.xml`));
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

/** Fails with the error, saying which file of which repository it is about. */
function rethrow(err: unknown, where: string): never {
  if (err instanceof RepodataError) {
    err.message = `${where}: ${err.message}`;
    throw err;
  }
  throw new RepodataError(`${where}: ${(err as Error).message}`);
}
