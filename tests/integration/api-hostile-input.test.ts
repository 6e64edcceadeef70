import request from 'supertest';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * Requests the fuzz test (tests/e2e/fuzz.test.ts) found answered with a 500 (and a NUL in a
 * list filter, found alongside), each now refused with ODCS's JSON error, leaving no row behind.
 */

const NOT_FOUND =
  'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t.close();
});

const rowCount = async (): Promise<number> => (await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM composes`))[0].n;

const tag = { type: 'tag', source: 'f40' };

it.each(['%ZZ', '%', '%E0%A4%A'])('answers 404 to a compose path with broken percent-encoding (%s)', async (id) => {
  for (const method of ['get', 'patch', 'delete'] as const) {
    const res = await request(t.app)[method](`/api/1/composes/${id}`).send({});
    expect({ status: res.status, body: res.body }).toEqual({ status: 404, body: { status: 404, error: 'Not Found', message: NOT_FOUND } });
  }
});

it('refuses a body of 100,000 nested lists with a 400 quoting it shortened', async () => {
  const body = `${'['.repeat(100000)}${']'.repeat(100000)}`;
  for (const send of [() => request(t.app).post('/api/1/composes/'), () => request(t.app).patch('/api/1/composes/1')]) {
    const res = await send().set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect(res.body.message).toBe(`Invalid source configuration provided: ${'['.repeat(32)}[...]${']'.repeat(32)}`);
  }
});

it.each([
  ['a NUL character', 'bash\u0000'],
  ['an unpaired high surrogate', 'x\ud800'],
  ['an unpaired low surrogate', '\udfffy'],
])('refuses a package name holding %s, creating nothing', async (_what, name) => {
  const before = await rowCount();
  const res = await request(t.app).post('/api/1/composes/').send({ source: { ...tag, packages: ['vim', name] } });
  expect({ status: res.status, body: res.body }).toEqual({
    status: 400,
    body: { status: 400, error: 'Bad Request', message: 'Package names must not contain NUL characters or unpaired surrogates' },
  });
  expect(await rowCount()).toBe(before);
});

it('still accepts package names with any other characters, astral ones included', async () => {
  const res = await request(t.app).post('/api/1/composes/').send({ source: { ...tag, packages: ['foo = 1.0', 'bar>=2', '😀', 'ünï'] } });
  expect(res.status).toBe(200);
  expect(res.body.packages).toBe('foo = 1.0 bar>=2 😀 ünï');
});

it.each(['owner', 'source', 'label', 'compose_type', 'pungi_compose_id'])('refuses a NUL character in the %s filter of the list', async (key) => {
  const res = await request(t.app).get(`/api/1/composes/?${key}=a%00b`);
  expect({ status: res.status, body: res.body }).toEqual({
    status: 400,
    body: { status: 400, error: 'Bad Request', message: `${key} must not contain NUL characters` },
  });
});
