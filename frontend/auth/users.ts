import type { Queryable } from '../../common/db/database';
import type { Logger } from '../../common/log';

/** Beyond this many names the memory of who was recorded starts over (a bound, not a tuning). */
const MAX_REMEMBERED = 10_000;

/**
 * Reference §4.1: "A users row is created on first sight of a username". Each name is written
 * once per process (INSERT … ON CONFLICT DO NOTHING, so several frontends agree), then only
 * remembered, so an authenticated request does not cost a write.
 */
export class UserRegistry {
  private readonly seen = new Set<string>();

  constructor(
    private readonly db: Queryable,
    private readonly log: Logger,
  ) {}

  async record(username: string): Promise<void> {
    if (this.seen.has(username)) return;
    try {
      await this.db.query('INSERT INTO users (username) VALUES ($1) ON CONFLICT (username) DO NOTHING', [username]);
    } catch (err) {
      // The row is bookkeeping, not a condition of the request: it is written on a later request.
      this.log.warn({ username, err: (err as Error).message }, 'could not record the user; will retry on a later request');
      return;
    }
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
    this.seen.add(username);
  }
}
