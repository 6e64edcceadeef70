import request from 'supertest';
import { SOURCE_TYPES, STATES, sourceTypeName, stateName } from '../../common/enums';
import { VERSION } from '../../common/version';
import { createApp } from '../../frontend/app';
import { startTestStack, type TestStack } from '../support/stack';
import { newCompose } from '../support/composes';
import { prng } from '../support/prng';

/**
 * GET /api/1/composes/ (reference §1.3): every filter, every order_by key, pagination and its
 * absolute links, on a few hundred composes; GET of one compose (§1.4); GET /api/1/about/ (§1.8)
 * and /api/1/metrics/ (§1.9, §10.2). The expected answers are computed from the rows read back
 * with a plain SELECT.
 */

const TOTAL = 300;
const POSTED = 36;
const HOST = 'odcs.localhost';


const OWNERS = ['alice', 'bob', 'carol', 'dave'];
const SOURCES = ['f30-build', 'f31-build', 'f30-build f30-override', 'rawhide'];
const LABELS = [null, 'Alpha-1.0', 'Beta-1.0'];
const COMPOSE_TYPES = ['test', 'nightly', 'production'];
const TYPES = ['tag', 'module', 'build', 'pulp'] as const;


/** The columns the list filters and sorts on, as stored. */
interface Row {
  id: number;
  owner: string;
  source_type: number;
  source: string;
  state: number;
  koji_task_id: number | null;
  pungi_compose_id: string | null;
  compose_type: string | null;
  label: string | null;
  koji_event: number | null;
  time_to_expire: Date;
  time_submitted: Date;
  time_done: Date | null;
  time_removed: Date | null;
}

type SortKey = 'id' | 'owner' | 'source_type' | 'koji_event' | 'state' | 'time_to_expire' | 'time_submitted' | 'time_done' | 'time_removed';

/** PostgreSQL's order: NULL sorts above every value; ties are broken by id in the same direction. */
function sorted(rows: Row[], key: SortKey, descending: boolean): number[] {
  const value = (r: Row): number | string | null => {
    const v = r[key];
    return v instanceof Date ? v.getTime() : v;
  };
  return [...rows]
    .sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      let c = va === null && vb === null ? 0 : va === null ? 1 : vb === null ? -1 : va < vb ? -1 : va > vb ? 1 : 0;
      if (c === 0) c = a.id - b.id;
      return descending ? -c : c;
    })
    .map((r) => r.id);
}

const byIdDesc = (rows: Row[]): number[] => sorted(rows, 'id', true);

describe('listing composes', () => {
  let t: TestStack;
  let rows: Row[];
  const get = (path: string) => request(t.app).get(path).set('Host', HOST);
  /** Every matching id, in the listed order. */
  const ids = async (query: string): Promise<number[]> => {
    const res = await get(`/api/1/composes/?per_page=1000&${query}`);
    expect(res.status).toBe(200);
    expect(res.body.meta.total).toBe(res.body.items.length);
    return res.body.items.map((i: { id: number }) => i.id);
  };

  beforeAll(async () => {
    // supertest connects from the loopback address: trusted here so that the reverse-proxy
    // headers count (tests/integration/api-hardening.test.ts covers an untrusted peer).
    t = await startTestStack({ config: { trusted_proxies: ['127.0.0.1', '::1'] } });
    const random = prng(20240101);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];

    // Some through the API...
    for (let i = 0; i < POSTED; i++) {
      const type = TYPES[i % TYPES.length];
      const source = type === 'module' ? { type, source: 'testmodule:master' } : type === 'build' ? { type, builds: ['bash-1-1'] } : { type, source: pick(SOURCES) };
      const label = pick(LABELS);
      const res = await request(t.app)
        .post('/api/1/composes/')
        .send({ source, compose_type: pick(COMPOSE_TYPES), ...(label ? { label } : {}), seconds_to_live: 3600 + i });
      expect(res.status).toBe(200);
    }
    // ...and the rest straight into the store, with submission times spread over a month.
    const base = Date.parse('2024-01-01T00:00:00Z');
    for (let i = POSTED; i < TOTAL; i++) {
      const type = pick(TYPES);
      await t.s.store.create(
        newCompose({
          owner: pick(OWNERS),
          source_type: SOURCE_TYPES[type],
          source: type === 'module' ? 'testmodule:master' : type === 'build' ? '' : pick(SOURCES),
          label: pick(LABELS),
          compose_type: pick(COMPOSE_TYPES),
          koji_event: random() < 0.3 ? null : 1000 + Math.floor(random() * 20),
          seconds_to_live: 60 * Math.floor(1 + random() * 4000),
        }),
        new Date(base + Math.floor(random() * 30 * 86400) * 1000),
      );
    }
    // The API ones get owners too.
    const all = await t.s.db.query<{ id: number }>('SELECT id FROM composes ORDER BY id');
    expect(all).toHaveLength(TOTAL);
    for (const { id } of all.slice(0, POSTED)) await t.s.db.query('UPDATE composes SET owner = $2 WHERE id = $1', [id, pick(OWNERS)]);

    // States, along the legal transitions, with times of their own.
    for (const { id } of all) {
      const r = random();
      const at = (offset: number): Date => new Date(base + 40 * 86400 * 1000 + Math.floor(random() * offset) * 1000);
      if (r < 0.15) continue; // wait
      if (r < 0.25) {
        await t.s.db.query('UPDATE composes SET state = 4, state_reason = $2 WHERE id = $1', [id, 'Canceled by alice']);
        continue;
      }
      await t.s.db.query('UPDATE composes SET state = 1, time_started = $2, koji_task_id = $3 WHERE id = $1', [
        id,
        at(1000),
        random() < 0.5 ? 7000 + (id % 5) : null,
      ]);
      if (r < 0.4) continue; // generating
      await t.s.db.query('UPDATE composes SET state = 2, time_done = $2, pungi_compose_id = $3 WHERE id = $1', [
        id,
        at(86400),
        `odcs-${id}-1-20240210.t.0`,
      ]);
      if (r < 0.8) continue; // done
      await t.s.db.query('UPDATE composes SET state = 3, time_removed = $2 WHERE id = $1', [id, at(10 * 86400)]);
    }
    rows = await t.s.db.query<Row>(
      `SELECT id, owner, source_type, source, state, koji_task_id, pungi_compose_id, compose_type, label, koji_event,
              time_to_expire, time_submitted, time_done, time_removed FROM composes`,
    );
    // The data set covers what the tests below need.
    for (const s of [0, 1, 2, 3, 4]) expect(rows.filter((r) => r.state === s).length).toBeGreaterThan(5);
    expect(rows.filter((r) => r.koji_event === null).length).toBeGreaterThan(5);
  });

  afterAll(async () => {
    await t.close();
  });

  describe('defaults', () => {
    it('lists ten composes, newest first, with the meta of reference §1.3', async () => {
      const res = await get('/api/1/composes/');
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      const expected = byIdDesc(rows);
      expect(res.body.items.map((i: { id: number }) => i.id)).toEqual(expected.slice(0, 10));
      expect(res.body.meta).toEqual({
        first: `http://${HOST}/api/1/composes/?per_page=10&page=1`,
        last: `http://${HOST}/api/1/composes/?per_page=10&page=30`,
        next: `http://${HOST}/api/1/composes/?per_page=10&page=2`,
        prev: null,
        page: 1,
        pages: 30,
        per_page: 10,
        total: TOTAL,
      });
    });

    it('shows each item as GET of the compose shows it, without pungi_config_dump', async () => {
      const [{ id: withDump }] = await t.s.db.query<{ id: number }>(`SELECT id FROM composes ORDER BY id DESC LIMIT 1`);
      await t.s.db.query(`UPDATE composes SET pungi_config_dump = 'release_name = "x"' WHERE id = $1`, [withDump]);
      try {
        const res = await get('/api/1/composes/?per_page=25&page=3');
        expect(res.body.items).toHaveLength(25);
        for (const item of res.body.items) {
          const one = await get(`/api/1/composes/${item.id}`);
          expect(one.status).toBe(200);
          expect(one.headers['access-control-allow-origin']).toBe('*');
          expect(one.body).toEqual({ ...item, pungi_config_dump: null });
        }
        const first = await get('/api/1/composes/?per_page=1');
        expect(first.body.items[0].id).toBe(withDump);
        expect(first.body.items[0]).not.toHaveProperty('pungi_config_dump');
        expect((await get(`/api/1/composes/${withDump}`)).body.pungi_config_dump).toBe('release_name = "x"');
      } finally {
        await t.s.db.query(`UPDATE composes SET pungi_config_dump = NULL WHERE id = $1`, [withDump]);
      }
    });

    it('answers 404 for a compose that does not exist', async () => {
      for (const id of ['999999', '0', '2147483648', '99999999999999999999']) {
        const res = await get(`/api/1/composes/${id}`);
        expect([id, res.status, res.body]).toEqual([id, 404, { status: 404, error: 'Not Found', message: 'No such compose found.' }]);
      }
    });
  });

  describe('filters', () => {
    const cases: Array<[string, string, (r: Row) => boolean]> = [
      ['owner', 'owner=alice', (r) => r.owner === 'alice'],
      ['owner', 'owner=dave', (r) => r.owner === 'dave'],
      ['owner (nobody)', 'owner=nobody', () => false],
      ['source_type number', 'source_type=1', (r) => r.source_type === 1],
      ['source_type number', 'source_type=6', (r) => r.source_type === 6],
      ['source_type name', 'source_type=module', (r) => r.source_type === 2],
      ['source_type unused', 'source_type=5', () => false],
      ['source_type unknown number', 'source_type=99', () => false],
      ['source', 'source=f31-build', (r) => r.source === 'f31-build'],
      ['source with a space', 'source=f30-build%20f30-override', (r) => r.source === 'f30-build f30-override'],
      ['source is matched whole', 'source=f30-build', (r) => r.source === 'f30-build'],
      ['state number', 'state=0', (r) => r.state === 0],
      ['state number', 'state=1', (r) => r.state === 1],
      ['state number', 'state=2', (r) => r.state === 2],
      ['state number', 'state=3', (r) => r.state === 3],
      ['state number', 'state=4', (r) => r.state === 4],
      ['state name', 'state=done', (r) => r.state === 2],
      ['state name', 'state=failed', (r) => r.state === 4],
      ['koji_task_id', 'koji_task_id=7003', (r) => r.koji_task_id === 7003],
      ['koji_task_id (none)', 'koji_task_id=1', () => false],
      ['pungi_compose_id', `pungi_compose_id=odcs-PICK-1-20240210.t.0`, (r) => r.pungi_compose_id === 'odcs-PICK-1-20240210.t.0'],
      ['compose_type', 'compose_type=nightly', (r) => r.compose_type === 'nightly'],
      ['compose_type', 'compose_type=production', (r) => r.compose_type === 'production'],
      ['label', 'label=Beta-1.0', (r) => r.label === 'Beta-1.0'],
      ['several at once', 'owner=alice&state=2&source_type=1', (r) => r.owner === 'alice' && r.state === 2 && r.source_type === 1],
      ['several at once', 'compose_type=test&label=Alpha-1.0&source=rawhide', (r) => r.compose_type === 'test' && r.label === 'Alpha-1.0' && r.source === 'rawhide'],
      ['empty values are no filter', 'owner=&state=&source_type=&label=&koji_task_id=', () => true],
      ['unknown parameters are ignored', 'foo=bar&id=1', () => true],
    ];

    it.each(cases)('%s: %s', async (_name, query, predicate) => {
      let q = query;
      let p = predicate;
      if (q.includes('PICK')) {
        // A pungi_compose_id that exists.
        const done = rows.find((r) => r.pungi_compose_id !== null)!;
        q = q.replace('PICK', String(done.id));
        p = (r) => r.id === done.id;
      }
      const expected = byIdDesc(rows.filter(p));
      if (!['owner (nobody)', 'source_type unused', 'source_type unknown number', 'koji_task_id (none)'].includes(_name)) {
        expect(expected.length).toBeGreaterThan(0);
      }
      expect(await ids(q)).toEqual(expected);
    });

    it('refuses a state or source_type that is neither a number nor a name', async () => {
      for (const [query, message] of [
        ['state=x', 'Unknown state "x"'],
        ['state=Done', 'Unknown state "Done"'],
        ['state=-1', 'Unknown state "-1"'],
        ['source_type=x', 'Unknown source_type "x"'],
        ['source_type=Tag', 'Unknown source_type "Tag"'],
        ['koji_task_id=abc', 'Invalid koji_task_id "abc"'],
      ]) {
        const res = await get(`/api/1/composes/?${query}`);
        expect([query, res.status, res.body]).toEqual([query, 400, { status: 400, error: 'Bad Request', message }]);
      }
    });
  });

  describe('order_by', () => {
    const keys: Array<[string, SortKey]> = [
      ['id', 'id'],
      ['owner', 'owner'],
      ['source_type', 'source_type'],
      ['source_Type', 'source_type'],
      ['koji_event', 'koji_event'],
      ['state', 'state'],
      ['time_to_expire', 'time_to_expire'],
      ['time_submitted', 'time_submitted'],
      ['time_done', 'time_done'],
      ['time_removed', 'time_removed'],
    ];

    it.each(keys)('orders by %s, ascending and descending', async (param, key) => {
      expect(await ids(`order_by=${param}`)).toEqual(sorted(rows, key, false));
      expect(await ids(`order_by=-${param}`)).toEqual(sorted(rows, key, true));
    });

    it('orders by -id by default', async () => {
      expect(await ids('')).toEqual(byIdDesc(rows));
      expect(await ids('order_by=')).toEqual(byIdDesc(rows));
    });

    it('orders within a filter and across pages', async () => {
      const expected = sorted(
        rows.filter((r) => r.state === 2),
        'time_done',
        false,
      );
      const seen: number[] = [];
      for (let page = 1; ; page++) {
        const res = await get(`/api/1/composes/?state=2&order_by=time_done&per_page=7&page=${page}`);
        seen.push(...res.body.items.map((i: { id: number }) => i.id));
        if (!res.body.meta.next) break;
      }
      expect(seen).toEqual(expected);
    });

    it.each(['source', 'ID', '-', '--id', 'id-', 'time_started', 'label'])('refuses order_by=%s', async (key) => {
      const res = await get(`/api/1/composes/?order_by=${encodeURIComponent(key)}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        status: 400,
        error: 'Bad Request',
        message:
          "An invalid order_by key was suplied, allowed keys are: ['id', 'owner', 'source_type', 'koji_event', 'state', 'time_to_expire', 'time_submitted', 'time_done', 'time_removed']",
      });
    });
  });

  describe('pagination', () => {
    const link = (query: string) => `http://${HOST}/api/1/composes/?${query}`;

    it('walks every page with consistent links', async () => {
      const expected = byIdDesc(rows);
      const perPage = 37;
      const pages = Math.ceil(TOTAL / perPage);
      const seen: number[] = [];
      let url: string | null = `/api/1/composes/?per_page=${perPage}`;
      for (let page = 1; url; page++) {
        const res = await get(url);
        expect(res.body.meta).toEqual({
          first: link(`per_page=${perPage}&page=1`),
          last: link(`per_page=${perPage}&page=${pages}`),
          next: page < pages ? link(`per_page=${perPage}&page=${page + 1}`) : null,
          prev: page > 1 ? link(`per_page=${perPage}&page=${page - 1}`) : null,
          page,
          pages,
          per_page: perPage,
          total: TOTAL,
        });
        seen.push(...res.body.items.map((i: { id: number }) => i.id));
        url = res.body.meta.next ? new URL(res.body.meta.next).pathname + new URL(res.body.meta.next).search : null;
      }
      expect(seen).toEqual(expected);
    });

    it('answers a page past the end with no items', async () => {
      const res = await get('/api/1/composes/?page=1000');
      expect(res.body.items).toEqual([]);
      expect(res.body.meta).toEqual({
        first: link('per_page=10&page=1'),
        last: link('per_page=10&page=30'),
        next: null,
        prev: link('per_page=10&page=999'),
        page: 1000,
        pages: 30,
        per_page: 10,
        total: TOTAL,
      });
      const last = await get('/api/1/composes/?page=30');
      expect(last.body.items).toHaveLength(10);
      expect(last.body.meta.next).toBeNull();
    });

    it.each(['0', '-5', 'abc', '1.5', ''])('treats page=%j as page 1', async (page) => {
      const res = await get(`/api/1/composes/?page=${page}`);
      expect(res.body.meta).toMatchObject({ page: 1, per_page: 10, prev: null, next: link('per_page=10&page=2') });
      expect(res.body.items.map((i: { id: number }) => i.id)).toEqual(byIdDesc(rows).slice(0, 10));
    });

    it.each(['abc', '2.5', ''])('treats per_page=%j as the default 10', async (perPage) => {
      const res = await get(`/api/1/composes/?per_page=${perPage}`);
      expect(res.body.meta).toMatchObject({ page: 1, per_page: 10, pages: 30 });
      expect(res.body.items).toHaveLength(10);
    });

    it('answers per_page=0 with no items and no pages', async () => {
      const res = await get('/api/1/composes/?per_page=0');
      expect(res.body).toEqual({
        items: [],
        meta: {
          first: link('per_page=0&page=1'),
          last: link('per_page=0&page=0'),
          next: null,
          prev: null,
          page: 1,
          pages: 0,
          per_page: 0,
          total: TOTAL,
        },
      });
    });

    it('turns a negative per_page into 20', async () => {
      const res = await get('/api/1/composes/?per_page=-3&page=2');
      expect(res.body.meta).toMatchObject({ page: 2, per_page: 20, pages: 15, first: link('per_page=20&page=1') });
      expect(res.body.items.map((i: { id: number }) => i.id)).toEqual(byIdDesc(rows).slice(20, 40));
    });

    it('caps per_page at 1000', async () => {
      for (const perPage of ['1001', '5000', '999999999']) {
        const res = await get(`/api/1/composes/?per_page=${perPage}`);
        expect(res.body.meta).toMatchObject({ per_page: 1000, pages: 1, total: TOTAL, next: null, last: link('per_page=1000&page=1') });
        expect(res.body.items).toHaveLength(TOTAL);
      }
      expect((await get('/api/1/composes/?per_page=1000')).body.meta.per_page).toBe(1000);
    });

    it('answers a filter without matches with pages 0', async () => {
      const res = await get('/api/1/composes/?owner=nobody');
      expect(res.body).toEqual({
        items: [],
        meta: {
          first: link('per_page=10&page=1&owner=nobody'),
          last: link('per_page=10&page=0&owner=nobody'),
          next: null,
          prev: null,
          page: 1,
          pages: 0,
          per_page: 10,
          total: 0,
        },
      });
    });

    it('carries the other query arguments in the links, except page, per_page, endpoint and _-prefixed ones', async () => {
      const alice = rows.filter((r) => r.owner === 'alice' && r.state === 2);
      const pages = Math.ceil(alice.length / 3);
      expect(pages).toBeGreaterThan(2);
      const res = await get('/api/1/composes/?owner=alice&_=1700000000&state=2&endpoint=x&page=2&_private=y&per_page=3&order_by=-id&foo=a%20b');
      const args = 'owner=alice&state=2&order_by=-id&foo=a+b';
      expect(res.body.meta).toEqual({
        first: link(`per_page=3&page=1&${args}`),
        last: link(`per_page=3&page=${pages}&${args}`),
        next: link(`per_page=3&page=3&${args}`),
        prev: link(`per_page=3&page=1&${args}`),
        page: 2,
        pages,
        per_page: 3,
        total: alice.length,
      });
      expect(res.body.items.map((i: { id: number }) => i.id)).toEqual(byIdDesc(alice).slice(3, 6));
      // And they lead where they say.
      const next = await get(new URL(res.body.meta.next).pathname + new URL(res.body.meta.next).search);
      expect(next.body.items.map((i: { id: number }) => i.id)).toEqual(byIdDesc(alice).slice(6, 9));
    });

    it('builds absolute links from the reverse-proxy headers', async () => {
      const res = await request(t.app)
        .get('/api/1/composes/?per_page=100&page=2')
        .set('Host', 'internal:8080')
        .set('X-Forwarded-Host', 'odcs.example.com')
        .set('X-Scheme', 'https')
        .set('X-Script-Name', '/odcs-api/');
      const base = 'https://odcs.example.com/odcs-api/api/1/composes/';
      expect(res.body.meta).toMatchObject({
        first: `${base}?per_page=100&page=1`,
        last: `${base}?per_page=100&page=3`,
        next: `${base}?per_page=100&page=3`,
        prev: `${base}?per_page=100&page=1`,
      });
      // Each header alone.
      const hostOnly = await request(t.app).get('/api/1/composes/').set('Host', 'internal:8080').set('X-Forwarded-Host', 'proxy.example.com');
      expect(hostOnly.body.meta.first).toBe('http://proxy.example.com/api/1/composes/?per_page=10&page=1');
      const schemeOnly = await request(t.app).get('/api/1/composes/').set('Host', 'internal:8080').set('X-Scheme', 'https');
      expect(schemeOnly.body.meta.first).toBe('https://internal:8080/api/1/composes/?per_page=10&page=1');
      const prefixOnly = await request(t.app).get('/api/1/composes/').set('Host', 'internal:8080').set('X-Script-Name', '/prefix');
      expect(prefixOnly.body.meta.first).toBe('http://internal:8080/prefix/api/1/composes/?per_page=10&page=1');
      const bare = await request(t.app).get('/api/1/composes/').set('Host', 'internal:8080').set('X-Script-Name', 'prefix/');
      expect(bare.body.meta.first).toBe('http://internal:8080/prefix/api/1/composes/?per_page=10&page=1');
      const root = await request(t.app).get('/api/1/composes/').set('Host', 'internal:8080').set('X-Script-Name', '/');
      expect(root.body.meta.first).toBe('http://internal:8080/api/1/composes/?per_page=10&page=1');
    });
  });

  describe('GET /api/1/about/', () => {
    it('shows the version and the public configuration', async () => {
      const res = await get('/api/1/about/');
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.body).toEqual({
        version: VERSION,
        auth_backend: 'noauth',
        allowed_clients: { users: {}, groups: {} },
        raw_config_urls: {},
        sigkeys: [],
      });
    });

    it('answers 400 when a config item is missing', async () => {
      const app = createApp({ ...t.ctx, cfg: { ...t.cfg, sigkeys: null as unknown as string[] } });
      const res = await request(app).get('/api/1/about/');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ status: 400, error: 'Bad Request', message: 'An invalid config item of "sigkeys" was specified' });
    });
  });

  describe('GET /api/1/metrics/', () => {
    it('counts composes per source type and state, and counts requests', async () => {
      await get('/api/1/about/');
      const res = await get('/api/1/metrics/');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(res.headers['access-control-allow-origin']).toBe('*');
      const text = res.text;
      expect(text).toContain('# HELP composes_total Total number of composes');
      const counts = new Map<string, number>();
      for (const r of rows) {
        const key = `composes_total{source_type="${sourceTypeName(r.source_type)}",state="${stateName(r.state)}"}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const tagWait = rows.filter((r) => r.source_type === SOURCE_TYPES.tag && r.state === STATES.wait).length;
      expect(tagWait).toBeGreaterThan(0);
      expect(text.split('\n')).toContain(`composes_total{source_type="tag",state="wait"} ${tagWait}`);
      for (const [key, n] of counts) expect(text.split('\n')).toContain(`${key} ${n}`);
      expect(text).toMatch(/^http_requests_total\{method="GET",route="\/api\/1\/about\/",status="200"\} \d+$/m);
    });

    it('follows new composes', async () => {
      const count = async (): Promise<number> => {
        const text = (await get('/api/1/metrics/')).text;
        const m = /^composes_total\{source_type="pulp",state="wait"\} (\d+)$/m.exec(text);
        return m ? Number(m[1]) : 0;
      };
      const before = await count();
      expect(before).toBe(rows.filter((r) => r.source_type === SOURCE_TYPES.pulp && r.state === STATES.wait).length);
      const res = await request(t.app).post('/api/1/composes/').send({ source: { type: 'pulp', source: 'content-set-1' } });
      expect(res.status).toBe(200);
      try {
        expect(await count()).toBe(before + 1);
      } finally {
        // Leave the data set as the other tests know it.
        await t.s.db.query('DELETE FROM outbox WHERE compose_id = $1', [res.body.id]);
        await t.s.db.query('DELETE FROM composes WHERE id = $1', [res.body.id]);
      }
    });
  });
});
