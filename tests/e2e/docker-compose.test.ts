import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort, ROOT, ServiceProcess } from '../support/processes';
import { eventually } from '../support/listener';

interface Mount {
  source: string;
  target: string;
  read_only: boolean;
}

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  user?: string;
  volumes?: Mount[];
  depends_on?: Record<string, { condition: string }>;
}

/** A mount as `docker-compose config` prints it: `source:target[:mode]` (v1) or the long form (v2). */
function mountOf(v: string | { source: string; target: string; read_only?: boolean }): Mount {
  if (typeof v !== 'string') return { source: v.source, target: v.target, read_only: v.read_only === true };
  const [source, target, mode] = v.split(':');
  return { source, target, read_only: mode === 'ro' };
}

/** docker-compose.yml as docker-compose itself reads it (variables from .env.example). */
function composeConfig(): { services: Record<string, ComposeService> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'odcs-compose-'));
  try {
    copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
    copyFileSync(path.join(ROOT, '.env.example'), path.join(dir, '.env'));
    const out = execFileSync('docker-compose', ['config'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const parsed = YAML.parse(out) as { services: Record<string, ComposeService & { volumes?: Array<string | Mount> }> };
    for (const service of Object.values(parsed.services)) service.volumes = service.volumes?.map(mountOf);
    return parsed as { services: Record<string, ComposeService> };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TARGET_DIR = '/srv/odcs/composes';

describe('docker-compose.yml', () => {
  const cfg = composeConfig();

  it('is valid for docker-compose and wires the roles as ODCS does', () => {
    expect(Object.keys(cfg.services).sort()).toEqual(['backend', 'beat', 'composes-owner', 'frontend', 'migrate', 'postgres', 'rabbitmq', 'static']);
    expect(cfg.services.frontend.command).toEqual(['odcs-frontend']);
    expect(cfg.services.backend.command).toEqual(['odcs-backend']);
    expect(cfg.services.beat.command).toEqual(['odcs-beat']);
    for (const role of ['frontend', 'backend', 'beat']) {
      expect(cfg.services[role].environment?.DATABASE_URL).toMatch(/^postgres:\/\/odcs:.*@postgres:5432\/odcs$/);
      expect(cfg.services[role].environment?.AMQP_URL).toMatch(/^amqp:\/\/odcs:.*@rabbitmq:5672$/);
    }
  });

  it('gives the composes volume to the user the roles run as before any of them mounts it', () => {
    // The image makes the mount point node's, so a new volume starts node-owned ...
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const chown = dockerfile.search(new RegExp(`^RUN mkdir -p ${TARGET_DIR} && chown node:node ${TARGET_DIR}$`, 'm'));
    const user = dockerfile.search(/^USER node$/m);
    expect(chown).toBeGreaterThan(0);
    expect(user).toBeGreaterThan(chown);
    // ... and a one-shot step, as root, makes an existing root-owned one node's too.
    const owner = cfg.services['composes-owner'];
    expect(owner.user).toBe('0:0');
    expect(owner.command).toEqual(['chown', 'node:node', TARGET_DIR]);
    expect(owner.volumes).toEqual([{ source: 'composes', target: TARGET_DIR, read_only: false }]);
    for (const [name, service] of Object.entries(cfg.services)) {
      if (name === 'composes-owner' || !service.volumes?.some((v) => v.source === 'composes')) continue;
      expect([name, service.depends_on?.['composes-owner']]).toEqual([name, { condition: 'service_completed_successfully' }]);
    }
    for (const role of ['backend', 'beat']) {
      expect(cfg.services[role].environment?.ODCS_TARGET_DIR).toBe(TARGET_DIR);
      expect(cfg.services[role].volumes).toContainEqual({ source: 'composes', target: TARGET_DIR, read_only: false });
    }
  });

  it('keeps .env (the passwords) out of the image', () => {
    const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(patterns).toEqual(expect.arrayContaining(['.env', '.env.*']));
    expect(patterns.indexOf('!.env.example')).toBeGreaterThan(patterns.indexOf('.env.*'));
  });

  it('serves the composes with nginx but never the hidden .store, .cache and temporary trees', async () => {
    const conf = cfg.services.static.volumes?.find((v) => v.target === '/etc/nginx/conf.d/default.conf');
    expect(conf?.read_only).toBe(true);
    expect(path.basename(conf!.source)).toBe('static.conf');
    const serverBlock = readFileSync(path.join(ROOT, 'deploy', 'nginx', 'static.conf'), 'utf8');
    expect(cfg.services.static.volumes).toContainEqual({ source: 'composes', target: '/usr/share/nginx/html/composes', read_only: true });

    // The real nginx with that server block, its root and port moved into a scratch directory.
    const dir = mkdtempSync(path.join(tmpdir(), 'odcs-nginx-'));
    chmodSync(dir, 0o755); // nginx's workers run as another user
    const html = path.join(dir, 'html');
    const files: Record<string, string> = {
      'composes/odcs-1/compose/Temporary/odcs-1.repo': '[odcs-1]\n',
      'composes/odcs-1/.compose.tmp-ab12/half.rpm': 'half',
      'composes/.store/sha256/ab/abcd.rpm': 'stored',
      'composes/.cache/koji-headers/v1/01/1-aa.json': '{}',
      'composes/.removing-odcs-2-ab12/x': 'x',
      'composes/.odcs-owner': 'id',
    };
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(html, rel)), { recursive: true });
      writeFileSync(path.join(html, rel), text);
    }
    const port = await freePort();
    const server = serverBlock.replace(/listen 80;/, `listen 127.0.0.1:${port};`).replace(/root \/usr\/share\/nginx\/html;/, `root ${html};`);
    expect(server).not.toBe(serverBlock);
    writeFileSync(path.join(dir, 'server.conf'), server);
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      [
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        'events {}',
        `http { access_log off; client_body_temp_path ${dir}/tmp; include ${dir}/server.conf; }`,
        '',
      ].join('\n'),
    );
    const nginx = ['nginx', '/usr/sbin/nginx'].find((c) => spawnSync(c, ['-v']).status === 0);
    expect(nginx).toBeDefined(); // installed by `npm test`'s pretest (bin/ensure-deps.js)
    const check = spawnSync(nginx!, ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    expect([check.status, check.stderr.toString()]).toEqual([0, expect.stringContaining('syntax is ok')]);
    const proc = new ServiceProcess(nginx!, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], process.env);
    try {
      const base = `http://127.0.0.1:${port}/composes`;
      const listing = await eventually(async () => (await fetch(`${base}/`).catch(() => undefined))?.text(), 15000, 'nginx to answer');
      expect(listing).toContain('odcs-1/');
      expect(listing).not.toMatch(/\.store|\.cache|\.removing|\.odcs-owner/);
      const repo = await fetch(`${base}/odcs-1/compose/Temporary/odcs-1.repo`);
      expect([repo.status, await repo.text()]).toEqual([200, '[odcs-1]\n']);
      for (const hidden of Object.keys(files).filter((f) => f.includes('/.'))) {
        const answer = await fetch(`http://127.0.0.1:${port}/${hidden}`);
        expect([hidden, answer.status]).toEqual([hidden, 404]);
      }
      for (const hiddenDir of ['.store/', '.cache/', '.store/sha256/ab/', 'odcs-1/.compose.tmp-ab12/']) {
        const answer = await fetch(`${base}/${hiddenDir}`);
        expect([hiddenDir, answer.status]).toEqual([hiddenDir, 404]);
      }
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
