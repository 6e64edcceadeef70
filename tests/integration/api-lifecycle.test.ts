import request from 'supertest';
import type { ComposeRow, NewCompose } from '../../common/db/entities';
import { SOURCE_TYPES } from '../../common/enums';
import { headerAuth } from '../support/header-auth';
import { startTestStack, type TestStack } from '../support/stack';
import { newCompose } from '../support/composes';

/**
 * DELETE (cancel a waiting compose, or ask for removal of a finished one; reference §1.6) and
 * PATCH (extend, or regenerate as a new compose; §1.7), checked on the rows, the outbox and the
 * work queue.
 */

const DAY = 86400;


type Target = 'wait' | 'generating' | 'done' | 'failed' | 'removed';

/**
 * A compose in state `target`, moved there along the legal transitions the way the worker and
 * the beat would, with the results a finished compose has (pungi_compose_id, koji_task_id).
 */
async function composeIn(t: TestStack, target: Target, overrides: Partial<NewCompose> = {}, expiresIn?: number): Promise<ComposeRow> {
  const row = await t.s.store.create(newCompose(overrides), new Date());
  const q = (sql: string, params: unknown[] = []) => t.s.db.query(sql, [row.id, ...params]);
  if (target === 'failed') {
    await q(`UPDATE composes SET state = 4, state_reason = 'Error while generating compose: boom', pungi_compose_id = $2 WHERE id = $1`, [
      `odcs-${row.id}-1-20240101.t.0`,
    ]);
  } else if (target !== 'wait') {
    await q(`UPDATE composes SET state = 1, time_started = $2, koji_task_id = 77 WHERE id = $1`, [new Date()]);
    if (target !== 'generating') {
      await q(`UPDATE composes SET state = 2, time_done = $2, pungi_compose_id = $3, state_reason = 'Compose is generated successfully' WHERE id = $1`, [
        new Date(),
        `odcs-${row.id}-1-20240101.t.0`,
      ]);
    }
    if (target === 'removed') await q(`UPDATE composes SET state = 3, time_removed = $2 WHERE id = $1`, [new Date()]);
  }
  if (expiresIn !== undefined) await q(`UPDATE composes SET time_to_expire = $2 WHERE id = $1`, [new Date(Date.now() + expiresIn * 1000)]);
  await t.s.relay.drain();
  return (await t.s.store.get(row.id))!;
}

interface OutboxEntry {
  id: string;
  kind: string;
  compose_id: number;
  payload: Record<string, unknown> | null;
}

interface Snapshot {
  composes: ComposeRow[];
  outbox: OutboxEntry[];
  queued: number;
}

/**
 * The compose rows, the outbox rows written since the previous snapshot (the relay deletes
 * rows once published, and each snapshot relays everything), and the work queue length.
 */
async function snapshot(t: TestStack): Promise<Snapshot> {
  const outbox = await t.s.db.query<OutboxEntry>('SELECT id, kind, compose_id, payload FROM outbox ORDER BY id');
  await t.s.relay.drain();
  return {
    composes: await t.s.db.query<ComposeRow>('SELECT * FROM composes ORDER BY id'),
    outbox,
    queued: await t.s.broker.queueLength(t.cfg.work_queue),
  };
}

/** What a request wrote to the outbox (and its last event payload) and the work queue, once relayed. */
async function changesSince(
  t: TestStack,
  before: Snapshot,
): Promise<{ outbox: Array<{ kind: string; compose_id: number }>; queued: number; lastEvent?: Record<string, unknown> }> {
  const after = await snapshot(t);
  const events = after.outbox.filter((r) => r.kind === 'event');
  return {
    outbox: after.outbox.map(({ kind, compose_id }) => ({ kind, compose_id })),
    queued: after.queued - before.queued,
    ...(events.length ? { lastEvent: events[events.length - 1].payload ?? undefined } : {}),
  };
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

async function expectRefused(t: TestStack, send: () => request.Test, status: number, message: string): Promise<void> {
  const before = await snapshot(t);
  const res = await send();
  expect({ status: res.status, body: res.body }).toEqual({ status, body: { status, error: REASONS[status], message } });
  expect(await snapshot(t)).toEqual({ ...before, outbox: [] });
}

/** `at` is within [from, to] plus `seconds`, give or take the clock's rounding. */
function expectAround(at: Date, from: number, to: number, seconds: number): void {
  expect(at.getTime()).toBeGreaterThanOrEqual(from + seconds * 1000 - 1);
  expect(at.getTime()).toBeLessThanOrEqual(to + seconds * 1000 + 1);
}

/** The generation inputs a regenerated compose takes from its original (reference §1.7 step 6). */
const COPIED: Array<keyof ComposeRow> = [
  'source_type', 'source', 'modular_koji_tags', 'module_defaults_url', 'koji_event', 'sigkeys', 'results', 'packages',
  'builds', 'flags', 'arches', 'multilib_arches', 'multilib_method', 'lookaside_repos', 'label', 'compose_type',
  'pungi_config_dump', 'target_dir', 'scratch_modules', 'scratch_build_tasks', 'parent_pungi_compose_ids', 'modules',
  'base_module_br_name', 'base_module_br_stream', 'base_module_br_stream_version_lte', 'base_module_br_stream_version_gte',
]; // prettier-ignore

const pick = (row: ComposeRow, keys: Array<keyof ComposeRow>): Partial<ComposeRow> => Object.fromEntries(keys.map((k) => [k, row[k]]));

/** An original with every generation input set, so that copying each one shows. */
const RICH: Partial<NewCompose> = {
  owner: 'alice',
  source: 'f30-build f30-override',
  modular_koji_tags: ['f30-modular'],
  module_defaults_url: 'https://git.example.com/defaults.git master',
  koji_event: 4242,
  sigkeys: ['deadbeef'],
  results: 3,
  packages: ['bash', 'python3'],
  builds: ['bash-5.0-1.fc30'],
  flags: 9,
  arches: ['x86_64', 'ppc64le'],
  multilib_arches: ['x86_64'],
  multilib_method: 3,
  lookaside_repos: ['http://example.com/lookaside'],
  label: 'Beta-1.0',
  compose_type: 'nightly',
  pungi_config_dump: 'release_name = "Fedora"\n',
  scratch_modules: ['scratch:1:2:c0ffee'],
  scratch_build_tasks: ['99'],
  parent_pungi_compose_ids: ['Fedora-30-20190101.0'],
  modules: ['mod:1:2:c0ffee'],
  respin_of: 'an-older-respin',
  base_module_br_name: 'platform',
  base_module_br_stream: 'f30',
  base_module_br_stream_version_lte: 300000,
  base_module_br_stream_version_gte: 290000,
};

const RAW_CONFIG = { url: 'https://git.example.com/pungi-cfg.git', config_filename: 'pungi.conf' };

describe('under noauth', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({
      config: { raw_config_urls: { pungi_cfg: RAW_CONFIG, short: { ...RAW_CONFIG, seconds_to_live: 600, max_seconds_to_live: 1200 } } },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  describe('DELETE /api/1/composes/<id>', () => {
    it('cancels a waiting compose: 202, failed, "Canceled by unknown", a state-change event and no new work', async () => {
      const c = await composeIn(t, 'wait');
      const before = await snapshot(t);
      const t0 = Date.now();
      const res = await request(t.app).delete(`/api/1/composes/${c.id}`);
      const t1 = Date.now();
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ status: 202, message: `Compose (id=${c.id}) has been canceled` });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const row = (await t.s.store.get(c.id))!;
      expect(row).toMatchObject({ state: 4, state_reason: 'Canceled by unknown', removed_by: 'unknown', time_done: null });
      // The lifetime counts from the cancellation (reference §6.1).
      expectAround(row.time_to_expire, t0, t1, DAY);
      const changes = await changesSince(t, before);
      expect({ outbox: changes.outbox, queued: changes.queued }).toEqual({ outbox: [{ kind: 'event', compose_id: c.id }], queued: 0 });
      expect(changes.lastEvent).toMatchObject({ state: 4, state_reason: 'Canceled by unknown' });
      // Other composes are untouched.
      expect((await snapshot(t)).composes.filter((r) => r.id !== c.id)).toEqual(before.composes.filter((r) => r.id !== c.id));
    });

    it.each(['done', 'failed'] as const)('accepts removal of a %s compose: 202, expires now, removed_by, state kept', async (state) => {
      const c = await composeIn(t, state, {}, 5 * DAY);
      const before = await snapshot(t);
      const t0 = Date.now();
      const res = await request(t.app).delete(`/api/1/composes/${c.id}`);
      const t1 = Date.now();
      expect(res.status).toBe(202);
      expect(res.body).toEqual({
        status: 202,
        message: `The delete request for compose (id=${c.id}) has been accepted and will be processed by backend later.`,
      });
      const row = (await t.s.store.get(c.id))!;
      expect(row).toEqual({ ...c, time_to_expire: row.time_to_expire, removed_by: 'unknown' });
      expectAround(row.time_to_expire, t0, t1, 0);
      // No state change, so nothing to announce and nothing to do for a worker.
      expect(await changesSince(t, before)).toEqual({ outbox: [], queued: 0 });
    });

    it.each(['generating', 'removed'] as const)('refuses to remove a %s compose (400)', async (state) => {
      const c = await composeIn(t, state);
      await expectRefused(
        t,
        () => request(t.app).delete(`/api/1/composes/${c.id}`),
        400,
        `Compose (id=${c.id}) can not be removed, its state need to be in ['done', 'failed'].`,
      );
    });

    it('answers 404 for a compose that does not exist', async () => {
      await expectRefused(t, () => request(t.app).delete('/api/1/composes/999999'), 404, 'No such compose found.');
    });

    it('turns a second DELETE of a cancelled compose into a removal request', async () => {
      const c = await composeIn(t, 'wait');
      expect((await request(t.app).delete(`/api/1/composes/${c.id}`)).status).toBe(202);
      const res = await request(t.app).delete(`/api/1/composes/${c.id}`);
      expect(res.body.message).toBe(`The delete request for compose (id=${c.id}) has been accepted and will be processed by backend later.`);
      expect((await t.s.store.get(c.id))?.state).toBe(4);
    });
  });

  describe('PATCH /api/1/composes/<id>: extend', () => {
    it('extends a done compose to now + the default lifetime, keeping its id', async () => {
      const c = await composeIn(t, 'done', {}, 3600);
      const before = await snapshot(t);
      const t0 = Date.now();
      const res = await request(t.app).patch(`/api/1/composes/${c.id}`);
      const t1 = Date.now();
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const row = (await t.s.store.get(c.id))!;
      expectAround(row.time_to_expire, t0, t1, DAY);
      expect(row).toEqual({ ...c, time_to_expire: row.time_to_expire });
      const got = await request(t.app).get(`/api/1/composes/${c.id}`);
      expect(res.body).toEqual({ ...got.body, pungi_config_dump: undefined });
      expect(res.body.id).toBe(c.id);
      // No new compose, no message, no work.
      const after = await snapshot(t);
      expect(after.composes).toHaveLength(before.composes.length);
      expect(await changesSince(t, before)).toEqual({ outbox: [], queued: 0 });
    });

    it('takes seconds_to_live (or seconds-to-live), capped at the maximum', async () => {
      for (const [body, seconds] of [
        [{ seconds_to_live: 7200 }, 7200],
        [{ 'seconds-to-live': 7300 }, 7300],
        [{ seconds_to_live: 10 ** 9 }, 259200],
        [{ seconds_to_live: 0 }, DAY],
      ] as const) {
        const c = await composeIn(t, 'done', {}, 60);
        const t0 = Date.now();
        const res = await request(t.app).patch(`/api/1/composes/${c.id}`).send(body);
        const t1 = Date.now();
        expect(res.status).toBe(200);
        expectAround((await t.s.store.get(c.id))!.time_to_expire, t0, t1, seconds);
      }
    });

    it("applies the lifetime limits of a raw_config compose's entry (§6.2)", async () => {
      const raw = { source_type: SOURCE_TYPES.raw_config, source: 'short#abc' };
      for (const [body, seconds] of [
        [{}, 600],
        [{ seconds_to_live: 900 }, 900],
        [{ seconds_to_live: 5000 }, 1200],
      ] as const) {
        const c = await composeIn(t, 'done', raw, 10);
        const t0 = Date.now();
        expect((await request(t.app).patch(`/api/1/composes/${c.id}`).send(body)).status).toBe(200);
        expectAround((await t.s.store.get(c.id))!.time_to_expire, t0, Date.now(), seconds);
      }
      // And so does its regenerated copy.
      const failed = await composeIn(t, 'failed', raw);
      const t0 = Date.now();
      const res = await request(t.app).patch(`/api/1/composes/${failed.id}`).send({ seconds_to_live: 5000 });
      expect(res.status).toBe(200);
      expectAround((await t.s.store.get(res.body.id))!.time_to_expire, t0, Date.now(), 1200);
    });

    it('never shortens the lifetime', async () => {
      const c = await composeIn(t, 'done', {}, 2 * DAY);
      for (const body of [{}, { seconds_to_live: 60 }, { seconds_to_live: DAY }]) {
        const res = await request(t.app).patch(`/api/1/composes/${c.id}`).send(body);
        expect(res.status).toBe(200);
        expect(await t.s.store.get(c.id)).toEqual(c);
      }
    });

    it('extends when the given sigkeys and label are the same as the compose has', async () => {
      const c = await composeIn(t, 'done', { sigkeys: ['a', 'b'], label: 'RC-1' }, 60);
      const before = await snapshot(t);
      const res = await request(t.app).patch(`/api/1/composes/${c.id}`).send({ sigkeys: ['a', 'b'], label: 'RC-1' });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(c.id);
      expect((await snapshot(t)).composes).toHaveLength(before.composes.length);
      expect((await t.s.store.get(c.id))!.time_to_expire.getTime()).toBeGreaterThan(c.time_to_expire.getTime());
    });

    it('extends the compose it reuses and the composes reusing it', async () => {
      const reused = await composeIn(t, 'done', {}, 60);
      const reusing = await composeIn(t, 'done', {}, 60);
      const alsoReusing = await composeIn(t, 'done', {}, 60);
      const unrelated = await composeIn(t, 'done', {}, 60);
      await t.s.db.query('UPDATE composes SET reused_id = $1 WHERE id = ANY($2::int[])', [reused.id, [reusing.id, alsoReusing.id]]);
      const expiry = async (id: number): Promise<number> => (await t.s.store.get(id))!.time_to_expire.getTime();

      // Renewing the reused one extends everything that shares its files.
      let t0 = Date.now();
      expect((await request(t.app).patch(`/api/1/composes/${reused.id}`).send({ seconds_to_live: 7200 })).status).toBe(200);
      let t1 = Date.now();
      for (const id of [reused.id, reusing.id, alsoReusing.id]) expectAround(new Date(await expiry(id)), t0, t1, 7200);
      expect(await expiry(unrelated.id)).toBe(unrelated.time_to_expire.getTime());

      // Renewing a reusing one extends the one it reuses, not its siblings.
      const sibling = await expiry(alsoReusing.id);
      t0 = Date.now();
      const res = await request(t.app).patch(`/api/1/composes/${reusing.id}`).send({ seconds_to_live: 36000 });
      t1 = Date.now();
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(reusing.id);
      // Its JSON names the reused compose's files.
      expect(res.body.toplevel_url).toBe(`http://localhost/odcs/odcs-${reused.id}`);
      for (const id of [reusing.id, reused.id]) expectAround(new Date(await expiry(id)), t0, t1, 36000);
      expect(await expiry(alsoReusing.id)).toBe(sibling);
    });
  });

  describe('PATCH /api/1/composes/<id>: regenerate', () => {
    /** PATCHes `original`, expects a new queued `wait` compose, and returns it. */
    async function regenerate(original: ComposeRow, body: object = {}): Promise<ComposeRow> {
      const before = await snapshot(t);
      const t0 = Date.now();
      const res = await request(t.app).patch(`/api/1/composes/${original.id}`).send(body);
      const t1 = Date.now();
      expect(res.status).toBe(200);
      const id = res.body.id as number;
      expect(id).toBeGreaterThan(original.id);
      const copy = (await t.s.store.get(id))!;
      const got = await request(t.app).get(`/api/1/composes/${id}`);
      expect(res.body).toEqual({ ...got.body, pungi_config_dump: undefined });
      expect(copy).toMatchObject({
        state: 0,
        state_reason: null,
        owner: 'unknown',
        respin_of: original.pungi_compose_id,
        time_started: null,
        time_done: null,
        time_removed: null,
        removed_by: null,
        reused_id: null,
        koji_task_id: null,
        pungi_compose_id: null,
        celery_task_id: null,
      });
      expect(copy.time_submitted.getTime()).toBeGreaterThanOrEqual(t0);
      expect(copy.time_submitted.getTime()).toBeLessThanOrEqual(t1);
      // The original is left as it was.
      expect(await t.s.store.get(original.id)).toEqual(original);
      // One new row, announced and queued for a worker.
      const changes = await changesSince(t, before);
      expect((await snapshot(t)).composes).toHaveLength(before.composes.length + 1);
      expect(changes.outbox.sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
        { kind: 'event', compose_id: id },
        { kind: 'work', compose_id: id },
      ]);
      expect(changes.queued).toBe(1);
      return copy;
    }

    it.each(['failed', 'removed'] as const)('regenerates a %s compose as a new one with all its inputs', async (state) => {
      const reused = await composeIn(t, 'done');
      const original = await composeIn(t, state, RICH);
      await t.s.db.query('UPDATE composes SET reused_id = $2 WHERE id = $1', [original.id, reused.id]);
      const o = (await t.s.store.get(original.id))!;
      const copy = await regenerate(o);
      expect(pick(copy, COPIED)).toEqual(pick(o, COPIED));
      expect(copy.respin_of).toBe(`odcs-${o.id}-1-20240101.t.0`);
      expect(copy.koji_event).toBe(4242);
    });

    it('gives the copy the default lifetime from now, or the one asked for', async () => {
      const o = await composeIn(t, 'failed');
      let t0 = Date.now();
      let copy = await regenerate(o);
      expectAround(copy.time_to_expire, t0, Date.now(), DAY);
      t0 = Date.now();
      copy = await regenerate(o, { seconds_to_live: 600 });
      expectAround(copy.time_to_expire, t0, Date.now(), 600);
    });

    it('regenerates a done compose when the sigkeys change', async () => {
      const o = await composeIn(t, 'done', RICH, 3600);
      const copy = await regenerate(o, { sigkeys: ['cafebabe', ''] });
      expect(copy.sigkeys).toEqual(['cafebabe', '']);
      expect(pick(copy, COPIED.filter((k) => k !== 'sigkeys'))).toEqual(pick(o, COPIED.filter((k) => k !== 'sigkeys')));
      // An empty list is a change too (from ["deadbeef"] to unsigned-only).
      expect((await regenerate(o, { sigkeys: [] })).sigkeys).toEqual([]);
    });

    it('regenerates a done compose when the label changes', async () => {
      const o = await composeIn(t, 'done', RICH, 3600);
      const copy = await regenerate(o, { label: 'RC-2.0' });
      expect(copy.label).toBe('RC-2.0');
      expect(pick(copy, COPIED.filter((k) => k !== 'label'))).toEqual(pick(o, COPIED.filter((k) => k !== 'label')));
      const unlabelled = await composeIn(t, 'done', {}, 3600);
      expect((await regenerate(unlabelled, { label: 'First' })).label).toBe('First');
    });

    it('regenerates a done compose with the builds or modules given, keeping the rest', async () => {
      const o = await composeIn(t, 'done', RICH, 3600);
      const withBuilds = await regenerate(o, { source: { builds: ['bash-5.1-1.fc30', 'zsh-5.8-1.fc30'] } });
      expect(withBuilds.builds).toEqual(['bash-5.1-1.fc30', 'zsh-5.8-1.fc30']);
      expect(withBuilds.modules).toEqual(RICH.modules);
      const withModules = await regenerate(o, { source: { modules: ['mod:2:3:beef'] } });
      expect(withModules.modules).toEqual(['mod:2:3:beef']);
      expect(withModules.builds).toEqual(RICH.builds);
      // Given but empty: still a new compose, with the original's lists.
      const empty = await regenerate(o, { source: { builds: [], modules: [] } });
      expect(pick(empty, COPIED)).toEqual(pick(o, COPIED));
    });

    it('copies the Pungi config dump of a raw_config compose', async () => {
      const o = await composeIn(t, 'removed', {
        source_type: SOURCE_TYPES.raw_config,
        source: 'pungi_cfg#abc123',
        compose_type: 'production',
        pungi_config_dump: 'release_short = "F"\n',
      });
      const copy = await regenerate(o);
      const got = await request(t.app).get(`/api/1/composes/${copy.id}`);
      expect(got.body).toMatchObject({ source_type: 5, source: 'pungi_cfg#abc123', pungi_config_dump: 'release_short = "F"\n', state_name: 'wait' });
    });
  });

  describe('PATCH /api/1/composes/<id>: not renewable', () => {
    it.each(['wait', 'generating'] as const)('answers 404 for a %s compose', async (state) => {
      const c = await composeIn(t, state);
      await expectRefused(t, () => request(t.app).patch(`/api/1/composes/${c.id}`).send({ seconds_to_live: 60 }), 404, `No compose with id ${c.id} found`);
      await expectRefused(t, () => request(t.app).patch(`/api/1/composes/${c.id}`).send({ sigkeys: ['abcd1234'] }), 404, `No compose with id ${c.id} found`);
    });

    it('answers 404 for a compose that does not exist', async () => {
      await expectRefused(t, () => request(t.app).patch('/api/1/composes/999999'), 404, 'No compose with id 999999 found');
    });
  });
});

describe('with authentication', () => {
  let t: TestStack;
  const as = (user: string, groups = '') => ({ 'X-Test-User': user, ...(groups ? { 'X-Test-Groups': groups } : {}) });

  beforeAll(async () => {
    t = await startTestStack({
      config: {
        allowed_clients: {
          users: { alice: {}, bob: {}, dev: { arches: ['ppc64', 's390', 'x86_64'] } },
          groups: { packagers: {} },
        },
        admins: { users: ['root'], groups: ['odcs-admins'] },
        extra_target_dirs: { 'releng-private': '/mnt/private' },
      },
      context: { auth: headerAuth },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const postAs = async (user: string): Promise<number> => {
    const res = await request(t.app).post('/api/1/composes/').set(as(user)).send({ source: { type: 'tag', source: 'f30-build' } });
    expect(res.status).toBe(200);
    expect(res.body.owner).toBe(user);
    return res.body.id;
  };

  describe('DELETE', () => {
    it("refuses to cancel someone else's compose, naming it", async () => {
      const id = await postAs('alice');
      await expectRefused(
        t,
        () => request(t.app).delete(`/api/1/composes/${id}`).set(as('bob', 'packagers')),
        403,
        `Compose (id=${id}) can not be canceled, it's owned by someone else.`,
      );
      expect((await t.s.store.get(id))?.state).toBe(0);
    });

    it.each([
      ['the owner', 'alice', ''],
      ['an admin', 'root', ''],
      ['an admin by group', 'gina', 'odcs-admins'],
    ])('lets %s cancel, recording who did', async (_who, user, groups) => {
      const id = await postAs('alice');
      const res = await request(t.app).delete(`/api/1/composes/${id}`).set(as(user, groups));
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ status: 202, message: `Compose (id=${id}) has been canceled` });
      expect(await t.s.store.get(id)).toMatchObject({ state: 4, state_reason: `Canceled by ${user}`, removed_by: user });
    });

    it('lets only admins ask for removal, even of their own composes', async () => {
      const done = await composeIn(t, 'done', { owner: 'alice' }, DAY);
      await expectRefused(t, () => request(t.app).delete(`/api/1/composes/${done.id}`).set(as('alice')), 403, 'User alice is not in role admins.');
      await expectRefused(t, () => request(t.app).delete(`/api/1/composes/${done.id}`).set(as('bob', 'packagers')), 403, 'User bob is not in role admins.');
      const failed = await composeIn(t, 'failed', { owner: 'alice' }, DAY);
      await expectRefused(t, () => request(t.app).delete(`/api/1/composes/${failed.id}`).set(as('alice')), 403, 'User alice is not in role admins.');

      const t0 = Date.now();
      const res = await request(t.app).delete(`/api/1/composes/${done.id}`).set(as('gina', 'odcs-admins'));
      const t1 = Date.now();
      expect(res.status).toBe(202);
      expect(res.body).toEqual({
        status: 202,
        message: `The delete request for compose (id=${done.id}) has been accepted and will be processed by backend later.`,
      });
      const row = (await t.s.store.get(done.id))!;
      expect(row).toMatchObject({ state: 2, removed_by: 'gina' });
      expectAround(row.time_to_expire, t0, t1, 0);
    });

    it('checks the admin role before the state', async () => {
      const generating = await composeIn(t, 'generating', { owner: 'alice' });
      await expectRefused(t, () => request(t.app).delete(`/api/1/composes/${generating.id}`).set(as('alice')), 403, 'User alice is not in role admins.');
      await expectRefused(
        t,
        () => request(t.app).delete(`/api/1/composes/${generating.id}`).set(as('root')),
        400,
        `Compose (id=${generating.id}) can not be removed, its state need to be in ['done', 'failed'].`,
      );
    });

    it('answers 404 for a missing compose, to anyone authenticated', async () => {
      await expectRefused(t, () => request(t.app).delete('/api/1/composes/999999').set(as('bob')), 404, 'No such compose found.');
    });
  });

  describe('PATCH', () => {
    it('needs the allowed_clients role', async () => {
      const c = await composeIn(t, 'done', {}, 60);
      await expectRefused(t, () => request(t.app).patch(`/api/1/composes/${c.id}`).set(as('qa')).send({}), 403, 'User qa is not in role allowed_clients.');
      // Even for a compose that is not renewable: the role comes first.
      await expectRefused(t, () => request(t.app).patch('/api/1/composes/999999').set(as('qa')), 403, 'User qa is not in role allowed_clients.');
    });

    it("checks the original's attributes against the caller's rules", async () => {
      const c = await composeIn(t, 'done', { arches: ['x86_64', 'aarch64'] }, 60);
      await expectRefused(
        t,
        () => request(t.app).patch(`/api/1/composes/${c.id}`).set(as('dev')).send({}),
        403,
        'User dev not allowed to operate with compose with arches=aarch64.',
      );
      const failed = await composeIn(t, 'failed', { source_type: SOURCE_TYPES.pulp, source: 'cs-1' });
      await expectRefused(
        t,
        () => request(t.app).patch(`/api/1/composes/${failed.id}`).set(as('dev')).send({}),
        403,
        'User dev not allowed to operate with compose with source_types=pulp.',
      );
    });

    it('does not check the target dir again', async () => {
      const c = await composeIn(t, 'done', { target_dir: '/mnt/private' }, 60);
      const res = await request(t.app).patch(`/api/1/composes/${c.id}`).set(as('dev')).send({});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: c.id, target_dir: 'releng-private' });
    });

    it('gives a regenerated compose to the caller', async () => {
      const c = await composeIn(t, 'failed', { owner: 'alice', koji_event: 99 });
      const res = await request(t.app).patch(`/api/1/composes/${c.id}`).set(as('bob')).send({});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ owner: 'bob', state: 0, koji_event: 99, respin_of: c.pungi_compose_id });
      expect(res.body.id).not.toBe(c.id);
    });
  });
});
