import { createHash } from 'node:crypto';
import { type Pool, type PoolClient, types as pgTypes } from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';

// bigint columns (koji_event, task ids, counts) fit in a double for any value ODCS sees;
// strings would leak into JSON where clients expect numbers.
pgTypes.setTypeParser(pgTypes.builtins.INT8, (v: string) => Number(v));

/** Anything that runs SQL: the pool or one transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/**
 * Every statement runs as a named prepared statement (named by a hash of its text), so
 * PostgreSQL parses and plans each of our few dozen statements once per connection instead of
 * on every request. All our SQL is parameterised, so the set of texts is small and fixed.
 */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `odcs_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    statementNames.set(sql, name);
  }
  return name;
}

async function run<T>(client: Pool | PoolClient, sql: string, params?: readonly unknown[]): Promise<T[]> {
  const result = await client.query({ name: statementName(sql), text: sql, values: params as unknown[] | undefined });
  return result.rows as T[];
}

class ClientQueryable implements Queryable {
  constructor(private readonly client: PoolClient) {}
  query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return run<T>(this.client, sql, params);
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
 * connection pool runs our SQL. Every query of the service goes through `query` or
 * `transaction`, so there is one place that knows how we talk to the database.
 */
export class Database implements Queryable {
  private readonly pool: Pool;

  private constructor(readonly dataSource: DataSource) {
    // TypeORM's PostgreSQL driver keeps its pg Pool here; we share it rather than open a second.
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
  }

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

  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return run<T>(this.pool, sql, params);
  }

  /** Runs `fn` on one pooled connection. */
  private async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // pg-pool listens for errors only on idle clients. A connection the server ends while we
    // hold it between statements (a restart, sessions terminated) emits 'error' with nobody
    // listening, which would crash the process; note it instead: the next statement on it
    // fails as "not queryable", and the connection is not given back.
    const onError = (): void => {
      broken = true;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      broken ||= isDatabaseUnavailable(err);
      throw err;
    } finally {
      client.off('error', onError);
      // A connection that failed at the transport level is not given back to the pool.
      client.release(broken);
    }
  }

  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        const result = await fn(new ClientQueryable(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Runs `fn` while holding a session-level advisory lock, or returns undefined at once if
   * another session holds it. The lock dies with the connection, so a crashed holder frees it.
   */
  withAdvisoryLock<T>(key: number, fn: () => Promise<T>): Promise<T | undefined> {
    return this.withClient(async (client) => {
      const [{ locked }] = await run<{ locked: boolean }>(client, `SELECT pg_try_advisory_lock($1) AS locked`, [key]);
      if (!locked) return undefined;
      try {
        return await fn();
      } finally {
        await run(client, `SELECT pg_advisory_unlock($1)`, [key]).catch(() => undefined);
      }
    });
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
