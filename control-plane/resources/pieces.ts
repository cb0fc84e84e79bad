// The pieces every Envoy configuration of the project is built from: the control plane's xDS
// resources (translate.ts) and bootstraps (bootstrap.ts), the rigs' bootstraps (test/lib/envoy.sh,
// through `metaproto bootstrap --static --listener`) and the benchmark's (bench/lib/envoy.ts). A fact
// about how Envoy runs MetaProto (the Wasm filter's shape, tcp_proxy's connect mode, the stats tags)
// is written here once. Values are plain objects in Envoy's YAML form (snake_case, "@type" Anys).
import * as fs from "fs";
import * as path from "path";
import { repoRoot } from "../xds/api";
import { BridgeConfig } from "../model/filter_config.generated";
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

// Router mode (docs/router-mode-spike.md): [bridge, consumer side] + HCM → router → HTTP/2 clusters
// of internal-address endpoints → one internal listener per Service: [bridge, provider side] +
// tcp_proxy to an ORIGINAL_DST cluster, the endpoint's real address riding on host metadata.

export const HTTP_CONNECTION_MANAGER_FILTER_NAME = "envoy.filters.network.http_connection_manager";
export const HTTP_CONNECTION_MANAGER_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const ORIGINAL_DST_LISTENER_FILTER = "envoy.filters.listener.original_dst";

/**
 * The HPACK dynamic table size both ends of the bridge advertise: 0 keeps Envoy's encoders off the
 * dynamic table (the bridge's decoder handles one, but a table per stream direction costs memory).
 * HCM, the bridged clusters and the bridge's own configuration all take it from here.
 */
export const BRIDGE_HPACK_TABLE_SIZE = 0;

/**
 * The bridge's plugin configuration (api/proto/metaproto/filter/v1alpha1/bridge_config.proto): which
 * peer the filter faces, and the service of calls that name none on the wire (Thrift without
 * multiplexing).
 */
export function bridgeConfiguration(side: "consumer" | "provider", service?: string): string {
  const config: BridgeConfig = { side, header_table_size: BRIDGE_HPACK_TABLE_SIZE, ...(service !== undefined ? { service } : {}) };
  return JSON.stringify(BridgeConfig.parse(config));
}

/** Envoy runs internal listeners only with this bootstrap extension. */
export const INTERNAL_LISTENER_BOOTSTRAP_EXTENSION = {
  name: "envoy.bootstrap.internal_listener",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener" },
};

export interface HttpConnectionManagerOptions {
  /** Its stats are http.<statPrefix>.*. */
  statPrefix: string;
  /** The RouteConfiguration: by name over RDS (ADS), or inline (a static bootstrap). */
  rds?: { routeConfigName: string; configSource: Record<string, unknown> };
  routeConfig?: Record<string, unknown>;
  /** HTTP filters before the router (router mode's RBAC and local rate limit). */
  httpFilters?: Record<string, unknown>[];
}

/**
 * HCM facing the bridge's consumer side: HTTP/2 only. No connection keepalive: its PINGs could be
 * answered only when the consumer next sends bytes (the bridge speaks only when bytes pass).
 */
export function httpConnectionManagerFilter(options: HttpConnectionManagerOptions): NetworkFilter {
  return {
    name: HTTP_CONNECTION_MANAGER_FILTER_NAME,
    typed_config: {
      "@type": HTTP_CONNECTION_MANAGER_TYPE_URL,
      stat_prefix: options.statPrefix,
      codec_type: "HTTP2",
      http2_protocol_options: { hpack_table_size: { value: BRIDGE_HPACK_TABLE_SIZE } },
      ...(options.rds ? { rds: { config_source: options.rds.configSource, route_config_name: options.rds.routeConfigName } } : {}),
      ...(options.routeConfig ? { route_config: options.routeConfig } : {}),
      http_filters: [...(options.httpFilters ?? []), { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
    },
  };
}

/** A listener other listeners' clusters reach in-process (envoy_internal_address), with no socket. */
export function internalListener(name: string, listenerFilters: Record<string, unknown>[], filters: Record<string, unknown>[]): Record<string, unknown> {
  return { name, internal_listener: {}, ...(listenerFilters.length ? { listener_filters: listenerFilters } : {}), filter_chains: [{ filters }] };
}

/** Restores an internal connection's local address from the endpoint metadata internal_upstream passed in. */
export function originalDstListenerFilter(): Record<string, unknown> {
  return { name: ORIGINAL_DST_LISTENER_FILTER, typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst" } };
}

/** "ip:port", "[v6]:port": how original_dst reads an address from metadata. */
export const addressText = (address: string, port: number) => (address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`);

/**
 * An endpoint of a bridged cluster: the internal listener, told apart by the real address
 * (endpoint_id), which host metadata carries to the internal listener's original_dst filter.
 */
export function internalLbEndpoint(listenerName: string, endpoint: Endpoint): Record<string, unknown> {
  const real = addressText(endpoint.address, endpoint.port);
  return {
    endpoint: { address: { envoy_internal_address: { server_listener_name: listenerName, endpoint_id: real } } },
    metadata: { filter_metadata: { [ORIGINAL_DST_LISTENER_FILTER]: { local: real } } },
    ...(endpoint.weight ? { load_balancing_weight: { value: endpoint.weight } } : {}),
  };
}

/**
 * What makes a cluster a bridged one: HTTP/2 to its endpoints, over internal_upstream passing the
 * host metadata (the real address) into the internal connection.
 */
export function bridgedClusterOptions(): Record<string, unknown> {
  return {
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: { hpack_table_size: { value: BRIDGE_HPACK_TABLE_SIZE } } },
      },
    },
    transport_socket: {
      name: "envoy.transport_sockets.internal_upstream",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport",
        passthrough_metadata: [{ kind: { host: {} }, name: ORIGINAL_DST_LISTENER_FILTER }],
        transport_socket: { name: "envoy.transport_sockets.raw_buffer", typed_config: { "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer" } },
      },
    },
  };
}

/** The cluster an internal listener's tcp_proxy connects through: to the address original_dst restored. */
export function originalDstCluster(name: string, connectTimeout = "2s"): Record<string, unknown> {
  return { name, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: duration(connectTimeout) };
}
