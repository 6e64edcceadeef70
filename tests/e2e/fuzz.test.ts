import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isKnownArch } from '../../common/arches';
import { Database } from '../../common/db/database';
import { SOURCE_TYPES, STATES } from '../../common/enums';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { AMQP_URL } from '../support/env';
import { type HostileCase, type HostileContext, hostileCase } from '../support/hostile-bodies';
import { eventually } from '../support/listener';
import { buildDist } from '../support/processes';
import { type Answer, exchange, odcsErrorProblem, postJson, ProcessStack } from '../support/process-stack';

/**
 * Crash safety (issue 4): 10,000 generated hostile bodies (wrong types, huge strings, deep
 * nesting, path traversal, URLs to other hosts, shell metacharacters, Unicode, broken JSON and
 * UTF-8) sent to POST and PATCH of the real odcs-frontend process. None may get a 5xx; every
 * 4xx is ODCS's JSON error; the composes table grows by exactly the composes the 200 answers
 * name; the service is healthy afterwards. The cases come from a seeded PRNG
 * (tests/support/hostile-bodies.ts): a failure names its seed and case number to replay it
 * (ODCS_FUZZ_SEED picks another seed).
 */

const SEED = Number(process.env.ODCS_FUZZ_SEED ?? 0x0dc5f022);
const BODIES = 10000;
const CONCURRENCY = 8;

let fixtures: FixtureRepos;
let db: TestDatabase;
let conn: Database;
let stack: ProcessStack;
let privateDir: string;
let ctx: HostileContext;

beforeAll(async () => {
  buildDist();
  fixtures = await buildFixtureRepos();
  db = await createTestDatabase();
  conn = await Database.connect({ url: db.url, poolSize: 2 });
  privateDir = mkdtempSync(path.join(tmpdir(), 'odcs-fuzz-private-'));
  stack = await ProcessStack.start({
    databaseUrl: db.url,
    amqpUrl: AMQP_URL,
    roles: ['frontend', 'backend'],
    repoRoots: [fixtures.dir],
    env: {
      // Every source type and every kind of location a request may name, so that hostile values
      // reach every check there is.
      ODCS_ALLOWED_SOURCE_TYPES: 'tag module build repo pulp raw_config',
      ODCS_ALLOWED_REPO_HOSTS: 'mirror.example.org',
      ODCS_EXTRA_TARGET_DIRS: JSON.stringify({ 'releng-private': privateDir }),
      ODCS_RAW_CONFIG_URLS: JSON.stringify({ pungi_cfg: { url: 'https://pagure.io/pungi-fedora.git', config_filename: 'odcs.conf' } }),
    },
  });

  // Composes for PATCH to renew: two done, one failed; built for real, then the backend stops
  // so that what the fuzz run creates stays a row and costs no compose.
  const requests = [
    { source: { type: 'repo', source: fixtures.main, packages: ['app'] }, lookaside_repos: [fixtures.lookaside] },
    { source: { type: 'repo', source: fixtures.main, packages: ['toolx'] }, lookaside_repos: [fixtures.lookaside], label: 'Beta-1' },
    { source: { type: 'repo', source: fixtures.main, packages: ['no-such-package'] } },
  ];
  const ids: number[] = [];
  for (const body of requests) {
    const a = await postJson(`${stack.api}/api/1/composes/`, body);
    expect(a.status).toBe(200);
    ids.push((a.body as { id: number }).id);
  }
  const states = await eventually(
    async () => {
      const rows = await conn.query<{ state: number }>(`SELECT state FROM composes WHERE id = ANY($1::int[]) ORDER BY id`, [ids]);
      return rows.every((r) => r.state === STATES.done || r.state === STATES.failed) ? rows.map((r) => r.state) : undefined;
    },
    60000,
    'the composes to renew to finish',
  );
  expect(states).toEqual([STATES.done, STATES.done, STATES.failed]);
  await stack.halt('backend');
  ctx = {
    repo: fixtures.main,
    lookaside: fixtures.lookaside,
    renewable: ids,
    rawConfigName: 'pungi_cfg',
    extraTargetDir: 'releng-private',
    allowedHost: 'mirror.example.org',
  };
}, 240000);

afterAll(async () => {
  await stack?.stop();
  await conn?.close();
  await db?.drop();
  if (privateDir) rmSync(privateDir, { recursive: true, force: true });
});

/** Request headers carrying who is asking; none under noauth. */
type Identity = (n: number) => Record<string, string>;

function send(c: HostileCase, api: string, identity: Identity): Promise<Answer> {
  return exchange(`${api}${c.path}`, { method: c.method, headers: { ...(c.contentType ? { 'Content-Type': c.contentType } : {}), ...identity(c.n) }, body: c.body });
}

const excerpt = (b: string | Buffer): string => (typeof b === 'string' ? b : b.toString('latin1')).slice(0, 160);

it(`answers ${BODIES} hostile POST and PATCH bodies without a 5xx, creating rows only for the accepted ones`, async () => {
  await fuzz(() => ({}));
}, 600000);

/**
 * The same with authentication on (issue 11): auth_backend ssl behind a trusted TLS proxy, whose
 * verified-DN headers name an admin, a user with narrow rules, or nobody, in turns. Then a
 * hostile body also meets the role and attribute checks, 401s and 403s; none may be a 5xx.
 */
const ADMIN_DN = 'CN=fuzz-admin,O=Example,C=US';
const NARROW_DN = 'CN=fuzz-dev,O=Example,C=US';
const SSL_HEADERS = { dn: 'X-SSL-Client-S-DN', verify: 'X-SSL-Client-Verify' };
const byTurns: Identity = (n) => {
  if (n % 3 === 2) return {};
  return { [SSL_HEADERS.dn]: n % 3 === 0 ? ADMIN_DN : NARROW_DN, [SSL_HEADERS.verify]: 'SUCCESS' };
};

it(`answers ${BODIES} hostile bodies with auth_backend ssl (an admin, a narrow user, no credentials) without a 5xx`, async () => {
  await stack.halt('frontend');
  Object.assign(stack.env, {
    ODCS_AUTH_BACKEND: 'ssl',
    ODCS_AUTH_SSL_DN_HEADER: SSL_HEADERS.dn,
    ODCS_AUTH_SSL_VERIFY_HEADER: SSL_HEADERS.verify,
    ODCS_TRUSTED_PROXIES: '127.0.0.1',
    ODCS_ALLOWED_CLIENTS: JSON.stringify({ users: { [ADMIN_DN]: {}, [NARROW_DN]: { source_types: ['repo'], arches: ['x86_64'] } }, groups: {} }),
    ODCS_ADMINS: JSON.stringify({ users: [ADMIN_DN], groups: [] }),
  });
  await stack.run('frontend');
  const answers = await fuzz(byTurns);
  // Each identity met the API: the admin and the narrow user were accepted, nobody was refused.
  expect(answers.get('POST 200')).toBeGreaterThan(0);
  expect(answers.get('POST 401')).toBeGreaterThan(0);
  expect(answers.get('POST 403')).toBeGreaterThan(0);
  const users = await conn.query<{ username: string }>('SELECT username FROM users ORDER BY username');
  expect(users.map((u) => u.username)).toEqual([ADMIN_DN, NARROW_DN]);
}, 600000);

/** Sends BODIES hostile bodies as `identity`, checks every answer; returns the count of each `<method> <status>`. */
async function fuzz(identity: Identity): Promise<Map<string, number>> {
  const [{ before }] = await conn.query<{ before: number }>(`SELECT coalesce(max(id), 0)::int AS before FROM composes`);
  const failures: Array<Record<string, unknown>> = [];
  const statuses = new Map<string, number>();
  const kinds = new Map<string, number>();
  const families = new Map<string, number>();
  const created = new Set<number>();
  let accepted = 0;
  let next = 0;
  const started = Date.now();

  const runOne = async (c: HostileCase): Promise<void> => {
    kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
    for (const f of c.families) families.set(f, (families.get(f) ?? 0) + 1);
    let a: Answer;
    try {
      a = await send(c, stack.api, identity);
    } catch (err) {
      failures.push({ n: c.n, method: c.method, path: c.path, kind: c.kind, body: excerpt(c.body), error: (err as Error).message });
      return;
    }
    const key = `${c.method} ${a.status}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const fail = (problem: string): void => {
      failures.push({ n: c.n, method: c.method, path: c.path, kind: c.kind, body: excerpt(c.body), status: a.status, problem, answer: a.text.slice(0, 300) });
    };
    if (a.status === 200) {
      const id = (a.body as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'number') return fail('200 without a compose id');
      accepted += 1;
      if (id > before) created.add(id);
    } else if (a.status >= 400 && a.status < 500) {
      const problem = odcsErrorProblem(a);
      if (problem) fail(`not ODCS's error shape: ${problem}`);
    } else {
      fail('neither 200 nor 4xx');
    }
  };

  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < BODIES) await runOne(hostileCase(SEED, next++, ctx));
    }),
  );
  const seconds = (Date.now() - started) / 1000;

  expect({ seed: SEED, failures: failures.length, first: failures.slice(0, 10) }).toEqual({ seed: SEED, failures: 0, first: [] });

  // No row but those of the accepted requests: the table grew by exactly the composes they name.
  const rows = await conn.query<{
    id: number;
    source_type: number;
    source: string;
    lookaside_repos: string[];
    target_dir: string | null;
    arches: string[];
    multilib_arches: string[];
  }>(
    `SELECT id, source_type, source, lookaside_repos, target_dir, arches, multilib_arches FROM composes WHERE id > $1 ORDER BY id`,
    [before],
  );
  expect(rows.map((r) => r.id)).toEqual([...created].sort((a, b) => a - b));
  // And what was accepted points nowhere it may not: repositories under the allowed root or on
  // the allowed host, the default or the configured extra target dir; arches that are rpm's.
  const allowedLocation = (l: string): boolean =>
    /^https?:\/\//i.test(l) ? new URL(l).host === 'mirror.example.org' : path.resolve(l.replace(/^file:\/\//i, '')).startsWith(`${fixtures.dir}/`);
  const stray = rows.filter(
    (r) =>
      (r.source_type === SOURCE_TYPES.repo && !r.source.split(' ').every(allowedLocation)) ||
      !r.lookaside_repos.every((l) => allowedLocation(l.split('$basearch').join('x86_64'))) ||
      (r.target_dir !== null && r.target_dir !== privateDir) ||
      ![...r.arches, ...r.multilib_arches].every(isKnownArch),
  );
  expect(stray).toEqual([]);

  // Still healthy: the process is up, answers, and still creates composes.
  expect(stack.crashed()).toEqual([]);
  const about = await exchange(`${stack.api}/api/1/about/`);
  expect(about.status).toBe(200);
  const valid = await exchange(`${stack.api}/api/1/composes/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...identity(0) },
    body: JSON.stringify({ source: { type: 'repo', source: fixtures.main, packages: ['app'] } }),
  });
  expect(valid.status).toBe(200);
  const unhandled = (stack.procs.get('frontend')?.output ?? '').split('\n').filter((l) => l.includes('"level":50') || l.includes('"level":60'));
  expect(unhandled).toEqual([]);

  const figures = {
    seed: SEED,
    bodiesTried: BODIES,
    posts: [...statuses].filter(([k]) => k.startsWith('POST')).reduce((n, [, v]) => n + v, 0),
    patches: [...statuses].filter(([k]) => k.startsWith('PATCH')).reduce((n, [, v]) => n + v, 0),
    answers: Object.fromEntries([...statuses].sort()),
    accepted,
    rowsCreated: rows.length,
    fiveHundreds: 0,
    seconds: Number(seconds.toFixed(1)),
    bodiesWith: Object.fromEntries([...families].sort((a, b) => b[1] - a[1])),
    mutations: Object.fromEntries([...kinds].sort((a, b) => b[1] - a[1])),
  };
  console.log(`fuzz figures: ${JSON.stringify(figures)}`);
  return statuses;
}
