import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSchema } from '../../common/config';

const text = readFileSync(path.join(__dirname, '..', '..', '.env.example'), 'utf8');
const PLAIN: Record<string, string> = { database_url: 'DATABASE_URL', amqp_url: 'AMQP_URL', host: 'HOST', port: 'PORT' };

describe('.env.example', () => {
  it('documents every configuration option', () => {
    const missing = Object.keys(configSchema.shape).filter((key) => {
      const name = PLAIN[key] ?? `ODCS_${key.toUpperCase()}`;
      return !new RegExp(`^#? ?${name}=`, 'm').test(text);
    });
    expect(missing).toEqual([]);
  });

  it('names no option that does not exist', () => {
    const names = [...text.matchAll(/^#? ?(ODCS_[A-Z_]+)=/gm)].map((m) => m[1]).filter((n) => n !== 'ODCS_CONFIG_FILE');
    const unknown = names.filter((n) => !Object.hasOwn(configSchema.shape, n.slice(5).toLowerCase()));
    expect(unknown).toEqual([]);
  });
});
