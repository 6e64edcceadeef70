/**
 * A small streaming XML tokenizer for repository metadata.
 *
 * Why not a general-purpose parser: primary.xml of a large repository is hundreds of MB, and
 * a character-by-character JavaScript parser (sax) spends ~6x longer on it than this
 * tokenizer, which finds markup with Buffer.indexOf and decodes only the attribute values and
 * text the caller asks for. It handles what repodata writers emit: elements, attributes,
 * character references and the five predefined entities, CDATA, comments, processing
 * instructions and a DOCTYPE without an internal subset. Input must be UTF-8.
 *
 * Metadata comes from outside, so what XML itself forbids is refused, never passed on: invalid
 * UTF-8, control characters, character references to NUL or to surrogates. A string holding
 * those reaches PostgreSQL (which cannot store them) or a user's terminal otherwise. Error
 * messages never quote the document: it may be any file an attacker pointed the reader at.
 */
import { isUtf8 } from 'node:buffer';

export class XmlSyntaxError extends Error {
  override name = 'XmlSyntaxError';
}

/** One token (a tag, or text the handler wants) is longer than XmlTokenizerOptions.maxTokenBytes. */
export class XmlTokenTooLongError extends XmlSyntaxError {
  override name = 'XmlTokenTooLongError';
  constructor(readonly maxBytes: number) {
    super(`an XML tag or text longer than ${maxBytes} bytes`);
  }
}

/** Attributes of the element being opened; valid only during the `open` callback. */
export class XmlAttributes {
  private buf: Buffer = Buffer.alloc(0);
  private readonly names: string[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private count = 0;

  /** @internal */
  reset(buf: Buffer): void {
    this.buf = buf;
    this.count = 0;
  }

  /** @internal */
  add(name: string, start: number, end: number): void {
    this.names[this.count] = name;
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.count++;
  }

  /** The decoded value of an attribute (by its name as written, prefix included), or undefined. */
  get(name: string): string | undefined {
    for (let i = 0; i < this.count; i++) {
      if (this.names[i] === name) return decodeRange(this.buf, this.starts[i]!, this.ends[i]!);
    }
    return undefined;
  }
}

export interface XmlTokenizerOptions {
  /**
   * Longest incomplete token (an open tag, or text the handler wants) held while waiting for
   * its end; a longer one fails. Unlimited by default (Koji's XML-RPC answers); repository
   * metadata sets it so that one endless attribute cannot take all memory.
   */
  maxTokenBytes?: number;
}

export interface XmlHandler {
  /** Element names are given without their namespace prefix (`rpm:entry` -> `entry`). */
  open(name: string, attrs: XmlAttributes, selfClosing: boolean): void;
  close(name: string): void;
  /** Receives character data only while `wantText` is true; one text node may arrive in pieces. */
  text(text: string): void;
  wantText: boolean;
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const QMARK = 0x3f;
const BANG = 0x21;
const EQ = 0x3d;
const AMP = 0x26;
const COLON = 0x3a;

const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;

/**
 * Buffer.prototype has had latin1Slice/utf8Slice (toString without its argument checks and
 * encoding lookup) since Node 0.x; they are a third faster on millions of short strings. Typed
 * here because @types/node does not declare them; toString is the fallback.
 */
interface FastSlices {
  latin1Slice?: (start: number, end: number) => string;
  utf8Slice?: (start: number, end: number) => string;
}
const proto = Buffer.prototype as unknown as FastSlices;
const latin1 = proto.latin1Slice
  ? (buf: Buffer, s: number, e: number): string => (buf as unknown as Required<FastSlices>).latin1Slice(s, e)
  : (buf: Buffer, s: number, e: number): string => buf.toString('latin1', s, e);
const utf8 = proto.utf8Slice
  ? (buf: Buffer, s: number, e: number): string => (buf as unknown as Required<FastSlices>).utf8Slice(s, e)
  : (buf: Buffer, s: number, e: number): string => buf.toString('utf8', s, e);

/**
 * Element and attribute names repeat millions of times: keep one string per name so the
 * handler's comparisons and lookups see the same (hash-cached) instance and nothing is
 * allocated. Indexed by length and two bytes; a collision just replaces the entry.
 */
class NameCache {
  private readonly entries: string[] = new Array<string>(4096).fill('');

  get(buf: Buffer, start: number, end: number): string {
    const len = end - start;
    if (len <= 0) return '';
    const slot = ((len * 131) ^ (buf[start]! * 7) ^ (buf[end - 1]! << 4) ^ buf[start + (len >> 1)]!) & 4095;
    const known = this.entries[slot]!;
    if (known.length === len) {
      let i = 0;
      while (i < len && known.charCodeAt(i) === buf[start + i]) i++;
      if (i === len) return known;
    }
    const name = latin1(buf, start, end);
    this.entries[slot] = name;
    return name;
  }
}

const CDATA_OPEN = Buffer.from('<![CDATA[');
const CDATA_CLOSE = Buffer.from(']]>');
const COMMENT_OPEN = Buffer.from('<!--');
const COMMENT_CLOSE = Buffer.from('-->');
const PI_CLOSE = Buffer.from('?>');

/** Incomplete token at the end of the buffer: wait for more input. */
const MORE = -1;

export class XmlTokenizer {
  private tail: Buffer | null = null;
  private readonly attrs = new XmlAttributes();
  private depth = 0;
  private sawRoot = false;
  private readonly names = new NameCache();

  private readonly maxTokenBytes: number;

  constructor(
    private readonly handler: XmlHandler,
    options: XmlTokenizerOptions = {},
  ) {
    this.maxTokenBytes = options.maxTokenBytes ?? Infinity;
  }

  write(chunk: Buffer): void {
    const buf = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    const pos = this.consume(buf);
    this.tail = pos < buf.length ? buf.subarray(pos) : null;
    if (this.tail && this.tail.length > this.maxTokenBytes) {
      throw new XmlTokenTooLongError(this.maxTokenBytes);
    }
  }

  /** Call after the last chunk: fails on a truncated document. */
  end(): void {
    if (this.tail && this.tail.some((b) => !isSpace(b))) throw new XmlSyntaxError('truncated XML: the document ends inside markup');
    if (!this.sawRoot || this.depth !== 0) throw new XmlSyntaxError('truncated XML: document not closed');
  }

  /** Tokenizes as much of `buf` as is complete; returns where the incomplete rest starts. */
  private consume(buf: Buffer): number {
    const len = buf.length;
    const h = this.handler;
    let pos = 0;
    while (pos < len) {
      if (buf[pos] !== LT) {
        const lt = buf.indexOf(LT, pos);
        const end = lt < 0 ? len : lt;
        if (h.wantText) {
          // A multi-byte character may be cut at the chunk end: hold text back until its end.
          if (lt < 0) return pos;
          h.text(decodeRange(buf, pos, end));
        }
        if (lt < 0) return len;
        pos = lt;
        continue;
      }
      if (pos + 1 >= len) return pos;
      const next = buf[pos + 1]!;
      let after: number;
      if (next === SLASH) after = this.closeTag(buf, pos);
      else if (next === QMARK) after = skipPast(buf, pos + 2, PI_CLOSE);
      else if (next === BANG) after = this.markupDeclaration(buf, pos);
      else after = this.openTag(buf, pos);
      if (after === MORE) return pos;
      pos = after;
    }
    return pos;
  }

  private markupDeclaration(buf: Buffer, pos: number): number {
    if (startsWithAt(buf, pos, COMMENT_OPEN)) return skipPast(buf, pos + COMMENT_OPEN.length, COMMENT_CLOSE);
    if (startsWithAt(buf, pos, CDATA_OPEN)) {
      const close = buf.indexOf(CDATA_CLOSE, pos + CDATA_OPEN.length);
      if (close < 0) return MORE;
      if (this.handler.wantText) this.handler.text(decodeRaw(buf, pos + CDATA_OPEN.length, close));
      return close + CDATA_CLOSE.length;
    }
    // Could still become "<!--" or "<![CDATA[" once more bytes arrive.
    if (buf.length - pos < CDATA_OPEN.length) return MORE;
    const gt = buf.indexOf(GT, pos);
    if (gt < 0) return MORE;
    if (buf.subarray(pos, gt).includes(0x5b)) throw new XmlSyntaxError('DOCTYPE internal subsets are not supported');
    return gt + 1;
  }

  private closeTag(buf: Buffer, pos: number): number {
    const gt = buf.indexOf(GT, pos + 2);
    if (gt < 0) return MORE;
    let end = gt;
    while (end > pos + 2 && isSpace(buf[end - 1]!)) end--;
    this.depth--;
    this.handler.close(this.localName(buf, pos + 2, end));
    return gt + 1;
  }

  private openTag(buf: Buffer, pos: number): number {
    const len = buf.length;
    let i = pos + 1;
    while (i < len) {
      const b = buf[i]!;
      if (isSpace(b) || b === GT || b === SLASH) break;
      i++;
    }
    if (i >= len) return MORE;
    const name = this.localName(buf, pos + 1, i);
    const attrs = this.attrs;
    attrs.reset(buf);
    for (;;) {
      while (i < len && isSpace(buf[i]!)) i++;
      if (i >= len) return MORE;
      const b = buf[i]!;
      if (b === GT) {
        this.opened(name, false);
        return i + 1;
      }
      if (b === SLASH) {
        if (i + 1 >= len) return MORE;
        if (buf[i + 1] !== GT) throw new XmlSyntaxError('expected "/>"');
        this.opened(name, true);
        return i + 2;
      }
      const nameStart = i;
      while (i < len && buf[i] !== EQ && !isSpace(buf[i]!) && buf[i] !== GT) i++;
      const nameEnd = i;
      while (i < len && isSpace(buf[i]!)) i++;
      if (i >= len) return MORE;
      if (buf[i] !== EQ) throw new XmlSyntaxError('attribute without a value');
      i++;
      while (i < len && isSpace(buf[i]!)) i++;
      if (i >= len) return MORE;
      const quote = buf[i]!;
      if (quote !== 0x22 && quote !== 0x27) throw new XmlSyntaxError('unquoted attribute value');
      const close = buf.indexOf(quote, i + 1);
      if (close < 0) return MORE;
      attrs.add(this.names.get(buf, nameStart, nameEnd), i + 1, close);
      i = close + 1;
    }
  }

  private localName(buf: Buffer, start: number, end: number): string {
    let from = start;
    for (let i = start; i < end; i++) if (buf[i] === COLON) from = i + 1;
    return this.names.get(buf, from, end);
  }

  private opened(name: string, selfClosing: boolean): void {
    this.sawRoot = true;
    this.handler.open(name, this.attrs, selfClosing);
    if (selfClosing) this.handler.close(name);
    else this.depth++;
  }
}

function startsWithAt(buf: Buffer, pos: number, prefix: Buffer): boolean {
  if (buf.length - pos < prefix.length) return false;
  return buf.compare(prefix, 0, prefix.length, pos, pos + prefix.length) === 0;
}

function skipPast(buf: Buffer, from: number, marker: Buffer): number {
  const at = buf.indexOf(marker, from);
  return at < 0 ? MORE : at + marker.length;
}

/** Attribute value or text: checked (see the file comment), then entities decoded. */
function decodeRange(buf: Buffer, start: number, end: number): string {
  const amp = checkRange(buf, start, end);
  const s = utf8(buf, start, end);
  return amp ? decodeEntities(s) : s;
}

/** CDATA content: checked like any text, but taken literally. */
function decodeRaw(buf: Buffer, start: number, end: number): string {
  checkRange(buf, start, end);
  return utf8(buf, start, end);
}

/** Fails on control characters and invalid UTF-8; says whether there is an `&` to decode. */
function checkRange(buf: Buffer, start: number, end: number): boolean {
  let amp = false;
  let high = false;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b < 0x20) {
      if (b !== 0x09 && b !== 0x0a && b !== 0x0d) throw new XmlSyntaxError('a control character, which XML does not allow');
    } else if (b === AMP) amp = true;
    else if (b >= 0x80) high = true;
  }
  if (high && !isUtf8(buf.subarray(start, end))) throw new XmlSyntaxError('bytes that are not valid UTF-8');
  return amp;
}

const ENTITY = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|quot|apos));/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  return s.replace(ENTITY, (_m, hex: string | undefined, dec: string | undefined, named: string | undefined) => {
    if (named) return NAMED[named]!;
    const code = hex ? parseInt(hex, 16) : parseInt(dec!, 10);
    if (!isXmlChar(code)) throw new XmlSyntaxError('a character reference to a character XML does not allow (NUL, a control character or a surrogate)');
    return String.fromCodePoint(code);
  });
}

/** XML 1.0's Char production: what a character reference may name. */
function isXmlChar(code: number): boolean {
  if (code < 0x20) return code === 0x09 || code === 0x0a || code === 0x0d;
  return (code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}
