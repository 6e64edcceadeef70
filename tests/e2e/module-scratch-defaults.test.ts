/**
 * Module composes with `scratch_modules` and with `module_defaults_url` + `module_defaults_commit`
 * (issue 12 item 10), end to end: the API, a worker, the MBS double (a scratch module build in
 * state done, its component as a Koji task, its final modulemd), the Koji double (the scratch
 * build's `build`/`buildArch` tasks and files under `work/`), and a real git repository of
 * modulemd-defaults documents served by `git daemon`; real dnf reads the compose.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ComposeRow } from '../../common/db/entities';
import { STATES } from '../../common/enums';
import { freePort } from '../../common/net';
import { buildModuleFixtures, publishModules, type BuiltModuleFixtures } from '../fixtures/build-module-rpms';
import { KojiHubDouble } from '../servers/koji-hub';
import { MbsDouble } from '../servers/mbs';
import { composeDir, moduleDnf, modulesYamlIn, requestCompose, rpmsInCompose } from '../support/compose-e2e';
import { startTestStack, type TestStack } from '../support/stack';

const run = promisify(execFile);

const SCRATCH = 'modapp:1:3020190401000000:dddd0004';
const MODLIB = 'modlib:2:3020190101000000:bbbb0002';

let built: BuiltModuleFixtures;
let mbs: MbsDouble;
let hub: KojiHubDouble;
let t: TestStack;
let work: string;
let daemon: ChildProcess | undefined;
let gitUrl: string;
/** The commit of the defaults repository that has modapp's defaults. */
let defaultsCommit: string;

/** `name-0:version-release.arch` of an RPM file name, as modulemd artifacts write it. */
function fileNevra(file: string): string {
  const m = /^(.+)-([^-]+)-([^-]+)\.([^.]+)\.rpm$/.exec(path.basename(file))!;
  return `${m[1]}-0:${m[2]}-${m[3]}.${m[4]}`;
}

async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: work } });
  return stdout.trim();
}

/** A git repository of modulemd-defaults documents, as module defaults repositories are laid out. */
async function makeDefaultsRepo(root: string): Promise<string> {
  const repo = path.join(root, 'defaults.git');
  await mkdir(repo, { recursive: true });
  await git(repo, ['init', '-q', '-b', 'main']);
  await git(repo, ['config', 'user.email', 'test@example.com']);
  await git(repo, ['config', 'user.name', 'Test']);
  const defaults = (module: string, stream: string): string =>
    ['---', 'document: modulemd-defaults', 'version: 1', 'data:', `  module: ${module}`, `  stream: "${stream}"`, '  profiles:', `    "${stream}": [default]`, '...', ''].join('\n');
  await writeFile(path.join(repo, 'modapp.yaml'), defaults('modapp', '1'));
  // Defaults of a module the compose does not have stay out of it.
  await writeFile(path.join(repo, 'unrelated.yaml'), defaults('unrelated', '3'));
  await writeFile(path.join(repo, 'README.md'), 'Module defaults\n');
  await git(repo, ['add', '.']);
  await git(repo, ['commit', '-q', '-m', 'defaults']);
  const sha = await git(repo, ['rev-parse', 'HEAD']);
  // A later commit changes modapp's defaults: the compose must use the commit it names.
  await writeFile(path.join(repo, 'modapp.yaml'), defaults('modapp', '9'));
  await git(repo, ['commit', '-q', '-am', 'later']);
  return sha;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`git daemon did not listen on ${port}`);
}

beforeAll(async () => {
  built = await buildModuleFixtures();
  work = await mkdtemp(path.join(tmpdir(), 'odcs-module-scratch-'));
  mbs = new MbsDouble();
  hub = new KojiHubDouble();
  const [mbsAddress, hubAddress] = await Promise.all([mbs.start(), hub.start()]);
  await publishModules(built, mbs, hub);
  // The scratch module: its component (modapp 1.2) exists in Koji only as a scratch build's task.
  const files = built.byNvr.get('modapp-1.2-1.module_f30+5+aaaa0001')!;
  const task = await hub.addScratchBuildTask(files);
  const [name, stream, version, context] = SCRATCH.split(':') as [string, string, string, string];
  mbs.addModuleBuild({
    name,
    stream,
    version,
    context,
    state: 'done',
    scratch: true,
    requires: { modlib: ['2'] },
    rpms: files.map(fileNevra).filter((n) => !n.startsWith('modapp-tests-')).sort(),
    profiles: { default: ['modapp'] },
    api: ['modapp'],
    componentTasks: { modapp: task },
  });

  const gitRoot = path.join(work, 'git');
  defaultsCommit = await makeDefaultsRepo(gitRoot);
  // A repository larger than module_defaults_max_bytes (below): 1 MiB of incompressible bytes.
  const big = path.join(gitRoot, 'big.git');
  await mkdir(big, { recursive: true });
  await git(big, ['init', '-q', '-b', 'main']);
  await writeFile(path.join(big, 'blob.bin'), randomBytes(1024 * 1024));
  await git(big, ['add', '.']);
  await git(big, ['-c', 'user.email=t@example.com', '-c', 'user.name=T', 'commit', '-q', '-m', 'big']);
  const port = await freePort();
  daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${gitRoot}`, '--listen=127.0.0.1', `--port=${port}`, gitRoot], { stdio: 'ignore' });
  await waitForPort(port);
  gitUrl = `git://127.0.0.1:${port}/defaults.git`;

  t = await startTestStack({
    listen: true,
    worker: true,
    relay: true,
    config: {
      mbs_url: mbsAddress.mbsUrl,
      koji_url: hubAddress.hubUrl,
      koji_topurl: hubAddress.topurl,
      net_timeout: 10,
      net_retry_interval: 1,
      allowed_module_defaults_hosts: ['127.0.0.1'],
      module_defaults_max_bytes: 512 * 1024,
    },
  });
}, 300_000);

afterAll(async () => {
  await t?.close();
  daemon?.kill('SIGTERM');
  await Promise.all([mbs?.stop(), hub?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

const compose = (body: Record<string, unknown>): Promise<ComposeRow> => requestCompose(t, body, 90_000);
const archDir = (row: ComposeRow): string => path.join(composeDir(t, row), 'compose', 'Temporary', 'x86_64', 'os');

const modulesYamlOf = async (row: ComposeRow): Promise<string> => (await modulesYamlIn(archDir(row)))!;

const dnf = (row: ComposeRow, name: string, args: string[]): Promise<string> => moduleDnf(t, row, path.join(work, name), args);

const ok = (row: ComposeRow): void => {
  expect(row.state_reason).toBe('Compose is generated successfully');
  expect(row.state).toBe(STATES.done);
};

describe('scratch_modules', () => {
  let row: ComposeRow;
  beforeAll(async () => {
    row = await compose({ source: { type: 'module', source: 'modlib:2', scratch_modules: [SCRATCH] } });
  }, 120_000);

  it('are in the compose with the RPMs of their Koji tasks; source keeps only the regular modules', async () => {
    ok(row);
    expect(row.source).toBe(MODLIB);
    expect(await rpmsInCompose(t, row)).toEqual(['modapp-0:1.2-1.module_f30+5+aaaa0001.noarch', 'modlib-0:2.0-1.module_f30+2+bbbb0002.x86_64']);
    const yaml = await modulesYamlOf(row);
    expect(yaml).toMatch(/^ {2}context: dddd0004$/m);
    expect(yaml).toMatch(/^ {2}version: 3020190401000000$/m);
  });

  it('let dnf install the scratch module', async () => {
    await dnf(row, 'scratch', ['module', 'install', 'modapp:1/default']);
    const { stdout } = await run('rpm', ['--root', path.join(work, 'scratch', 'root'), '-q', 'modapp', 'modlib']);
    expect(stdout).toMatch(/^modapp-1\.2-1\.module_f30\+5\+aaaa0001\.noarch$/m);
  }, 180_000);

  it('alone make a compose whose source stays empty', async () => {
    const only = await compose({ source: { type: 'module', scratch_modules: [SCRATCH] }, flags: ['no_deps'] });
    ok(only);
    expect(only.source).toBe('');
    expect(await rpmsInCompose(t, only)).toEqual(['modapp-0:1.2-1.module_f30+5+aaaa0001.noarch']);
  }, 120_000);

  it('unknown to MBS fail the compose by N:S:V:C', async () => {
    const bad = await compose({ source: { type: 'module', source: 'modlib:2', scratch_modules: ['modapp:1:1:ffff0000'] } });
    expect(bad.state).toBe(STATES.failed);
    expect(bad.state_reason).toBe('Error while generating compose: Failed to find scratch module modapp:1:1:ffff0000 in the MBS.');
  }, 120_000);
});

describe('module_defaults_url and module_defaults_commit', () => {
  let row: ComposeRow;
  beforeAll(async () => {
    row = await compose({ source: { type: 'module', source: 'modapp:1', module_defaults_url: gitUrl, module_defaults_commit: defaultsCommit } });
  }, 120_000);

  it("put the defaults of the compose's modules, at that commit, into modules.yaml", async () => {
    ok(row);
    const yaml = await modulesYamlOf(row);
    expect(yaml).toMatch(/^document: modulemd-defaults$/m);
    expect(yaml).toMatch(/^ {2}module: modapp$/m);
    expect(yaml).toMatch(/^ {2}stream: "?1"?$/m);
    expect(yaml).not.toMatch(/unrelated/);
  });

  it('so that dnf knows the default stream and profile: `dnf module install modapp` needs no stream', async () => {
    const list = await dnf(row, 'defaults', ['module', 'list']);
    expect(list).toMatch(/^modapp\s+1 \[d\]/m);
    await dnf(row, 'defaults', ['module', 'install', 'modapp']);
    const { stdout } = await run('rpm', ['--root', path.join(work, 'defaults', 'root'), '-q', 'modapp']);
    expect(stdout).toMatch(/^modapp-1\.1-1/m);
  }, 180_000);

  it('given as a branch take its head', async () => {
    const branch = await compose({ source: { type: 'module', source: 'modapp:1', module_defaults_url: gitUrl, module_defaults_commit: 'main' } });
    ok(branch);
    expect(await modulesYamlOf(branch)).toMatch(/^ {2}stream: "?9"?$/m);
  }, 120_000);

  it('on a host not in allowed_module_defaults_hosts fail the compose before git runs', async () => {
    const bad = await compose({
      source: { type: 'module', source: 'modapp:1', module_defaults_url: 'https://git.example.com/defaults.git', module_defaults_commit: 'main' },
    });
    expect(bad.state).toBe(STATES.failed);
    expect(bad.state_reason).toBe(
      'Error while generating compose: Module defaults URL "https://git.example.com/defaults.git" is not allowed: its host is not in allowed_module_defaults_hosts.',
    );
  }, 120_000);

  it('in a repository larger than module_defaults_max_bytes fail the compose, git stopped', async () => {
    const bad = await compose({ source: { type: 'module', source: 'modapp:1', module_defaults_url: gitUrl.replace('defaults.git', 'big.git'), module_defaults_commit: 'main' } });
    expect(bad.state).toBe(STATES.failed);
    expect(bad.state_reason).toBe(
      `Error while generating compose: The module defaults repository ${gitUrl.replace('defaults.git', 'big.git')} is larger than module_defaults_max_bytes (524288 bytes).`,
    );
  }, 120_000);

  it('with a commit the repository does not have fail the compose saying so', async () => {
    const bad = await compose({ source: { type: 'module', source: 'modapp:1', module_defaults_url: gitUrl, module_defaults_commit: 'no-such-branch' } });
    expect(bad.state).toBe(STATES.failed);
    expect(bad.state_reason).toMatch(/^Error while generating compose: Cannot fetch module defaults from git:\/\/127\.0\.0\.1:\d+\/defaults\.git at no-such-branch: /);
  }, 120_000);
});
