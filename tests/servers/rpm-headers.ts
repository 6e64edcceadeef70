/**
 * Reads whole RPM headers with `rpm -qp --xml` (one process for many files), for the Koji
 * double's import and getRPMHeaders. rpm prints every tag the header holds with its values
 * typed (`<string>`, `<integer>`, `<base64>`); extension tags (filenames, nevra, …) are not in
 * the header and are computed by the caller where needed.
 */
import { XmlTokenizer, type XmlAttributes, type XmlHandler } from '../../backend/rpm/xml-stream';
import { run } from './signing';

export type RpmTagValue = string | number | Buffer;

/** Tag (lower case) -> values, in header order. */
export type RpmHeader = Map<string, RpmTagValue[]>;

/**
 * rpm tags holding a single value (python-rpm returns a scalar for these, a list for the rest).
 * `rpm --xml` does not say which tags are arrays, so the double relies on this list.
 */
export const SCALAR_TAGS = new Set([
  'name',
  'version',
  'release',
  'epoch',
  'serial',
  'summary',
  'description',
  'buildtime',
  'buildhost',
  'installtime',
  'size',
  'distribution',
  'vendor',
  'license',
  'copyright',
  'packager',
  'group',
  'url',
  'os',
  'arch',
  'prein',
  'postin',
  'preun',
  'postun',
  'pretrans',
  'posttrans',
  'verifyscript',
  'sourcerpm',
  'archivesize',
  'rpmversion',
  'cookie',
  'optflags',
  'disturl',
  'payloadformat',
  'payloadcompressor',
  'payloadflags',
  'platform',
  'sigsize',
  'sigmd5',
  'sha1header',
  'sha256header',
  'rsaheader',
  'dsaheader',
  'sigpgp',
  'siggpg',
  'sourcepackage',
  'distag',
  'distepoch',
  'encoding',
  'filedigestalgo',
  'payloaddigestalgo',
  'bugurl',
  'vcs',
  'modularitylabel',
  'longsize',
  'longarchivesize',
  'payloadsize',
  'epochnum',
  'nvra',
  'nevra',
  'nvr',
  'nevr',
  'evr',
  'headercolor',
  'sourcepkgid',
]);

class HeaderHandler implements XmlHandler {
  wantText = false;
  readonly headers: RpmHeader[] = [];
  private current: RpmHeader | null = null;
  private tag: string | null = null;
  private valueType: string | null = null;
  private buf = '';

  open(name: string, attrs: XmlAttributes): void {
    if (name === 'rpmHeader') {
      this.current = new Map();
      this.headers.push(this.current);
    } else if (name === 'rpmTag') {
      this.tag = (attrs.get('name') ?? '').toLowerCase();
      if (this.current && !this.current.has(this.tag)) this.current.set(this.tag, []);
    } else if (this.tag) {
      this.valueType = name;
      this.buf = '';
      this.wantText = true;
    }
  }

  text(t: string): void {
    this.buf += t;
  }

  close(name: string): void {
    if (name === 'rpmTag') {
      this.tag = null;
    } else if (name === 'rpmHeader') {
      this.current = null;
    } else if (this.tag && this.valueType === name && this.current) {
      this.wantText = false;
      const values = this.current.get(this.tag)!;
      if (name === 'integer') values.push(Number(this.buf.trim()));
      else if (name === 'base64') values.push(Buffer.from(this.buf.replace(/\s+/g, ''), 'base64'));
      else values.push(this.buf);
      this.valueType = null;
    }
  }
}

/** The headers of the files, in the same order. */
export async function readRpmHeaders(files: readonly string[]): Promise<RpmHeader[]> {
  if (files.length === 0) return [];
  const { stdout } = await run('rpm', ['-qp', '--nosignature', '--nodigest', '--xml', ...files]);
  const handler = new HeaderHandler();
  const tokenizer = new XmlTokenizer(handler);
  tokenizer.write(Buffer.from(stdout, 'utf8'));
  tokenizer.end();
  if (handler.headers.length !== files.length) {
    throw new Error(`rpm --xml gave ${handler.headers.length} headers for ${files.length} files`);
  }
  return handler.headers;
}

let knownTags: Promise<Set<string>> | undefined;

/** Every tag name this rpm knows (`rpm --querytags`), lower case. */
export function rpmQueryTags(): Promise<Set<string>> {
  knownTags ??= run('rpm', ['--querytags']).then(
    ({ stdout }) => new Set(stdout.split('\n').map((l) => l.trim().toLowerCase()).filter(Boolean)),
  );
  return knownTags;
}

export function headerString(h: RpmHeader, tag: string): string | null {
  const v = h.get(tag)?.[0];
  return typeof v === 'string' ? v : null;
}

export function headerNumber(h: RpmHeader, tag: string): number | null {
  const v = h.get(tag)?.[0];
  return typeof v === 'number' ? v : null;
}

/** `filenames`: dirnames[dirindexes[i]] + basenames[i]. */
export function headerFilenames(h: RpmHeader): string[] {
  const base = (h.get('basenames') ?? []) as string[];
  const dirs = (h.get('dirnames') ?? []) as string[];
  const idx = (h.get('dirindexes') ?? []) as number[];
  const old = h.get('oldfilenames');
  if (base.length === 0 && old) return old as string[];
  return base.map((b, i) => `${dirs[idx[i]!] ?? ''}${b}`);
}
