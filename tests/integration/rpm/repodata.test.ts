import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile, copyFile, mkdir, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { formatDep } from '../../../backend/rpm/richdeps';
import type { RpmPackage } from '../../../backend/rpm/model';
import { parsePrimary, readRepomd, readRepository, RepodataError } from '../../../backend/rpm/repodata';
import { buildFixtureRepos, FIXTURE_REVISION, type FixtureRepos } from '../../fixtures/build-repos';
import { writeRepodata, type Compression } from '../../fixtures/repodata-writer';
import { mustRun, removeDir, tempDir } from '../../support/rpm-tools';

let repos: FixtureRepos;
let work: string;

beforeAll(async () => {
  repos = await buildFixtureRepos();
  work = await tempDir('repodata');
});
afterAll(async () => {
  await removeDir(work);
});

function byName(pkgs: RpmPackage[], name: string, arch?: string): RpmPackage {
  const found = pkgs.find((p) => p.name === name && (!arch || p.arch === arch));
  if (!found) throw new Error(`no package ${name}`);
  return found;
}

describe('repomd.xml', () => {
  it('gives the revision and the data records', async () => {
    const repomd = await readRepomd(repos.main);
    expect(repomd.revision).toBe(FIXTURE_REVISION);
    expect(Object.keys(repomd.records).sort()).toEqual(['filelists', 'other', 'primary']);
    expect(repomd.records['primary']).toMatchObject({
      type: 'primary',
      location: expect.stringMatching(/^repodata\/[0-9a-f]{64}-primary\.xml\.gz$/),
      checksum: { type: 'sha256', value: expect.stringMatching(/^[0-9a-f]{64}$/) },
      openChecksum: { type: 'sha256' },
    });
  });
});

describe('readRepository on the fixture repository', () => {
  let pkgs: RpmPackage[];
  beforeAll(async () => {
    pkgs = (await readRepository(repos.main, { repoId: 'main' })).packages;
  });

  it('reads every package once', () => {
    expect(pkgs).toHaveLength(repos.rpms.main.length);
    expect(new Set(pkgs.map((p) => p.location)).size).toBe(pkgs.length);
    expect(pkgs.every((p) => p.repoId === 'main')).toBe(true);
  });

  it('reads identity, location, checksum and size as the RPM files have them', async () => {
    for (const p of pkgs) {
      const file = path.join(repos.main, p.location);
      const bytes = await readFile(file);
      expect(p.checksum).toEqual({ type: 'sha256', value: createHash('sha256').update(bytes).digest('hex') });
      expect(p.size).toBe((await stat(file)).size);
    }
    expect(byName(pkgs, 'epochpkg')).toMatchObject({ epoch: 1, version: '0.5', release: '1', arch: 'noarch' });
    expect(byName(pkgs, 'mta-bb').sourcerpm).toBe('mta-1.0-1.src.rpm');
    expect(byName(pkgs, 'libmulti', 'i686').location).toBe('Packages/libmulti-1.0-1.i686.rpm');
  });

  it('reads dependencies with versions, pre flags and rich expressions', () => {
    const app = byName(pkgs, 'app');
    expect(app.requires).toEqual(
      expect.arrayContaining([
        { name: '/usr/bin/tool-x', pre: true },
        { name: 'config-api', flags: 'GE', epoch: '0', version: '2' },
        { name: '/usr/share/data-files/marker.txt' },
      ]),
    );
    expect(app.conflicts).toEqual([{ name: 'badapp', flags: 'LT', epoch: '0', version: '2' }]);
    expect(app.obsoletes).toEqual([{ name: 'oldapp', flags: 'LT', epoch: '0', version: '1.0' }]);
    expect(app.requires.map((d) => d.name)).not.toContain('recommended-pkg');
    expect(byName(pkgs, 'richapp').requires.map((d) => d.name)).toContain('(ruby-lang or python-lang)');
    expect(byName(pkgs, 'cfgprov').provides).toContainEqual({
      name: 'config-api',
      flags: 'EQ',
      epoch: '0',
      version: '3.0',
    });
  });

  it('merges files from primary.xml and filelists.xml', async () => {
    expect(byName(pkgs, 'data-files').files).toEqual(['/usr/share/data-files/marker.txt']);
    expect(byName(pkgs, 'toolx').files).toContain('/usr/bin/tool-x');
    const primaryOnly = (await readRepository(repos.main, { repoId: 'main', filelists: false })).packages;
    expect(byName(primaryOnly, 'data-files').files).toEqual([]);
    expect(byName(primaryOnly, 'toolx').files).toEqual(['/usr/bin/tool-x']);
  });

  it('agrees with rpm reading the RPM headers', async () => {
    const format =
      '@@%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SOURCERPM}\\n' +
      '[R %{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION}\\n]' +
      '[P %{PROVIDENAME} %{PROVIDEFLAGS:depflags} %{PROVIDEVERSION}\\n]' +
      '[F %{FILENAMES}\\n]';
    const out = await mustRun('rpm', ['-qp', '--nosignature', '--qf', format, ...repos.rpms.main]);
    const headers = out.split('@@').filter(Boolean);
    expect(headers).toHaveLength(pkgs.length);
    headers.forEach((h, i) => {
      const [idLine, ...lines] = h.trim().split('\n');
      const [name, epoch, version, release, arch, sourcerpm] = idLine!.split('|');
      // rpm prints the headers in the order of the files given.
      const p = pkgs.find((q) => q.location === `Packages/${path.basename(repos.rpms.main[i]!)}`)!;
      expect([p.name, p.arch]).toEqual([name, arch]);
      expect({ epoch: p.epoch, version: p.version, release: p.release, sourcerpm: p.sourcerpm }).toEqual({
        epoch: Number(epoch),
        version,
        release,
        sourcerpm,
      });
      const fromRpm = (tag: string): string[] =>
        [...new Set(lines.filter((l) => l.startsWith(`${tag} `)).map((l) => l.slice(2).trim().replace(/\s+/g, ' ')))]
          .filter((d) => !d.startsWith('rpmlib('))
          .sort();
      // createrepo_c writes an explicit 0 epoch; rpm leaves it out.
      const ours = (deps: RpmPackage['requires']): string[] =>
        [...new Set(deps.map((d) => formatDep(d).replace(/ 0:/, ' ')))].sort();
      expect(ours(p.requires)).toEqual(fromRpm('R'));
      expect(ours(p.provides)).toEqual(fromRpm('P'));
      expect([...p.files].sort()).toEqual(fromRpm('F'));
    });
  });
});

describe('compression and transport', () => {
  let copies = 0;
  /** A fresh copy of the main repository's metadata, recompressed. */
  async function recompressed(compression: Compression): Promise<string> {
    const dir = path.join(work, `main-${compression}-${copies++}`);
    const repomd = await readRepomd(repos.main);
    const content = (type: string): NodeJS.ReadableStream =>
      createReadStream(path.join(repos.main, repomd.records[type]!.location)).pipe(createGunzip());
    await writeRepodata(
      dir,
      [
        { type: 'primary', content: content('primary') as AsyncIterable<Buffer> },
        { type: 'filelists', content: content('filelists') as AsyncIterable<Buffer> },
      ],
      { compression },
    );
    return dir;
  }

  it.each(['xz', 'zst', 'bz2', 'none'] as const)('reads %s-compressed metadata', async (compression) => {
    const expected = (await readRepository(repos.main, { repoId: 'm' })).packages;
    const dir = await recompressed(compression);
    const names = (await readdir(path.join(dir, 'repodata'))).join(' ');
    if (compression !== 'none') expect(names).toContain(`primary.xml.${compression}`);
    expect((await readRepository(dir, { repoId: 'm' })).packages).toEqual(expected);
  });

  it('reads createrepo_c xz output', async () => {
    const dir = path.join(work, 'createrepo-xz');
    await mkdir(path.join(dir, 'Packages'), { recursive: true });
    for (const rpm of repos.rpms.main.slice(0, 5)) await copyFile(rpm, path.join(dir, 'Packages', path.basename(rpm)));
    await mustRun('createrepo_c', ['--quiet', '--no-database', '--general-compress-type', 'xz', dir]);
    const pkgs = (await readRepository(dir, { repoId: 'x' })).packages;
    expect(pkgs).toHaveLength(5);
  });

  it('rejects metadata whose checksum does not match repomd.xml', async () => {
    const dir = await recompressed('gz');
    const repomdPath = path.join(dir, 'repodata', 'repomd.xml');
    const text = await readFile(repomdPath, 'utf8');
    const repomd = await readRepomd(dir);
    await writeFile(repomdPath, text.replace(repomd.records['primary']!.checksum.value, 'f'.repeat(64)));
    await expect(readRepository(dir, { repoId: 'x' })).rejects.toThrow(/sha256 checksum of repodata\/\S+ does not match repomd\.xml$/);
    await expect(readRepository(dir, { repoId: 'x', verifyChecksums: false })).resolves.toBeDefined();
  });

  it('reports a decompressor failure with its message', async () => {
    const dir = await recompressed('xz');
    const repomd = await readRepomd(dir);
    const primary = path.join(dir, repomd.records['primary']!.location);
    await writeFile(primary, Buffer.from('this is not xz data'));
    await expect(readRepository(dir, { repoId: 'x', verifyChecksums: false })).rejects.toThrow(
      /primary\.xml\.xz: xz -dc failed \(exit 1\)/,
    );
  });

  it('fails clearly on truncated XML and on a missing repository', async () => {
    const truncated = (async function* () {
      yield Buffer.from('<metadata><package type="rpm"><name>x</name>');
    })();
    await expect(parsePrimary(truncated, 'x')).rejects.toThrow(/truncated/);
    await expect(readRepository(path.join(work, 'nope'), { repoId: 'x' })).rejects.toThrow(RepodataError);
  });

  describe('over HTTP', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        const file = path.join(repos.dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
        if (!file.startsWith(repos.dir)) {
          res.writeHead(403).end();
          return;
        }
        const stream = createReadStream(file);
        stream.on('error', () => res.writeHead(404).end());
        stream.on('open', () => {
          res.writeHead(200);
          stream.pipe(res);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('reads a repository from an http base URL', async () => {
      const local = (await readRepository(repos.main, { repoId: 'r' })).packages;
      const remote = await readRepository(`${base}/main/`, { repoId: 'r' });
      expect(remote.repomd.revision).toBe(FIXTURE_REVISION);
      expect(remote.packages).toEqual(local);
    });

    it('reports HTTP errors with the URL', async () => {
      await expect(readRepomd(`${base}/missing`)).rejects.toThrow(`GET ${base}/missing/repodata/repomd.xml: 404`);
    });
  });
});
