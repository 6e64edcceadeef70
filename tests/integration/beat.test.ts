import { BEAT_LOCK_KEY } from '../../backend/beat/beat';
import { STATES } from '../../common/enums';
import { newCompose as compose } from '../support/composes';
import { startTestStack, type TestStack } from '../support/stack';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

describe('the beat, with an injected clock', () => {
  let t: TestStack;
  beforeEach(async () => {
    t = await startTestStack({ config: { lost_wait_seconds: 180 } });
  });
  afterEach(() => t.close());

  const workRows = async (id: number): Promise<number> =>
    (await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE kind = 'work' AND compose_id = $1`, [id]))[0].n;

  it('queues the work of a wait compose again once nobody claimed it for lost_wait_seconds, once per period', async () => {
    const c = await t.s.store.create(compose(), T0);
    expect(await workRows(c.id)).toBe(1);
    // While its work is still waiting in the outbox (broker down), nothing is added.
    expect((await t.beat.runOnce(at(181))).requeued).toEqual([]);
    await t.s.relay.drain();

    expect((await t.beat.runOnce(at(179))).requeued).toEqual([]);
    expect((await t.beat.runOnce(at(181))).requeued).toEqual([c.id]);
    expect(await workRows(c.id)).toBe(1);
    await t.s.relay.drain();
    // Queued again at 181 s: not again until another lost_wait_seconds have passed.
    expect((await t.beat.runOnce(at(300))).requeued).toEqual([]);
    expect((await t.beat.runOnce(at(362))).requeued).toEqual([c.id]);
    expect((await t.s.store.get(c.id))?.state).toBe(STATES.wait);
  });

  it('leaves claimed composes alone', async () => {
    const c = await t.s.store.create(compose(), T0);
    await t.s.store.claim(c.id, 'w', at(1));
    expect((await t.beat.runOnce(at(10000))).requeued).toEqual([]);
  });

  it('fails a wait compose older than 3 days with ODCS reason, and not a second earlier', async () => {
    const c = await t.s.store.create(compose(), T0);
    const threeDays = 3 * 24 * 3600;
    expect((await t.beat.runOnce(at(threeDays))).failedWaiting).toEqual([]);
    const report = await t.beat.runOnce(at(threeDays + 1));
    expect(report.failedWaiting).toEqual([c.id]);
    const row = await t.s.store.get(c.id);
    expect(row?.state).toBe(STATES.failed);
    expect(row?.state_reason).toBe("Compose stuck in 'wait' state for longer than 3 days.");
    const events = await t.s.db.query<{ state: number }>(
      `SELECT (payload->>'state')::int AS state FROM outbox WHERE kind = 'event' AND compose_id = $1 ORDER BY id`,
      [c.id],
    );
    expect(events.map((e) => e.state)).toEqual([STATES.wait, STATES.failed]);
  });

  it('folds the count log into compose_counts without changing any total', async () => {
    for (let i = 0; i < 3; i++) await t.s.store.create(compose({ owner: i === 0 ? 'alice' : 'bob' }), T0);
    const c = await t.s.store.create(compose({ owner: 'alice' }), T0);
    await t.s.store.claim(c.id, 'w', at(1));
    const before = await t.s.store.countsByTypeAndState();
    const [{ n: logged }] = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM compose_count_deltas`);
    expect(logged).toBeGreaterThan(0);
    await t.beat.runOnce(at(2));
    const [{ n: left }] = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM compose_count_deltas`);
    expect(left).toBe(0);
    expect(await t.s.store.countsByTypeAndState()).toEqual(before);
    expect(before).toEqual([
      { source_type: 1, state: STATES.wait, count: 3 },
      { source_type: 1, state: STATES.generating, count: 1 },
    ]);
    const counts = await t.s.db.query(`SELECT owner, state, n FROM compose_counts ORDER BY owner, state`);
    expect(counts).toEqual([
      { owner: 'alice', state: STATES.wait, n: 1 },
      { owner: 'alice', state: STATES.generating, n: 1 },
      { owner: 'bob', state: STATES.wait, n: 2 },
    ]);
  });

  it('does nothing while another replica holds the beat lock', async () => {
    const c = await t.s.store.create(compose(), T0);
    const inner = await t.s.db.withAdvisoryLock(BEAT_LOCK_KEY, () => t.beat.runOnce(at(10 * 24 * 3600)));
    expect(inner).toMatchObject({ ran: false, requeued: [], failedWaiting: [], removed: [], released: [] });
    expect((await t.s.store.get(c.id))?.state).toBe(STATES.wait);
    expect((await t.beat.runOnce(at(10 * 24 * 3600))).ran).toBe(true);
  });
});
