import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { compileConfig } from "../configure";
import { loadSources } from "../model/load";
import { Snapshot } from "../xds/cache";
import { encodeMessage } from "../xds/api";
import { bootstrap, staticBootstrap } from "./bootstrap";
import { istioManifests } from "./istio";
import { rbacFilterConfig } from "./router_policy";
import { bridgeListenerName, providerSideConfigName, translate } from "./translate";
import { TYPE_URLS } from "./types";

const config = (weights: [number, number], routerExtra = "") => `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: greeter }
spec:
  protocol: dubbo
  mode: router
  port: 20880
  connectTimeout: 500ms
  subsets:
  - name: v1
    endpoints: [{ address: 127.0.0.1, port: 20881 }, { address: "::1", port: 20883, weight: 3 }]
  - name: v2
    endpoints: [{ address: 127.0.0.1, port: 20882 }]
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: greeter }
spec:
  hosts: [greeter]
  routes:
  - name: fail-to-v2
    match: { attributes: { method: { exact: fail }, tenant: { regex: "t[0-9]+" } } }
    route: [{ destination: { host: greeter, subset: v2 } }]
  - route:
    - { destination: { host: greeter, subset: v1 }, weight: ${weights[0]} }
    - { destination: { host: greeter, subset: v2 }, weight: ${weights[1]} }
${routerExtra}`;

const resources = (weights: [number, number] = [90, 10], routerExtra = "") => {
  const { model, errors } = loadSources([{ file: "r.yaml", text: config(weights, routerExtra) }]);
  expect(errors).toEqual([]);
  return translate(model!, { wasmDir: "/opt/metaproto/wasm" });
};
const valueOf = (set: ReturnType<typeof resources>, kind: keyof typeof TYPE_URLS, name: string): any => set.get(TYPE_URLS[kind])!.get(name)!.value;

const INTERNAL_UPSTREAM = {
  name: "envoy.transport_sockets.internal_upstream",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport",
    passthrough_metadata: [{ kind: { host: {} }, name: "envoy.filters.listener.original_dst" }],
    transport_socket: { name: "envoy.transport_sockets.raw_buffer", typed_config: { "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer" } },
  },
};
const ADS = { ads: {}, resource_api_version: "V3" };

describe("router mode translation", () => {
  test("every resource is a valid message of its type, and the set is consistent", () => {
    const set = resources([90, 10], "    mirror: { host: greeter, subset: v1 }\n    mirrorPercentage: { value: 2.5 }\n    timeout: 0s");
    for (const [typeUrl, byName] of set) {
      for (const resource of byName.values()) expect(() => encodeMessage(typeUrl, resource.value)).not.toThrow();
    }
    expect(Snapshot.consistencyErrors(set)).toEqual([]);
    expect([...set.get(TYPE_URLS.listener)!.keys()]).toEqual(["greeter", "bridge|greeter"]);
    expect([...set.get(TYPE_URLS.cluster)!.keys()]).toEqual(["greeter", "greeter.v1", "greeter.v2", "bridge|greeter"]);
    expect([...set.get(TYPE_URLS.route)!.keys()]).toEqual(["greeter"]);
    expect([...set.get(TYPE_URLS.extensionConfig)!.keys()]).toEqual(["metaproto.greeter", "metaproto.greeter.provider_side"]);
  });

  test("the listener: the bridge's consumer side through ECDS, then HCM speaking HTTP/2 with routes over RDS", () => {
    const listener = valueOf(resources(), "listener", "greeter");
    expect(listener.address).toEqual({ socket_address: { address: "127.0.0.1", port_value: 20880 } });
    expect(listener.filter_chains).toEqual([{
      filters: [
        { name: "metaproto.greeter", config_discovery: { config_source: ADS, type_urls: ["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"] } },
        {
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            stat_prefix: "greeter",
            codec_type: "HTTP2",
            http2_protocol_options: { hpack_table_size: { value: 0 } },
            rds: { config_source: ADS, route_config_name: "greeter" },
            http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
          },
        },
      ],
    }]);
  });

  test("the bridge's two sides: one module, the side in the plugin configuration", () => {
    const set = resources();
    const side = (name: string) => valueOf(set, "extensionConfig", name).typed_config.config;
    expect(side("metaproto.greeter")).toEqual({
      name: "greeter.consumer_side", root_id: "metaproto", failure_policy: "FAIL_RELOAD",
      configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: '{"side":"consumer","header_table_size":0}' },
      vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: "/opt/metaproto/wasm/dubbo_bridge.wasm" } } },
    });
    expect(side(providerSideConfigName("greeter")).configuration.value).toBe('{"side":"provider","header_table_size":0}');
    expect(side(providerSideConfigName("greeter")).vm_config.code.local.filename).toBe("/opt/metaproto/wasm/dubbo_bridge.wasm");
  });

  test("the route configuration: heartbeats to any endpoint, then the MetaRouter's routes in order", () => {
    const set = resources([90, 10], "    mirror: { host: greeter, subset: v1 }\n    mirrorPercentage: { value: 2.5 }\n    timeout: 1.5s");
    expect(valueOf(set, "route", "greeter")).toEqual({
      name: "greeter",
      virtual_hosts: [{
        name: "greeter", domains: ["*"],
        routes: [
          { name: "heartbeat", match: { path: "/_dubbo/heartbeat" }, route: { cluster: "greeter" } },
          {
            name: "fail-to-v2",
            match: {
              prefix: "/",
              headers: [
                { name: "x-dubbo-method", string_match: { exact: "fail" } },
                { name: "x-dubbo-attachment-tenant", string_match: { safe_regex: { regex: "t[0-9]+" } } },
              ],
            },
            route: { cluster: "greeter.v2" },
          },
          {
            name: "1",
            match: { prefix: "/" },
            route: {
              weighted_clusters: { clusters: [{ name: "greeter.v1", weight: { value: 90 } }, { name: "greeter.v2", weight: { value: 10 } }] },
              request_mirror_policies: [{ cluster: "greeter.v1", runtime_fraction: { default_value: { numerator: 25000, denominator: "MILLION" } } }],
              timeout: { seconds: 1, nanos: 500000000 },
            },
          },
        ],
      }],
    });
    expect(set.get(TYPE_URLS.route)!.get("greeter")!.origin).toBe("r.yaml document 2 (MetaRouter greeter)");
  });

  test("a weight change is an RDS update only; a destination weighted 0 leaves the route", () => {
    const before = resources([90, 10]);
    const after = resources([0, 100]);
    for (const kind of ["cluster", "endpoint", "listener", "extensionConfig"] as const) {
      expect([...after.get(TYPE_URLS[kind])!.values()].map((r) => r.value)).toEqual([...before.get(TYPE_URLS[kind])!.values()].map((r) => r.value));
    }
    expect(valueOf(after, "route", "greeter").virtual_hosts[0].routes[2].route).toEqual({ cluster: "greeter.v2" });
  });

  test("bridged clusters: HTTP/2 over internal_upstream to endpoints addressed through the internal listener", () => {
    const set = resources();
    expect(valueOf(set, "cluster", "greeter.v1")).toEqual({
      name: "greeter.v1", type: "EDS", connect_timeout: { seconds: 0, nanos: 500000000 }, eds_cluster_config: { eds_config: ADS },
      typed_extension_protocol_options: {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
          "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
          explicit_http_config: { http2_protocol_options: { hpack_table_size: { value: 0 } } },
        },
      },
      transport_socket: INTERNAL_UPSTREAM,
    });
    expect(valueOf(set, "endpoint", "greeter.v1")).toEqual({
      cluster_name: "greeter.v1",
      endpoints: [{
        lb_endpoints: [
          {
            endpoint: { address: { envoy_internal_address: { server_listener_name: "bridge|greeter", endpoint_id: "127.0.0.1:20881" } } },
            metadata: { filter_metadata: { "envoy.filters.listener.original_dst": { local: "127.0.0.1:20881" } } },
          },
          {
            endpoint: { address: { envoy_internal_address: { server_listener_name: "bridge|greeter", endpoint_id: "[::1]:20883" } } },
            metadata: { filter_metadata: { "envoy.filters.listener.original_dst": { local: "[::1]:20883" } } },
            load_balancing_weight: { value: 3 },
          },
        ],
      }],
    });
    expect(valueOf(set, "endpoint", "greeter").endpoints[0].lb_endpoints).toHaveLength(3);
  });

  test("the internal listener: original_dst restores the endpoint's address, the provider side, tcp_proxy to ORIGINAL_DST", () => {
    const set = resources();
    const name = bridgeListenerName("greeter");
    expect(valueOf(set, "listener", name)).toEqual({
      name, internal_listener: {},
      listener_filters: [{ name: "envoy.filters.listener.original_dst", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst" } }],
      filter_chains: [{
        filters: [
          { name: "metaproto.greeter.provider_side", config_discovery: { config_source: ADS, type_urls: ["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"] } },
          { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: "bridge.greeter", cluster: name } },
        ],
      }],
    });
    expect(valueOf(set, "cluster", name)).toEqual({ name, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: { seconds: 0, nanos: 500000000 } });
  });

  test("a router-mode Service without a MetaRouter sends every request to all its endpoints", () => {
    const { model } = loadSources([{ file: "r.yaml", text: config([90, 10]).split("---")[0] }]);
    const set = translate(model!, { wasmDir: "/w" });
    expect(valueOf(set, "route", "greeter").virtual_hosts[0].routes.map((r: any) => [r.name, r.route.cluster]))
      .toEqual([["heartbeat", "greeter"], ["all", "greeter"]]);
  });

  test("bootstraps: ADS ones always carry the internal listener extension; a static one inlines the routes", () => {
    const ads: any = bootstrap({ nodeId: "n", nodeCluster: "c", adminPort: 9901, xdsAddress: "127.0.0.1", xdsPort: 18000 });
    expect(ads.bootstrap_extensions).toEqual([{ name: "envoy.bootstrap.internal_listener", typed_config: { "@type": "type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener" } }]);
    expect(() => encodeMessage("envoy.config.bootstrap.v3.Bootstrap", ads)).not.toThrow();
    const set = resources();
    const value: any = staticBootstrap(set, { adminPort: 9901 });
    expect(() => encodeMessage("envoy.config.bootstrap.v3.Bootstrap", value)).not.toThrow();
    expect(value.bootstrap_extensions).toEqual(ads.bootstrap_extensions);
    expect(Object.keys(value).slice(-1)).toEqual(["static_resources"]);
    const [bridge, hcm] = value.static_resources.listeners[0].filter_chains[0].filters;
    expect(bridge.typed_config.config.configuration.value).toBe('{"side":"consumer","header_table_size":0}');
    expect(hcm.typed_config.rds).toBeUndefined();
    expect(hcm.typed_config.route_config).toEqual(valueOf(set, "route", "greeter"));
    const internal = value.static_resources.listeners[1];
    expect(internal.filter_chains[0].filters[0].typed_config.config.configuration.value).toBe('{"side":"provider","header_table_size":0}');
    const clusters = new Map(value.static_resources.clusters.map((c: any) => [c.name, c]));
    expect(clusters.get("greeter.v2")).toMatchObject({ type: "STATIC", transport_socket: INTERNAL_UPSTREAM, load_assignment: valueOf(set, "endpoint", "greeter.v2") });
    expect((clusters.get("bridge|greeter") as any).type).toBe("ORIGINAL_DST");
  });

  test("retries (never of oneways), a route's local rate limit, RBAC from authz, outlier detection and circuit breakers", () => {
    const text = config([90, 10]).replace("  connectTimeout: 500ms\n", `  connectTimeout: 500ms
  outlierDetection: { consecutive5xx: 3, baseEjectionTime: 30s, maxEjectionPercent: 50 }
  circuitBreakers: { maxRetries: 1000 }
  codec: { policy: { authz: { rules: [{ action: deny, match: { method: { exact: forbidden } } }] } } }
`).replace("    route: [{ destination: { host: greeter, subset: v2 } }]\n", `    route: [{ destination: { host: greeter, subset: v2 } }]
    retries: { attempts: 2, perTryTimeout: 1s }
    localRateLimit: { tokenBucket: { maxTokens: 5, fillInterval: 1m } }
`);
    const { model, errors } = loadSources([{ file: "r.yaml", text }]);
    expect(errors).toEqual([]);
    const set = translate(model!, { wasmDir: "/opt/metaproto/wasm" });
    for (const [typeUrl, byName] of set) {
      for (const resource of byName.values()) expect(() => encodeMessage(typeUrl, resource.value)).not.toThrow();
    }
    const [heartbeat, limited, weighted] = valueOf(set, "route", "greeter").virtual_hosts[0].routes;
    expect(limited.route.retry_policy).toEqual({
      retry_on: "reset,connect-failure", num_retries: { value: 2 }, per_try_timeout: { seconds: 1 },
      retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts", typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" } }],
      host_selection_retry_max_attempts: 5,
      // Only a stream whose x-dubbo-kind is not oneway is retried.
      retriable_request_headers: [{ name: "x-dubbo-kind", string_match: { exact: "oneway" }, invert_match: true, treat_missing_header_as_empty: true }],
    });
    expect(limited.typed_per_filter_config["envoy.filters.http.local_ratelimit"]).toMatchObject({
      stat_prefix: "greeter.fail-to-v2", token_bucket: { max_tokens: 5, tokens_per_fill: { value: 1 }, fill_interval: { seconds: 60 } },
    });
    expect(weighted.route.retry_policy).toBeUndefined();
    expect(weighted.typed_per_filter_config).toBeUndefined();
    // Heartbeats are never denied.
    expect(heartbeat.typed_per_filter_config).toEqual({ "envoy.filters.http.rbac": { "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute" } });
    const hcm = valueOf(set, "listener", "greeter").filter_chains[0].filters[1].typed_config;
    expect(hcm.http_filters.map((f: { name: string }) => f.name)).toEqual(["envoy.filters.http.rbac", "envoy.filters.http.local_ratelimit", "envoy.filters.http.router"]);
    expect(hcm.http_filters[1].typed_config).toEqual({ "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit", stat_prefix: "greeter" });
    for (const cluster of ["greeter", "greeter.v1", "greeter.v2"]) {
      expect(valueOf(set, "cluster", cluster)).toMatchObject({
        outlier_detection: { consecutive_5xx: { value: 3 }, enforcing_consecutive_5xx: { value: 100 }, enforcing_consecutive_gateway_failure: { value: 0 }, base_ejection_time: { seconds: 30 }, max_ejection_percent: { value: 50 } },
        circuit_breakers: { thresholds: [{ priority: "DEFAULT", max_retries: { value: 1000 } }] },
      });
    }
    expect(valueOf(set, "cluster", "bridge|greeter").outlier_detection).toBeUndefined();
  });

  test("RBAC allows what authz allows: the first matching rule's action, else default_action", () => {
    type P = Record<string, any>;
    const allows = (p: P, headers: Record<string, string>, ip: string): boolean => {
      if (p.any) return true;
      if (p.and_ids) return p.and_ids.ids.every((q: P) => allows(q, headers, ip));
      if (p.or_ids) return p.or_ids.ids.some((q: P) => allows(q, headers, ip));
      if (p.not_id) return !allows(p.not_id, headers, ip);
      if (p.header) {
        const value = headers[p.header.name];
        if (p.header.present_match) return value !== undefined;
        const m = p.header.string_match;
        return value !== undefined && (m.exact !== undefined ? value === m.exact : m.prefix !== undefined ? value.startsWith(m.prefix) : new RegExp(`^(?:${m.safe_regex.regex})$`).test(value));
      }
      if (p.direct_remote_ip) return ip.startsWith(p.direct_remote_ip.address_prefix.split(".").slice(0, p.direct_remote_ip.prefix_len.value / 8).join("."));
      throw new Error(`no evaluator for ${JSON.stringify(p)}`);
    };
    const decide = (authz: object, method: string, tenant: string | undefined, ip = "10.1.2.3") => {
      const { rules } = rbacFilterConfig(authz as Parameters<typeof rbacFilterConfig>[0], "dubbo") as { rules: { policies: Record<string, P> } };
      const headers: Record<string, string> = { "x-dubbo-method": method, ...(tenant ? { "x-dubbo-attachment-tenant": tenant } : {}) };
      return Object.values(rules.policies).some((policy) => policy.principals.some((p: P) => allows(p, headers, ip)));
    };
    const ordered = {
      default_action: "deny",
      rules: [
        { action: "deny", match: { method: { exact: "drop" } } },
        { action: "allow", match: { attributes: [{ name: "tenant", prefix: "beta-" }] } },
        { action: "deny", match: { source_cidrs: ["10.1.0.0/16"] } },
        { action: "allow", match: { method: { regex: "say.*" } } },
      ],
    };
    expect(decide(ordered, "drop", "beta-1")).toBe(false); // the first rule wins
    expect(decide(ordered, "sayHello", "beta-1")).toBe(true);
    expect(decide(ordered, "sayHello", undefined)).toBe(false); // denied by the CIDR before the allow
    expect(decide(ordered, "sayHello", undefined, "192.168.0.1")).toBe(true);
    expect(decide(ordered, "other", undefined, "192.168.0.1")).toBe(false); // default deny
    expect(decide({ rules: [{ action: "deny", match: { method: { exact: "forbidden" } } }] }, "forbidden", undefined)).toBe(false);
    expect(decide({ rules: [{ action: "deny", match: { method: { exact: "forbidden" } } }] }, "sayHello", undefined)).toBe(true);
    expect(decide({ default_action: "deny" }, "sayHello", undefined)).toBe(false);
    expect(decide({}, "sayHello", undefined)).toBe(true);
  });

  test("a listener whose route configuration is missing is an inconsistency", () => {
    const set = resources();
    set.get(TYPE_URLS.route)!.clear();
    expect(Snapshot.consistencyErrors(set)).toEqual(["listener greeter needs route configuration greeter, which is missing"]);
  });

  test("Istio manifests refuse a router-mode Service", () => {
    const { model } = loadSources([{ file: "r.yaml", text: config([90, 10]) }]);
    expect(() => istioManifests(model!, { namespace: "ns", moduleUrl: "http://m", wasmDir: "/w" })).toThrow("Service greeter is in router mode");
  });

  test("validate wants the bridge module, not the codec's, for a router-mode Service", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "router-mode-"));
    try {
      const file = path.join(dir, "r.yaml");
      fs.writeFileSync(file, config([90, 10]));
      fs.writeFileSync(path.join(dir, "dubbo.wasm"), "");
      const missing = compileConfig([file], { wasmDir: dir });
      expect(missing.ok ? [] : missing.errors).toEqual([expect.stringContaining(`spec.mode: no bridge module ${path.join(dir, "dubbo_bridge.wasm")}: build it (./build.sh build compiles filters/bridge/)`)]);
      fs.renameSync(path.join(dir, "dubbo.wasm"), path.join(dir, "dubbo_bridge.wasm"));
      expect(compileConfig([file], { wasmDir: dir }).ok).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("router mode for Thrift", () => {
  const thrift = () => {
    const text = config([50, 50]).replace("protocol: dubbo", "protocol: thrift").replace("tenant: { regex", "Tenant: { regex");
    const { model, errors } = loadSources([{ file: "r.yaml", text }]);
    expect(errors).toEqual([]);
    return translate(model!, { wasmDir: "/opt/metaproto/wasm" });
  };

  test("the Thrift bridge module, told the Service's name for calls that name no service", () => {
    const set = thrift();
    const side = (name: string) => valueOf(set, "extensionConfig", name).typed_config.config;
    expect(side("metaproto.greeter").configuration.value).toBe('{"side":"consumer","header_table_size":0,"service":"greeter"}');
    expect(side("metaproto.greeter").vm_config.code.local.filename).toBe("/opt/metaproto/wasm/thrift_bridge.wasm");
    expect(side(providerSideConfigName("greeter")).vm_config.code.local.filename).toBe("/opt/metaproto/wasm/thrift_bridge.wasm");
    expect(Snapshot.consistencyErrors(set)).toEqual([]);
  });

  test("routes match the Thrift bridge's headers, and no heartbeat route comes first", () => {
    const routes = valueOf(thrift(), "route", "greeter").virtual_hosts[0].routes;
    expect(routes.map((r: any) => r.name)).toEqual(["fail-to-v2", "1"]);
    expect(routes[0].match).toEqual({
      prefix: "/",
      headers: [
        { name: "x-thrift-method", string_match: { exact: "fail" } },
        { name: "x-thrift-header-tenant", string_match: { safe_regex: { regex: "t[0-9]+" } } },
      ],
    });
  });
});
