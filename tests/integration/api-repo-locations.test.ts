import request from 'supertest';
import { startTestStack, type TestStack } from '../support/stack';

/** A request never chooses a path or URL outside what the configuration allows (`repo` sources, lookaside repos). */
describe('repository locations in requests', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ config: { allowed_repo_roots: ['/srv/repos'], allowed_repo_hosts: ['repos.example.com', 'mirror.example.com:8080'] } });
  });
  afterAll(() => t.close());

  const count = async (): Promise<number> => (await t.s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM composes`))[0].n;

  it.each([
    ['/etc', 'Repository "/etc" is not allowed: it is not under any of allowed_repo_roots.'],
    ['/srv/repos/../../etc', 'Repository "/srv/repos/../../etc" is not allowed: it is not under any of allowed_repo_roots.'],
    ['/srv/reposX/base', 'Repository "/srv/reposX/base" is not allowed: it is not under any of allowed_repo_roots.'],
    ['relative/repo', 'Repository "relative/repo" must be an absolute path or an http(s) URL.'],
    ['file:///etc/pki', 'Repository "file:///etc/pki" is not allowed: it is not under any of allowed_repo_roots.'],
    ['http://evil.example.org/repo', 'Repository URL "http://evil.example.org/repo" is not allowed: its host is not in allowed_repo_hosts.'],
    ['http://mirror.example.com:9090/repo', 'Repository URL "http://mirror.example.com:9090/repo" is not allowed: its host is not in allowed_repo_hosts.'],
  ])('refuses the repo source %s with 400 and creates nothing', async (source, message) => {
    const before = await count();
    const res = await request(t.app).post('/api/1/composes/').send({ source: { type: 'repo', source } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 400, error: 'Bad Request', message });
    expect(await count()).toBe(before);
  });

  it('refuses a lookaside repository outside the allowed roots and hosts', async () => {
    const before = await count();
    for (const [repo, message] of [
      ['/tmp/$basearch', 'Invalid lookaside repository: Repository "/tmp/x86_64" is not allowed: it is not under any of allowed_repo_roots.'],
      ['https://evil.example.org/$basearch/', 'Invalid lookaside repository: Repository URL "https://evil.example.org/x86_64/" is not allowed: its host is not in allowed_repo_hosts.'],
    ]) {
      const res = await request(t.app).post('/api/1/composes/').send({ source: { type: 'repo', source: '/srv/repos/base' }, lookaside_repos: [repo] });
      expect(res.body).toEqual({ status: 400, error: 'Bad Request', message });
    }
    expect(await count()).toBe(before);
  });

  it.each([['/srv/repos/base'], ['/srv/repos'], ['file:///srv/repos/base'], ['https://repos.example.com/f40/'], ['http://mirror.example.com:8080/repo']])(
    'accepts %s',
    async (source) => {
      const res = await request(t.app)
        .post('/api/1/composes/')
        .send({ source: { type: 'repo', source }, lookaside_repos: ['https://repos.example.com/base/$basearch/os', '/srv/repos/lookaside'] });
      expect(res.status).toBe(200);
      expect(res.body.source).toBe(source);
    },
  );
});
