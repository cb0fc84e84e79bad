// Model → Envoy resources: for each Service a listener whose MetaProto Wasm filter comes through ECDS
// (config_discovery) followed by tcp_proxy, EDS clusters for the Service and each subset, their
// endpoints, and the filter's TypedExtensionConfig. The one place Envoy configuration is written.
import * as path from "path";
import type { Located, Model } from "../model/load";
import type { CodecOptions, ServiceDocument } from "../model/schema";
import { Resource, ResourceSet, TCP_PROXY_TYPE_URL, TYPE_URLS, TypeUrl, WASM_FILTER_TYPE_URL } from "./types";

export interface TranslateOptions {
  /** Folder holding <protocol>.wasm, as Envoy sees it (Envoy loads it from its own file system). */
  wasmDir: string;
}

const ADS_SOURCE = { ads: {}, resource_api_version: "V3" };

export const extensionConfigName = (service: string) => `metaproto.${service}`;
export const clusterName = (service: string, subset?: string, port?: number) =>
  [service, subset, port].filter((part) => part !== undefined).join(".");

export function duration(text: string): { seconds: number; nanos?: number } {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  const millis = Math.round(Number(match[1]) * { ms: 1, s: 1000, m: 60000 }[match[2] as "ms" | "s" | "m"]);
  const nanos = (millis % 1000) * 1e6;
  return nanos ? { seconds: Math.floor(millis / 1000), nanos } : { seconds: Math.floor(millis / 1000) };
}

/** The Wasm filter's `configuration` JSON: the codec options as the filter reads them. */
export function filterConfiguration(codec: CodecOptions): string {
  return JSON.stringify(codec);
}

export function wasmFilter(service: ServiceDocument, options: TranslateOptions): Record<string, unknown> {
  return {
    "@type": WASM_FILTER_TYPE_URL,
    config: {
      name: service.metadata.name,
      root_id: "metaproto",
      failure_policy: service.spec.failurePolicy,
      configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: filterConfiguration(service.spec.codec) },
      vm_config: {
        runtime: "envoy.wasm.runtime.v8",
        code: { local: { filename: path.join(options.wasmDir, `${service.spec.protocol}.wasm`) } },
      },
    },
  };
}

export function translate(model: Model, options: TranslateOptions): ResourceSet {
  const set: ResourceSet = new Map(Object.values(TYPE_URLS).map((url) => [url as TypeUrl, new Map<string, Resource>()]));
  const add = (typeUrl: TypeUrl, resource: Resource) => set.get(typeUrl)!.set(resource.name, resource);
  const origin = (located: Located<{ kind: string; metadata: { name: string } }>) =>
    `${located.file} document ${located.document} (${located.value.kind} ${located.value.metadata.name})`;

  const addCluster = (located: Located<ServiceDocument>, subset?: string, port?: number) => {
    const service = located.value;
    const name = clusterName(service.metadata.name, subset, port);
    if (set.get(TYPE_URLS.cluster)!.has(name)) return name;
    add(TYPE_URLS.cluster, {
      name, origin: origin(located),
      value: { name, type: "EDS", connect_timeout: duration(service.spec.connectTimeout), eds_cluster_config: { eds_config: ADS_SOURCE } },
    });
    const endpoints = service.spec.subsets.filter((s) => subset === undefined || s.name === subset)
      .flatMap((s) => s.endpoints).filter((e) => port === undefined || e.port === port);
    add(TYPE_URLS.endpoint, {
      name, origin: origin(located),
      value: {
        cluster_name: name,
        endpoints: [{
          lb_endpoints: endpoints.map((e) => ({
            endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
            ...(e.weight ? { load_balancing_weight: { value: e.weight } } : {}),
          })),
        }],
      },
    });
    return name;
  };

  const routerOf = new Map<string, Located<import("../model/schema").MetaRouterDocument>>();
  for (const router of model.routers.values()) for (const host of router.value.spec.hosts) routerOf.set(host, router);

  for (const located of model.services.values()) {
    const service = located.value;
    const name = service.metadata.name;
    addCluster(located);
    for (const subset of service.spec.subsets) addCluster(located, subset.name);

    // Sidecar mode routes whole connections: the route's weights choose a destination per new connection.
    const router = routerOf.get(name);
    const destinations = router
      ? router.value.spec.routes[0].route
        .map((d) => ({ cluster: addCluster(model.services.get(d.destination.host)!, d.destination.subset, d.destination.port), weight: d.weight ?? 100 }))
        .filter((d) => d.weight > 0)
      : [{ cluster: name, weight: 100 }];
    const tcpProxy: Record<string, unknown> = { "@type": TCP_PROXY_TYPE_URL, stat_prefix: name };
    if (destinations.length === 1) tcpProxy.cluster = destinations[0].cluster;
    else tcpProxy.weighted_clusters = { clusters: destinations.map((d) => ({ name: d.cluster, weight: d.weight })) };

    add(TYPE_URLS.listener, {
      name, origin: origin(router ?? located),
      value: {
        name,
        address: { socket_address: { address: service.spec.address, port_value: service.spec.port } },
        filter_chains: [{
          filters: [
            { name: extensionConfigName(name), config_discovery: { config_source: ADS_SOURCE, type_urls: [WASM_FILTER_TYPE_URL] } },
            { name: "envoy.filters.network.tcp_proxy", typed_config: tcpProxy },
          ],
        }],
      },
    });
    add(TYPE_URLS.extensionConfig, {
      name: extensionConfigName(name), origin: origin(located),
      value: { name: extensionConfigName(name), typed_config: wasmFilter(service, options) },
    });
  }
  return set;
}
