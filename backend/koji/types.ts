/**
 * What Koji's hub returns, typed, and the checks that turn decoded XML-RPC values into these
 * types. Only the fields we rely on are checked; everything else a row carries is kept as it
 * came (the hub adds fields between versions).
 */
import { isStruct, XmlRpcProtocolError, type XmlRpcStruct, type XmlRpcValue } from './xmlrpc';

/** Koji's build states (`koji.BUILD_STATES`). */
export const BUILD_STATES = { BUILDING: 0, COMPLETE: 1, DELETED: 2, FAILED: 3, CANCELED: 4 } as const;

export interface KojiEvent {
  id: number;
  /** Seconds since the epoch (Koji sends a double). */
  ts: number;
}

export interface KojiTag {
  id: number;
  name: string;
  /** Space-separated arches, or null. */
  arches: string | null;
  locked: boolean;
  perm: string | null;
  perm_id: number | null;
  maven_support: boolean;
  maven_include_all: boolean;
  extra: XmlRpcStruct;
}

/** One link of `getFullInheritance`: `parent_id` is the tag inherited from. */
export interface KojiInheritanceEntry {
  child_id: number;
  parent_id: number;
  /** The parent's name. */
  name: string;
  currdepth: number;
  nextdepth: number | null;
  priority: number;
  maxdepth: number | null;
  intransitive: boolean;
  noconfig: boolean;
  pkg_filter: string;
  filter: string[];
}

/** Name, version and release of a build: enough to find its files under topurl. */
export interface KojiBuildNvr {
  name: string;
  version: string;
  release: string;
}

export interface KojiBuild extends KojiBuildNvr {
  id: number;
  build_id: number;
  epoch: number | null;
  nvr: string;
  package_id: number;
  package_name: string;
  state: number;
  owner_id: number | null;
  owner_name: string | null;
  task_id: number | null;
  creation_event_id: number | null;
  volume_id: number | null;
  volume_name: string | null;
  /** Build extra (content generators, module builds' typeinfo); null when unset. */
  extra: XmlRpcStruct | null;
  [field: string]: unknown;
}

/** A build as `listTagged` and `listTaggedRPMS` give it: with the tag it was found in. */
export interface KojiTaggedBuild extends KojiBuild {
  tag_id: number;
  tag_name: string;
  /** The event at which the build was tagged there. */
  create_event: number;
}

export interface KojiRpm {
  id: number;
  build_id: number;
  name: string;
  version: string;
  release: string;
  epoch: number | null;
  arch: string;
  /**
   * Hex MD5 of the header and payload (RPM's SIGMD5): identifies the content, but it is NOT a
   * checksum of the .rpm file, which also holds the signature header.
   */
  payloadhash: string;
  /** Size of the unsigned copy in bytes (a signed copy differs by its signature header). */
  size: number;
  buildtime: number;
  buildroot_id: number | null;
  external_repo_id: number | null;
  metadata_only: boolean;
  extra: XmlRpcStruct | null;
  [field: string]: unknown;
}

/** A row of `listTaggedRPMS`; with `rpmsigs` there is one row per (rpm, sigkey). */
export interface KojiTaggedRpm extends KojiRpm {
  /** Only with `rpmsigs`: the signature of this row, `''` for the unsigned copy. */
  sigkey?: string | null;
}

export interface KojiRpmSignature {
  rpm_id: number;
  /** Last 8 hex digits of the signing key id, lower case; `''` for the unsigned copy. */
  sigkey: string;
  /** MD5 of the signature header. */
  sighash: string;
}

/** `getRPMHeaders` result: header fields by the names asked for. */
export type RpmHeaderFields = Record<string, XmlRpcValue | undefined>;

// ---------------------------------------------------------------------------------------------
// Readers

export class Row {
  constructor(
    readonly s: XmlRpcStruct,
    private readonly what: string,
  ) {}

  static of(v: XmlRpcValue | undefined, what: string): Row {
    if (!isStruct(v)) throw new XmlRpcProtocolError(`${what}: expected a struct, got ${describe(v)}`);
    return new Row(v, what);
  }

  private bad(key: string, expected: string): never {
    throw new XmlRpcProtocolError(`${this.what}: field "${key}" should be ${expected}, got ${describe(this.s[key])}`);
  }

  int(key: string): number {
    const v = this.s[key];
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(v);
    return this.bad(key, 'an integer');
  }

  optInt(key: string): number | null {
    const v = this.s[key];
    return v === null || v === undefined ? null : this.int(key);
  }

  num(key: string): number {
    const v = this.s[key];
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    return this.bad(key, 'a number');
  }

  str(key: string): string {
    const v = this.s[key];
    return typeof v === 'string' ? v : this.bad(key, 'a string');
  }

  optStr(key: string): string | null {
    const v = this.s[key];
    return v === null || v === undefined ? null : this.str(key);
  }

  bool(key: string, fallback = false): boolean {
    const v = this.s[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return v !== 0;
    return this.bad(key, 'a boolean');
  }

  optStruct(key: string): XmlRpcStruct | null {
    const v = this.s[key];
    if (v === null || v === undefined) return null;
    return isStruct(v) ? v : this.bad(key, 'a struct');
  }

  strList(key: string): string[] {
    const v = this.s[key];
    if (v === null || v === undefined) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    return this.bad(key, 'a list of strings');
  }
}

function describe(v: XmlRpcValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'nil';
  if (Array.isArray(v)) return 'an array';
  if (isStruct(v)) return 'a struct';
  if (v instanceof Date) return 'a date';
  if (v instanceof Uint8Array) return 'binary data';
  return `${typeof v} ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`;
}

export function asList(v: XmlRpcValue, what: string): XmlRpcValue[] {
  if (!Array.isArray(v)) throw new XmlRpcProtocolError(`${what}: expected an array, got ${describe(v)}`);
  return v;
}

/** Keeps every field as sent, checking and normalising the ones we rely on. */
function keep(r: Row): Record<string, unknown> {
  return { ...r.s };
}

export function toEvent(v: XmlRpcValue, what = 'event'): KojiEvent {
  const r = Row.of(v, what);
  return { id: r.int('id'), ts: r.num('ts') };
}

export function toTag(v: XmlRpcValue, what = 'tag'): KojiTag {
  const r = Row.of(v, what);
  return {
    ...keep(r),
    id: r.int('id'),
    name: r.str('name'),
    arches: r.optStr('arches'),
    locked: r.bool('locked'),
    perm: r.optStr('perm'),
    perm_id: r.optInt('perm_id'),
    maven_support: r.bool('maven_support'),
    maven_include_all: r.bool('maven_include_all'),
    extra: r.optStruct('extra') ?? {},
  };
}

export function toInheritanceEntry(v: XmlRpcValue, what = 'inheritance entry'): KojiInheritanceEntry {
  const r = Row.of(v, what);
  const filter = r.s['filter'];
  return {
    ...keep(r),
    child_id: r.int('child_id'),
    parent_id: r.int('parent_id'),
    name: r.str('name'),
    currdepth: r.int('currdepth'),
    nextdepth: r.optInt('nextdepth'),
    priority: r.optInt('priority') ?? 0,
    maxdepth: r.optInt('maxdepth'),
    intransitive: r.bool('intransitive'),
    noconfig: r.bool('noconfig'),
    pkg_filter: r.optStr('pkg_filter') ?? '',
    filter: Array.isArray(filter) ? filter.filter((f): f is string => typeof f === 'string') : [],
  };
}

export function toBuild(v: XmlRpcValue, what = 'build'): KojiBuild {
  const r = Row.of(v, what);
  const id = r.optInt('id') ?? r.int('build_id');
  const name = r.optStr('name') ?? r.str('package_name');
  const version = r.str('version');
  const release = r.str('release');
  return {
    ...keep(r),
    id,
    build_id: r.optInt('build_id') ?? id,
    name,
    version,
    release,
    epoch: r.optInt('epoch'),
    nvr: r.optStr('nvr') ?? `${name}-${version}-${release}`,
    package_id: r.optInt('package_id') ?? 0,
    package_name: r.optStr('package_name') ?? name,
    state: r.optInt('state') ?? BUILD_STATES.COMPLETE,
    owner_id: r.optInt('owner_id'),
    owner_name: r.optStr('owner_name'),
    task_id: r.optInt('task_id'),
    creation_event_id: r.optInt('creation_event_id'),
    volume_id: r.optInt('volume_id'),
    volume_name: r.optStr('volume_name'),
    extra: r.optStruct('extra'),
  };
}

export function toTaggedBuild(v: XmlRpcValue, what = 'tagged build'): KojiTaggedBuild {
  const r = Row.of(v, what);
  return { ...toBuild(v, what), tag_id: r.int('tag_id'), tag_name: r.str('tag_name'), create_event: r.optInt('create_event') ?? 0 };
}

export function toRpm(v: XmlRpcValue, what = 'rpm'): KojiTaggedRpm {
  const r = Row.of(v, what);
  const rpm: KojiTaggedRpm = {
    ...keep(r),
    id: r.int('id'),
    build_id: r.int('build_id'),
    name: r.str('name'),
    version: r.str('version'),
    release: r.str('release'),
    epoch: r.optInt('epoch'),
    arch: r.str('arch'),
    payloadhash: r.optStr('payloadhash') ?? '',
    size: r.optInt('size') ?? 0,
    buildtime: r.optInt('buildtime') ?? 0,
    buildroot_id: r.optInt('buildroot_id'),
    external_repo_id: r.optInt('external_repo_id'),
    metadata_only: r.bool('metadata_only'),
    extra: r.optStruct('extra'),
  };
  if ('sigkey' in r.s) rpm.sigkey = r.optStr('sigkey');
  return rpm;
}

export function toSignature(v: XmlRpcValue, what = 'rpm signature'): KojiRpmSignature {
  const r = Row.of(v, what);
  return { rpm_id: r.int('rpm_id'), sigkey: r.optStr('sigkey') ?? '', sighash: r.optStr('sighash') ?? '' };
}

export function toHeaders(v: XmlRpcValue, what = 'rpm headers'): RpmHeaderFields {
  if (!isStruct(v)) throw new XmlRpcProtocolError(`${what}: expected a struct, got ${describe(v)}`);
  return { ...v };
}
