/**
 * A target dir belongs to the database that first used it (its `.odcs-owner` marker): the beat
 * of another database never sweeps it nor deletes a namesake compose directory there, a target
 * dir of compose directories without a marker is left alone, and either is logged once. Two real
 * databases (two test stacks) share one target dir, as `npm start` with the embedded database and
 * then with DATABASE_URL did when the second one's first beat round deleted 22 composes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Beat } from '../../backend/beat/beat';
import { STATES } from '../../common/enums';
import { databaseIdentity, OWNER_MARKER, ownerInMarker } from '../../common/target-dir-owner';
import { newCompose as compose } from '../support/composes';
import { eventually } from '../support/listener';
import { startTestStack, type TestStack } from '../support/stack';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

interface LogLine {
  level: number;
  msg: string;
  targetDir?: string;
}

/** A beat of stack `t` whose log lines are kept. */
function beatWithLog(t: TestStack): { beat: Beat; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { beat: new Beat({ cfg: t.cfg, db: t.s.db, store: t.s.store, log }), lines };
}

const warningsAbout = (lines: LogLine[], dir: string): LogLine[] => lines.filter((l) => l.level === 40 && l.targetDir === dir);

/** A `done` compose of stack `t`, expiring 100 s after T0, with a tree in `dir`. */
async function builtIn(t: TestStack, dir: string): Promise<number> {
  const c = await t.s.store.create(compose({ seconds_to_live: 100 }), T0);
  await t.s.store.claim(c.id, 'w', T0);
  await t.s.store.finish(c.id, 'w', STATES.done, 'Compose is generated successfully', T0);
  mkdirSync(path.join(dir, `odcs-${c.id}`, 'compose', 'Temporary'), { recursive: true });
  writeFileSync(path.join(dir, `odcs-${c.id}`, 'pungi-stderr.log'), 'built by its own database\n');
  return c.id;
}

describe('target dir ownership', () => {
  let a: TestStack;
  let b: TestStack;
  /** A target dir of b's configuration (extra_target_dirs) holding compose directories of an older version: no marker. */
  let old: string;
  beforeEach(async () => {
    a = await startTestStack();
    old = path.join(a.dir, 'old-composes');
    b = await startTestStack({ config: { target_dir: a.cfg.target_dir, extra_target_dirs: { old } } });
    mkdirSync(a.cfg.target_dir, { recursive: true });
  });
  afterEach(async () => {
    await b.close();
    await a.close();
  });

  const markerOwner = (dir: string): string => ownerInMarker(readFileSync(path.join(dir, OWNER_MARKER), 'utf8'));

  it('claims a fresh empty target dir for its database, whose beat then sweeps strays there', async () => {
    const dir = a.cfg.target_dir;
    expect(existsSync(path.join(dir, OWNER_MARKER))).toBe(false);
    const { beat, lines } = beatWithLog(a);
    await beat.runOnce(at(0));
    const identity = await databaseIdentity(a.s.db);
    expect(identity).toMatch(/^[0-9a-f-]{36}$/);
    expect(markerOwner(dir)).toBe(identity);
    expect(lines.filter((l) => l.targetDir === dir).map((l) => l.msg)).toEqual([expect.stringContaining('claimed')]);
    // Each database has its own identity, though both are copies of one migrated template.
    expect(await databaseIdentity(b.s.db)).not.toBe(identity);

    const live = await builtIn(a, dir);
    for (const d of ['odcs-99999', 'latest-odcs-99998-1', '.removing-odcs-5-abcd']) mkdirSync(path.join(dir, d));
    const report = await beat.runOnce(at(10));
    expect(report.swept.map((p) => path.basename(p)).sort()).toEqual(['.removing-odcs-5-abcd', 'latest-odcs-99998-1', 'odcs-99999']);
    expect(readdirSync(dir).sort()).toEqual([OWNER_MARKER, `odcs-${live}`]);
    expect(markerOwner(dir)).toBe(identity);
  });

  it("leaves another database's target dir alone: no sweep, no namesake deleted on expiry, one log line", async () => {
    const dir = a.cfg.target_dir;
    await a.beat.sweep(); // a claims the empty dir
    const aCompose = await builtIn(a, dir);
    mkdirSync(path.join(dir, 'odcs-99999'));
    mkdirSync(path.join(dir, '.removing-odcs-7-abcd'));
    // b has a compose of the same id, with no tree (its worker never builds there), expiring at 100 s.
    const c = await b.s.store.create(compose({ seconds_to_live: 100 }), T0);
    await b.s.store.claim(c.id, 'w', T0);
    await b.s.store.finish(c.id, 'w', STATES.done, 'Compose is generated successfully', T0);
    expect(c.id).toBe(aCompose);

    const { beat, lines } = beatWithLog(b);
    const first = await beat.runOnce(at(200));
    const second = await beat.runOnce(at(300));
    // The compose b knows is expired in b's database; a's directory of the same id stays.
    expect(first.removed).toEqual([c.id]);
    expect((await b.s.store.get(c.id))?.state).toBe(STATES.removed);
    expect([first.swept, second.swept]).toEqual([[], []]);
    expect(readdirSync(dir).sort()).toEqual([OWNER_MARKER, '.removing-odcs-7-abcd', `odcs-${aCompose}`, 'odcs-99999']);
    expect(readFileSync(path.join(dir, `odcs-${aCompose}`, 'pungi-stderr.log'), 'utf8')).toBe('built by its own database\n');
    expect(markerOwner(dir)).toBe(await databaseIdentity(a.s.db));
    const warned = warningsAbout(lines, dir);
    expect(warned).toHaveLength(1);
    expect(warned[0].msg).toContain('belongs to another database');

    // a's own beat still sweeps its strays and keeps its live compose.
    const own = await a.beat.runOnce(at(10));
    expect(own.swept.map((p) => path.basename(p)).sort()).toEqual(['.removing-odcs-7-abcd', 'odcs-99999']);
    expect(readdirSync(dir).sort()).toEqual([OWNER_MARKER, `odcs-${aCompose}`]);
  });

  it('does not sweep a target dir of compose directories without a marker (extra target dirs too) until one names its database', async () => {
    for (const d of ['odcs-5', 'odcs-6/compose', 'odcs-6/.compose.tmp-dead']) mkdirSync(path.join(old, d), { recursive: true });
    const { beat, lines } = beatWithLog(b);
    const first = await beat.runOnce(at(0));
    const second = await beat.runOnce(at(60));
    expect([first.swept, second.swept]).toEqual([[], []]);
    expect(readdirSync(old).sort()).toEqual(['odcs-5', 'odcs-6']);
    expect(readdirSync(path.join(old, 'odcs-6')).sort()).toEqual(['.compose.tmp-dead', 'compose']);
    expect(existsSync(path.join(old, OWNER_MARKER))).toBe(false);
    const warned = warningsAbout(lines, old);
    expect(warned).toHaveLength(1);
    expect(warned[0].msg).toContain(`no ${OWNER_MARKER} marker`);
    // The default target dir, empty, was claimed meanwhile.
    expect(markerOwner(b.cfg.target_dir)).toBe(await databaseIdentity(b.s.db));

    // The operator says these composes are b's (as the README tells): from then on b sweeps them.
    writeFileSync(path.join(old, OWNER_MARKER), `${await databaseIdentity(b.s.db)}\n`);
    const adopted = await beat.runOnce(at(120));
    expect(adopted.swept.map((p) => path.relative(old, p)).sort()).toEqual(['odcs-5', 'odcs-6']);
    expect(readdirSync(old)).toEqual([OWNER_MARKER]);
    expect(warningsAbout(lines, old)).toHaveLength(1);
  });
});

describe("a worker and another database's target dir", () => {
  let a: TestStack;
  let b: TestStack;
  beforeEach(async () => {
    a = await startTestStack();
    b = await startTestStack({ worker: true, config: { target_dir: a.cfg.target_dir } });
    mkdirSync(a.cfg.target_dir, { recursive: true });
  });
  afterEach(async () => {
    await b.close();
    await a.close();
  });

  it('fails the compose with a clear reason and writes nothing there', async () => {
    const dir = a.cfg.target_dir;
    await a.beat.sweep(); // a claims the empty dir
    const aCompose = await builtIn(a, dir);
    const before = readdirSync(path.join(dir, `odcs-${aCompose}`)).sort();

    const c = await b.s.store.create(compose(), new Date());
    expect(c.id).toBe(aCompose);
    await b.s.relay.drain();
    const row = await eventually(async () => {
      const r = await b.s.store.get(c.id);
      return r?.state === STATES.failed ? r : undefined;
    }, 30000, 'the compose to fail');
    expect(row.state_reason).toContain('The target directory of this compose belongs to another ODCS database');
    expect(readdirSync(path.join(dir, `odcs-${aCompose}`)).sort()).toEqual(before);
    expect(readFileSync(path.join(dir, `odcs-${aCompose}`, 'pungi-stderr.log'), 'utf8')).toBe('built by its own database\n');
    expect(markerOwner(dir)).toBe(await databaseIdentity(a.s.db));
  });

  const markerOwner = (dir: string): string => ownerInMarker(readFileSync(path.join(dir, OWNER_MARKER), 'utf8'));
});
