import type { Config } from '../../common/config';
import { DEFAULT_METADATA_LIMITS, readRepomd, readRepository, type MetadataLimits, type Repomd } from '../rpm/repodata';
import type { RpmPackage } from '../rpm/model';

export interface ParsedRepository {
  repomd: Repomd;
  packages: RpmPackage[];
  /** What the metadata is cached under: the checksums of its primary and filelists files. */
  key: string;
}

/** The metadata limits the configuration sets (each option named in the error that it causes). */
export function metadataLimits(cfg: Config): MetadataLimits {
  return {
    maxBytes: cfg.metadata_max_bytes,
    maxPackages: cfg.metadata_max_packages,
    maxFilesPerPackage: cfg.metadata_max_files_per_package,
    maxFiles: cfg.metadata_max_files,
    maxDepsPerPackage: cfg.metadata_max_deps_per_package,
    maxStringLength: cfg.metadata_max_string_length,
  };
}

/** Default bound of the cache, in items (see `weightOf`; roughly 100 bytes each, so about 1 GB). */
export const DEFAULT_CACHE_ITEMS = 8_000_000;

/**
 * What a parsed repository costs in memory, roughly: one per package, file entry and
 * dependency entry (a file path or dependency is about as large as a package's own fields).
 */
export function weightOf(packages: readonly RpmPackage[]): number {
  let weight = packages.length;
  for (const p of packages) weight += p.files.length + p.provides.length + p.requires.length + p.conflicts.length + p.obsoletes.length;
  return weight;
}

/**
 * Parsed repository metadata, kept by the checksums repomd.xml gives for primary.xml and
 * filelists.xml: reading the same repository again costs one small repomd.xml read, and any
 * change to the metadata changes the key. Entries are weighed (`weightOf`): least recently
 * used ones go first once the cache holds more than `maxItems`, and a repository heavier than
 * that on its own is not kept, so one huge repository neither stays resident after its compose
 * nor pushes everything else out.
 */
export class MetadataCache {
  private readonly entries = new Map<string, { parsed: ParsedRepository; weight: number }>();
  private readonly loading = new Map<string, Loading>();
  private held = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxItems = DEFAULT_CACHE_ITEMS,
    private readonly limits: MetadataLimits = DEFAULT_METADATA_LIMITS,
  ) {}

  static fromConfig(cfg: Config): MetadataCache {
    return new MetadataCache(cfg.metadata_cache_max_items, metadataLimits(cfg));
  }

  /** Items (see `weightOf`) the cache holds now. */
  get weight(): number {
    return this.held;
  }

  /** Composes waiting for a read in progress. */
  get readersWaiting(): number {
    let waiting = 0;
    for (const load of this.loading.values()) waiting += load.waiting;
    return waiting;
  }

  /** The keys held, least recently used first. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  async read(base: string, signal?: AbortSignal): Promise<ParsedRepository> {
    const repomd = await readRepomd(base, signal);
    const primary = repomd.records['primary'];
    const filelists = repomd.records['filelists'];
    const key = `${primary?.checksum.type}:${primary?.checksum.value}/${filelists?.checksum.value ?? '-'}`;
    const cached = this.entries.get(key);
    if (cached) {
      this.hits += 1;
      this.entries.delete(key);
      this.entries.set(key, cached);
      return { ...cached.parsed, repomd };
    }
    let load = this.loading.get(key);
    if (!load || load.controller.signal.aborted) {
      this.misses += 1;
      // One read for every compose that asks meanwhile; it stops only when all of them stopped
      // waiting, so one compose's cancel neither fails the others nor leaves the read running.
      const controller = new AbortController();
      const promise = readRepository(base, { repoId: key, signal: controller.signal, limits: this.limits }).then(({ packages }) => {
        const entry = { repomd, packages, key };
        this.remember(entry);
        return entry;
      });
      const started: Loading = { promise, controller, waiting: 0 };
      load = started;
      this.loading.set(key, started);
      void promise
        .finally(() => {
          if (this.loading.get(key) === started) this.loading.delete(key);
        })
        .catch(() => undefined);
    }
    load.waiting += 1;
    try {
      return { ...(await untilAborted(load.promise, signal)), repomd };
    } finally {
      load.waiting -= 1;
      if (load.waiting === 0 && this.loading.get(key) === load) {
        // A compose asking later starts a read of its own rather than join this stopped one.
        this.loading.delete(key);
        load.controller.abort(signal?.reason);
      }
    }
  }

  private remember(parsed: ParsedRepository): void {
    if (this.maxItems === 0) return;
    const weight = weightOf(parsed.packages);
    if (weight > this.maxItems) return;
    for (const [key, old] of this.entries) {
      if (this.held + weight <= this.maxItems) break;
      this.entries.delete(key);
      this.held -= old.weight;
    }
    this.entries.set(parsed.key, { parsed, weight });
    this.held += weight;
  }
}

interface Loading {
  promise: Promise<ParsedRepository>;
  controller: AbortController;
  /** Reads waiting for this one. */
  waiting: number;
}

/** The promise's outcome, or the signal's abort reason if that comes first. */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
