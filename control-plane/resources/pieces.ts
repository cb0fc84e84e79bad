// The pieces every Envoy configuration of the project is built from: the control plane's xDS
// resources (translate.ts) and bootstraps (bootstrap.ts), the rigs' bootstraps (test/lib/envoy.sh,
// through `metaproto bootstrap --static --listener`) and the benchmark's (bench/lib/envoy.ts). A fact
// about how Envoy runs MetaProto (the Wasm filter's shape, tcp_proxy's connect mode, the stats tags)
// is written here once. Values are plain objects in Envoy's YAML form (snake_case, "@type" Anys).
import * as fs from "fs";
import * as path from "path";
import { repoRoot } from "../xds/api";
import { TCP_PROXY_TYPE_URL, WASM_FILTER_TYPE_URL } from "./types";

export const WASM_FILTER_NAME = "envoy.filters.network.wasm";
export const TCP_PROXY_FILTER_NAME = "envoy.filters.network.tcp_proxy";

/** A network filter as it stands in a listener's filter chain. */
export interface NetworkFilter extends Record<string, unknown> {
  name: string;
}

/** "2s", "500ms", "1.5s", "1m" as a google.protobuf.Duration. */
export function duration(text: string): { seconds: number; nanos?: number } {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  const millis = Math.round(Number(match[1]) * { ms: 1, s: 1000, m: 60000 }[match[2] as "ms" | "s" | "m"]);
  const nanos = (millis % 1000) * 1e6;
  return nanos ? { seconds: Math.floor(millis / 1000), nanos } : { seconds: Math.floor(millis / 1000) };
}

export function socketAddress(address: string, port: number): { socket_address: { address: string; port_value: number } } {
  return { socket_address: { address, port_value: port } };
}

interface MetricsContract {
  labels: string[];
  histograms: Record<string, { buckets: number[] }>;
}

/**
 * stats_config from api/telemetry/metrics.json, the one list of MetaProto's labels and histogram
 * buckets: stats_tags turn the encoded metric names (`name;label=value;...`) into labels, and
 * histogram_bucket_settings give the duration histogram buckets that fit microseconds (Envoy's
 * defaults fit milliseconds).
 */
export function statsConfig(contractFile = path.join(repoRoot(), "api", "telemetry", "metrics.json")): Record<string, unknown> {
  const contract = JSON.parse(fs.readFileSync(contractFile, "utf8")) as MetricsContract;
  return {
    stats_tags: contract.labels.map((label) => ({ tag_name: label, regex: `(;${label}=([^;]*))` })),
    histogram_bucket_settings: Object.entries(contract.histograms).map(([name, histogram]) => ({
      // Envoy names a Wasm filter's own metrics wasmcustom.<name> (its Prometheus output drops the prefix).
      match: { prefix: `wasmcustom.${name}` },
      buckets: histogram.buckets,
    })),
  };
}

export type FailurePolicy = "FAIL_RELOAD" | "FAIL_CLOSED" | "FAIL_OPEN";

export interface WasmFilterOptions {
  /** The plugin's name (Envoy's logs name it); default "metaproto". */
  name?: string;
  /** The Wasm module, a file Envoy reads. */
  moduleFile: string;
  /** The plugin's configuration: passed to it exactly as given (MetaProto's filter reads JSON). */
  configuration: string;
  /** Left out: Envoy's default (FAIL_CLOSED). */
  failurePolicy?: FailurePolicy;
}

/**
 * The Wasm network filter's typed_config running a module from a local file under V8 (root id
 * `metaproto`, the filter's root context): inline in a listener, or an ECDS TypedExtensionConfig's.
 */
export function wasmFilterConfig(options: WasmFilterOptions): Record<string, unknown> {
  return {
    "@type": WASM_FILTER_TYPE_URL,
    config: {
      name: options.name ?? "metaproto",
      root_id: "metaproto",
      ...(options.failurePolicy ? { failure_policy: options.failurePolicy } : {}),
      configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: options.configuration },
      vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: options.moduleFile } } },
    },
  };
}

/** The Wasm network filter, inline in a filter chain. */
export function wasmFilter(options: WasmFilterOptions): NetworkFilter {
  return { name: WASM_FILTER_NAME, typed_config: wasmFilterConfig(options) };
}

/** What tcp_proxy keeps of the downstream's bytes until its upstream connects: the most Envoy allows. */
const MAX_EARLY_DATA_BYTES = 1048576;

export interface TcpProxyOptions {
  /** Its stats are tcp.<statPrefix>.* (rigs read tcp.<name>.downstream_cx_rx_bytes_total). */
  statPrefix: string;
  cluster: string;
  /**
   * Connect upstream only once the first read has passed the filters before tcp_proxy, so the Wasm
   * filter's connection route (filter state envoy.tcp_proxy.cluster, set from the first request)
   * chooses the cluster; the bytes read meanwhile are kept and sent once connected.
   */
  connectOnData?: boolean;
}

export function tcpProxyFilter(options: TcpProxyOptions): NetworkFilter {
  return {
    name: TCP_PROXY_FILTER_NAME,
    typed_config: {
      "@type": TCP_PROXY_TYPE_URL,
      stat_prefix: options.statPrefix,
      cluster: options.cluster,
      ...(options.connectOnData ? { upstream_connect_mode: "ON_DOWNSTREAM_DATA", max_early_data_bytes: { value: MAX_EARLY_DATA_BYTES } } : {}),
    },
  };
}

/** A listener with one filter chain. */
export function listener(name: string, address: string, port: number, filters: Record<string, unknown>[]): Record<string, unknown> {
  return { name, address: socketAddress(address, port), filter_chains: [{ filters }] };
}

export interface Endpoint {
  address: string;
  port: number;
  weight?: number;
}

export function lbEndpoint(endpoint: Endpoint): Record<string, unknown> {
  return {
    endpoint: { address: socketAddress(endpoint.address, endpoint.port) },
    ...(endpoint.weight ? { load_balancing_weight: { value: endpoint.weight } } : {}),
  };
}

/** A cluster whose endpoints are in the configuration itself (no EDS, no DNS). */
export function staticCluster(name: string, endpoints: Endpoint[], connectTimeout = "2s"): Record<string, unknown> {
  return {
    name,
    type: "STATIC",
    connect_timeout: duration(connectTimeout),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: endpoints.map(lbEndpoint) }] },
  };
}

/** A cluster's protocol options for gRPC (HTTP/2 upstream): the ADS cluster, OTLP collectors. */
export function http2ProtocolOptions(): Record<string, unknown> {
  return {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
      "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      explicit_http_config: { http2_protocol_options: {} },
    },
  };
}

/** A STATIC cluster Envoy speaks gRPC to (the filter's span and flow-log exports go to one). */
export function grpcCluster(name: string, endpoints: Endpoint[], connectTimeout = "2s"): Record<string, unknown> {
  return { ...staticCluster(name, endpoints, connectTimeout), typed_extension_protocol_options: http2ProtocolOptions() };
}

export interface BootstrapFrame {
  adminPort: number;
  adminAddress?: string;
  /** How often Envoy flushes stats (histograms appear after a flush); Envoy's default is 5s. */
  statsFlushInterval?: string;
  node?: { id: string; cluster: string };
}

/**
 * What every bootstrap here starts with: the node (when given), the admin listener, the stats flush
 * interval and MetaProto's stats_config. The caller adds static and dynamic resources after it;
 * a bootstrap's YAML ends with its static clusters (test/lib/envoy.sh appends to that list).
 */
export function bootstrapFrame(options: BootstrapFrame): Record<string, unknown> {
  return {
    ...(options.node ? { node: options.node } : {}),
    admin: { address: socketAddress(options.adminAddress ?? "127.0.0.1", options.adminPort) },
    ...(options.statsFlushInterval ? { stats_flush_interval: duration(options.statsFlushInterval) } : {}),
    stats_config: statsConfig(),
  };
}

/** A bootstrap that holds its whole configuration: these listeners and clusters, nothing over xDS. */
export function staticResourcesBootstrap(frame: BootstrapFrame, listeners: Record<string, unknown>[], clusters: Record<string, unknown>[]): Record<string, unknown> {
  return { ...bootstrapFrame(frame), static_resources: { listeners, clusters } };
}
