/**
 * Issue 11, multi-tenancy: per-user and per-group quotas (config `quotas`). Over a limit the API
 * answers 429 in ODCS's error shape naming the limit, and writes nothing; admins are exempt.
 * The active-compose count is taken in the transaction of the insert, so racing POSTs (which
 * share one batched INSERT) cannot pass a limit together.
 */
import request from 'supertest';
import type { ConfigInput } from '../../common/config';
import { SOURCE_TYPES, STATES } from '../../common/enums';
import { newCompose } from '../support/composes';
import { headerAuth } from '../support/header-auth';
import { expectRefused } from '../support/refusals';
import { startTestStack, type TestStack } from '../support/stack';

const TAG = { type: 'tag', source: 'f30-build' };

const CONFIG: ConfigInput = {
  allowed_clients: {
    users: { dev: {}, free: {}, ttl: {}, renewer: {}, racer: {}, root: {} },
    groups: { small: {}, big: {}, unlimited: {} },
  },
  admins: { users: ['root'], groups: [] },
  quotas: {
    users: {
      dev: { max_active_composes: 3 },
      racer: { max_active_composes: 7 },
      ttl: { max_seconds_to_live: 3600 },
      renewer: { max_renewals: 2 },
      // An admin's own entry does not bind the admin.
      root: { max_active_composes: 1 },
    },
    groups: { small: { max_active_composes: 1 }, big: { max_active_composes: 2 }, unlimited: {} },
  },
};

describe('quotas', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({ config: CONFIG, context: { auth: headerAuth }, listen: true });
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (user: string, body: Record<string, unknown> = { source: TAG }, groups = ''): request.Test =>
    request(t.app).post('/api/1/composes/').set('X-Test-User', user).set('X-Test-Groups', groups).send(body);
  const active = async (owner: string): Promise<number> => {
    const [{ n }] = await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM composes WHERE owner = $1 AND state IN (0, 1)`, [owner]);
    return n;
  };

  it('refuses a compose over max_active_composes with 429 naming the limit, and takes one again once a slot is free', async () => {
    for (let i = 0; i < 3; i++) expect((await post('dev')).status).toBe(200);
    await expectRefused(t, () => post('dev'), 429, 'User dev has 3 composes waiting or generating; the limit of user dev is 3.');
    // A cancelled compose no longer counts.
    const [oldest] = await t.s.db.query<{ id: number }>(`SELECT id FROM composes WHERE owner = 'dev' ORDER BY id LIMIT 1`);
    await request(t.app).delete(`/api/1/composes/${oldest.id}`).set('X-Test-User', 'dev').expect(202);
    expect((await post('dev')).status).toBe(200);
    expect(await active('dev')).toBe(3);
  });

  it('lets exactly the limit through when many POSTs race (they share batched INSERTs)', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const res = await fetch(`${t.url}/api/1/composes/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-test-user': 'racer' },
          body: JSON.stringify({ source: TAG }),
        });
        const body = (await res.json()) as { message?: string };
        return { status: res.status, message: body.message };
      }),
    );
    expect(statuses.filter((s) => s.status === 200)).toHaveLength(7);
    const refused = statuses.filter((s) => s.status !== 200);
    expect(refused).toHaveLength(33);
    for (const r of refused) expect(r).toEqual({ status: 429, message: 'User racer has 7 composes waiting or generating; the limit of user racer is 7.' });
    expect(await active('racer')).toBe(7);
  });

  it('applies the most generous limit of the caller’s groups, and none when one of its groups has none', async () => {
    expect((await post('g1', { source: TAG }, 'small,big')).status).toBe(200);
    expect((await post('g1', { source: TAG }, 'small,big')).status).toBe(200);
    await expectRefused(t, () => post('g1', { source: TAG }, 'small,big'), 429, 'User g1 has 2 composes waiting or generating; the limit of group big is 2.');
    expect((await post('g1', { source: TAG }, 'small,unlimited')).status).toBe(200);
    expect(await active('g1')).toBe(3);
  });

  it('exempts admins and users without a quota', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await post('root')).status).toBe(200);
      expect((await post('free')).status).toBe(200);
    }
    expect(await active('root')).toBe(3);
    expect(await active('free')).toBe(3);
  });

  it('refuses a seconds_to_live over max_seconds_to_live, and gives a compose that asks for none at most the limit', async () => {
    await expectRefused(t, () => post('ttl', { source: TAG, seconds_to_live: 7200 }), 429, 'User ttl asked for seconds_to_live 7200; the limit of user ttl is 3600 seconds.');
    const asked = await post('ttl', { source: TAG, seconds_to_live: 600 }).expect(200);
    const defaulted = await post('ttl').expect(200);
    const lifetime = async (id: number): Promise<number> => {
      const row = await t.s.store.get(id);
      return ((row?.time_to_expire.getTime() ?? 0) - (row?.time_submitted.getTime() ?? 0)) / 1000;
    };
    expect(await lifetime(asked.body.id as number)).toBe(600);
    expect(await lifetime(defaulted.body.id as number)).toBe(3600);
  });

  /** A compose of `owner` in `state` (done or failed), written as a worker would have left it. */
  async function ended(owner: string, state: typeof STATES.done | typeof STATES.failed): Promise<number> {
    const row = await t.s.store.create(newCompose({ owner, source_type: SOURCE_TYPES.tag, source: 'f30-build' }), new Date());
    await t.s.store.claim(row.id, 'w', new Date());
    await t.s.store.finish(row.id, 'w', state, state === STATES.done ? 'Compose is generated successfully' : 'Error while generating compose: x', new Date());
    return row.id;
  }

  it('refuses a renewal over max_renewals, counting extensions of a done compose', async () => {
    const id = await ended('renewer', STATES.done);
    const patch = (): request.Test => request(t.app).patch(`/api/1/composes/${id}`).set('X-Test-User', 'renewer').send({});
    expect((await patch()).status).toBe(200);
    expect((await patch()).status).toBe(200);
    await expectRefused(t, patch, 429, `Compose ${id} has been renewed 2 times; the limit of user renewer is 2.`);
  });

  it('counts regenerated copies too, and the copy carries the count on', async () => {
    const id = await ended('renewer', STATES.failed);
    const patch = (which: number): request.Test => request(t.app).patch(`/api/1/composes/${which}`).set('X-Test-User', 'renewer').send({});
    const copy = await patch(id).expect(200);
    expect(copy.body.id).not.toBe(id);
    expect(copy.body.state_name).toBe('wait');
    const [{ renewals }] = await t.s.db.query<{ renewals: number }>(`SELECT renewals FROM compose_renewals WHERE compose_id = $1`, [copy.body.id]);
    expect(renewals).toBe(1);
    expect((await patch(id)).status).toBe(200);
    await expectRefused(t, () => patch(id), 429, `Compose ${id} has been renewed 2 times; the limit of user renewer is 2.`);
  });

  it('exempts admins from max_renewals', async () => {
    const id = await ended('renewer', STATES.done);
    for (let i = 0; i < 4; i++) await request(t.app).patch(`/api/1/composes/${id}`).set('X-Test-User', 'root').send({}).expect(200);
  });
});

describe('per-owner metrics', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({ config: { metrics_top_owners: 2 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('names the most active owners and adds up the rest as "other"', async () => {
    const owners = { busy: 4, medium: 3, small: 2, tiny: 1 };
    for (const [owner, n] of Object.entries(owners)) {
      for (let i = 0; i < n; i++) await t.s.store.create(newCompose({ owner }), new Date());
    }
    const res = await request(t.app).get('/api/1/metrics/').expect(200);
    const lines = res.text.split('\n').filter((l) => l.startsWith('composes_by_owner{'));
    expect(lines.sort()).toEqual([
      'composes_by_owner{owner="busy",state="wait"} 4',
      'composes_by_owner{owner="medium",state="wait"} 3',
      'composes_by_owner{owner="other",state="wait"} 3',
    ]);
  });
});
