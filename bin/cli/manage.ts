import { Beat } from '../../backend/beat/beat';
import { type Config, ConfigError, loadConfig } from '../../common/config';
import { ComposeStore } from '../../common/db/compose-store';
import { Database } from '../../common/db/database';
import { type EmbeddedPostgresHandle, useEmbeddedPostgres } from '../../common/db/embedded-postgres';
import { createLogger } from '../../common/log';

const USAGE = `usage: odcs-manage <command>

commands:
  migrate              apply every pending database migration
  revert [N|--all]     revert the last N migrations (default 1), or all of them
  migrations           list applied migrations
  cleanup              run one round of the beat's periodic jobs now
  config               print the effective configuration (validating it)
`;

/** A failure to tell the operator in one line, without a stack. */
class ManageError extends Error {
  override name = 'ManageError';
}

/** The URL without its password, for messages. */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * The database of `npm start`'s defaults: DATABASE_URL when it is set, otherwise the embedded
 * PostgreSQL of data_dir: the running one of `npm start`, or one started for this command and
 * stopped after it.
 */
async function openDatabase(cfg: Config): Promise<{ db: Database; embedded?: EmbeddedPostgresHandle }> {
  let url = cfg.database_url;
  let embedded: EmbeddedPostgresHandle | undefined;
  if (!process.env.DATABASE_URL) {
    try {
      embedded = await useEmbeddedPostgres(cfg.data_dir, createLogger('manage', 'warn'));
    } catch (err) {
      throw new ManageError(
        `cannot start the embedded PostgreSQL of ${cfg.data_dir}: ${(err as Error).message.split('\n')[0]}\n` +
          'Set DATABASE_URL to your PostgreSQL, or ODCS_DATA_DIR to the data folder that `npm start` uses.',
      );
    }
    url = embedded.url;
  }
  try {
    return { db: await Database.connect({ url, poolSize: 2, applicationName: 'odcs-manage' }), embedded };
  } catch (err) {
    await embedded?.stop();
    throw new ManageError(
      embedded
        ? `cannot connect to the embedded PostgreSQL of ${cfg.data_dir}: ${(err as Error).message}\n` +
            'Start `npm start` once to create it, or set DATABASE_URL to your PostgreSQL.'
        : `cannot connect to the database ${shownUrl(url)} (from DATABASE_URL): ${(err as Error).message}\n` +
            'Set DATABASE_URL to a PostgreSQL database that exists (postgres://USER:PASSWORD@HOST:PORT/DATABASE), ' +
            'or unset it to use the embedded PostgreSQL of `npm start`.',
    );
  }
}

async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const { db, embedded } = await openDatabase(loadConfig());
  try {
    return await fn(db);
  } finally {
    await db.close();
    await embedded?.stop();
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
    // A message an operator can act on; the stack only when asked for (ODCS_LOG_LEVEL=debug).
    const message = err instanceof Error ? err.message : String(err);
    const debug = /^(debug|trace)$/.test(process.env.ODCS_LOG_LEVEL ?? '');
    const showStack = debug && err instanceof Error && !(err instanceof ConfigError || err instanceof ManageError);
    process.stderr.write(`odcs-manage: ${showStack ? err.stack : message}\n`);
    process.exit(1);
  },
);
