/**
 * XML-RPC as Koji speaks it: the codec (both directions, so the test double can use it too) and
 * an HTTP client with ODCS's retry rules.
 *
 * Koji's dialect on top of plain XML-RPC:
 *  - `<nil/>` for None, both ways (Koji sends nil for epoch, buildroot_id, extra, …);
 *  - `<i8>` for integers beyond 32 bits (decoded as a number when it is a safe integer, as a
 *    bigint otherwise; `<int>`/`<i4>` are treated the same way, whatever their size);
 *  - keyword arguments travel as a trailing struct with the member `__starstar` = true;
 *  - `system.multicall([{methodName, params}, …])` answers one entry per call: a one-element
 *    array holding the result, or a `{faultCode, faultString}` struct.
 *
 * Requests go through the common HTTP layer (common/http): retries follow ODCS (`net_timeout`,
 * `net_retry_interval`): a failed request is retried after the interval until the overall window
 * has passed, on connection errors, timeouts and HTTP 5xx only; every request is bounded in time
 * and may reach only the allowed hosts (Koji's own). A fault is an answer, never retried.
 */
import { XmlTokenizer, type XmlHandler } from '../rpm/xml-stream';
import { allowListOf, DEFAULT_NET_RETRY_INTERVAL, DEFAULT_NET_TIMEOUT, httpFetch, type AllowList, type NetOptions } from '../../common/http/client';
import { HttpError, HttpStatusError } from '../../common/http/errors';
import { abortReason } from '../../common/sleep';

// ---------------------------------------------------------------------------------------------
// Values

/** A JavaScript number that must be sent as `<double>` even when it happens to be integral. */
export class XmlRpcDouble {
  constructor(readonly value: number) {}
}

export type XmlRpcValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Date
  | Uint8Array
  | XmlRpcDouble
  | XmlRpcValue[]
  | XmlRpcStruct;

/** A `<struct>`. Members set to `undefined` are left out when encoding. */
export interface XmlRpcStruct {
  [member: string]: XmlRpcValue | undefined;
}

/** Keyword arguments of a call (Koji's `**kwargs`); undefined values are left out. */
export type XmlRpcKwargs = Record<string, XmlRpcValue | undefined>;

export function isStruct(v: XmlRpcValue | undefined): v is XmlRpcStruct {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof XmlRpcDouble)
  );
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The server answered with an XML-RPC fault. Never retried: the request was understood. */
export class KojiFault extends Error {
  override name = 'KojiFault';
  readonly retryable = false;
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
    /** The method that failed, when known (set for calls and for multicall entries). */
    readonly method?: string,
  ) {
    super(faultString);
  }
}

/** The request did not get an answer: connection error, timeout, HTTP error status. */
export class XmlRpcTransportError extends Error {
  override name = 'XmlRpcTransportError';
  readonly retryable: boolean;
  readonly status?: number;
  /** How many requests were made before giving up. */
  readonly attempts: number;
  constructor(message: string, options: { retryable: boolean; status?: number; attempts?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
    this.attempts = options.attempts ?? 1;
  }
}

/** The document is not the XML-RPC we expect (malformed XML, unknown type, wrong shape). */
export class XmlRpcProtocolError extends Error {
  override name = 'XmlRpcProtocolError';
  readonly retryable = false;
}

// ---------------------------------------------------------------------------------------------
// Encoding

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function escapeXml(s: string): string {
  return s.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

function formatDouble(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? `${n}.0` : String(n);
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Python's xmlrpc format: `20261120T22:44:32` (UTC here). */
export function formatDateTime(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new TypeError('cannot encode an invalid Date');
  return (
    `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  );
}

/** Appends the `<value>` for `v` to `out`. */
export function encodeValue(v: XmlRpcValue, out: string[] = [], depth = 0): string[] {
  if (depth > 64) throw new TypeError('XML-RPC value nested too deeply (cycle?)');
  if (v === null) {
    out.push('<value><nil/></value>');
  } else if (typeof v === 'boolean') {
    out.push(`<value><boolean>${v ? 1 : 0}</boolean></value>`);
  } else if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) out.push(`<value><int>${v}</int></value>`);
    else if (Number.isSafeInteger(v)) out.push(`<value><i8>${v}</i8></value>`);
    else out.push(`<value><double>${formatDouble(v)}</double></value>`);
  } else if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > INT64_MAX) throw new TypeError(`integer ${v} does not fit in 64 bits`);
    out.push(v >= INT32_MIN && v <= INT32_MAX ? `<value><int>${v}</int></value>` : `<value><i8>${v}</i8></value>`);
  } else if (typeof v === 'string') {
    out.push(`<value><string>${escapeXml(v)}</string></value>`);
  } else if (v instanceof XmlRpcDouble) {
    out.push(`<value><double>${formatDouble(v.value)}</double></value>`);
  } else if (v instanceof Date) {
    out.push(`<value><dateTime.iso8601>${formatDateTime(v)}</dateTime.iso8601></value>`);
  } else if (v instanceof Uint8Array) {
    out.push(`<value><base64>${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}</base64></value>`);
  } else if (Array.isArray(v)) {
    out.push('<value><array><data>');
    for (const item of v) encodeValue(item, out, depth + 1);
    out.push('</data></array></value>');
  } else if (isStruct(v)) {
    out.push('<value><struct>');
    for (const [key, member] of Object.entries(v)) {
      if (member === undefined) continue;
      out.push(`<member><name>${escapeXml(key)}</name>`);
      encodeValue(member, out, depth + 1);
      out.push('</member>');
    }
    out.push('</struct></value>');
  } else {
    throw new TypeError(`cannot encode ${typeof v} as XML-RPC`);
  }
  return out;
}

/** The parameters of a call, with keyword arguments as Koji's trailing `__starstar` struct. */
export function callParams(params: readonly XmlRpcValue[], kwargs?: XmlRpcKwargs): XmlRpcValue[] {
  const kw: XmlRpcStruct = {};
  let any = false;
  for (const [k, v] of Object.entries(kwargs ?? {})) {
    if (v === undefined) continue;
    kw[k] = v;
    any = true;
  }
  if (!any) return [...params];
  kw['__starstar'] = true;
  return [...params, kw];
}

export function encodeMethodCall(method: string, params: readonly XmlRpcValue[]): string {
  const out = [`<?xml version='1.0'?>\n<methodCall>\n<methodName>${escapeXml(method)}</methodName>\n<params>\n`];
  for (const p of params) {
    out.push('<param>');
    encodeValue(p, out);
    out.push('</param>\n');
  }
  out.push('</params>\n</methodCall>\n');
  return out.join('');
}

export function encodeMethodResponse(value: XmlRpcValue): string {
  const out = ["<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>"];
  encodeValue(value, out);
  out.push('</param>\n</params>\n</methodResponse>\n');
  return out.join('');
}

export function encodeFault(faultCode: number, faultString: string): string {
  const out = ["<?xml version='1.0'?>\n<methodResponse>\n<fault>\n"];
  encodeValue({ faultCode, faultString }, out);
  out.push('\n</fault>\n</methodResponse>\n');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// Decoding

export type DecodedResponse = { kind: 'result'; value: XmlRpcValue } | { kind: 'fault'; fault: KojiFault };

export interface DecodedCall {
  method: string;
  params: XmlRpcValue[];
}

type Frame =
  | { t: 'value'; text: string; v: XmlRpcValue; set: boolean }
  | { t: 'scalar'; type: string; text: string }
  | { t: 'array'; items: XmlRpcValue[] }
  | { t: 'data' }
  | { t: 'struct'; obj: XmlRpcStruct }
  | { t: 'member'; name: string | null; v: XmlRpcValue; set: boolean }
  | { t: 'text'; name: string; text: string }
  | { t: 'container'; name: string };

const SCALARS = new Set(['string', 'int', 'i4', 'i8', 'i1', 'i2', 'boolean', 'double', 'dateTime.iso8601', 'base64', 'nil']);
const CONTAINERS = new Set(['methodResponse', 'methodCall', 'params', 'param', 'fault']);

class XmlRpcHandler implements XmlHandler {
  wantText = true;
  readonly stack: Frame[] = [];
  readonly params: XmlRpcValue[] = [];
  fault: XmlRpcValue | undefined;
  root: string | null = null;
  method: string | null = null;

  open(name: string): void {
    if (this.root === null) {
      if (name !== 'methodResponse' && name !== 'methodCall') throw new XmlRpcProtocolError(`unexpected root element <${name}>`);
      this.root = name;
    }
    if (this.stack.length > 200) throw new XmlRpcProtocolError('XML-RPC document nested too deeply');
    const top = this.stack[this.stack.length - 1];
    if (name === 'value') this.stack.push({ t: 'value', text: '', v: null, set: false });
    else if (SCALARS.has(name)) {
      if (top?.t !== 'value') throw new XmlRpcProtocolError(`<${name}> outside <value>`);
      this.stack.push({ t: 'scalar', type: name, text: '' });
    } else if (name === 'array') this.stack.push({ t: 'array', items: [] });
    else if (name === 'data') this.stack.push({ t: 'data' });
    else if (name === 'struct') this.stack.push({ t: 'struct', obj: {} });
    else if (name === 'member') this.stack.push({ t: 'member', name: null, v: null, set: false });
    else if (name === 'name' || name === 'methodName') this.stack.push({ t: 'text', name, text: '' });
    else if (CONTAINERS.has(name)) this.stack.push({ t: 'container', name });
    else throw new XmlRpcProtocolError(`unknown XML-RPC element <${name}>`);
  }

  text(t: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top && (top.t === 'value' || top.t === 'scalar' || top.t === 'text')) top.text += t;
  }

  close(name: string): void {
    const frame = this.stack.pop();
    if (!frame) throw new XmlRpcProtocolError(`unbalanced </${name}>`);
    switch (frame.t) {
      case 'scalar': {
        const parent = this.stack[this.stack.length - 1];
        if (parent?.t !== 'value') throw new XmlRpcProtocolError(`<${frame.type}> outside <value>`);
        parent.v = decodeScalar(frame.type, frame.text);
        parent.set = true;
        return;
      }
      case 'value':
        this.deliver(frame.set ? frame.v : frame.text);
        return;
      case 'array':
        this.attach(frame.items);
        return;
      case 'struct':
        this.attach(frame.obj);
        return;
      case 'member': {
        const parent = this.stack[this.stack.length - 1];
        if (parent?.t !== 'struct' || frame.name === null || !frame.set) {
          throw new XmlRpcProtocolError('malformed struct <member>');
        }
        parent.obj[frame.name] = frame.v;
        return;
      }
      case 'text': {
        const parent = this.stack[this.stack.length - 1];
        if (frame.name === 'methodName') this.method = frame.text.trim();
        else if (parent?.t === 'member') parent.name = frame.text;
        else throw new XmlRpcProtocolError('<name> outside <member>');
        return;
      }
      default:
        return;
    }
  }

  /** A complex value (array, struct) is the content of the enclosing <value>. */
  private attach(v: XmlRpcValue): void {
    const parent = this.stack[this.stack.length - 1];
    if (parent?.t !== 'value') throw new XmlRpcProtocolError('array or struct outside <value>');
    parent.v = v;
    parent.set = true;
  }

  /** A finished <value> goes to its array, member, param or fault. */
  private deliver(v: XmlRpcValue): void {
    const parent = this.stack[this.stack.length - 1];
    if (!parent) throw new XmlRpcProtocolError('<value> at the top level');
    if (parent.t === 'data' || parent.t === 'array') {
      const array = parent.t === 'array' ? parent : this.stack[this.stack.length - 2];
      if (array?.t !== 'array') throw new XmlRpcProtocolError('<data> outside <array>');
      array.items.push(v);
    } else if (parent.t === 'member') {
      parent.v = v;
      parent.set = true;
    } else if (parent.t === 'container' && parent.name === 'param') {
      this.params.push(v);
    } else if (parent.t === 'container' && parent.name === 'fault') {
      this.fault = v;
    } else {
      throw new XmlRpcProtocolError(`<value> inside <${parent.t === 'container' ? parent.name : parent.t}>`);
    }
  }
}

function decodeInt(text: string): number | bigint {
  const s = text.trim();
  if (!/^[+-]?\d+$/.test(s)) throw new XmlRpcProtocolError(`invalid integer "${s}"`);
  if (s.replace(/^[+-]?0*/, '').length <= 15) return Number(s);
  const big = BigInt(s);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

function decodeDouble(text: string): number {
  const s = text.trim().toLowerCase();
  if (s === 'nan' || s === '+nan' || s === '-nan') return NaN;
  if (s === 'inf' || s === '+inf' || s === 'infinity') return Infinity;
  if (s === '-inf' || s === '-infinity') return -Infinity;
  const n = Number(s);
  if (s === '' || Number.isNaN(n)) throw new XmlRpcProtocolError(`invalid double "${text.trim()}"`);
  return n;
}

/** Python's `20261120T22:44:32` or ISO 8601 with dashes, fraction and zone; no zone means UTC. */
export function parseDateTime(text: string): Date {
  const s = text.trim();
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  if (!m) throw new XmlRpcProtocolError(`invalid dateTime.iso8601 "${s}"`);
  const ms = m[7] ? Math.round(Number(`0${m[7]}`) * 1000) : 0;
  let t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return new Date(t);
}

function decodeScalar(type: string, text: string): XmlRpcValue {
  switch (type) {
    case 'string':
      return text;
    case 'int':
    case 'i4':
    case 'i8':
    case 'i1':
    case 'i2':
      return decodeInt(text);
    case 'boolean': {
      const s = text.trim().toLowerCase();
      if (s === '1' || s === 'true') return true;
      if (s === '0' || s === 'false') return false;
      throw new XmlRpcProtocolError(`invalid boolean "${text.trim()}"`);
    }
    case 'double':
      return decodeDouble(text);
    case 'dateTime.iso8601':
      return parseDateTime(text);
    case 'base64':
      return Buffer.from(text.replace(/\s+/g, ''), 'base64');
    case 'nil':
      return null;
    default:
      throw new XmlRpcProtocolError(`unknown XML-RPC type <${type}>`);
  }
}

function parseDocument(xml: string | Buffer): XmlRpcHandler {
  const handler = new XmlRpcHandler();
  const tokenizer = new XmlTokenizer(handler);
  try {
    tokenizer.write(typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml);
    tokenizer.end();
  } catch (err) {
    if (err instanceof XmlRpcProtocolError) throw err;
    throw new XmlRpcProtocolError(`malformed XML-RPC document: ${(err as Error).message}`);
  }
  return handler;
}

export function decodeMethodResponse(xml: string | Buffer): DecodedResponse {
  const h = parseDocument(xml);
  if (h.root !== 'methodResponse') throw new XmlRpcProtocolError('not a methodResponse');
  if (h.fault !== undefined) return { kind: 'fault', fault: faultFromStruct(h.fault) };
  if (h.params.length !== 1) throw new XmlRpcProtocolError(`methodResponse with ${h.params.length} params`);
  return { kind: 'result', value: h.params[0]! };
}

export function decodeMethodCall(xml: string | Buffer): DecodedCall {
  const h = parseDocument(xml);
  if (h.root !== 'methodCall' || !h.method) throw new XmlRpcProtocolError('not a methodCall');
  return { method: h.method, params: h.params };
}

function faultFromStruct(v: XmlRpcValue, method?: string): KojiFault {
  if (!isStruct(v)) throw new XmlRpcProtocolError('fault is not a struct');
  const code = v['faultCode'];
  const text = v['faultString'];
  const faultCode = typeof code === 'bigint' ? Number(code) : code;
  if (typeof faultCode !== 'number' || typeof text !== 'string') throw new XmlRpcProtocolError('malformed fault struct');
  return new KojiFault(faultCode, text, method);
}

/** Splits Koji-style parameters into positional arguments and keyword arguments. */
export function splitKwargs(params: readonly XmlRpcValue[]): { args: XmlRpcValue[]; kwargs: XmlRpcStruct } {
  const last = params[params.length - 1];
  if (params.length > 0 && isStruct(last) && last['__starstar']) {
    const kwargs: XmlRpcStruct = { ...last };
    delete kwargs['__starstar'];
    return { args: params.slice(0, -1), kwargs };
  }
  return { args: [...params], kwargs: {} };
}

/** One call of a `system.multicall` batch. */
export interface XmlRpcCall {
  method: string;
  params?: readonly XmlRpcValue[];
  kwargs?: XmlRpcKwargs;
}

export function multicallParams(calls: readonly XmlRpcCall[]): XmlRpcValue[] {
  return [calls.map((c) => ({ methodName: c.method, params: callParams(c.params ?? [], c.kwargs) }))];
}

/** Unwraps a `system.multicall` answer: each entry is its result, or a KojiFault. */
export function multicallResults(value: XmlRpcValue, calls: readonly XmlRpcCall[]): Array<XmlRpcValue | KojiFault> {
  if (!Array.isArray(value) || value.length !== calls.length) {
    throw new XmlRpcProtocolError(`system.multicall: expected ${calls.length} results`);
  }
  return value.map((entry, i) => {
    const method = calls[i]!.method;
    if (Array.isArray(entry) && entry.length === 1) return entry[0]!;
    if (isStruct(entry) && 'faultCode' in entry) return faultFromStruct(entry, method);
    throw new XmlRpcProtocolError(`system.multicall: malformed result for ${method}`);
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP client

export interface XmlRpcClientOptions {
  /** The endpoint, e.g. `https://koji.example.com/kojihub`. */
  url: string;
  /**
   * ODCS's `net_timeout`: the overall retry window in seconds (default 120), and the limit of
   * one attempt's connect + answer and of any pause in an answer (common/http).
   */
  timeoutSeconds?: number;
  /** ODCS's `net_retry_interval`: seconds between attempts (default 30). */
  retryIntervalSeconds?: number;
  /** `net_min_rate_bytes`: the slowest average answer accepted once it has streamed for `timeoutSeconds`. */
  minRateBytes?: number;
  /** Limit of one attempt, seconds, when shorter than the window (default: `timeoutSeconds`). */
  requestTimeoutSeconds?: number;
  /** `max_slots_per_service` (common/http/service-waits); unset: no limit. */
  maxWaitingPerService?: number;
  /** Hosts requests and their redirects may reach (default: the endpoint's own host). */
  allow?: AllowList;
  /** Where details of failed attempts go (the operator's log). */
  log?: (message: string) => void;
  /** Aborts every call of this client (each call may also take its own signal). */
  signal?: AbortSignal;
  /** Extra request headers (e.g. Koji's session headers). */
  headers?: Record<string, string>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export class XmlRpcClient {
  readonly url: string;
  private readonly net: NetOptions;
  private readonly allow: AllowList;
  private readonly headers: Record<string, string>;

  constructor(readonly options: XmlRpcClientOptions) {
    this.url = options.url;
    this.net = {
      timeoutSeconds: options.timeoutSeconds ?? DEFAULT_NET_TIMEOUT,
      retryIntervalSeconds: options.retryIntervalSeconds ?? DEFAULT_NET_RETRY_INTERVAL,
      minRateBytes: options.minRateBytes,
      attemptTimeoutSeconds: options.requestTimeoutSeconds,
      maxWaitingPerService: options.maxWaitingPerService,
    };
    this.allow = options.allow ?? allowListOf('the Koji hub URL', options.url);
    this.headers = { 'Content-Type': 'text/xml', ...options.headers };
  }

  /** Calls `method`; resolves with its result, rejects with KojiFault or a transport error. */
  async call(method: string, params: readonly XmlRpcValue[] = [], kwargs?: XmlRpcKwargs, options: CallOptions = {}): Promise<XmlRpcValue> {
    const body = encodeMethodCall(method, callParams(params, kwargs));
    const response = decodeMethodResponse(await this.post(body, method, options.signal));
    if (response.kind === 'fault') throw new KojiFault(response.fault.faultCode, response.fault.faultString, method);
    return response.value;
  }

  /**
   * Runs the calls in one `system.multicall` request. Each entry of the answer is the call's
   * result or a KojiFault (a fault of one call does not fail the others).
   */
  async multicall(calls: readonly XmlRpcCall[], options: CallOptions = {}): Promise<Array<XmlRpcValue | KojiFault>> {
    if (calls.length === 0) return [];
    return multicallResults(await this.call('system.multicall', multicallParams(calls), undefined, options), calls);
  }

  /** One POST through the common HTTP layer (bounds, allow list, retries); its failures as XmlRpcTransportError. */
  private async post(body: string, method: string, callSignal?: AbortSignal): Promise<Buffer> {
    const signal = combineSignals(this.options.signal, callSignal);
    const what = `POST ${this.url} (${method})`;
    try {
      const res = await httpFetch(this.url, {
        method: 'POST',
        body,
        headers: this.headers,
        allow: this.allow,
        net: this.net,
        signal,
        log: this.options.log,
      });
      return res.body;
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      if (!(err instanceof HttpError)) throw err;
      const status = err instanceof HttpStatusError ? err.status : undefined;
      const snippet = err instanceof HttpStatusError ? err.bodyText.replace(/\s+/g, ' ').trim().slice(0, 200) : '';
      throw new XmlRpcTransportError(`${what}: ${err.message}${snippet ? `: ${snippet}` : ''}`, {
        retryable: err.transient,
        status,
        attempts: err.attempts,
        cause: err,
      });
    }
  }
}

export function combineSignals(...signals: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}

