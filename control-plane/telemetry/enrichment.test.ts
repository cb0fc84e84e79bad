import { loadSources } from "../model/load";
import { AddressInfo, directoryFromModel, ResolveAddress } from "./directory";
import { Enricher } from "./enricher";
import { EnrichmentCache } from "./enrichment_cache";
import type { TelemetryItem } from "./items";
import { plainAttributes } from "./otlp";

const CONFIG = `
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: greeter, labels: { team: payments } }
spec:
  protocol: dubbo
  port: 20880
  subsets:
  - name: v1
    labels: { version: v1, zone: a }
    endpoints: [{ address: 10.0.0.1, port: 20881 }]
  - name: v2
    labels: { version: v2 }
    endpoints: [{ address: 10.0.0.2, port: 20881 }, { address: "fd00::2", port: 20881 }]
`;

function model(text = CONFIG) {
  const { model, errors } = loadSources([{ file: "config.yaml", text }]);
  expect(errors).toEqual([]);
  return model!;
}

describe("directory", () => {
  const resolve = directoryFromModel(model());

  test("an endpoint gives its Service, subset, version and labels (subset's over the Service's)", () => {
    expect(resolve("10.0.0.1", 20881)).toEqual({
      service: "greeter", protocol: "dubbo", role: "endpoint", subset: "v1", version: "v1",
      labels: { team: "payments", version: "v1", zone: "a" },
    });
    expect(resolve("::ffff:10.0.0.2", 20881)?.subset).toBe("v2");
    expect(resolve("FD00::2", 20881)?.subset).toBe("v2");
  });

  test("the Service's listener is known as such; strangers, other ports and host names are not", () => {
    expect(resolve("127.0.0.1", 20880)).toMatchObject({ service: "greeter", role: "listener" });
    expect(resolve("10.0.0.1", 20882)).toBeUndefined();
    expect(resolve("10.9.9.9", 20881)).toBeUndefined();
    expect(resolve("greeter.local", 20881)).toBeUndefined();
  });
});

describe("enrichment cache", () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const options = { refreshIntervalMs: 10 * 60_000, expireAfterMs: 3 * 60_000, checkIntervalMs: 60_000 };
  const info: AddressInfo = { service: "a", protocol: "redis", role: "endpoint", labels: {} };

  function counting(table: Record<string, AddressInfo>) {
    const calls: string[] = [];
    const resolve: ResolveAddress = (address, port) => { calls.push(`${address}:${port}`); return table[`${address}:${port}`]; };
    return { calls, resolve };
  }

  test("hits, and unknown addresses, are looked up once (negative entries)", () => {
    const { calls, resolve } = counting({ "10.0.0.1:1": info });
    const cache = new EnrichmentCache(() => resolve, options);
    for (let i = 0; i < 3; i++) {
      expect(cache.lookup("10.0.0.1", 1)).toBe(info);
      expect(cache.lookup("10.6.6.6", 1)).toBeUndefined();
    }
    expect(calls).toEqual(["10.0.0.1:1", "10.6.6.6:1"]);
    expect(cache.size()).toEqual({ positive: 1, negative: 1 });
    expect(cache.hits).toBe(4);
  });

  test("an entry unused for 3 minutes is gone at the next minute's check; a used one stays", async () => {
    const { calls, resolve } = counting({ "10.0.0.1:1": info });
    const cache = new EnrichmentCache(() => resolve, options);
    cache.start();
    cache.lookup("10.0.0.1", 1); // t=0
    cache.lookup("10.6.6.6", 1); // t=0, negative
    await jest.advanceTimersByTimeAsync(150_000);
    cache.lookup("10.0.0.1", 1); // used again at t=2.5 min
    await jest.advanceTimersByTimeAsync(30_000); // t=3 min: the check finds 10.6.6.6 unused for exactly 3 min
    expect(cache.size()).toEqual({ positive: 1, negative: 1 });
    await jest.advanceTimersByTimeAsync(60_000); // t=4 min
    expect(cache.size()).toEqual({ positive: 1, negative: 0 });
    expect(cache.expired).toBe(1);
    await jest.advanceTimersByTimeAsync(120_000); // t=6 min: 10.0.0.1 unused since 2.5 min
    expect(cache.size()).toEqual({ positive: 0, negative: 0 });
    expect(cache.expired).toBe(2);
    cache.lookup("10.6.6.6", 1);
    expect(calls).toEqual(["10.0.0.1:1", "10.6.6.6:1", "10.6.6.6:1"]);
    cache.stop();
  });

  test("every 10 minutes all entries are looked up again, so a configuration change reaches them", async () => {
    let table: Record<string, AddressInfo> = {};
    const cache = new EnrichmentCache(() => (address, port) => table[`${address}:${port}`],
      { ...options, expireAfterMs: 60 * 60_000 });
    cache.start();
    expect(cache.lookup("10.0.0.7", 6379)).toBeUndefined();
    table = { "10.0.0.7:6379": info };
    await jest.advanceTimersByTimeAsync(9 * 60_000);
    expect(cache.lookup("10.0.0.7", 6379)).toBeUndefined(); // still the negative entry
    await jest.advanceTimersByTimeAsync(60_000);
    expect(cache.refreshes).toBe(1);
    expect(cache.lookup("10.0.0.7", 6379)).toBe(info);
    table = {};
    cache.refresh(); // what a configuration reload does at once
    expect(cache.lookup("10.0.0.7", 6379)).toBeUndefined();
    cache.stop();
  });
});

describe("enricher", () => {
  const span = (attributes: Record<string, string | number>): TelemetryItem => ({
    signal: "traces", origin: {},
    record: {
      name: "call",
      attributes: Object.entries(attributes).map(([key, value]) => ({
        key, value: typeof value === "number" ? { int_value: String(value) } : { string_value: value },
      })),
    },
  });

  test("server and peer addresses get the model's names; peer.service is set for the server", () => {
    const enricher = new Enricher(new EnrichmentCache(() => directoryFromModel(model())));
    const item = span({ "server.address": "10.0.0.2", "server.port": 20881, "network.peer.address": "127.0.0.1", "network.peer.port": "20880", "client.address": "10.1.1.1", "client.port": 5000 });
    expect(enricher.enrich(item)).toBe(true);
    expect(plainAttributes(item.record.attributes)).toMatchObject({
      "metaproto.server.service": "greeter", "metaproto.server.subset": "v2", "metaproto.server.version": "v2",
      "metaproto.server.role": "endpoint", "metaproto.server.protocol": "dubbo", "metaproto.server.label.team": "payments",
      "metaproto.peer.service": "greeter", "metaproto.peer.role": "listener",
      "peer.service": "greeter",
    });
    expect(Object.keys(plainAttributes(item.record.attributes)).filter((k) => k.startsWith("metaproto.client"))).toEqual([]);
  });

  test("a record without known addresses is left as it was; attributes already there are kept", () => {
    const enricher = new Enricher(new EnrichmentCache(() => directoryFromModel(model())));
    const stranger = span({ "server.address": "10.9.9.9", "server.port": 1 });
    expect(enricher.enrich(stranger)).toBe(false);
    expect(stranger.record.attributes).toHaveLength(2);
    const named = span({ "server.address": "10.0.0.1", "server.port": 20881, "peer.service": "mine" });
    enricher.enrich(named);
    expect(plainAttributes(named.record.attributes)["peer.service"]).toBe("mine");
  });

  test("configured attribute pairs: a flow log's own address fields", () => {
    const enricher = new Enricher(new EnrichmentCache(() => directoryFromModel(model())), [{ address: "ip_1", port: "port_1", prefix: "server" }]);
    const log: TelemetryItem = { signal: "logs", origin: {}, record: { attributes: [
      { key: "ip_1", value: { string_value: "10.0.0.1" } }, { key: "port_1", value: { int_value: "20881" } },
    ] } };
    expect(enricher.enrich(log)).toBe(true);
    expect(plainAttributes(log.record.attributes)).toMatchObject({ "server.service": "greeter", "server.subset": "v1" });
    expect(plainAttributes(log.record.attributes)["peer.service"]).toBeUndefined();
  });
});
