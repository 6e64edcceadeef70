import { TokenCache } from '../../frontend/auth/token-cache';

describe('TokenCache', () => {
  let now = 1_000_000;
  const clock = (): number => now;
  let loads: string[];
  const loader = (token: string, ttlMs = 3_600_000) => async () => {
    loads.push(token);
    return { value: `id:${token}`, expiresAt: now + ttlMs };
  };

  beforeEach(() => {
    now = 1_000_000;
    loads = [];
  });

  it('loads a token once, then answers from memory until maxSeconds', async () => {
    const cache = new TokenCache<string>({ maxEntries: 10, maxSeconds: 60, clock });
    expect(await cache.getOrLoad('a', loader('a'))).toBe('id:a');
    now += 59_999;
    expect(await cache.getOrLoad('a', loader('a'))).toBe('id:a');
    expect(loads).toEqual(['a']);
    now += 1;
    await cache.getOrLoad('a', loader('a'));
    expect(loads).toEqual(['a', 'a']);
  });

  it('never past the token expiry', async () => {
    const cache = new TokenCache<string>({ maxEntries: 10, maxSeconds: 3600, clock });
    await cache.getOrLoad('a', loader('a', 5_000));
    now += 5_000;
    await cache.getOrLoad('a', loader('a', 5_000));
    expect(loads).toEqual(['a', 'a']);
  });

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const cache = new TokenCache<string>({ maxEntries: 2, maxSeconds: 60, clock });
    await cache.getOrLoad('a', loader('a'));
    await cache.getOrLoad('b', loader('b'));
    await cache.getOrLoad('a', loader('a')); // a is now the most recent
    await cache.getOrLoad('c', loader('c')); // evicts b
    expect(cache.size).toBe(2);
    await cache.getOrLoad('a', loader('a'));
    await cache.getOrLoad('b', loader('b'));
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
  });

  it('shares one load between concurrent requests and keeps no failure', async () => {
    const cache = new TokenCache<string>({ maxEntries: 10, maxSeconds: 60, clock });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = async () => {
      loads.push('a');
      await gate;
      return { value: 'id:a', expiresAt: now + 60_000 };
    };
    const both = Promise.all([cache.getOrLoad('a', slow), cache.getOrLoad('a', slow)]);
    release();
    expect(await both).toEqual(['id:a', 'id:a']);
    expect(loads).toEqual(['a']);

    const failing = async (): Promise<{ value: string; expiresAt: number }> => {
      loads.push('x');
      throw new Error('inactive');
    };
    await expect(cache.getOrLoad('x', failing)).rejects.toThrow('inactive');
    await expect(cache.getOrLoad('x', failing)).rejects.toThrow('inactive');
    expect(loads).toEqual(['a', 'x', 'x']);
  });

  it('maxEntries 0 keeps nothing', async () => {
    const cache = new TokenCache<string>({ maxEntries: 0, maxSeconds: 60, clock });
    await cache.getOrLoad('a', loader('a'));
    await cache.getOrLoad('a', loader('a'));
    expect(loads).toEqual(['a', 'a']);
  });
});
