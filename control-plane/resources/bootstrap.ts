// Envoy bootstraps: one that takes everything else over ADS from the control plane, and a static one
// that needs no control plane (the model's resources inlined).
import { BootstrapFrame, bootstrapFrame, staticCluster, staticResourcesBootstrap, WASM_FILTER_NAME } from "./pieces";
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
        typed_extension_protocol_options: {
          "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            explicit_http_config: { http2_protocol_options: {} },
          },
        },
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
  const listeners = [...(resources.get(TYPE_URLS.listener)?.values() ?? [])].map(({ value }) => ({
    ...value,
    filter_chains: (value.filter_chains as { filters: Record<string, unknown>[] }[]).map((chain) => ({
      ...chain,
      filters: chain.filters.map((filter) => {
        if (!filter.config_discovery) return filter;
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
  return staticResourcesBootstrap(staticFrame(options), listeners, clusters);
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

