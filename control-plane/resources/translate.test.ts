import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadSources } from "../model/load";
import { encodeMessage } from "../xds/api";
import { bootstrap } from "./bootstrap";
import { pinModule, translate } from "./translate";
import { TYPE_URLS } from "./types";

const config = (weights: [number, number]) => `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: cache }
spec:
  protocol: redis
  port: 6380
  codec: { max_pending_calls: 64 }
  subsets:
  - name: v1
    endpoints: [{ address: 127.0.0.1, port: 6379 }, { address: 127.0.0.2, port: 6379, weight: 3 }]
  - name: v2
    endpoints: [{ address: 127.0.0.1, port: 6479 }]
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: cache }
spec:
  hosts: [cache]
  routes:
  - route:
    - { destination: { host: cache, subset: v1 }, weight: ${weights[0]} }
    - { destination: { host: cache, subset: v2 }, weight: ${weights[1]} }
`;

const resources = (weights: [number, number]) => {
  const { model, errors } = loadSources([{ file: "c.yaml", text: config(weights) }]);
  expect(errors).toEqual([]);
  return translate(model!, { wasmDir: "/opt/metaproto/wasm" });
};

describe("translation to Envoy resources", () => {
  test("every resource is a valid message of its type in Envoy's API", () => {
    for (const [typeUrl, byName] of resources([30, 70])) {
      for (const resource of byName.values()) expect(() => encodeMessage(typeUrl, resource.value)).not.toThrow();
    }
  });

  test("a listener: the Wasm filter through ECDS, then tcp_proxy to the route's cluster", () => {
    const set = resources([30, 70]);
    const listener = set.get(TYPE_URLS.listener)!.get("cache")!.value as any;
    expect(listener.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 6380 });
    const [wasm, tcp] = listener.filter_chains[0].filters;
    expect(wasm.name).toBe("metaproto.cache");
    expect(wasm.config_discovery.type_urls).toEqual(["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"]);
    expect(tcp.typed_config).toMatchObject({ stat_prefix: "cache", cluster: "route|cache" });
    expect([...set.get(TYPE_URLS.cluster)!.keys()]).toEqual(["cache", "cache.v1", "cache.v2", "route|cache"]);
    expect(set.get(TYPE_URLS.cluster)!.get("route|cache")!.value).toMatchObject({ common_lb_config: { locality_weighted_lb_config: {} } });
    expect(set.get(TYPE_URLS.endpoint)!.get("route|cache")!.origin).toBe("c.yaml document 2 (MetaRouter cache)");
  });

  test("the route's weights are locality weights of its cluster; a weight change touches only its endpoints", () => {
    const localities = (weights: [number, number]) => (resources(weights).get(TYPE_URLS.endpoint)!.get("route|cache")!.value as any).endpoints
      .map((l: any) => [l.locality.zone, l.load_balancing_weight.value, l.lb_endpoints.map((e: any) => e.endpoint.address.socket_address.port_value)]);
    expect(localities([30, 70])).toEqual([["cache.v1", 30, [6379, 6379]], ["cache.v2", 70, [6479]]]);
    expect(localities([0, 100])).toEqual([["cache.v2", 100, [6479]]]);
    const before = resources([30, 70]);
    const after = resources([0, 100]);
    for (const typeUrl of [TYPE_URLS.cluster, TYPE_URLS.listener, TYPE_URLS.extensionConfig]) {
      expect([...after.get(typeUrl)!.values()].map((r) => r.value)).toEqual([...before.get(typeUrl)!.values()].map((r) => r.value));
    }
  });

  test("endpoints and the ECDS filter config carry the Service's subsets and codec options", () => {
    const set = resources([30, 70]);
    const v1 = set.get(TYPE_URLS.endpoint)!.get("cache.v1")!.value as any;
    expect(v1.endpoints[0].lb_endpoints.map((e: any) => [e.endpoint.address.socket_address.address, e.load_balancing_weight?.value]))
      .toEqual([["127.0.0.1", undefined], ["127.0.0.2", 3]]);
    const all = set.get(TYPE_URLS.endpoint)!.get("cache")!.value as any;
    expect(all.endpoints[0].lb_endpoints).toHaveLength(3);
    const extension = set.get(TYPE_URLS.extensionConfig)!.get("metaproto.cache")!.value as any;
    expect(extension.typed_config.config).toMatchObject({
      root_id: "metaproto",
      failure_policy: "FAIL_RELOAD",
      configuration: { value: '{"max_pending_calls":64}' },
      vm_config: { code: { local: { filename: "/opt/metaproto/wasm/redis.wasm" } } },
    });
  });

  test("each codec build is pinned under its sha256, once; the filter config names the pinned file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metaproto-pin-"));
    try {
      fs.mkdirSync(path.join(dir, "wasm"));
      fs.writeFileSync(path.join(dir, "wasm", "redis.wasm"), "build 1");
      const first = pinModule(path.join(dir, "wasm"), path.join(dir, "pinned"), "redis");
      expect(path.basename(first)).toBe("redis-4ba0d1825bdde359.wasm"); // sha256("build 1")
      expect(pinModule(path.join(dir, "wasm"), path.join(dir, "pinned"), "redis")).toBe(first);
      fs.writeFileSync(path.join(dir, "wasm", "redis.wasm"), "build 2");
      const second = pinModule(path.join(dir, "wasm"), path.join(dir, "pinned"), "redis");
      expect(second).not.toBe(first);
      expect(fs.readFileSync(first, "utf8")).toBe("build 1");
      expect(fs.readFileSync(second, "utf8")).toBe("build 2");

      const { model } = loadSources([{ file: "c.yaml", text: config([30, 70]) }]);
      const set = translate(model!, { wasmDir: path.join(dir, "wasm"), moduleFile: (protocol) => pinModule(path.join(dir, "wasm"), path.join(dir, "pinned"), protocol) });
      expect((set.get(TYPE_URLS.extensionConfig)!.get("metaproto.cache")!.value as any).typed_config.config.vm_config.code.local.filename).toBe(second);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the bootstrap is a valid Bootstrap pointing at the ADS server, with the node set", () => {
    const value = bootstrap({ nodeId: "n1", nodeCluster: "edge", adminPort: 9901, xdsAddress: "127.0.0.1", xdsPort: 18000, delta: true });
    expect(() => encodeMessage("envoy.config.bootstrap.v3.Bootstrap", value)).not.toThrow();
    expect(value).toMatchObject({ node: { id: "n1", cluster: "edge" }, dynamic_resources: { ads_config: { api_type: "DELTA_GRPC" } } });
  });
});

describe("a MetaRouter's request mutation and local rate limits become the filter's policy", () => {
  const text = config([100, 0]).replace("  - route:\n", `  - name: main
    requestMutation: [{ key: x-canary, value: "yes" }]
    localRateLimit:
      tokenBucket: { maxTokens: 10, tokensPerFill: 2, fillInterval: 1s }
      conditions:
      - match: { attributes: { tenant: { exact: t1 } } }
        tokenBucket: { maxTokens: 3, fillInterval: 500ms }
    route:
`);

  const filterConfig = () => {
    const { model, errors } = loadSources([{ file: "c.yaml", text }]);
    expect(errors).toEqual([]);
    const ecds = translate(model!, { wasmDir: "/opt/metaproto/wasm" }).get(TYPE_URLS.extensionConfig)!.get("metaproto.cache")!;
    return JSON.parse((ecds.value as any).typed_config.config.configuration.value);
  };

  test("translated field for field", () => {
    expect(filterConfig()).toEqual({
      max_pending_calls: 64,
      policy: {
        mutations: [{ set: { "x-canary": "yes" } }],
        rate_limits: [
          { name: "cache.main.condition0", match: { attributes: [{ name: "tenant", exact: "t1" }] }, max_tokens: 3, tokens_per_fill: 1, fill_interval_ms: 500 },
          { name: "cache.main", max_tokens: 10, tokens_per_fill: 2, fill_interval_ms: 1000 },
        ],
      },
    });
  });

  test("the compiled filter accepts what the control plane sends it", async () => {
    const { ProxyTestHost } = await import("../../api/proxytest");
    const { compiledCodec } = await import("../../api/proxytest/codec_harness");
    const host = await ProxyTestHost.load(await compiledCodec("redis"), { pluginConfig: JSON.stringify(filterConfig()) });
    expect(() => host.start()).not.toThrow();
  }, 120_000);
});

describe("matched routes choose a connection's cluster by its first request", () => {
  // Connections that open with READONLY go to v2; the rest to v1 and v2 by weight.
  const text = config([80, 20]).replace("  - route:\n", `  - name: replicas
    match: { attributes: { method: { exact: READONLY } } }
    requestMutation: [{ key: x-replica, value: "yes" }]
    route: [{ destination: { host: cache, subset: v2 } }]
  - route:
`);
  const translated = () => {
    const { model, errors } = loadSources([{ file: "c.yaml", text }]);
    expect(errors).toEqual([]);
    return translate(model!, { wasmDir: "/opt/metaproto/wasm" });
  };

  test("each route has its cluster; the one without a match is tcp_proxy's, which waits for the first request", () => {
    const set = translated();
    expect([...set.get(TYPE_URLS.cluster)!.keys()]).toEqual(["cache", "cache.v1", "cache.v2", "route|cache|replicas", "route|cache"]);
    const zones = (name: string) => (set.get(TYPE_URLS.endpoint)!.get(name)!.value as any).endpoints.map((l: any) => [l.locality.zone, l.load_balancing_weight.value]);
    expect(zones("route|cache|replicas")).toEqual([["cache.v2", 100]]);
    expect(zones("route|cache")).toEqual([["cache.v1", 80], ["cache.v2", 20]]);
    const tcp = (set.get(TYPE_URLS.listener)!.get("cache")!.value as any).filter_chains[0].filters[1].typed_config;
    expect(tcp).toMatchObject({ cluster: "route|cache", upstream_connect_mode: "ON_DOWNSTREAM_DATA" });
  });

  test("the filter's connection routes carry the match (method as the call's own); the route's stages apply to what it matches", () => {
    const ecds = translated().get(TYPE_URLS.extensionConfig)!.get("metaproto.cache")!;
    const config = JSON.parse((ecds.value as any).typed_config.config.configuration.value);
    expect(config.policy).toEqual({
      mutations: [{ match: { method: { exact: "READONLY" } }, set: { "x-replica": "yes" } }],
      routes: [{ match: { method: { exact: "READONLY" } }, cluster: "route|cache|replicas" }],
    });
  });

  test("without matched routes tcp_proxy connects at once", () => {
    const listener = resources([30, 70]).get(TYPE_URLS.listener)!.get("cache")!.value as any;
    expect(listener.filter_chains[0].filters[1].typed_config.upstream_connect_mode).toBeUndefined();
  });
});
