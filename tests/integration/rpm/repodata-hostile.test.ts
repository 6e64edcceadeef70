/**
 * Repository metadata from an attacker (issue 10 items 2, 3 and 5): values that must never
 * reach the database, sizes that must not take the process's memory, and hrefs or links that
 * must not make the reader open, hash or quote any file outside the repository's repodata/.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DEFAULT_METADATA_LIMITS,
  type MetadataLimits,
  readRepomd,
  readRepository,
  RepodataError,
} from '../../../backend/rpm/repodata';
import { MetadataCache, weightOf } from '../../../backend/store/metadata-cache';
import { manyPackages, redirectRecord, writeHostileRepo, type RawPackage } from '../../fixtures/hostile-repodata';
import { removeDir, tempDir } from '../../support/rpm-tools';

const run = promisify(execFile);

let work: string;
let repoCount = 0;
beforeAll(async () => {
  work = await tempDir('repodata-hostile');
});
afterAll(async () => {
  await removeDir(work);
});

async function repo(packages: Iterable<RawPackage>): Promise<string> {
  return writeHostileRepo(path.join(work, `repo-${repoCount++}`), packages);
}

/** The error readRepository fails with (it must fail). */
async function failure(dir: string, limits?: Partial<MetadataLimits>, signal?: AbortSignal): Promise<Error> {
  const result = await readRepository(dir, { repoId: 'x', limits, signal }).then(
    () => null,
    (err: Error) => err,
  );
  if (!result) throw new Error(`reading ${dir} succeeded`);
  return result;
}

/** No raw control characters, lone surrogates or replacement characters in a message. */
function printable(message: string): boolean {
  const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
  return !/[\p{Cc}\uFFFD]/u.test(message) && !loneSurrogate.test(message);
}

describe('values a package must not have (item 2)', () => {
  it.each([
    ['a NUL character reference in the name', { name: 'bad&#0;name' }],
    ['a lone surrogate in the name', { name: 'bad&#xD800;name' }],
    ['a NUL character reference in a file name', { files: ['/usr/bin/a&#0;b'] }],
    ['a control character reference in the release', { release: '1&#x1b;[31m' }],
    ['a space in the name', { name: 'two words' }],
    ['a slash in the name', { name: 'a/b' }],
    ['an unknown arch', { arch: '__proto__' }],
    ['an arch that is a path', { arch: '..' }],
    ['an epoch that is not a number', { epoch: '1e400' }],
  ] as Array<[string, RawPackage]>)('refuses %s, naming where and quoting no raw bytes', async (_what, bad) => {
    const dir = await repo([{ name: 'good' }, { name: 'good2', ...bad }]);
    const err = await failure(dir);
    expect(err).toBeInstanceOf(RepodataError);
    expect(err.message).toContain(dir);
    expect(err.message).toMatch(/package/);
    expect(printable(err.message)).toBe(true);
  });

  it('refuses raw bytes that are not UTF-8, and raw control characters', async () => {
    for (const raw of [Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0x01])]) {
      const dir = await repo([{ name: `bad${raw.toString('latin1')}name` }]);
      // The generator writes strings as UTF-8: put the raw bytes in place of their re-encoding.
      const primaryFile = (await readRepomd(dir)).records['primary']!.location;
      const xml = gunzipSync(await readFile(path.join(dir, primaryFile)));
      const marker = Buffer.from(`bad${raw.toString('latin1')}name`, 'utf8');
      const at = xml.indexOf(marker);
      const patched = Buffer.concat([xml.subarray(0, at), Buffer.from('bad'), raw, Buffer.from('name'), xml.subarray(at + marker.length)]);
      await writeFile(path.join(dir, primaryFile), gzipSync(patched));
      const err = await readRepository(dir, { repoId: 'x', verifyChecksums: false }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/UTF-8|control character/);
      expect(printable(err!.message)).toBe(true);
    }
  });

  it('still reads characters XML allows, written raw or as references', async () => {
    const dir = await repo([{ name: 'caf\u00e9-&#x1F600;', files: ['/usr/share/\u00fcber', '/tab&#9;in'] }]);
    const { packages } = await readRepository(dir, { repoId: 'x' });
    expect(packages[0]).toMatchObject({ name: 'caf\u00e9-\u{1F600}', files: ['/usr/share/\u00fcber', '/tab\tin'] });
  });
});

describe('bounds on what the metadata holds (item 3)', () => {
  it('fails a gzip bomb of file entries at the files-per-package limit, naming the option', async () => {
    const dir = await repo([{ name: 'bomb', files: 200_000 }]);
    const err = await failure(dir, { maxFilesPerPackage: 1000 });
    expect(err.message).toMatch(/more than 1000 \(the limit set by metadata_max_files_per_package\)/);
  });

  it('fails at the decompressed-bytes limit before reading the rest', async () => {
    const dir = await repo([{ name: 'bomb', files: 200_000 }]);
    const err = await failure(dir, { maxBytes: 1024 * 1024 });
    expect(err.message).toMatch(/decompresses to more than 1048576 \(the limit set by metadata_max_bytes\)/);
  });

  it('fails at the packages, files, dependencies and string-length limits', async () => {
    expect((await failure(await repo(manyPackages(50)), { maxPackages: 20 })).message).toMatch(/metadata_max_packages/);
    expect((await failure(await repo(manyPackages(50, { files: 10 })), { maxFiles: 300 })).message).toMatch(/metadata_max_files\)/);
    expect((await failure(await repo([{ provides: 500 }]), { maxDepsPerPackage: 100 })).message).toMatch(/metadata_max_deps_per_package/);
    const long = `/${'x'.repeat(5000)}`;
    expect((await failure(await repo([{ files: [long] }]), { maxStringLength: 1000 })).message).toMatch(/metadata_max_string_length/);
    // One endless attribute: the tokenizer itself stops holding it.
    expect((await failure(await repo([{ name: 'n'.repeat(200_000) }]), { maxStringLength: 100 })).message).toMatch(
      /metadata_max_string_length/,
    );
  });

  it('reads the same repositories within the limits', async () => {
    const { packages } = await readRepository(await repo(manyPackages(50, { files: 10, provides: 5 })), { repoId: 'x' });
    expect(packages).toHaveLength(50);
    expect(packages[49]!.files).toHaveLength(10);
  });

  it('has defaults that fit the largest real distributions', () => {
    expect(DEFAULT_METADATA_LIMITS.maxPackages).toBeGreaterThanOrEqual(200_000);
    expect(DEFAULT_METADATA_LIMITS.maxBytes).toBeGreaterThanOrEqual(1024 ** 3);
  });
});

describe('the metadata cache respects its size bound (item 3)', () => {
  it('evicts the least recently used repositories by weight and keeps none heavier than the bound', async () => {
    const small1 = await repo(manyPackages(10, { files: 9 })); // 10 packages + 90 files = 100 items
    const small2 = await repo(manyPackages(10, { files: 9, provides: 1 })); // 110 items
    const huge = await repo(manyPackages(100, { files: 9 })); // 1000 items
    const cache = new MetadataCache(250);
    const a = await cache.read(small1);
    expect(weightOf(a.packages)).toBe(100);
    const b = await cache.read(small2);
    expect(weightOf(b.packages)).toBe(110);
    expect(cache.keys()).toEqual([a.key, b.key]);
    expect(cache.weight).toBe(210);

    await cache.read(small1); // a hit: small1 becomes the most recently used
    expect(cache.hits).toBe(1);
    expect(cache.keys()).toEqual([b.key, a.key]);

    const h = await cache.read(huge);
    expect(h.packages).toHaveLength(100);
    expect(cache.keys()).toEqual([b.key, a.key]); // too heavy to keep; nothing evicted for it

    const small3 = await repo(manyPackages(5, { files: 9 })); // 50 items: 210 + 50 > 250, b goes
    const c = await cache.read(small3);
    expect(cache.keys()).toEqual([a.key, c.key]);
    expect(cache.weight).toBe(150);
  });
});

describe('the metadata cache and the compose signal (item 5)', () => {
  /** Until `readers` composes wait for the cache's read (their repomd.xml read), turn by turn. */
  async function waitingReaders(cache: MetadataCache, readers: number): Promise<void> {
    while (cache.readersWaiting < readers && cache.keys().length === 0) await new Promise((resolve) => setImmediate(resolve));
  }

  it('lets each compose stop waiting without failing another reading the same repository', async () => {
    const dir = await repo(manyPackages(3000, { files: 20 }));
    const cache = new MetadataCache();
    const canceled = new AbortController();
    const first = cache.read(dir, canceled.signal);
    const second = cache.read(dir, new AbortController().signal);
    await waitingReaders(cache, 2);
    canceled.abort(new Error('compose 1 canceled'));
    await expect(first).rejects.toThrow('compose 1 canceled');
    expect((await second).packages).toHaveLength(3000);
    expect(cache.misses).toBe(1);
  });

  it('stops the read once every compose waiting for it stopped', async () => {
    const dir = await repo(manyPackages(3000, { files: 20 }));
    const cache = new MetadataCache();
    const canceled = new AbortController();
    const reading = cache.read(dir, canceled.signal);
    await waitingReaders(cache, 1);
    canceled.abort(new Error('compose canceled'));
    await expect(reading).rejects.toThrow('compose canceled');
    // Nothing was kept from the stopped read: the next one reads again.
    expect(cache.keys()).toEqual([]);
    expect((await cache.read(dir)).packages).toHaveLength(3000);
    expect(cache.misses).toBe(2);
  });
});

describe('metadata is read only from the repository (item 5)', () => {
  let secret: string;
  let secretText: string;
  beforeAll(async () => {
    // Markup an XML error message would quote, were it to quote the document.
    secretText = '<very-secret a=b>root:$6$very-secret-hash-value$:19000:0:99999:7:::</very-secret>\n';
    secret = path.join(work, 'shadow');
    await writeFile(secret, secretText);
  });

  /** What must never appear in an error: the secret's text or any digest of it. */
  function leaks(message: string): boolean {
    const bytes = Buffer.from(secretText);
    const digests = ['md5', 'sha1', 'sha256', 'sha512'].map((a) => createHash(a).update(bytes).digest('hex'));
    return message.includes('very-secret') || digests.some((d) => message.includes(d));
  }

  it('refuses an href that climbs out of repodata/ (and quotes no hash of what is there)', async () => {
    const dir = await repo(manyPackages(1));
    await redirectRecord(dir, 'primary', path.relative(dir, secret));
    const err = await failure(dir);
    expect(err.message).toMatch(/not a file inside the repository's repodata\/ directory/);
    expect(leaks(err.message)).toBe(false);
    await redirectRecord(dir, 'primary', secret);
    expect((await failure(dir)).message).toMatch(/not a file inside/);
  });

  it('refuses a metadata file that is a link to a file outside', async () => {
    const dir = await repo(manyPackages(1));
    await symlink(secret, path.join(dir, 'repodata', 'evil-primary.xml'));
    await redirectRecord(dir, 'primary', 'repodata/evil-primary.xml');
    const err = await failure(dir);
    expect(err.message).toMatch(/not a file inside/);
    expect(leaks(err.message)).toBe(false);
  });

  it('refuses repomd.xml that is a link to a secret file, quoting none of it', async () => {
    const dir = await repo(manyPackages(1));
    await symlink(secret, path.join(dir, 'repodata', 'repomd.xml.evil'));
    await rename(path.join(dir, 'repodata', 'repomd.xml.evil'), path.join(dir, 'repodata', 'repomd.xml'));
    const err = await failure(dir);
    expect(leaks(err.message)).toBe(false);
    // Inside repodata/, a file that is not XML is a syntax error without an excerpt.
    await rename(path.join(dir, 'repodata', 'repomd.xml'), path.join(dir, 'repodata', 'old'));
    await writeFile(path.join(dir, 'repodata', 'repomd.xml'), `<repomd><revision>${secretText}</x y></repomd>`);
    expect(leaks((await readRepomd(dir).catch((e: Error) => e)).toString())).toBe(false);
  });

  it('refuses repodata/ that is a link out of the repository', async () => {
    const outside = await repo(manyPackages(1));
    const dir = path.join(work, `linked-${repoCount++}`);
    await mkdir(dir);
    await symlink(path.join(outside, 'repodata'), path.join(dir, 'repodata'));
    expect((await failure(dir)).message).toMatch(/repodata\/ leads outside the repository/);
    const etc = path.join(work, `etc-${repoCount++}`);
    await mkdir(etc);
    await symlink('/etc', path.join(etc, 'repodata'));
    expect((await failure(etc)).message).toMatch(/leads outside/);
  });

  it('refuses a FIFO and /dev/zero at once instead of blocking on them', async () => {
    const dir = await repo(manyPackages(1));
    await run('mkfifo', [path.join(dir, 'repodata', 'fifo-primary.xml')]);
    await redirectRecord(dir, 'primary', 'repodata/fifo-primary.xml');
    expect((await failure(dir)).message).toMatch(/not a regular file/);

    await symlink('/dev/zero', path.join(dir, 'repodata', 'zero-primary.xml'));
    await redirectRecord(dir, 'primary', 'repodata/zero-primary.xml');
    expect((await failure(dir)).message).toMatch(/not a file inside/);
    await redirectRecord(dir, 'primary', '../../../../../../../../dev/zero');
    expect((await failure(dir)).message).toMatch(/not a file inside/);
  });

  it('says a checksum does not match without showing either hash', async () => {
    const dir = await repo(manyPackages(1));
    const repomd = await readRepomd(dir);
    const file = path.join(dir, repomd.records['primary']!.location);
    await writeFile(file, gzipSync(Buffer.from('<metadata/>')));
    const actual = createHash('sha256').update(await readFile(file)).digest('hex');
    const err = await failure(dir);
    expect(err.message).toMatch(/the sha256 checksum of repodata\/\S+ does not match repomd\.xml/);
    expect(err.message).not.toContain(actual);
  });

  it('stops reading when the signal aborts', async () => {
    const dir = await repo(manyPackages(2000, { files: 20 }));
    const controller = new AbortController();
    controller.abort(new Error('compose canceled'));
    await expect(readRepository(dir, { repoId: 'x', signal: controller.signal })).rejects.toThrow();
    const late = new AbortController();
    const reading = readRepository(dir, { repoId: 'x', signal: late.signal });
    late.abort(new Error('compose canceled'));
    await expect(reading).rejects.toThrow();
  });

  describe('over HTTP', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        const file = path.join(work, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
        readFile(file).then(
          (bytes) => res.writeHead(200).end(bytes),
          () => res.writeHead(404).end(),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('refuses hrefs to another host or above the repository, and reads its own', async () => {
      const dir = await repo(manyPackages(3));
      const url = `${base}/${path.basename(dir)}`;
      expect((await readRepository(url, { repoId: 'x' })).packages).toHaveLength(3);
      const own = (await readRepomd(dir)).records['primary']!.location;
      await redirectRecord(dir, 'primary', `http://127.0.0.2:1/${own}`);
      expect((await failure(url)).message).toMatch(/not a location inside the repository/);
      await redirectRecord(dir, 'primary', '../shadow');
      const err = await failure(url);
      expect(err.message).toMatch(/not a location inside the repository/);
      expect(leaks(err.message)).toBe(false);
    });
  });
});
