// Envoy bootstraps: one that takes everything else over ADS from the control plane, and static ones
// that need no control plane (the model's resources inlined, or plain proxy listeners for rigs).
import {
  BootstrapFrame, bootstrapFrame, grpcCluster, http2ProtocolOptions, INTERNAL_LISTENER_BOOTSTRAP_EXTENSION, listener, staticCluster,
  staticResourcesBootstrap, tcpProxyFilter, WASM_FILTER_NAME, wasmFilter,
} from "./pieces";
import { ResourceSet, TYPE_URLS } from "./types";

export interface BootstrapOptions {
  nodeId: string;
  /** node.cluster: ECDS needs it set. */
  nodeCluster: string;
  adminPort: number;
  adminAddress?: string;
  xdsAddress: string;
  xdsPort: number;
  /** Delta xDS instead of state of the world. */
  delta?: boolean;
  statsFlushInterval?: string;
}

export const XDS_CLUSTER = "metaproto_xds";

export function bootstrap(options: BootstrapOptions): Record<string, unknown> {
  // Envoy refuses ADS without both ("ads: node 'id' and 'cluster' are required"; test/rds checks it).
  if (!options.nodeId || !options.nodeCluster) throw new Error("a node id and a node cluster are both required: Envoy refuses ADS without them");
  const ads = { ads: {}, resource_api_version: "V3" };
  return {
    ...bootstrapFrame({
      node: { id: options.nodeId, cluster: options.nodeCluster }, adminPort: options.adminPort, adminAddress: options.adminAddress,
      statsFlushInterval: options.statsFlushInterval ?? "5s",
    }),
    // Router-mode Services (internal listeners) may arrive over LDS at any time.
    bootstrap_extensions: [INTERNAL_LISTENER_BOOTSTRAP_EXTENSION],
    dynamic_resources: {
      ads_config: {
        api_type: options.delta ? "DELTA_GRPC" : "GRPC",
        transport_api_version: "V3",
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
        set_node_on_first_message_only: true,
      },
      cds_config: ads,
      lds_config: ads,
    },
    static_resources: {
      clusters: [{
        ...staticCluster(XDS_CLUSTER, [{ address: options.xdsAddress, port: options.xdsPort }], "1s"),
        // A host name resolves: the control plane may run elsewhere.
        type: "STRICT_DNS",
        typed_extension_protocol_options: http2ProtocolOptions(),
      }],
    },
  };
}

/**
 * A bootstrap that needs no control plane: the same resources `serve` would send, inlined (the Wasm
 * filter in place of its ECDS reference, clusters STATIC with their endpoints). For rigs, benchmarks
 * and one-off Envoys.
 */
export function staticBootstrap(resources: ResourceSet, options: StaticBootstrapOptions): Record<string, unknown> {
  const extensions = resources.get(TYPE_URLS.extensionConfig) ?? new Map();
  const endpoints = resources.get(TYPE_URLS.endpoint) ?? new Map();
  const routeConfigs = resources.get(TYPE_URLS.route) ?? new Map();
  // HCM's routes inline in place of their RDS reference.
  const inlineRoutes = (listenerName: string, filter: Record<string, unknown>) => {
    const { rds, ...config } = filter.typed_config as { rds?: { route_config_name: string } };
    if (!rds) return filter;
    const routes = routeConfigs.get(rds.route_config_name);
    if (!routes) throw new Error(`listener ${listenerName} needs route configuration ${rds.route_config_name}, which is missing`);
    return { ...filter, typed_config: { ...config, route_config: routes.value } };
  };
  const listeners = [...(resources.get(TYPE_URLS.listener)?.values() ?? [])].map(({ value }) => ({
    ...value,
    filter_chains: (value.filter_chains as { filters: Record<string, unknown>[] }[]).map((chain) => ({
      ...chain,
      filters: chain.filters.map((filter) => {
        if (!filter.config_discovery) return inlineRoutes(value.name as string, filter);
        const extension = extensions.get(filter.name as string);
        if (!extension) throw new Error(`listener ${value.name} needs filter config ${filter.name as string}, which is missing`);
        return { name: WASM_FILTER_NAME, typed_config: (extension.value as { typed_config: unknown }).typed_config };
      }),
    })),
  }));
  const clusters = [...(resources.get(TYPE_URLS.cluster)?.values() ?? [])].map(({ name, value }) => {
    if (value.type !== "EDS") return value;
    const { eds_cluster_config: _eds, ...rest } = value;
    return { ...rest, type: "STATIC", load_assignment: endpoints.get(name)?.value ?? { cluster_name: name } };
  });
  const bootstrapValue = staticResourcesBootstrap(staticFrame(options), listeners, clusters);
  if (!listeners.some((l) => (l as Record<string, unknown>).internal_listener !== undefined)) return bootstrapValue;
  const { static_resources: staticResources, ...frame } = bootstrapValue;
  // Internal listeners need the extension; the YAML still ends with the static clusters.
  return { ...frame, bootstrap_extensions: [INTERNAL_LISTENER_BOOTSTRAP_EXTENSION], static_resources: staticResources };
}

export interface StaticBootstrapOptions {
  adminPort: number;
  adminAddress?: string;
  statsFlushInterval?: string;
  /** A static Envoy needs no node; with an id, node.cluster defaults to "metaproto". */
  nodeId?: string;
  nodeCluster?: string;
}

function staticFrame(options: StaticBootstrapOptions): BootstrapFrame {
  return {
    node: options.nodeId ? { id: options.nodeId, cluster: options.nodeCluster ?? "metaproto" } : undefined,
    adminPort: options.adminPort, adminAddress: options.adminAddress, statsFlushInterval: options.statsFlushInterval ?? "5s",
  };
}

/** A listener of a proxy bootstrap; everything is on 127.0.0.1. */
export interface ProxyListener {
  /** The listener's name, its tcp_proxy's stat prefix (tcp.<name>.*) and its cluster's name. */
  name: string;
  port: number;
  upstreamPort: number;
}

export interface ProxyBootstrapOptions extends StaticBootstrapOptions {
  listeners: ProxyListener[];
  /** The Wasm module every listener runs before tcp_proxy; without one, tcp_proxy alone. */
  moduleFile?: string;
  /** The plugin's configuration, passed to it exactly as given. */
  pluginConfig?: string;
  /** tcp_proxy connects once the first data has passed the Wasm filter (connection routes choose the cluster). */
  connectOnData?: boolean;
  /** More clusters, on 127.0.0.1, for connection routes to send connections to. */
  clusters?: { name: string; port: number }[];
  /** gRPC (HTTP/2) clusters on 127.0.0.1: collectors the filter exports spans and flow logs to. */
  grpcClusters?: { name: string; port: number }[];
}

/**
 * A bootstrap with one listener per ProxyListener: [the Wasm MetaProto filter] + tcp_proxy to its own
 * STATIC cluster. No model, no control plane: what the rigs (test/lib/envoy.sh) run Envoy with.
 */
export function proxyListenersBootstrap(options: ProxyBootstrapOptions): Record<string, unknown> {
  const names = [...options.listeners.map((l) => l.name), ...[...(options.clusters ?? []), ...(options.grpcClusters ?? [])].map((c) => c.name)];
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new Error(`cluster ${repeated} is named twice: each listener has its own cluster, named as the listener`);
  if (options.pluginConfig !== undefined && options.moduleFile === undefined) throw new Error("a plugin configuration needs a Wasm module to configure");
  const listeners = options.listeners.map(({ name, port }) => listener(name, "127.0.0.1", port, [
    ...(options.moduleFile !== undefined ? [wasmFilter({ moduleFile: options.moduleFile, configuration: options.pluginConfig ?? "{}" })] : []),
    tcpProxyFilter({ statPrefix: name, cluster: name, connectOnData: options.connectOnData }),
  ]));
  const clusters = [
    ...options.listeners.map(({ name, upstreamPort }) => ({ name, port: upstreamPort })),
    ...(options.clusters ?? []),
  ].map(({ name, port }) => staticCluster(name, [{ address: "127.0.0.1", port }]));
  clusters.push(...(options.grpcClusters ?? []).map(({ name, port }) => grpcCluster(name, [{ address: "127.0.0.1", port }])));
  return staticResourcesBootstrap(staticFrame(options), listeners, clusters);
}
