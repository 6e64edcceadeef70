import request from 'supertest';
import { STATES } from '../../common/enums';
import { newCompose } from '../support/composes';
import { startTestStack, type TestStack } from '../support/stack';

describe('creating composes under concurrency', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(() => t.close());

  it('gives each of many simultaneous POSTs its own compose, with its own work and event', async () => {
    const sources = Array.from({ length: 120 }, (_, i) => `tag-${i}`);
    const responses = await Promise.all(sources.map((source) => request(t.app).post('/api/1/composes/').send({ source: { type: 'tag', source } })));
    expect(responses.map((r) => r.status)).toEqual(sources.map(() => 200));
    expect(responses.map((r) => r.body.source)).toEqual(sources);
    const ids = responses.map((r) => r.body.id as number);
    expect(new Set(ids).size).toBe(sources.length);
    for (const r of responses) expect((await t.s.store.get(r.body.id))?.source).toBe(r.body.source);
    const outbox = await t.s.db.query<{ kind: string; n: number }>(
      `SELECT kind, count(DISTINCT compose_id)::int AS n FROM outbox WHERE compose_id = ANY($1::int[]) GROUP BY kind ORDER BY kind`,
      [ids],
    );
    expect(outbox).toEqual([
      { kind: 'event', n: sources.length },
      { kind: 'work', n: sources.length },
    ]);
  });

  it('does not let one bad compose fail the others written with it', async () => {
    const now = new Date();
    // Enough at once that the later ones share a batch (a few batches are written in parallel).
    const sources = ['good-0', 'good-1', 'good-2', 'good-3', 'good-4', 'bad', 'good-6', 'good-7'];
    const results = await Promise.allSettled(
      sources.map((source) => t.s.store.create(newCompose(source === 'bad' ? { source, source_type: 99 } : { source }), now)),
    );
    expect(results.map((r) => r.status)).toEqual(sources.map((s) => (s === 'bad' ? 'rejected' : 'fulfilled')));
    const good = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof t.s.store.create>>> => r.status === 'fulfilled');
    expect(good.map((r) => [r.value.source, r.value.state])).toEqual(sources.filter((s) => s !== 'bad').map((s) => [s, STATES.wait]));
    const [{ n }] = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM composes WHERE source = 'bad'`);
    expect(n).toBe(0);
  });
});
