/**
 * A new user's first run (issue 10, items 14, 15, 19): `npm start` with no settings in a fresh
 * folder, then exactly the README's first curl, a `done` compose whose .repo dnf installs from,
 * and `odcs-manage` working on the same embedded database.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dnfInstallFromRepofileUrl } from '../support/compose-e2e';
import { postmastersOf } from '../support/embedded-default';
import { eventually } from '../support/listener';
import { freePort, ROOT, ServiceProcess, serviceEnv } from '../support/processes';
import { uniqueName } from '../support/stack';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout: 120000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The README's first curl (the POST of the sample repository), as the user copies it. */
function readmeFirstCurl(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### First compose'));
  const start = section.indexOf('```sh\n') + 6;
  const block = section.slice(start, section.indexOf('\n```', start));
  const lines = block.split('\n');
  const first = lines.findIndex((l) => l.startsWith('curl -s -X POST'));
  expect(first).toBeGreaterThanOrEqual(0);
  let command = lines[first];
  for (let i = first; lines[i].endsWith('\\'); i++) command += `\n${lines[i + 1]}`;
  return command;
}

describe('the first run, as the README tells it', () => {
  let home: string;
  let dataDir: string;
  let port: number;
  let app: ServiceProcess;

  beforeAll(async () => {
    // A fresh folder standing for the checkout the user runs `npm start` in: no settings at all.
    home = mkdtempSync(path.join(tmpdir(), 'odcs-first-run-'));
    // Open like a checkout: as root, the embedded cluster then lives in <data_dir>/pg.
    chmodSync(home, 0o755);
    dataDir = path.join(home, '.odcs-data');
    port = await freePort();
    app = new ServiceProcess(process.execPath, [path.join(ROOT, 'bin', 'start.js')], serviceEnv({ PORT: String(port) }), home);
    await app.waitFor('worker consuming', 240000);
  }, 300000);
  afterAll(async () => {
    await app.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("makes a done compose of the README's first curl, which dnf installs from, with no empty folders", async () => {
    const command = readmeFirstCurl().replaceAll('127.0.0.1:5000', `127.0.0.1:${port}`);
    // The user's shell runs the README's command; so does this test.
    const posted = await run('bash', ['-c', command], home, serviceEnv({}));
    expect(posted.code).toBe(0);
    const created = JSON.parse(posted.stdout) as { id: number; source: string; state_name: string };
    expect(created).toMatchObject({ source: path.join(dataDir, 'sample-repo'), state_name: 'wait' });

    const done = await eventually(async () => {
      const body = (await (await fetch(`http://127.0.0.1:${port}/api/1/composes/${created.id}`)).json()) as Record<string, unknown>;
      return body.state_name === 'done' || body.state_name === 'failed' ? body : undefined;
    }, 60000, 'the first compose to finish');
    expect(done).toMatchObject({ state_name: 'done', state_reason: 'Compose is generated successfully' });

    // Composes are under <data_dir>/composes (ODCS_DATA_DIR moves them; here the default).
    const os = path.join(dataDir, 'composes', `odcs-${created.id}`, 'compose', 'Temporary', 'x86_64', 'os');
    expect(existsSync(path.join(os, 'odcs-sample-1.0-1.noarch.rpm'))).toBe(true);
    expect(existsSync(path.join(os, 'Packages'))).toBe(false);

    const installed = await dnfInstallFromRepofileUrl(done.result_repofile as string, path.join(home, 'dnf'), [['odcs-sample']]);
    expect(installed).toEqual(['odcs-sample-1.0-1.noarch', 'odcs-sample-data-1.0-1.noarch']);
  });

  it('runs odcs-manage on the same embedded database, and says what to set when it cannot connect', async () => {
    const manage = path.join(ROOT, 'bin', 'odcs-manage');
    // While `npm start` runs: its PostgreSQL.
    const beside = await run(manage, ['migrations'], home, serviceEnv({}));
    expect(beside).toMatchObject({ code: 0 });
    expect(beside.stdout).toMatch(/^InitialSchema\d+$/m);
    expect(postmastersOf(path.join(dataDir, 'pg'))).toHaveLength(1);

    const missing = `postgres://postgres@127.0.0.1:5432/${uniqueName('odcs_missing').replace(/\W/g, '_')}`;
    const refused = await run(manage, ['migrations'], home, serviceEnv({ DATABASE_URL: missing }));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('does not exist');
    expect(refused.stderr).toContain('Set DATABASE_URL to a PostgreSQL database that exists');
    expect(refused.stderr).not.toMatch(/^\s+at /m);

    // With the service stopped: the embedded PostgreSQL is started for the command and stopped after it.
    expect(await app.stop()).toBe(0);
    expect(postmastersOf(path.join(dataDir, 'pg'))).toEqual([]);
    const alone = await run(manage, ['migrations'], home, serviceEnv({}));
    expect(alone).toMatchObject({ code: 0 });
    expect(alone.stdout).toMatch(/^InitialSchema\d+$/m);
    expect(postmastersOf(path.join(dataDir, 'pg'))).toEqual([]);
  });
});
