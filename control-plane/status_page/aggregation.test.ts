// The status page's aggregation against real Envoy scrapes (fixtures/<protocol>.prom, captured from
// the protocol rigs by test/status/capture-scrapes.sh).
import * as fs from "fs";
import * as path from "path";
import { DURATION, histogramQuantile, MetricsWindow, REQUESTS } from "./aggregation";
import { parsePrometheusText, Scrape } from "./prometheus_text";

const PROTOCOLS = ["dubbo", "thrift", "mysql", "redis"];
const fixture = (protocol: string) => fs.readFileSync(path.join(__dirname, "fixtures", `${protocol}.prom`), "utf8");
const empty: Scrape = { samples: [], types: new Map() };
const one = (scrape: Scrape | Error, node?: string) => new Map([["127.0.0.1:9901", { node, scrape }]]);

/** The fixture's counters summed per (protocol, service, method), straight from its lines. */
function requestsByCall(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^metaproto_requests_total\{protocol="([^"]*)",service="([^"]*)",method="([^"]*)",.*\} (\d+)$/.exec(line);
    if (match) sums.set(JSON.stringify([match[1], match[2], match[3]]), (sums.get(JSON.stringify([match[1], match[2], match[3]])) ?? 0) + Number(match[4]));
  }
  return sums;
}

describe("parsePrometheusText on Envoy's output", () => {
  test.each(PROTOCOLS)("%s: every metaproto_ line is a sample with its labels", (protocol) => {
    const text = fixture(protocol);
    const scrape = parsePrometheusText(text);
    const lines = text.split("\n").filter((l) => l.startsWith("metaproto_"));
    expect(scrape.samples).toHaveLength(lines.length);
    expect(scrape.types.get(REQUESTS)).toBe("counter");
    expect(scrape.types.get(DURATION)).toBe("histogram");
    for (const sample of scrape.samples) {
      expect(sample.labels.protocol).toBe(protocol);
      expect(Number.isFinite(sample.value)).toBe(true);
    }
    const bucket = scrape.samples.find((s) => s.name === `${DURATION}_bucket` && s.labels.le === "+Inf")!;
    expect(Object.keys(bucket.labels).sort()).toEqual(["le", "method", "protocol", "service"]);
  });

  test("escapes in label values, exponents, special values and timestamps", () => {
    const { samples } = parsePrometheusText('m{a="x\\"y\\\\z\\nw",b=""} 1.5e3 1700000000000\nn +Inf\no{c="}"} NaN\n');
    expect(samples[0]).toEqual({ name: "m", labels: { a: 'x"y\\z\nw', b: "" }, value: 1500 });
    expect(samples[1].value).toBe(Infinity);
    expect(samples[2].labels.c).toBe("}");
    expect(Number.isNaN(samples[2].value)).toBe(true);
  });

  test("a broken line is refused with its number", () => {
    expect(() => parsePrometheusText('ok 1\nbad{a="1} 2\n')).toThrow(/line 2/);
  });
});

describe("histogramQuantile", () => {
  test("interpolates inside the bucket as Prometheus does", () => {
    const buckets: [number, number][] = [[10, 0], [25, 2], [50, 6], [Infinity, 8]];
    expect(histogramQuantile(0.5, buckets)).toBe(37.5);
    // In the +Inf bucket: the highest finite bound.
    expect(histogramQuantile(0.99, buckets)).toBe(50);
    // In the first bucket: from 0.
    expect(histogramQuantile(0.1, [[10, 4], [Infinity, 4]])).toBe(1);
    expect(histogramQuantile(0.5, [[10, 0], [Infinity, 0]])).toBeNull();
  });
});

describe("MetricsWindow with real scrapes", () => {
  test.each(PROTOCOLS)("%s: totals are Envoy's counters; rates and quantiles come from what changed", (protocol) => {
    const text = fixture(protocol);
    const scrape = parsePrometheusText(text);
    const window = new MetricsWindow(300_000, 10_000);
    window.record(1_000_000, one(empty, "edge-1"));
    window.record(1_010_000, one(scrape, "edge-1"));
    const view = window.view();
    const expected = requestsByCall(text);
    expect(new Map(view.calls.map((c) => [JSON.stringify([c.protocol, c.service, c.method]), c.total]))).toEqual(expected);
    for (const call of view.calls) {
      expect(call.rate).toBeCloseTo(call.total / 10, 9);
      expect(Object.values(call.byStatus).reduce((a, b) => a + b, 0)).toBe(call.total);
      const errors = (call.byStatus.client_error ?? 0) + (call.byStatus.server_error ?? 0);
      expect(call.errorRatio).toBeCloseTo(errors / call.total, 9);
      // Since everything happened inside the window, its quantiles are those of Envoy's cumulative buckets.
      const buckets = scrape.samples.filter((s) => s.name === `${DURATION}_bucket` && s.labels.protocol === call.protocol && s.labels.service === call.service && s.labels.method === call.method)
        .map((s) => [s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), s.value] as [number, number]);
      expect(call.p50).toEqual(buckets.length ? histogramQuantile(0.5, buckets) : null);
      expect(call.p99).toEqual(buckets.length ? histogramQuantile(0.99, buckets) : null);
      expect(call.series.time).toEqual([1_010]);
      expect(call.series.rate).toEqual([call.rate]);
    }
    expect(view.envoys).toEqual([{ address: "127.0.0.1:9901", node: "edge-1", up: true, scrapedAt: 1_010_000 }]);
    const local = scrape.samples.filter((s) => s.name === "metaproto_local_replies_total");
    expect(view.localReplies.map((r) => r.total).sort()).toEqual(local.map((s) => s.value).sort());
    const decode = scrape.samples.filter((s) => s.name === "metaproto_decode_errors_total");
    expect(view.decodeErrors.map((r) => r.labels).sort()).toEqual(decode.map((s) => s.labels).sort());
  });

  test("an Envoy seen once has totals but no rate yet", () => {
    const window = new MetricsWindow(300_000, 10_000);
    window.record(0, one(parsePrometheusText(fixture("redis"))));
    const [call] = window.view().calls;
    expect(call.total).toBeGreaterThan(0);
    expect(call.rate).toBeNull();
    expect(call.p50).toBeNull();
  });

  const requests = (value: number, status = "ok") =>
    `metaproto_requests_total{protocol="redis",service="0",method="GET",response_status="${status}",response_code="x"} ${value}\n`;

  test("a counter that went down is an Envoy restart: its new value is all new", () => {
    const window = new MetricsWindow(300_000, 60_000);
    window.record(0, one(parsePrometheusText(requests(100))));
    window.record(10_000, one(parsePrometheusText(requests(20))));
    expect(window.view().calls[0].rate).toBe(2);
  });

  test("Envoys add up; one that fails keeps its last totals out of the rate and is shown down", () => {
    const window = new MetricsWindow(300_000, 20_000);
    const both = (a: string, b: string | Error) => new Map([
      ["a:1", { node: "a", scrape: parsePrometheusText(a) }],
      ["b:1", { node: "b", scrape: b instanceof Error ? b : parsePrometheusText(b) }],
    ]);
    window.record(0, both(requests(0), requests(0)));
    window.record(10_000, both(requests(10), requests(30) + requests(10, "server_error")));
    let view = window.view();
    expect(view.calls[0].total).toBe(50);
    expect(view.calls[0].rate).toBe(5);
    expect(view.calls[0].errorRatio).toBe(0.2);
    window.record(20_000, both(requests(30), new Error("connect ECONNREFUSED")));
    view = window.view();
    expect(view.envoys.find((e) => e.address === "b:1")).toMatchObject({ up: false, error: "connect ECONNREFUSED" });
    expect(view.calls[0].total).toBe(70);
    expect(view.calls[0].rate).toBe(3.5); // (10 + 40 + 20) calls over the 20 s since the first scrape
    expect(view.calls[0].series.byStatus.server_error).toEqual([1, 0.5]);
  });

  test("scrapes older than the window are dropped, one is kept as the baseline", () => {
    const window = new MetricsWindow(30_000, 10_000);
    for (let t = 0; t <= 100_000; t += 10_000) window.record(t, one(parsePrometheusText(requests(t / 1000))));
    const [call] = window.view().calls;
    expect(call.series.time).toEqual([70, 80, 90, 100]);
    expect(call.series.rate).toEqual([1, 1, 1, 1]);
  });
});
