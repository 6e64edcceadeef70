/**
 * How many composes of this process are waiting on one failing outside service (a host: Koji's
 * hub, MBS, a repository server) through retries. A slow or dead service must not hold every
 * worker slot for `net_timeout` while composes that need other services queue behind it: once
 * `max_slots_per_service` composes wait on a host, the next one failing on it fails at once.
 */
export class ServiceWaits {
  private readonly waiting = new Map<string, number>();

  /** A waiting place on `service` (release it with the returned function), or null when `limit` are taken. */
  enter(service: string, limit: number): (() => void) | null {
    const now = this.waiting.get(service) ?? 0;
    if (now >= limit) return null;
    this.waiting.set(service, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.waiting.get(service) ?? 1) - 1;
      if (left > 0) this.waiting.set(service, left);
      else this.waiting.delete(service);
    };
  }

  /** How many wait on `service` now. */
  count(service: string): number {
    return this.waiting.get(service) ?? 0;
  }
}

/** The places of this process (one worker per process). */
export const serviceWaits = new ServiceWaits();

/** `max_slots_per_service`, 0 meaning half of the worker's slots, rounded up. */
export function slotsPerService(cfg: { max_slots_per_service: number; num_concurrent_composes: number }): number {
  return cfg.max_slots_per_service > 0 ? cfg.max_slots_per_service : Math.ceil(cfg.num_concurrent_composes / 2);
}
