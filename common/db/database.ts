import { types as pgTypes } from 'pg';
import { DataSource, QueryFailedError, type QueryRunner } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';

// bigint columns (koji_event, task ids, counts) fit in a double for any value ODCS sees;
// strings would leak into JSON where clients expect numbers.
pgTypes.setTypeParser(pgTypes.builtins.INT8, (v: string) => Number(v));

/** Anything that runs SQL: the pool or one transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

class RunnerQueryable implements Queryable {
  constructor(private readonly runner: QueryRunner) {}
  async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    const result = await this.runner.query(sql, params as unknown[] | undefined, true);
    return (result.records ?? []) as T[];
  }
}

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
  /** Fail a connection attempt after this long instead of waiting for the OS (ms). */
  connectTimeoutMs?: number;
}

/**
 * The PostgreSQL connection of a process: a TypeORM DataSource (entities, migrations) whose
 * pooled connections run our SQL. Every query of the service goes through `query` or
 * `transaction`, so there is one place that knows how we talk to the database.
 */
export class Database implements Queryable {
  private constructor(readonly dataSource: DataSource) {}

  static async connect(options: DatabaseOptions): Promise<Database> {
    const dataSource = new DataSource({
      type: 'postgres',
      url: options.url,
      entities: ENTITIES,
      migrations: MIGRATIONS,
      migrationsTableName: 'migrations',
      poolSize: options.poolSize ?? 10,
      applicationName: options.applicationName ?? 'odcs',
      connectTimeoutMS: options.connectTimeoutMs ?? 5000,
      extra: {
        // Keep idle connections; reconnect storms after a restart are handled per query.
        idleTimeoutMillis: 30000,
      },
      logging: false,
    });
    await dataSource.initialize();
    return new Database(dataSource);
  }

  async query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await new RunnerQueryable(runner).query<T>(sql, params);
    } finally {
      await runner.release();
    }
  }

  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      try {
        const result = await fn(new RunnerQueryable(runner));
        await runner.commitTransaction();
        return result;
      } catch (err) {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        throw err;
      }
    } finally {
      await runner.release();
    }
  }

  /**
   * Runs `fn` while holding a session-level advisory lock, or returns undefined at once if
   * another session holds it. The lock dies with the connection, so a crashed holder frees it.
   */
  async withAdvisoryLock<T>(key: number, fn: () => Promise<T>): Promise<T | undefined> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const q = new RunnerQueryable(runner);
      const [{ locked }] = await q.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock($1) AS locked`, [key]);
      if (!locked) return undefined;
      try {
        return await fn();
      } finally {
        await q.query(`SELECT pg_advisory_unlock($1)`, [key]).catch(() => undefined);
      }
    } finally {
      await runner.release();
    }
  }

  /** Applies every pending migration; returns the names applied. */
  async migrate(): Promise<string[]> {
    const applied = await this.dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  }

  /** Reverts the last `steps` applied migrations (all of them with Infinity); returns how many were reverted. */
  async revert(steps: number): Promise<number> {
    let reverted = 0;
    while (reverted < steps) {
      const [{ count }] = await this.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM information_schema.tables WHERE table_name = 'migrations' AND table_schema = current_schema()`,
      );
      if (count === 0) break;
      const [{ n }] = await this.query<{ n: number }>(`SELECT count(*)::int AS n FROM migrations`);
      if (n === 0) break;
      await this.dataSource.undoLastMigration({ transaction: 'each' });
      reverted += 1;
    }
    return reverted;
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** The PostgreSQL error code of `err`, if it came from the server. */
export function pgErrorCode(err: unknown): string | undefined {
  const driverError = err instanceof QueryFailedError ? (err.driverError as { code?: unknown }) : (err as { code?: unknown });
  return typeof driverError?.code === 'string' ? driverError.code : undefined;
}

const UNAVAILABLE_NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * True when `err` means "the database cannot be reached right now" (server down, restarting,
 * connection lost) rather than "this query is wrong". Such errors are worth retrying later.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = pgErrorCode(err);
  if (code) {
    if (UNAVAILABLE_NET_CODES.has(code)) return true;
    // 08: connection exception; 57P01-03: shutdown / cannot connect now; 53300: too many connections.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
  }
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    message,
  );
}
