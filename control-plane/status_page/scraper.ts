// Scrapes every known Envoy's admin /stats/prometheus on an interval into a MetricsWindow.
import type { Logger } from "pino";
import { MetricsWindow } from "./aggregation";
import { parsePrometheusText, Scrape } from "./prometheus_text";

export interface EnvoyTarget {
  /** host:port of its admin endpoint. */
  address: string;
  /** Its node id, when it came from an xDS stream. */
  node?: string;
}

/** Only MetaProto's series: Envoy's `filter` is a regex on stat names (`wasmcustom.metaproto_...`). */
export const SCRAPE_PATH = "/stats/prometheus?filter=metaproto_";

export async function scrapeEnvoy(address: string, timeoutMs: number): Promise<string> {
  const response = await fetch(`http://${address}${SCRAPE_PATH}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}

export class EnvoyScraper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    readonly window: MetricsWindow,
    private readonly targets: () => EnvoyTarget[],
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    const loop = () => {
      this.running = this.scrapeOnce().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(loop, this.intervalMs);
      });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round: every target at once, recorded under one time. */
  async scrapeOnce(): Promise<void> {
    const targets = this.targets();
    const time = Date.now();
    const results = new Map<string, { node?: string; scrape: Scrape | Error }>();
    await Promise.all(targets.map(async ({ address, node }) => {
      try {
        results.set(address, { node, scrape: parsePrometheusText(await scrapeEnvoy(address, Math.max(this.intervalMs, 1000))) });
      } catch (err) {
        this.log.debug({ envoy: address, node, error: (err as Error).message }, "scrape failed");
        results.set(address, { node, scrape: new Error((err as Error).message) });
      }
    }));
    this.window.record(time, results);
  }
}
