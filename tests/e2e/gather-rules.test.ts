/**
 * Pungi's `deps` gather rules of issue 12 (items 6–8) end to end: a `repo` compose of the
 * smallest repositories that show each rule (tests/fixtures/build-gather-scenarios.ts), POST →
 * final state → rpms.json, and real dnf installing from the compose's .repo file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ComposeRow } from '../../common/db/entities';
import { STATES } from '../../common/enums';
import { buildScenarioRepos, type ScenarioRepos } from '../fixtures/build-gather-scenarios';
import { dnfInstallFromRepofile, requestCompose, rpmsInCompose } from '../support/compose-e2e';
import { startTestStack, type TestStack } from '../support/stack';

let t: TestStack;
let work: string;
let providers: ScenarioRepos;
let together: ScenarioRepos;
let latest: ScenarioRepos;

beforeAll(async () => {
  providers = await buildScenarioRepos('provider-with-lookaside', [
    { name: 'req', version: '1.0', requires: ['cap'] },
    { name: 'a', version: '1.0', provides: ['cap'] },
    { name: 'bbbb', version: '2.0', provides: ['cap'] },
    { name: 'unrelated', version: '1.0', repo: 'lookaside' },
  ]);
  together = await buildScenarioRepos('requirements-together', [
    { name: 'req', version: '1.0', requires: ['ab-long', 'zcap'] },
    { name: 'req-pre', version: '1.0', requires: ['ab-long'], requiresPre: ['zcap'] },
    { name: 'ab-long', version: '1.0', provides: ['zcap'] },
    { name: 'a', version: '1.0', provides: ['zcap'] },
  ]);
  latest = await buildScenarioRepos('latest-across-lookaside', [
    { name: 'a', version: '1.0', requires: ['d = 1.0'] },
    { name: 'd', version: '1.0' },
    { name: 'd', version: '2.0', repo: 'lookaside' },
    { name: 'b', version: '1.0', requires: ['d'] },
  ]);
  work = await mkdtemp(path.join(tmpdir(), 'odcs-gather-e2e-'));
  const roots = [providers, together, latest].map((r) => path.dirname(r.main));
  t = await startTestStack({ listen: true, worker: true, relay: true, config: { allowed_repo_roots: [...roots, work] } });
}, 180000);
afterAll(async () => {
  await t?.close();
  await rm(work, { recursive: true, force: true });
});

const compose = (body: Record<string, unknown>): Promise<ComposeRow> => requestCompose(t, body);

describe('Pungi deps gather rules, end to end', () => {
  it('takes the shortest-name provider with a lookaside configured, not the highest version', async () => {
    const row = await compose({
      source: { type: 'repo', source: providers.main, packages: ['req'] },
      lookaside_repos: [providers.lookaside],
    });
    expect(row.state_reason).toBe('Compose is generated successfully');
    expect(await rpmsInCompose(t, row)).toEqual(['a-0:1.0-1.noarch', 'req-0:1.0-1.noarch']);
    expect(await dnfInstallFromRepofile(t, row, work, [['req']])).toEqual(['a-1.0-1.noarch', 'req-1.0-1.noarch']);
  });

  it("adds the shortest-name provider for every requirement of a package, its own other requirements' packages aside", async () => {
    const row = await compose({ source: { type: 'repo', source: together.main, packages: ['req', 'req-pre'] } });
    expect(row.state).toBe(STATES.done);
    expect(await rpmsInCompose(t, row)).toEqual([
      'a-0:1.0-1.noarch',
      'ab-long-0:1.0-1.noarch',
      'req-0:1.0-1.noarch',
      'req-pre-0:1.0-1.noarch',
    ]);
  });

  it('leaves a requirement on a build the lookaside hides unresolved: check_deps fails, otherwise it is left out', async () => {
    const strict = await compose({
      source: { type: 'repo', source: latest.main, packages: ['a', 'b'] },
      lookaside_repos: [latest.lookaside],
      flags: ['check_deps'],
    });
    expect(strict.state).toBe(STATES.failed);
    expect(strict.state_reason).toBe('Error while generating compose: Unresolved dependencies detected: a-1.0-1.noarch requires d = 1.0');

    const lenient = await compose({
      source: { type: 'repo', source: latest.main, packages: ['a', 'b'] },
      lookaside_repos: [latest.lookaside],
    });
    expect(lenient.state).toBe(STATES.done);
    expect(await rpmsInCompose(t, lenient)).toEqual(['a-0:1.0-1.noarch', 'b-0:1.0-1.noarch']);
    // b is installable with the lookaside's d-2.0, as the compose assumed.
    const installed = await dnfInstallFromRepofile(t, lenient, work, [['b']], { lookaside: `file://${latest.lookaside}` });
    expect(installed).toEqual(['b-1.0-1.noarch', 'd-2.0-1.noarch']);
  });
});
