// The status page's numbers: Envoy scrapes kept over a sliding window, turned into totals, rates and
// histogram quantiles per service and method. Counters are cumulative in Envoy; what happened between
// two scrapes of one Envoy is the difference (a counter that went down means Envoy restarted: the new
// value is all new). A series absent from the earlier of two scrapes was 0 then: Envoy creates a
// counter at its first increment. Several Envoys add up.
import type { Scrape } from "./prometheus_text";

export const REQUESTS = "metaproto_requests_total";
export const DURATION = "metaproto_request_duration_microseconds";
export const LOCAL_REPLIES = "metaproto_local_replies_total";
export const DECODE_ERRORS = "metaproto_decode_errors_total";
export const PASSTHROUGH = "metaproto_passthrough_connections_total";
const KEPT = new Set([REQUESTS, `${DURATION}_bucket`, LOCAL_REPLIES, DECODE_ERRORS, PASSTHROUGH]);
/** response_status values that are errors (no_response is not: oneway calls have none by design). */
export const ERROR_STATUSES = ["client_error", "server_error"];

type Labels = Record<string, string>;
/** One Envoy's kept series at one scrape: series key → value. */
type Values = Map<string, number>;

interface Tick {
  time: number;
  /** Envoy admin address → its values, for the Envoys scraped successfully at this tick. */
  envoys: Map<string, Values>;
}

export interface EnvoyState {
  address: string;
  node?: string;
  up: boolean;
  error?: string;
  scrapedAt?: number;
}

export interface Series {
  /** Seconds since the epoch, one point per scrape. */
  time: number[];
  rate: (number | null)[];
  /** Calls per second by response_status, for every status but ok. */
  byStatus: Record<string, (number | null)[]>;
  p50: (number | null)[];
  p99: (number | null)[];
}

export interface CallsRow {
  protocol: string;
  service: string;
  method: string;
  /** Calls counted by Envoy since it started (all Envoys): metaproto_requests_total. */
  total: number;
  byStatus: Record<string, number>;
  /** Over the rate window: calls per second, client_error + server_error over all calls. */
  rate: number | null;
  errorRatio: number | null;
  /** Over the whole window, in microseconds (null: no call in it). */
  p50: number | null;
  p99: number | null;
  series: Series;
}

export interface CounterRow {
  labels: Labels;
  total: number;
  rate: number | null;
}

export interface MetricsView {
  at: number;
  windowSeconds: number;
  rateWindowSeconds: number;
  envoys: EnvoyState[];
  calls: CallsRow[];
  localReplies: CounterRow[];
  decodeErrors: CounterRow[];
  passthrough: CounterRow[];
}

function seriesKey(name: string, labels: Labels): string {
  return JSON.stringify([name, ...Object.keys(labels).sort().map((k) => [k, labels[k]])]);
}

function parseKey(key: string): { name: string; labels: Labels } {
  const [name, ...pairs] = JSON.parse(key) as [string, ...[string, string][]];
  return { name, labels: Object.fromEntries(pairs) };
}

/**
 * The q-quantile of a histogram given as cumulative (upper bound, count) buckets ending with +Inf,
 * interpolated linearly inside the bucket as Prometheus' histogram_quantile does; null without
 * observations.
 */
export function histogramQuantile(q: number, buckets: [number, number][]): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  if (sorted.length < 2 || sorted[sorted.length - 1][0] !== Infinity) return null;
  const observations = sorted[sorted.length - 1][1];
  if (!(observations > 0)) return null;
  const rank = q * observations;
  let b = sorted.findIndex(([, count]) => count >= rank);
  if (b < 0) b = sorted.length - 1;
  if (b === sorted.length - 1) return sorted[sorted.length - 2][0];
  if (b === 0 && sorted[0][0] <= 0) return sorted[0][0];
  const [start, before] = b === 0 ? [0, 0] : sorted[b - 1];
  const [end, count] = sorted[b];
  return start + (end - start) * ((rank - before) / (count - before));
}

export class MetricsWindow {
  private ticks: Tick[] = [];
  private envoyStates = new Map<string, EnvoyState>();
  /** The last view, until the next scrape: every open page polls it. */
  private cached?: MetricsView;

  /** windowMs: how far back charts and quantiles go; rateWindowMs: what one point of a rate covers. */
  constructor(readonly windowMs: number, readonly rateWindowMs: number) {}

  /** One round of scrapes at `time` (ms): a Scrape per Envoy that answered, an Error per one that did not. */
  record(time: number, results: Map<string, { node?: string; scrape: Scrape | Error }>): void {
    const envoys = new Map<string, Values>();
    for (const [address, { node, scrape }] of results) {
      if (scrape instanceof Error) {
        this.envoyStates.set(address, { ...this.envoyStates.get(address), address, node, up: false, error: scrape.message });
        continue;
      }
      const values: Values = new Map();
      for (const sample of scrape.samples) {
        if (KEPT.has(sample.name)) values.set(seriesKey(sample.name, sample.labels), (values.get(seriesKey(sample.name, sample.labels)) ?? 0) + sample.value);
      }
      envoys.set(address, values);
      this.envoyStates.set(address, { address, node, up: true, scrapedAt: time });
    }
    for (const address of this.envoyStates.keys()) if (!results.has(address)) this.envoyStates.delete(address);
    this.ticks.push({ time, envoys });
    this.cached = undefined;
    // Keep one tick older than the window: the baseline of the window's first difference.
    while (this.ticks.length > 2 && this.ticks[1].time < time - this.windowMs) this.ticks.shift();
  }

  /** What changed between tick i-1 and tick i, summed over the Envoys scraped at both. */
  private increase(i: number): Values {
    const sum: Values = new Map();
    const [before, after] = [this.ticks[i - 1], this.ticks[i]];
    for (const [address, values] of after.envoys) {
      const earlier = before.envoys.get(address);
      if (!earlier) continue;
      for (const [key, value] of values) {
        const previous = earlier.get(key) ?? 0;
        const delta = value >= previous ? value - previous : value;
        sum.set(key, (sum.get(key) ?? 0) + delta);
      }
    }
    return sum;
  }

  view(): MetricsView {
    this.cached ??= this.compute();
    return this.cached;
  }

  private compute(): MetricsView {
    const ticks = this.ticks;
    const increases = ticks.map((_, i) => (i === 0 ? new Map() : this.increase(i)));
    const latest = new Map<string, number>();
    // Totals: each Envoy's latest successful scrape.
    const seen = new Set<string>();
    for (let i = ticks.length - 1; i >= 0; i--) {
      for (const [address, values] of ticks[i].envoys) {
        if (seen.has(address) || !this.envoyStates.has(address)) continue;
        seen.add(address);
        for (const [key, value] of values) latest.set(key, (latest.get(key) ?? 0) + value);
      }
    }
    const sumOver = (from: number, to: number): Values => {
      const sum: Values = new Map();
      for (let i = Math.max(from, 1); i <= to; i++) for (const [key, value] of increases[i]) sum.set(key, (sum.get(key) ?? 0) + value);
      return sum;
    };
    // For tick i: the first tick of its rate window (the increases after `from` up to i).
    const rateFrom = (i: number) => {
      let from = i;
      while (from > 0 && ticks[from - 1].time >= ticks[i].time - this.rateWindowMs) from--;
      return from === i ? Math.max(i - 1, 0) : from;
    };
    const last = ticks.length - 1;
    const windowSum = sumOver(1, last);
    const rateWindows = ticks.map((tick, i) => {
      const from = rateFrom(i);
      return { seconds: (tick.time - ticks[from].time) / 1000, sum: sumOver(from + 1, i) };
    });

    const calls = new Map<string, CallsRow>();
    const row = (labels: Labels): CallsRow => {
      const id = JSON.stringify([labels.protocol, labels.service, labels.method]);
      let found = calls.get(id);
      if (!found) {
        found = {
          protocol: labels.protocol ?? "", service: labels.service ?? "", method: labels.method ?? "",
          total: 0, byStatus: {}, rate: null, errorRatio: null, p50: null, p99: null,
          series: { time: ticks.slice(1).map((t) => t.time / 1000), rate: [], byStatus: {}, p50: [], p99: [] },
        };
        calls.set(id, found);
      }
      return found;
    };
    for (const [key, value] of latest) {
      const { name, labels } = parseKey(key);
      if (name !== REQUESTS) continue;
      const r = row(labels);
      r.total += value;
      r.byStatus[labels.response_status] = (r.byStatus[labels.response_status] ?? 0) + value;
    }
    // Per row, what a sum of increases says: calls by status, and the duration buckets.
    const perRow = (sum: Values) => {
      const out = new Map<string, { byStatus: Record<string, number>; buckets: Map<number, number> }>();
      for (const [key, value] of sum) {
        const { name, labels } = parseKey(key);
        if (name !== REQUESTS && name !== `${DURATION}_bucket`) continue;
        const id = JSON.stringify([labels.protocol, labels.service, labels.method]);
        let entry = out.get(id);
        if (!entry) out.set(id, (entry = { byStatus: {}, buckets: new Map() }));
        if (name === REQUESTS) entry.byStatus[labels.response_status] = (entry.byStatus[labels.response_status] ?? 0) + value;
        else {
          const le = labels.le === "+Inf" ? Infinity : Number(labels.le);
          entry.buckets.set(le, (entry.buckets.get(le) ?? 0) + value);
        }
      }
      return out;
    };
    const quantiles = (buckets: Map<number, number> | undefined) =>
      [0.5, 0.99].map((q) => (buckets ? histogramQuantile(q, [...buckets]) : null));
    // Rows for series seen only in the window (e.g. an Envoy now gone) too.
    for (const id of perRow(windowSum).keys()) {
      const [protocol, service, method] = JSON.parse(id) as string[];
      row({ protocol, service, method });
    }
    const windowRows = perRow(windowSum);
    const pointRows = rateWindows.map(({ seconds, sum }) => ({ seconds, rows: perRow(sum) }));
    for (const [id, r] of calls) {
      [r.p50, r.p99] = quantiles(windowRows.get(id)?.buckets);
      const statuses = new Set<string>(Object.keys(r.byStatus));
      for (const point of pointRows) for (const s of Object.keys(point.rows.get(id)?.byStatus ?? {})) statuses.add(s);
      statuses.delete("ok");
      for (const s of statuses) r.series.byStatus[s] = [];
      for (let i = 1; i < pointRows.length; i++) {
        const { seconds, rows } = pointRows[i];
        const entry = rows.get(id);
        const calls = Object.values(entry?.byStatus ?? {}).reduce((a, b) => a + b, 0);
        r.series.rate.push(seconds > 0 ? calls / seconds : null);
        for (const s of statuses) r.series.byStatus[s].push(seconds > 0 ? (entry?.byStatus[s] ?? 0) / seconds : null);
        const [p50, p99] = quantiles(entry?.buckets);
        r.series.p50.push(p50);
        r.series.p99.push(p99);
      }
      const current = pointRows[last]?.rows.get(id);
      const seconds = pointRows[last]?.seconds ?? 0;
      if (last > 0 && seconds > 0) {
        const all = Object.values(current?.byStatus ?? {}).reduce((a, b) => a + b, 0);
        r.rate = all / seconds;
        r.errorRatio = all ? ERROR_STATUSES.reduce((a, s) => a + (current?.byStatus[s] ?? 0), 0) / all : null;
      }
    }

    const counterRows = (name: string): CounterRow[] => {
      const rows: CounterRow[] = [];
      for (const [key, total] of latest) {
        const parsed = parseKey(key);
        if (parsed.name !== name) continue;
        const { seconds, sum } = rateWindows[last] ?? { seconds: 0, sum: new Map() };
        rows.push({ labels: parsed.labels, total, rate: last > 0 && seconds > 0 ? (sum.get(key) ?? 0) / seconds : null });
      }
      return rows.sort((a, b) => (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1));
    };

    return {
      at: ticks[last]?.time ?? Date.now(),
      windowSeconds: this.windowMs / 1000,
      rateWindowSeconds: this.rateWindowMs / 1000,
      envoys: [...this.envoyStates.values()].sort((a, b) => (a.address < b.address ? -1 : 1)),
      calls: [...calls.values()].sort((a, b) => (JSON.stringify([a.protocol, a.service, a.method]) < JSON.stringify([b.protocol, b.service, b.method]) ? -1 : 1)),
      localReplies: counterRows(LOCAL_REPLIES),
      decodeErrors: counterRows(DECODE_ERRORS),
      passthrough: counterRows(PASSTHROUGH),
    };
  }
}
