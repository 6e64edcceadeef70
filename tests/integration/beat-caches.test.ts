/**
 * The beat's store collection bounds every cache under a target dir (issue 10, item 17a): what
 * nothing uses any more goes, what a compose uses stays. Real files, the real PackageStore and
 * KojiHeaderCache writing and reading them, and explicit runs of the beat's collection job.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { KojiClient } from '../../backend/koji/client';
import { KojiHeaderCache } from '../../backend/koji/header-cache';
import { STORE_DIR } from '../../backend/pipeline';
import type { RpmPackage } from '../../backend/rpm/model';
import { KOJI_HEADER_CACHE_DIR } from '../../backend/sources/koji-pool';
import { KEYS_DIR, PackageStore, type Placement } from '../../backend/store/package-store';
import { startTestStack, type TestStack } from '../support/stack';

const DAY = 24 * 3600;

/** Files below `dir`, symbolic links included, relative to it. */
function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/**
 * Waits until the real clock is past the change time of `files`: collection spares what changed
 * since it started (store_grace_seconds is 0 here), and file times come from the kernel's coarse
 * clock. No timer: a handful of event-loop turns.
 */
async function untilClockPasses(files: readonly string[]): Promise<void> {
  const latest = Math.max(...files.map((f) => lstatSync(f).ctimeMs));
  while (Date.now() <= Math.ceil(latest)) await new Promise((r) => setImmediate(r));
}

function rpm(name: string): RpmPackage {
  return {
    name,
    epoch: 0,
    version: '1',
    release: '1',
    arch: 'x86_64',
    sourcerpm: null,
    location: `${name}-1-1.x86_64.rpm`,
    checksum: { type: 'sha256', value: '0'.repeat(64) },
    size: 0,
    provides: [],
    requires: [],
    conflicts: [],
    obsoletes: [],
    files: [],
    repoId: 'koji',
  };
}

describe("the beat's store collection bounds every cache", () => {
  let t: TestStack;
  beforeEach(async () => {
    t = await startTestStack({ config: { store_grace_seconds: 0, koji_header_cache_max_age_seconds: DAY } });
  });
  afterEach(() => t.close());

  it('deletes a store file no compose links and the key link to it; a linked file and its key stay and still serve', async () => {
    const root = path.join(t.cfg.target_dir, STORE_DIR);
    const store = new PackageStore(root);
    const packagesOf = (id: number): string => path.join(t.cfg.target_dir, `odcs-${id}`, 'compose', 'Temporary', 'x86_64', 'os', 'Packages');
    /** Places the Koji RPM `name` (key `koji:<name>`) into compose `id`'s tree, as a Koji source does. */
    const place = async (id: number, name: string): Promise<number> => {
      mkdirSync(packagesOf(id), { recursive: true });
      const placement: Placement = {
        pkg: rpm(name),
        dest: path.join(packagesOf(id), `${name}-1-1.x86_64.rpm`),
        origin: { kind: 'keyed', copies: [{ key: `koji:${name}`, open: async () => Readable.from([Buffer.from(`bytes of ${name}`)]) }], placed: () => undefined },
      };
      return (await store.placeAll([placement])).imported;
    };
    expect(await place(1, 'kept')).toBe(1);
    expect(await place(2, 'dropped')).toBe(1);
    const stored = filesBelow(root);
    expect(stored.filter((f) => f.startsWith(`${KEYS_DIR}/`))).toHaveLength(2);
    expect(stored.filter((f) => f.startsWith('sha256/'))).toHaveLength(2);

    // Compose 2 is gone (expired and removed): nothing uses its package any more.
    rmSync(path.join(t.cfg.target_dir, 'odcs-2'), { recursive: true });
    await untilClockPasses(stored.map((f) => path.join(root, f)));
    const report = await t.beat.collect();
    expect(report).toMatchObject({ packages: 1, keyLinks: 1 });
    const left = filesBelow(root);
    expect(left.filter((f) => f.startsWith(`${KEYS_DIR}/`))).toHaveLength(1);
    expect(left.filter((f) => f.startsWith('sha256/'))).toHaveLength(1);
    for (const link of left.filter((f) => f.startsWith(`${KEYS_DIR}/`))) expect(statSync(path.join(root, link)).isFile()).toBe(true);

    // The kept key still gives its file without a download; the dropped one is downloaded again.
    expect(await place(3, 'kept')).toBe(0);
    expect(await place(4, 'dropped')).toBe(1);
    // A second collection finds nothing more to delete.
    expect(await t.beat.collect()).toMatchObject({ packages: 0, keyLinks: 0 });
  });

  it('deletes Koji header entries no compose read for koji_header_cache_max_age_seconds; one a compose read stays', async () => {
    const dir = path.join(t.cfg.target_dir, KOJI_HEADER_CACHE_DIR);
    const entry = (id: number, hash: string, version = 'v1'): string => {
      const name = `${id}-${hash}`;
      const file = path.join(dir, version, name.slice(-2), `${name}.json`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify({ name: `pkg${id}`, version: '1' }));
      return file;
    };
    const used = { id: 1, payloadhash: 'a1'.repeat(16) };
    const usedFile = entry(used.id, used.payloadhash);
    const unused = entry(2, 'b2'.repeat(16));
    const olderVersion = entry(3, 'c3'.repeat(16), 'v0');
    const leftover = `${entry(4, 'd4'.repeat(16))}.tmp-0badf00d`;
    writeFileSync(leftover, '{');
    const recent = entry(5, 'e5'.repeat(16));
    const twoDaysAgo = new Date(Date.now() - 2 * DAY * 1000);
    for (const f of [usedFile, unused, olderVersion, leftover, path.join(path.dirname(leftover), path.basename(leftover, '.tmp-0badf00d'))]) utimesSync(f, twoDaysAgo, twoDaysAgo);

    // A compose reads the entry of `used` (from disk: the hub, which nothing listens on, is never asked).
    const koji = new KojiClient({ hubUrl: 'http://127.0.0.1:9/kojihub', topurl: 'http://127.0.0.1:9/kojifiles' });
    const { headers, stats } = await new KojiHeaderCache(dir).headersOf(koji, [used]);
    expect(stats).toEqual({ cached: 1, fetched: 0 });
    expect(headers.get(used.id)).toEqual({ name: 'pkg1', version: '1' });

    const report = await t.beat.collect();
    expect(report.kojiHeaders).toBe(4);
    expect(filesBelow(dir)).toEqual([path.relative(dir, usedFile), path.relative(dir, recent)].sort());
    expect(await t.beat.collect()).toMatchObject({ kojiHeaders: 0 });
  });
});
