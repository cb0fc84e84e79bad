import * as fs from "fs";
import * as path from "path";
import { encodeMessage, repoRoot } from "../xds/api";
import {
  duration, listener, staticCluster, staticResourcesBootstrap, statsConfig, tcpProxyFilter, wasmFilter, wasmFilterConfig,
} from "./pieces";
import { TCP_PROXY_TYPE_URL, WASM_FILTER_TYPE_URL } from "./types";

const validAs = (typeName: string, value: object) => expect(() => encodeMessage(typeName, value)).not.toThrow();

describe("Envoy configuration pieces", () => {
  test("stats_config has a stats tag per label of api/telemetry/metrics.json and its histogram buckets", () => {
    const contract = JSON.parse(fs.readFileSync(path.join(repoRoot(), "api", "telemetry", "metrics.json"), "utf8"));
    const config = statsConfig() as { stats_tags: unknown[]; histogram_bucket_settings: unknown[] };
    expect(config.stats_tags).toEqual(contract.labels.map((label: string) => ({ tag_name: label, regex: `(;${label}=([^;]*))` })));
    expect(config.stats_tags).toContainEqual({ tag_name: "protocol", regex: "(;protocol=([^;]*))" });
    expect(config.histogram_bucket_settings).toEqual(Object.entries(contract.histograms)
      .map(([name, histogram]) => ({ match: { prefix: `wasmcustom.${name}` }, buckets: (histogram as { buckets: number[] }).buckets })));
    validAs("envoy.config.metrics.v3.StatsConfig", config);
  });

  test("the Wasm filter runs a local module under V8 with root id metaproto; its configuration is passed exactly as given", () => {
    for (const configuration of ["", "{}", '{"policy": {"authz": {"rules": []}},\n  "note": "it\'s"}']) {
      const typed = wasmFilterConfig({ moduleFile: "/m/redis.wasm", configuration });
      validAs("google.protobuf.Any", typed);
      expect(typed).toEqual({
        "@type": WASM_FILTER_TYPE_URL,
        config: {
          name: "metaproto",
          root_id: "metaproto",
          configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: configuration },
          vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: "/m/redis.wasm" } } },
        },
      });
    }
    const named = wasmFilter({ name: "cache", moduleFile: "/m/redis.wasm", configuration: "{}", failurePolicy: "FAIL_RELOAD" });
    expect(named).toMatchObject({ name: "envoy.filters.network.wasm", typed_config: { config: { name: "cache", failure_policy: "FAIL_RELOAD" } } });
  });

  test("tcp_proxy: stat prefix and cluster; connecting on data waits for the first read and keeps it", () => {
    const plain = tcpProxyFilter({ statPrefix: "redis", cluster: "backend" });
    expect(plain).toEqual({
      name: "envoy.filters.network.tcp_proxy",
      typed_config: { "@type": TCP_PROXY_TYPE_URL, stat_prefix: "redis", cluster: "backend" },
    });
    const onData = tcpProxyFilter({ statPrefix: "redis", cluster: "backend", connectOnData: true });
    expect(onData.typed_config).toMatchObject({ upstream_connect_mode: "ON_DOWNSTREAM_DATA", max_early_data_bytes: { value: 1048576 } });
    for (const filter of [plain, onData]) validAs("google.protobuf.Any", filter.typed_config as object);
  });

  test("a STATIC cluster holds its endpoints; a listener has one filter chain", () => {
    const cluster = staticCluster("backend", [{ address: "127.0.0.1", port: 6379 }, { address: "127.0.0.2", port: 6379, weight: 3 }]);
    validAs("envoy.config.cluster.v3.Cluster", cluster);
    expect(cluster).toMatchObject({ name: "backend", type: "STATIC", connect_timeout: { seconds: 2 }, load_assignment: { cluster_name: "backend" } });
    expect((cluster as any).load_assignment.endpoints[0].lb_endpoints).toEqual([
      { endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: 6379 } } } },
      { endpoint: { address: { socket_address: { address: "127.0.0.2", port_value: 6379 } } }, load_balancing_weight: { value: 3 } },
    ]);
    const redis = listener("redis", "127.0.0.1", 6380, [tcpProxyFilter({ statPrefix: "redis", cluster: "backend" })]);
    validAs("envoy.config.listener.v3.Listener", redis);
    expect(redis).toMatchObject({ name: "redis", address: { socket_address: { port_value: 6380 } }, filter_chains: [{ filters: [{ name: "envoy.filters.network.tcp_proxy" }] }] });
  });

  test("a static bootstrap: admin, stats_config, then its listeners and clusters, the clusters last", () => {
    const value = staticResourcesBootstrap({ adminPort: 9901, statsFlushInterval: "1s" },
      [listener("redis", "127.0.0.1", 6380, [tcpProxyFilter({ statPrefix: "redis", cluster: "redis" })])], [staticCluster("redis", [{ address: "127.0.0.1", port: 6379 }])]);
    validAs("envoy.config.bootstrap.v3.Bootstrap", value);
    expect(Object.keys(value)).toEqual(["admin", "stats_flush_interval", "stats_config", "static_resources"]);
    expect(Object.keys(value.static_resources as object)).toEqual(["listeners", "clusters"]);
    expect(value).toMatchObject({ admin: { address: { socket_address: { address: "127.0.0.1", port_value: 9901 } } }, stats_flush_interval: { seconds: 1 } });
    // Without an interval, Envoy's own default; with a node, the node first.
    const withNode = staticResourcesBootstrap({ adminPort: 1, node: { id: "n", cluster: "c" } }, [], []);
    expect(Object.keys(withNode)).toEqual(["node", "admin", "stats_config", "static_resources"]);
  });

  test("durations", () => {
    expect(duration("2s")).toEqual({ seconds: 2 });
    expect(duration("1.5s")).toEqual({ seconds: 1, nanos: 500000000 });
    expect(duration("250ms")).toEqual({ seconds: 0, nanos: 250000000 });
    expect(duration("1m")).toEqual({ seconds: 60 });
    expect(() => duration("2")).toThrow("not a duration: 2");
  });
});
