// Resource types the control plane serves, in make-before-break order: a listener must never
// reference a cluster Envoy does not have yet, and stale resources go last.
export const TYPE_URLS = {
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  extensionConfig: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
} as const;

export type ResourceKind = keyof typeof TYPE_URLS;
export type TypeUrl = (typeof TYPE_URLS)[ResourceKind];

/** CDS → EDS → LDS → RDS → ECDS. */
export const PUSH_ORDER: TypeUrl[] = [TYPE_URLS.cluster, TYPE_URLS.endpoint, TYPE_URLS.listener, TYPE_URLS.route, TYPE_URLS.extensionConfig];

/** LDS and CDS are always sent whole; the others are sent by the names a client asks for. */
export function isFullStateType(typeUrl: string): boolean {
  return typeUrl === TYPE_URLS.listener || typeUrl === TYPE_URLS.cluster;
}

export const WASM_FILTER_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm";
export const TCP_PROXY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";

/** A resource as a plain object in Envoy's YAML form (snake_case, "@type" Anys), with its name. */
export interface Resource {
  name: string;
  value: Record<string, unknown>;
  /** Where it came from, for errors: "file document N (Kind name)". */
  origin?: string;
}

/** All resources of one configuration, by type URL and name. */
export type ResourceSet = Map<TypeUrl, Map<string, Resource>>;
