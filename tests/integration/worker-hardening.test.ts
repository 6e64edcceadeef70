/**
 * Issue 10, the worker's side: a worker never loses a slot (a result the database refuses, a
 * work message that can never be claimed), never writes outside the compose's own tree
 * (hostile arches in a row that bypassed the API), survives a full disk, stops hung tools at
 * compose_timeout, and shows users honest reasons.
 *
 * The worker here has ONE slot (num_concurrent_composes=1), so a lost slot shows as the next
 * compose never being built. Work messages are published by draining the outbox by hand, so a
 * test can prepare the disk of a compose before its worker sees it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { createBuildCompose } from '../../backend/pipeline';
import { type BuildCompose, Worker } from '../../backend/worker';
import type { ComposeRow, NewCompose } from '../../common/db/entities';
import { FLAGS, SOURCE_TYPES, STATES } from '../../common/enums';
import type { ConfigInput } from '../../common/config';
import { buildFixtureRepos, type FixtureRepos } from '../fixtures/build-repos';
import { composeFinished } from '../support/compose-e2e';
import { newCompose } from '../support/composes';
import { eventually } from '../support/listener';
import { startTestStack } from '../support/stack';

let fixtures: FixtureRepos;

beforeAll(async () => {
  fixtures = await buildFixtureRepos();
}, 180000);

/** A test stack whose worker (one slot, unless configured) is built here, with an operator's log kept in `logLines`. */
async function oneSlotStack(config: ConfigInput, wrap: (real: BuildCompose) => BuildCompose = (real) => real) {
  const t = await startTestStack({
    worker: false,
    relay: false,
    config: { num_concurrent_composes: 1, allowed_repo_roots: [fixtures.dir], allowed_source_types: ['tag', 'module', 'build', 'repo'], ...config },
  });
  const logLines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  const worker = new Worker({ cfg: t.cfg, store: t.s.store, broker: t.s.broker, log, build: wrap(createBuildCompose({ cfg: t.cfg })) });
  await worker.start();
  /** POSTs a compose, publishes its work and waits for its end. */
  const post = async (body: Record<string, unknown>): Promise<ComposeRow> => {
    const res = await request(t.app).post('/api/1/composes/').send(body);
    if (res.status !== 200) throw new Error(`POST answered ${res.status}: ${JSON.stringify(res.body)}`);
    await t.s.relay.drain();
    return composeFinished(t, res.body.id as number);
  };
  /** A compose row written straight to the database, as an older server or a hostile message could; its work is not published yet. */
  const insert = (overrides: Partial<NewCompose>): Promise<ComposeRow> =>
    t.s.store.create(newCompose({ source_type: SOURCE_TYPES.repo, source: fixtures.main, packages: ['app'], ...overrides }), new Date());
  const run = async (row: ComposeRow): Promise<ComposeRow> => {
    await t.s.relay.drain();
    return composeFinished(t, row.id);
  };
  const good = (extra: Record<string, unknown> = {}): Promise<ComposeRow> => post({ source: { type: 'repo', source: fixtures.main, packages: ['app'] }, ...extra });
  return {
    t,
    worker,
    logLines,
    post,
    insert,
    run,
    good,
    async close() {
      await worker.stop({ abort: true });
      await t.close();
    },
  };
}

type Stack = Awaited<ReturnType<typeof oneSlotStack>>;

const internalReason = (id: number): string =>
  `Error while generating compose: Internal error while generating the compose; the operator's log has the details (compose ${id})`;

/** Every file under `dir` with a hash of its content (symlinks by target), to show a tree is untouched. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(entry.parentPath, entry.name);
    if (entry.isFile()) out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    else out[path.relative(dir, p)] = entry.isDirectory() ? 'dir' : 'other';
  }
  return out;
}

describe('a worker with one slot', () => {
  let s: Stack;
  let scratch: string;
  /** A configured extra target dir where a file will be in the way. */
  let notADir: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'odcs-worker-slot-'));
    notADir = path.join(scratch, 'not-a-dir');
    s = await oneSlotStack({ extra_target_dirs: { broken: notADir } }, (real) => async (compose, signal, hooks) => {
      const result = await real(compose, signal, hooks);
      // A package name PostgreSQL cannot store (as a crafted primary.xml could give): the
      // tree is published, then recording the result fails for good.
      return compose.label === 'poisoned' ? { ...result, nevras: { x86_64: ['bad\u0000name-0:1-1.noarch'] } } : result;
    });
  }, 60000);
  afterAll(async () => {
    await s?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('fails a compose whose result the database refuses, acks its message, and builds the next one', async () => {
    const poisoned = await s.run(await s.insert({ label: 'poisoned', flags: FLAGS.no_reuse }));
    expect(poisoned.state).toBe(STATES.failed);
    expect(poisoned.state_reason).toBe(internalReason(poisoned.id));
    expect(await s.t.s.store.resolvedNevras(poisoned.id)).toBeUndefined();
    const next = await s.good();
    expect(next.state_reason).toBe('Compose is generated successfully');
    expect(next.state).toBe(STATES.done);
    expect(s.logLines.join('')).toMatch(/the database refused the compose result/);
  }, 120000);

  it('acks a work message whose compose id cannot exist, and builds the next compose', async () => {
    const publish = (body: string) => s.t.s.broker.publish([{ exchange: '', routingKey: s.t.cfg.work_queue, body: Buffer.from(body) }]);
    await publish('{"compose_id": 2147483648}');
    await publish('{"compose_id": 2147483647}');
    const next = await s.good();
    expect(next.state).toBe(STATES.done);
    await eventually(async () => (await s.t.s.broker.queueLength(s.t.cfg.work_queue)) === 0 && s.worker.busy.length === 0, 10000, 'the queue to drain');
  }, 120000);

  it('refuses an arch that would write into another compose, leaving that compose untouched', async () => {
    // no_reuse: the victim has a tree of its own, not an earlier compose's.
    const victim = await s.good({ flags: ['no_reuse'] });
    expect(victim.state).toBe(STATES.done);
    expect(victim.reused_id).toBeNull();
    const victimDir = path.join(s.t.cfg.target_dir, `odcs-${victim.id}`);
    const before = await snapshot(victimDir);
    const hostile = await s.run(await s.insert({ arches: ['x86_64', `../../../odcs-${victim.id}/compose/Temporary/x86_64`] }));
    expect(hostile.state).toBe(STATES.failed);
    expect(hostile.state_reason).toBe(
      `Error while generating compose: Architecture "../../../odcs-${victim.id}/compose/Temporary/x86_64" is not a known RPM architecture`,
    );
    expect(await snapshot(victimDir)).toEqual(before);
  }, 120000);

  it('refuses arches that would make directories outside target_dir, or are no arch at all', async () => {
    for (const arch of ['../../../../escaped', '__proto__', '.', '$basearch']) {
      const hostile = await s.run(await s.insert({ arches: [arch] }));
      expect(hostile.state).toBe(STATES.failed);
      expect(hostile.state_reason).toBe(`Error while generating compose: Architecture ${JSON.stringify(arch)} is not a known RPM architecture`);
      // Nothing was built: no tree, no temporary tree, nothing beside target_dir.
      expect((await readdir(path.join(s.t.cfg.target_dir, `odcs-${hostile.id}`))).sort()).toEqual(['pungi-stderr.log', 'pungi-stdout.log']);
    }
    expect(existsSync(path.join(s.t.dir, 'escaped'))).toBe(false);
  }, 120000);

  it('fails a compose whose logs hit a full disk, and lives on to build the next one', async () => {
    // no_reuse: an identical earlier compose would otherwise be reused, building nothing.
    const row = await s.insert({ flags: FLAGS.no_reuse });
    const top = path.join(s.t.cfg.target_dir, `odcs-${row.id}`);
    await mkdir(top, { recursive: true });
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    await symlink('/dev/full', path.join(top, 'pungi-stderr.log'));
    await symlink('/dev/full', path.join(top, 'pungi-stdout.log'));
    const full = await s.run(row);
    expect(full.state).toBe(STATES.failed);
    expect(full.state_reason).toBe("Error while generating compose: Cannot write the compose's log files: ENOSPC: no space left on device");
    const next = await s.good();
    expect(next.state).toBe(STATES.done);
  }, 120000);

  it('gives a generic reason for an internal failure, and keeps the real error and its stack in the operator log', async () => {
    // A file where the compose's (configured) target directory must be: mkdir fails with ENOTDIR.
    await writeFile(notADir, 'in the way\n');
    try {
      const row = await s.run(await s.insert({ target_dir: notADir }));
      expect(row.state).toBe(STATES.failed);
      expect(row.state_reason).toBe(internalReason(row.id));
      const logged = s.logLines.map((l) => JSON.parse(l) as { compose?: number; err?: { message: string; stack: string } }).find((l) => l.compose === row.id && l.err);
      expect(logged?.err?.message).toContain(notADir);
      expect(logged?.err?.stack).toMatch(/\n\s+at /);
    } finally {
      await rm(notADir, { force: true });
    }
  }, 120000);

  it('refuses a target dir this server is not configured with, before writing anything', async () => {
    const elsewhere = path.join(s.t.dir, 'elsewhere');
    const row = await s.run(await s.insert({ target_dir: elsewhere }));
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe(
      'Error while generating compose: The target directory of this compose is not one this server is configured with (target_dir, extra_target_dirs)',
    );
    expect(existsSync(elsewhere)).toBe(false);
  }, 120000);

  it('keeps the message of an error meant for users, with no path turned into a URL', async () => {
    const row = await s.post({ source: { type: 'repo', source: fixtures.main, packages: ['app', 'nosuchpackage'] } });
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe('Error while generating compose: The following requested packages are not present in the generated compose: nosuchpackage.');
  }, 120000);
});

describe('a worker whose createrepo_c hangs or fails', () => {
  let s: Stack;
  let scratch: string;
  let pidFile: string;
  let modeFile: string;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'odcs-worker-tools-'));
    pidFile = path.join(scratch, 'pids');
    modeFile = path.join(scratch, 'mode');
    const script = path.join(scratch, 'createrepo_c');
    // hang: ignores SIGTERM (and so does the child it starts), as a wedged tool would.
    await writeFile(
      script,
      [
        '#!/bin/sh',
        `case "$(cat '${modeFile}')" in`,
        `  hang) trap '' TERM; echo $$ > '${pidFile}'; sleep 1000 & echo $! >> '${pidFile}'; wait ;;`,
        '  *) echo "createrepo_c: broken on purpose" >&2; exit 3 ;;',
        'esac',
        '',
      ].join('\n'),
    );
    await chmod(script, 0o755);
    s = await oneSlotStack({ compose_timeout: 3, createrepo_c: script });
  }, 60000);
  afterAll(async () => {
    await s?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** Whether process `pid` still runs (a zombie has ended: it only waits to be reaped). */
  const running = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  };

  it('fails the compose at compose_timeout and kills the tool and its children, even when they ignore SIGTERM', async () => {
    await writeFile(modeFile, 'hang');
    const row = await s.good();
    expect(row.state).toBe(STATES.failed);
    expect(row.state_reason).toBe('Error while generating compose: Compose has taken more time than allowed by configuration (3 seconds)');
    const pids = (await readFile(pidFile, 'utf8')).trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    await eventually(async () => pids.every((pid) => !running(pid)), 30000, 'the tool and its child to be gone');
    // Nothing of the compose was published, and its slot is free again.
    expect(existsSync(path.join(s.t.cfg.target_dir, `odcs-${row.id}`, 'compose'))).toBe(false);
    await writeFile(modeFile, 'fail');
    expect((await s.good()).state).toBe(STATES.failed);
  }, 120000);

  it("names a failed tool's logs by their URLs, as ODCS does", async () => {
    await writeFile(modeFile, 'fail');
    const row = await s.good();
    const top = `${s.t.cfg.target_dir_url}/odcs-${row.id}`;
    expect(row.state_reason).toMatch(/^Error while generating compose: Command '\[.*\]' returned non-zero value 3, /);
    expect(row.state_reason).toContain(`stdout log: ${top}/pungi-stdout.log, stderr log: ${top}/pungi-stderr.log`);
  }, 120000);
});
