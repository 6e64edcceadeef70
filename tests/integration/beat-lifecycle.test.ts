/**
 * The beat's lifecycle jobs (reference §6.4) with an injected clock, on the real database and
 * real directories: expiry exactly at time_to_expire, retention of reused composes, stuck
 * generating composes, reusers finished, stray directories and the package store.
 */
import { existsSync, mkdirSync, writeFileSync, linkSync, statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { STORE_DIR } from '../../backend/pipeline';
import { STATES } from '../../common/enums';
import { OWNER_MARKER } from '../../common/target-dir-owner';
import { newCompose as compose } from '../support/composes';
import { startTestStack, type TestStack } from '../support/stack';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);
const TTL = 3600;

describe('the beat lifecycle jobs, with an injected clock', () => {
  let t: TestStack;
  beforeEach(async () => {
    t = await startTestStack({ config: { heartbeat_timeout: 60, max_attempts: 2, compose_timeout: 3600, store_grace_seconds: 0 } });
    // The target dir is this database's (claimed while empty, as at first use), so the beat sweeps it.
    mkdirSync(t.cfg.target_dir, { recursive: true });
    await t.beat.sweep();
  });
  afterEach(() => t.close());

  const dirOf = (id: number): string => path.join(t.cfg.target_dir, `odcs-${id}`);

  /** A compose built by worker w from `start` to `end` (seconds after T0), with a tree on disk. */
  async function built(start: number, end: number, overrides = {}): Promise<number> {
    const c = await t.s.store.create(compose({ seconds_to_live: TTL, ...overrides }), at(start));
    await t.s.store.claim(c.id, 'w', at(start));
    await t.s.store.finish(c.id, 'w', STATES.done, 'Compose is generated successfully', at(end), { pungi_compose_id: `Temporary-${c.id}` });
    mkdirSync(path.join(dirOf(c.id), 'compose', 'Temporary'), { recursive: true });
    writeFileSync(path.join(dirOf(c.id), 'pungi-stderr.log'), '');
    return c.id;
  }

  const events = async (id: number): Promise<number[]> =>
    (
      await t.s.db.query<{ state: number }>(
        `SELECT (payload->>'state')::int AS state FROM outbox WHERE kind = 'event' AND compose_id = $1 ORDER BY id`,
        [id],
      )
    ).map((e) => e.state);

  it('removes a compose exactly after its time_to_expire, with ODCS reason, directory and all', async () => {
    const id = await built(0, 10);
    const expiry = (await t.s.store.get(id))!.time_to_expire;
    expect(expiry).toEqual(at(10 + TTL)); // the lifetime counts from the end of the build
    expect((await t.beat.runOnce(expiry)).removed).toEqual([]);
    expect((await t.s.store.get(id))?.state).toBe(STATES.done);
    const report = await t.beat.runOnce(new Date(expiry.getTime() + 1000));
    expect(report.removed).toEqual([id]);
    const row = await t.s.store.get(id);
    expect(row?.state).toBe(STATES.removed);
    expect(row?.state_reason).toBe('Compose is generated successfully\nCompose is expired.');
    expect(row?.time_removed).toEqual(new Date(expiry.getTime() + 1000));
    expect(existsSync(dirOf(id))).toBe(false);
    expect(readdirSync(t.cfg.target_dir).filter((n) => n.startsWith('.removing-'))).toEqual([]);
    expect(await events(id)).toEqual([STATES.wait, STATES.generating, STATES.done, STATES.removed]);
  });

  it('says who asked for a removal', async () => {
    const id = await built(0, 10);
    await t.s.store.requestRemoval(id, 'bob', at(20));
    expect((await t.beat.runOnce(at(21))).removed).toEqual([id]);
    expect((await t.s.store.get(id))?.state_reason).toBe('Compose is generated successfully\nRemoved by bob.');
  });

  it('keeps a compose another live compose reuses, and its directory, until that one expires too', async () => {
    const original = await built(0, 10);
    const reuser = await t.s.store.create(compose({ seconds_to_live: TTL }), at(100));
    await t.s.store.claim(reuser.id, 'w2', at(100));
    expect(await t.s.store.reuse(reuser.id, 'w2', original, at(100))).toBe('done');
    const r = (await t.s.store.get(reuser.id))!;
    expect(r.reused_id).toBe(original);
    expect(r.pungi_compose_id).toBe(`Temporary-${original}`);
    // Both live as long as the later of the two.
    expect((await t.s.store.get(original))!.time_to_expire).toEqual(r.time_to_expire);

    // Renewals extend both together; shorten the original by hand to see the retention.
    await t.s.db.query(`UPDATE composes SET time_to_expire = $2 WHERE id = $1`, [original, at(50)]);
    expect((await t.beat.runOnce(at(60))).removed).toEqual([]);
    expect(existsSync(dirOf(original))).toBe(true);

    // Once the reuser expires too, both go in the same round, and the directory with them.
    const later = new Date(r.time_to_expire.getTime() + 1000);
    expect((await t.beat.runOnce(later)).removed.sort()).toEqual([original, reuser.id].sort());
    expect(existsSync(dirOf(original))).toBe(false);
    expect((await t.s.store.get(reuser.id))?.state_reason).toBe('Compose is generated successfully\nCompose is expired.');
  });

  it('releases a compose whose worker stopped heart-beating, then fails it as stuck after max_attempts', async () => {
    const c = await t.s.store.create(compose(), at(0));
    await t.s.store.claim(c.id, 'w1', at(0));
    await t.s.store.heartbeat(c.id, 'w1', at(30));
    expect((await t.beat.runOnce(at(90))).released).toEqual([]); // 60 s after the last heartbeat: not yet
    const first = await t.beat.runOnce(at(91));
    expect(first.released).toEqual([c.id]);
    let row = (await t.s.store.get(c.id))!;
    expect(row).toMatchObject({ state: STATES.generating, worker: null });
    // The dead worker's late result is not recorded: the compose is no longer its own.
    expect(await t.s.store.finish(c.id, 'w1', STATES.done, 'x', at(92))).toBeUndefined();
    expect(await t.s.store.heartbeat(c.id, 'w1', at(92))).toBe(false);
    // Its work was queued again; another worker takes it over (no state change, no event).
    const work = await t.s.db.query(`SELECT 1 FROM outbox WHERE kind = 'work' AND compose_id = $1`, [c.id]);
    expect(work.length).toBeGreaterThan(0);
    expect((await t.s.store.claim(c.id, 'w2', at(95)))?.worker).toBe('w2');
    expect(await t.s.store.claim(c.id, 'w3', at(95))).toBeUndefined();

    // w2 dies too: the second attempt was the last.
    const stuck = await t.beat.runOnce(at(95 + 61));
    expect(stuck.released).toEqual([]);
    expect(stuck.failedStuck).toEqual([c.id]);
    row = (await t.s.store.get(c.id))!;
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe("Compose stuck in 'generating' state for longer than 156 seconds.");
    expect(await events(c.id)).toEqual([STATES.wait, STATES.generating, STATES.failed]);
  });

  it('fails a compose generating for longer than twice compose_timeout even while heart-beating', async () => {
    const c = await t.s.store.create(compose(), at(0));
    await t.s.store.claim(c.id, 'w1', at(0));
    await t.s.store.heartbeat(c.id, 'w1', at(7200));
    expect((await t.beat.runOnce(at(7200))).failedStuck).toEqual([]);
    expect((await t.beat.runOnce(at(7201))).failedStuck).toEqual([c.id]);
    expect((await t.s.store.get(c.id))?.state_reason).toBe("Compose stuck in 'generating' state for longer than 7200 seconds.");
  });

  it('ends composes reusing a generating compose with it, and finishes any the end missed', async () => {
    const a = await t.s.store.create(compose(), at(0));
    await t.s.store.claim(a.id, 'wa', at(0));
    await t.s.store.markGenerating(a.id, 'wa', { koji_event: 5 });
    const b = await t.s.store.create(compose(), at(1));
    await t.s.store.claim(b.id, 'wb', at(1));
    expect((await t.s.store.reuseCandidates({ ...b, koji_event: 5 }, true)).map((c) => c.id)).toEqual([a.id]);
    expect(await t.s.store.reuse(b.id, 'wb', a.id, at(1), { koji_event: 5 })).toBe('waiting');
    expect((await t.s.store.get(b.id))).toMatchObject({ state: STATES.generating, reused_id: a.id, worker: null });
    // A reusing compose is nobody's to heartbeat: the beat leaves it alone.
    expect((await t.beat.runOnce(at(500))).released).toEqual([a.id]);
    await t.s.store.claim(a.id, 'wa2', at(501));
    const done = await t.s.store.finish(a.id, 'wa2', STATES.done, 'Compose is generated successfully', at(502), { pungi_compose_id: 'P-1' });
    const rb = (await t.s.store.get(b.id))!;
    expect(rb).toMatchObject({ state: STATES.done, state_reason: 'Compose is generated successfully', pungi_compose_id: 'P-1' });
    expect(rb.time_done).toEqual(done?.time_done);

    // A reuser whose original ended behind its back (an older version, a manual fix) is finished by the beat.
    const c = await t.s.store.create(compose(), at(600));
    await t.s.store.claim(c.id, 'wc', at(600));
    await t.s.db.query(`UPDATE composes SET reused_id = $2, worker = NULL WHERE id = $1`, [c.id, a.id]);
    expect((await t.beat.runOnce(at(601))).finishedReusers).toEqual([c.id]);
    expect((await t.s.store.get(c.id))?.state).toBe(STATES.done);
  });

  it('sweeps directories without a live compose and temporary trees nobody is building', async () => {
    const live = await built(0, 10);
    const gone = await built(0, 10);
    await t.s.db.query(`UPDATE composes SET state = ${STATES.removed}, time_removed = now() WHERE id = $1`, [gone]);
    const generating = await t.s.store.create(compose(), at(0));
    await t.s.store.claim(generating.id, 'w', at(0));
    const root = t.cfg.target_dir;
    for (const d of ['odcs-99999', 'latest-odcs-99998-1', 'odcs-abc', 'odcs-', 'other', '.removing-odcs-5-abcd', `odcs-${live}/.compose.tmp-dead`, `odcs-${generating.id}/.compose.tmp-busy`]) {
      mkdirSync(path.join(root, d), { recursive: true });
    }
    const report = await t.beat.runOnce(at(20));
    const left = readdirSync(root).sort();
    expect(left).toEqual([OWNER_MARKER, `odcs-${generating.id}`, `odcs-${live}`, 'odcs-', 'odcs-abc', 'other'].sort());
    expect(existsSync(path.join(root, `odcs-${live}`, '.compose.tmp-dead'))).toBe(false);
    expect(existsSync(path.join(root, `odcs-${live}`, 'compose'))).toBe(true);
    expect(existsSync(path.join(root, `odcs-${generating.id}`, '.compose.tmp-busy'))).toBe(true);
    expect(report.swept.map((p) => path.relative(root, p)).sort()).toEqual(
      ['.removing-odcs-5-abcd', `odcs-${gone}`, 'odcs-99999', 'latest-odcs-99998-1', path.join(`odcs-${live}`, '.compose.tmp-dead')].sort(),
    );
  });

  it('collects store entries no compose links, even those a source repository links too', async () => {
    const id = await built(0, 10);
    const store = path.join(t.cfg.target_dir, STORE_DIR, 'sha256', 'ab');
    mkdirSync(store, { recursive: true });
    const used = path.join(store, 'used.rpm');
    const orphan = path.join(store, 'orphan.rpm');
    const fromSource = path.join(store, 'source.rpm');
    for (const f of [used, orphan, fromSource]) writeFileSync(f, f);
    const packages = path.join(dirOf(id), 'compose', 'Temporary', 'x86_64', 'os', 'Packages');
    mkdirSync(packages, { recursive: true });
    linkSync(used, path.join(packages, 'used-1-1.x86_64.rpm'));
    const sourceRepo = path.join(t.dir, 'source-repo');
    mkdirSync(sourceRepo);
    linkSync(fromSource, path.join(sourceRepo, 'source-1-1.noarch.rpm'));

    // Collection spares what changed within the grace period (0 here) up to its own start; file
    // times come from the kernel's coarse clock, so let it pass the moment these were made.
    await new Promise((r) => setTimeout(r, 1100));
    const report = await t.beat.collect();
    expect(report.packages).toBe(2);
    expect(existsSync(used)).toBe(true);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(fromSource)).toBe(false);
    expect(statSync(path.join(sourceRepo, 'source-1-1.noarch.rpm')).nlink).toBe(1); // the repository keeps its file
  });
});
