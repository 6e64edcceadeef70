/**
 * Requested package patterns as Pungi reads them: a name or an fnmatch glob (`*`, `?`, `[…]`,
 * `[!…]`), optionally followed by `.<arch>` when the part after the first dot is a known arch.
 */

export interface NamePattern {
  text: string;
  /** Exact name, when the pattern has no glob characters. */
  exact?: string;
  regex?: RegExp;
  arch?: string;
}

const KNOWN_ARCHES = new Set(
  (
    'noarch src nosrc x86_64 amd64 ia32e athlon i686 i586 i486 i386 aarch64 ppc64le ppc64 ppc64p7 ppc ' +
    's390x s390 armv7hnl armv7hl armv6hl riscv64'
  ).split(' '),
);

export function parseNamePattern(text: string): NamePattern {
  let name = text;
  let arch: string | undefined;
  const dot = text.indexOf('.');
  if (dot > 0 && KNOWN_ARCHES.has(text.slice(dot + 1))) {
    name = text.slice(0, dot);
    arch = text.slice(dot + 1);
  }
  const pattern: NamePattern = { text };
  if (arch) pattern.arch = arch;
  if (/[*?[]/.test(name)) pattern.regex = globToRegExp(name);
  else pattern.exact = name;
  return pattern;
}

export function matchesName(pattern: NamePattern, name: string): boolean {
  return pattern.exact !== undefined ? pattern.exact === name : pattern.regex!.test(name);
}

/** fnmatch(3) without flags: case-sensitive, `*` also matches `/`. */
export function globToRegExp(glob: string): RegExp {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + (glob[i + 1] === '!' ? 3 : 2));
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else out += c.replace(/[.+^${}()|\\/]/g, (m) => `\\${m}`);
  }
  return new RegExp(`${out}$`);
}
