import { Beat } from '../../backend/beat/beat';
import { ConfigError, loadConfig } from '../../common/config';
import { ComposeStore } from '../../common/db/compose-store';
import { Database } from '../../common/db/database';
import { createLogger } from '../../common/log';

const USAGE = `usage: odcs-manage <command>

commands:
  migrate              apply every pending database migration
  revert [N|--all]     revert the last N migrations (default 1), or all of them
  migrations           list applied migrations
  cleanup              run one round of the beat's periodic jobs now
  config               print the effective configuration (validating it)
`;

async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const cfg = loadConfig();
  const db = await Database.connect({ url: cfg.database_url, poolSize: 2, applicationName: 'odcs-manage' });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, arg] = argv;
  switch (command) {
    case 'migrate': {
      const applied = await withDatabase((db) => db.migrate());
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      return 0;
    }
    case 'revert': {
      const steps = arg === '--all' ? Infinity : arg === undefined ? 1 : Number(arg);
      if (!(steps > 0)) {
        console.error('revert takes a positive number of migrations or --all');
        return 2;
      }
      const n = await withDatabase((db) => db.revert(steps));
      console.log(`reverted ${n} migration(s)`);
      return 0;
    }
    case 'migrations': {
      const rows = await withDatabase((db) =>
        db.query<{ name: string }>(`SELECT name FROM migrations ORDER BY id`).catch(() => [] as Array<{ name: string }>),
      );
      for (const r of rows) console.log(r.name);
      return 0;
    }
    case 'cleanup': {
      const cfg = loadConfig();
      const report = await withDatabase((db) =>
        new Beat({ cfg, db, store: new ComposeStore(db, cfg.messaging_backend !== ''), log: createLogger('manage', cfg.log_level) }).runOnce(),
      );
      console.log(JSON.stringify(report, null, 2));
      return 0;
    }
    case 'config':
      console.log(JSON.stringify(loadConfig(), null, 2));
      return 0;
    default:
      process.stderr.write(USAGE);
      return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
