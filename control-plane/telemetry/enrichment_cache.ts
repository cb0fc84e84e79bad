// A cache in front of the address directory, after the pattern of cf-metrics-refinery's metadata
// cache: entries are refreshed all together on a schedule (so a configuration change reaches the
// records), expire when unused for a while (so addresses seen once do not stay forever), and unknown
// addresses are cached too (negative entries), so a flood of records from strangers costs one lookup each.
import type { AddressInfo, ResolveAddress } from "./directory";
import { normalizeAddress } from "./directory";

export interface EnrichmentCacheOptions {
  /** Every entry is looked up again this often (default 10 min). */
  refreshIntervalMs: number;
  /** An entry not used for this long is dropped (default 3 min). */
  expireAfterMs: number;
  /** How often expired entries are looked for (default 1 min). */
  checkIntervalMs: number;
}

export const DEFAULT_ENRICHMENT_CACHE: EnrichmentCacheOptions = {
  refreshIntervalMs: 10 * 60_000, expireAfterMs: 3 * 60_000, checkIntervalMs: 60_000,
};

interface Entry {
  /** undefined: a negative entry (the model does not know this address). */
  info: AddressInfo | undefined;
  lastUsed: number;
}

export class EnrichmentCache {
  private readonly entries = new Map<string, Entry>();
  private timers: NodeJS.Timeout[] = [];
  hits = 0;
  misses = 0;
  expired = 0;
  refreshes = 0;

  /** source() gives the current directory: it changes when the configuration reloads. */
  constructor(private readonly source: () => ResolveAddress, readonly options: EnrichmentCacheOptions = DEFAULT_ENRICHMENT_CACHE) {}

  start(): void {
    this.stop();
    this.timers = [
      setInterval(() => this.refresh(), this.options.refreshIntervalMs),
      setInterval(() => this.expire(), this.options.checkIntervalMs),
    ];
    for (const timer of this.timers) timer.unref();
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  lookup(address: string, port: number): AddressInfo | undefined {
    const key = `${normalizeAddress(address)}|${port}`;
    const now = Date.now();
    const entry = this.entries.get(key);
    if (entry) {
      this.hits++;
      entry.lastUsed = now;
      return entry.info;
    }
    this.misses++;
    const info = this.source()(address, port);
    this.entries.set(key, { info, lastUsed: now });
    return info;
  }

  /** Looks every cached address up again (positive and negative alike). */
  refresh(): void {
    this.refreshes++;
    const resolve = this.source();
    for (const [key, entry] of this.entries) {
      const separator = key.lastIndexOf("|");
      entry.info = resolve(key.slice(0, separator), Number(key.slice(separator + 1)));
    }
  }

  /** Drops entries unused for longer than expireAfterMs. */
  expire(): void {
    const oldest = Date.now() - this.options.expireAfterMs;
    for (const [key, entry] of this.entries) {
      if (entry.lastUsed < oldest) {
        this.entries.delete(key);
        this.expired++;
      }
    }
  }

  size(): { positive: number; negative: number } {
    let positive = 0;
    for (const entry of this.entries.values()) if (entry.info) positive++;
    return { positive, negative: this.entries.size - positive };
  }
}
