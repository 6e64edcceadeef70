import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT } from '../support/processes';

describe('docker-compose.yml', () => {
  it('is valid for docker-compose and wires the roles as ODCS does', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'odcs-compose-'));
    try {
      copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
      copyFileSync(path.join(ROOT, '.env.example'), path.join(dir, '.env'));
      const out = execFileSync('docker-compose', ['config'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      const cfg = YAML.parse(out) as { services: Record<string, { command?: string[]; environment?: Record<string, string> }> };
      expect(Object.keys(cfg.services).sort()).toEqual(['backend', 'beat', 'frontend', 'migrate', 'postgres', 'rabbitmq', 'static']);
      expect(cfg.services.frontend.command).toEqual(['odcs-frontend']);
      expect(cfg.services.backend.command).toEqual(['odcs-backend']);
      expect(cfg.services.beat.command).toEqual(['odcs-beat']);
      for (const role of ['frontend', 'backend', 'beat']) {
        expect(cfg.services[role].environment?.DATABASE_URL).toMatch(/^postgres:\/\/odcs:.*@postgres:5432\/odcs$/);
        expect(cfg.services[role].environment?.AMQP_URL).toMatch(/^amqp:\/\/odcs:.*@rabbitmq:5672$/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
