/**
 * The compose lifecycle end to end on the real stack (PostgreSQL, RabbitMQ, worker, createrepo_c):
 * reuse of identical composes (§5.9) hit and miss, reuse of a compose still generating,
 * regeneration after removal with exactly the same package versions (§1.7), and a cancel racing
 * a worker's claim.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import type { ComposeRow } from '../../common/db/entities';
import { STATES } from '../../common/enums';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { composeFinished, requestCompose, rpmsInCompose } from '../support/compose-e2e';
import { newCompose } from '../support/composes';
import { eventually } from '../support/listener';
import { startTestStack, type TestStack } from '../support/stack';

const run = promisify(execFile);

let fixtures: FixtureRepos;
let t: TestStack;
let work: string;
let repo: string;
let slowMarker: string;

/** The working repository: the fixture packages chosen by `keep`, with repodata at `revision`. */
async function makeRepo(keep: (file: string) => boolean, revision: number): Promise<void> {
  const packages = path.join(repo, 'Packages');
  await rm(repo, { recursive: true, force: true });
  await mkdir(packages, { recursive: true });
  for (const file of fixtures.rpms.main) if (keep(path.basename(file))) await link(file, path.join(packages, path.basename(file)));
  await run('createrepo_c', ['--quiet', '--no-database', '--revision', String(revision), repo]);
}

beforeAll(async () => {
  fixtures = await buildFixtureRepos();
  work = await mkdtemp(path.join(tmpdir(), 'odcs-lifecycle-'));
  repo = path.join(work, 'repo');
  slowMarker = path.join(work, 'slow');
  // createrepo_c, slowed down while the marker exists, to catch a compose in the middle of its build.
  const createrepo = path.join(work, 'createrepo_c');
  await writeFile(createrepo, `#!/bin/sh\n[ -e '${slowMarker}' ] && sleep 2\nexec createrepo_c "$@"\n`, { mode: 0o755 });
  await makeRepo((f) => f !== 'libalpha-2.0-1.noarch.rpm', 1);
  t = await startTestStack({
    worker: true,
    relay: true,
    config: { allowed_repo_roots: [work], createrepo_c: createrepo, store_grace_seconds: 0 },
  });
}, 180000);
afterAll(async () => {
  await t?.close();
  await rm(work, { recursive: true, force: true });
});

const finished = (id: number): Promise<ComposeRow> => composeFinished(t, id);

async function post(body: Record<string, unknown>): Promise<number> {
  const res = await request(t.app).post('/api/1/composes/').send(body);
  expect({ status: res.status, body: res.status === 200 ? 'ok' : res.body }).toEqual({ status: 200, body: 'ok' });
  return res.body.id as number;
}

const compose = (body: Record<string, unknown>): Promise<ComposeRow> => requestCompose(t, body);

const libalpha = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  source: { type: 'repo', source: repo, packages: ['libalpha'], ...extra },
});

const nevras = (row: ComposeRow): Promise<string[]> => rpmsInCompose(t, row);

/** Asks for removal (DELETE as admin) and lets the beat carry it out. */
async function remove(row: ComposeRow): Promise<void> {
  expect((await request(t.app).delete(`/api/1/composes/${row.id}`)).status).toBe(202);
  const report = await t.beat.runOnce(new Date(Date.now() + 1000));
  expect(report.removed).toContain(row.id);
}

describe('reuse of identical composes', () => {
  let original: ComposeRow;
  beforeAll(async () => {
    original = await compose(libalpha());
  }, 60000);

  it('answers an identical request with the compose already built', async () => {
    expect(original.state).toBe(STATES.done);
    const started = Date.now();
    const again = await compose(libalpha());
    const took = Date.now() - started;
    expect(again).toMatchObject({ state: STATES.done, state_reason: 'Compose is generated successfully', reused_id: original.id });
    expect(again.pungi_compose_id).toBe(original.pungi_compose_id);
    expect(again.time_to_expire).toEqual((await t.s.store.get(original.id))!.time_to_expire);
    const json = (await request(t.app).get(`/api/1/composes/${again.id}`)).body;
    expect(json.result_repofile).toBe(`${t.cfg.target_dir_url}/odcs-${original.id}/compose/Temporary/odcs-${original.id}.repo`);
    // Its own directory holds only the log saying what it reused.
    expect(await readdir(path.join(t.cfg.target_dir, `odcs-${again.id}`))).toEqual(['pungi-stderr.log', 'pungi-stdout.log']);
    const log = path.join(t.cfg.target_dir, `odcs-${again.id}`, 'pungi-stderr.log');
    await eventually(async () => (await readFile(log, 'utf8')).includes(`Reusing compose ${original.id} (done)`), 5000, 'the log');
    process.stdout.write(`reused compose answered (POST to done) in ${took} ms\n`);
  });

  it.each([
    ['no_reuse', () => ({ flags: ['no_reuse'] })],
    ['other packages', () => libalpha({ packages: ['libalpha', 'app'] })],
    ['other arches', () => ({ arches: ['x86_64', 'ppc64le'] })],
    ['check_deps', () => ({ flags: ['check_deps'] })],
  ])('builds anew when the request differs: %s', async (_what, change) => {
    const row = await compose({ ...libalpha(), ...change() });
    expect(row.state).toBe(STATES.done);
    expect(row.reused_id).toBeNull();
    expect(existsSync(path.join(t.cfg.target_dir, `odcs-${row.id}`, 'compose'))).toBe(true);
  });

  it('reuses a compose that is still generating, and ends with it', async () => {
    await writeFile(slowMarker, '');
    try {
      const first = await post({ source: { type: 'repo', source: repo, packages: ['toolx'] } });
      await eventually(async () => (await t.s.store.get(first))?.state_reason === 'Compose is generating', 20000, 'the first compose to be generating');
      const second = await post({ source: { type: 'repo', source: repo, packages: ['toolx'] } });
      await eventually(async () => (await t.s.store.get(second))?.reused_id === first, 20000, 'the second compose to reuse the first');
      expect((await t.s.store.get(second))?.state).toBe(STATES.generating);
      const [a, b] = [await finished(first), await finished(second)];
      expect(a.state).toBe(STATES.done);
      expect(b).toMatchObject({ state: STATES.done, state_reason: a.state_reason, pungi_compose_id: a.pungi_compose_id });
      expect(b.time_done).toEqual(a.time_done);
    } finally {
      await rm(slowMarker, { force: true });
    }
  });

  it('does not reuse a compose of an older revision of the repository', async () => {
    await makeRepo(() => true, 2);
    try {
      const row = await compose(libalpha());
      expect(row.reused_id).toBeNull();
      expect(row.koji_event).toBe(2);
      expect(await nevras(row)).toContain('libalpha-0:2.0-1.noarch');
    } finally {
      await makeRepo((f) => f !== 'libalpha-2.0-1.noarch.rpm', 1);
    }
  });
});

describe('regeneration after removal', () => {
  it('gives the copy exactly the package versions of the original, and says which are gone when they are', async () => {
    await makeRepo((f) => f !== 'libalpha-2.0-1.noarch.rpm', 11);
    const original = await compose(libalpha({ packages: ['libalpha', 'app'] }));
    const before = await nevras(original);
    expect(before).toContain('libalpha-0:1.0-1.noarch');
    await remove(original);
    expect(existsSync(path.join(t.cfg.target_dir, `odcs-${original.id}`))).toBe(false);

    // The repository moved on: libalpha 2.0 is the latest now.
    await makeRepo(() => true, 12);
    const fresh = await compose(libalpha({ packages: ['libalpha', 'app'] }));
    expect(await nevras(fresh)).toContain('libalpha-0:2.0-1.noarch');

    const patched = await request(t.app).patch(`/api/1/composes/${original.id}`).send({});
    expect(patched.status).toBe(200);
    expect(patched.body.id).not.toBe(original.id);
    const copy = await finished(patched.body.id);
    expect(copy.state_reason).toBe('Compose is generated successfully');
    expect(copy.reused_id).toBeNull();
    expect(await nevras(copy)).toEqual(before);

    // libalpha 1.0 leaves the repository: the next regeneration says so.
    await makeRepo((f) => f !== 'libalpha-1.0-1.noarch.rpm', 13);
    await remove(copy);
    const again = await request(t.app).patch(`/api/1/composes/${copy.id}`).send({});
    const failed = await finished(again.body.id);
    expect(failed.state).toBe(STATES.failed);
    expect(failed.state_reason).toBe(
      `Error while generating compose: The following packages of compose ${original.id} are no longer available: libalpha-0:1.0-1.noarch`,
    );
  }, 120000);
});

describe('cancel racing a claim', () => {
  it('lets exactly one of them win, every time', async () => {
    const outcomes = { cancelled: 0, claimed: 0 };
    for (let i = 0; i < 40; i++) {
      const c = await t.s.store.create(newCompose({ source_type: 7, source: repo, seconds_to_live: 60 }), new Date());
      const [del, claimed] = await Promise.all([
        request(t.app).delete(`/api/1/composes/${c.id}`),
        // A little head start for one or the other, so both orders happen.
        new Promise((r) => setTimeout(r, (i * 7) % 12)).then(() => t.s.store.claim(c.id, `racer-${i}`, new Date())),
      ]);
      const row = (await t.s.store.get(c.id))!;
      // The stack's own worker may claim it too (its work message is published): a third racer.
      const byWorker = !claimed && row.worker !== null && row.worker === t.worker?.name;
      const cancelled = del.status === 202 && del.body.message === `Compose (id=${c.id}) has been canceled`;
      expect([cancelled, claimed !== undefined, byWorker].filter(Boolean)).toHaveLength(1);
      const events = await t.s.db.query<{ state: number }>(
        `SELECT (payload->>'state')::int AS state FROM outbox WHERE kind = 'event' AND compose_id = $1 ORDER BY id`,
        [c.id],
      );
      const announced = events.map((e) => e.state);
      if (cancelled) {
        outcomes.cancelled++;
        // Cancel won: the row says so, nobody owns it, and it was never announced as being built.
        expect(row).toMatchObject({ state: STATES.failed, state_reason: 'Canceled by unknown', worker: null });
        expect(announced).not.toContain(STATES.generating);
        expect(announced).not.toContain(STATES.done);
      } else {
        outcomes.claimed++;
        // Claim won: the compose left `wait` for a build and the DELETE did not cancel it. A racer's
        // claim leaves it generating, owned by the racer; the stack's worker may have finished it
        // already (done, or failed building: earlier tests in this file change the repository).
        expect(row.state).not.toBe(STATES.wait);
        expect(row.state_reason).not.toBe('Canceled by unknown');
        if (del.status === 400) expect(row.removed_by).toBeNull();
        if (claimed) expect(row).toMatchObject({ worker: `racer-${i}`, state: STATES.generating });
        // Lost the race: a removal request, refused while the compose is being built.
        if (row.state === STATES.generating) {
          expect(del.status).toBe(400);
          expect(del.body.message).toBe(`Compose (id=${c.id}) can not be removed, its state need to be in ['done', 'failed'].`);
        }
      }
      // No compose is announced both ways: a cancelled one never as generating or done (checked
      // above); one the stack's worker claimed may rightly be announced generating, then done or failed.
    }
    // Which side wins each race depends on timing, so no count is asserted: each compose above was
    // checked to have exactly one winner, with its row, its events and the DELETE answer agreeing.
    process.stdout.write(`cancel vs claim: ${outcomes.cancelled} cancelled, ${outcomes.claimed} claimed, never both\n`);
  });
});

afterAll(async () => {
  // Nothing half-built is left behind in the target dir.
  const left = (await readdir(t.cfg.target_dir).catch(() => [] as string[])).filter((n) => n.startsWith('.removing-'));
  expect(left).toEqual([]);
});
