import { createHash } from 'node:crypto';

export interface TokenCacheOptions {
  /** Entries kept at most; the least recently used goes first. 0 keeps nothing. */
  maxEntries: number;
  /** Longest an entry is used, seconds, even when its token lives longer (a revocation is seen this much later at most). */
  maxSeconds: number;
  /** Milliseconds since the epoch (injected by tests). */
  clock: () => number;
}

/** What a load gives: the value, and when the token it came from expires (ms since the epoch). */
export interface Loaded<T> {
  value: T;
  expiresAt: number;
}

interface Entry<T> {
  value: T;
  until: number;
}

/**
 * Results of checking a bearer token (introspection, UserInfo), kept until the token expires or
 * `maxSeconds` pass, whichever is first, so that a busy client costs one check per token rather
 * than one per request. Keys are SHA-256 hashes of the tokens: the cache holds no usable token.
 * Concurrent requests with the same unknown token share one load. A failed load (an inactive
 * token, a provider error) is not kept.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly loading = new Map<string, Promise<T>>();

  constructor(private readonly options: TokenCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached value of `token`, or what `load` gives (then cached until it expires). */
  async getOrLoad(token: string, load: () => Promise<Loaded<T>>): Promise<T> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.options.clock();
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      if (hit.until > now) {
        // Re-inserted: a Map iterates in insertion order, so the first key is the least recently used.
        this.entries.set(key, hit);
        return hit.value;
      }
    }
    const pending = this.loading.get(key);
    if (pending) return pending;
    const started = (async () => {
      try {
        const { value, expiresAt } = await load();
        this.remember(key, value, Math.min(expiresAt, this.options.clock() + this.options.maxSeconds * 1000));
        return value;
      } finally {
        this.loading.delete(key);
      }
    })();
    this.loading.set(key, started);
    return started;
  }

  private remember(key: string, value: T, until: number): void {
    if (this.options.maxEntries === 0 || until <= this.options.clock()) return;
    this.entries.set(key, { value, until });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
