/**
 * Python's repr() of a decoded JSON value. Some ODCS messages quote the request body as Python
 * printed it (reference Appendix A), and clients match on those messages.
 */
export function pyRepr(value: unknown): string {
  return repr(value, 0);
}

/**
 * Containers nested deeper than this print as `[...]` / `{...}`. A request can nest as deep as
 * JSON.parse allows (hundreds of thousands of levels), which would overflow the stack here;
 * CPython's repr() would fail too (RecursionError, a 500 in ODCS). No message needs more.
 */
export const MAX_REPR_DEPTH = 32;

function repr(value: unknown, depth: number): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return pyNumber(value);
  if (typeof value === 'string') return pyString(value);
  if (Array.isArray(value)) return depth >= MAX_REPR_DEPTH ? '[...]' : `[${value.map((v) => repr(v, depth + 1)).join(', ')}]`;
  if (typeof value === 'object') {
    if (depth >= MAX_REPR_DEPTH) return '{...}';
    const items = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pyString(k)}: ${repr(v, depth + 1)}`);
    return `{${items.join(', ')}}`;
  }
  return String(value);
}

function pyNumber(n: number): string {
  // A JSON number without fraction is a Python int (printed in full); JSON.parse cannot tell us
  // whether the text was `1e16` (a Python float), so integral values are taken as ints.
  if (Number.isInteger(n)) return BigInt(n).toString();
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : n < 0 ? '-inf' : 'nan';
  // Both languages print the shortest digits that round-trip; they differ in when they switch
  // to exponent notation (CPython: exponent < -4 or >= 16) and in how they write the exponent
  // (CPython always signs it and pads it to two digits).
  const [mantissa, exp] = n.toExponential().split('e');
  const e = Number(exp);
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return String(n);
}

/** What CPython's str.isprintable() rejects: Unicode "Other" and "Separator" except the space. */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function pyString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      if (code < 0x100) out += `\\x${code.toString(16).padStart(2, '0')}`;
      else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, '0')}`;
      else out += `\\U${code.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}
