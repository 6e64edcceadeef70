import { readRepomd, readRepository, type Repomd } from '../rpm/repodata';
import type { RpmPackage } from '../rpm/model';

export interface ParsedRepository {
  repomd: Repomd;
  packages: RpmPackage[];
  /** What the metadata is cached under: the checksums of its primary and filelists files. */
  key: string;
}

/**
 * Parsed repository metadata, kept by the checksums repomd.xml gives for primary.xml and
 * filelists.xml: reading the same repository again costs one small repomd.xml read, and any
 * change to the metadata changes the key. Least recently used entries go first once the
 * cache holds more than `maxPackages` packages.
 */
export class MetadataCache {
  private readonly entries = new Map<string, ParsedRepository>();
  private readonly loading = new Map<string, Promise<ParsedRepository>>();
  private held = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxPackages = 500_000) {}

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
      return { ...cached, repomd };
    }
    let pending = this.loading.get(key);
    if (!pending) {
      this.misses += 1;
      pending = readRepository(base, { repoId: key, signal }).then(({ packages }) => {
        const entry = { repomd, packages, key };
        this.remember(entry);
        return entry;
      });
      this.loading.set(key, pending);
      void pending.finally(() => this.loading.delete(key)).catch(() => undefined);
    }
    return { ...(await pending), repomd };
  }

  private remember(entry: ParsedRepository): void {
    this.entries.set(entry.key, entry);
    this.held += entry.packages.length;
    for (const [key, old] of this.entries) {
      if (this.held <= this.maxPackages || key === entry.key) break;
      this.entries.delete(key);
      this.held -= old.packages.length;
    }
  }
}
