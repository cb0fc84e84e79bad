// Model → Envoy resources: for each Service a listener whose MetaProto Wasm filter comes through ECDS
// (config_discovery) followed by tcp_proxy, EDS clusters for the Service, each subset and its route,
// their endpoints, and the filter's TypedExtensionConfig. The one place Envoy configuration is written.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Located, Model } from "../model/load";
import type { CodecOptions, MetaRouterDocument, ServiceDocument } from "../model/schema";
import { Resource, ResourceSet, TCP_PROXY_TYPE_URL, TYPE_URLS, TypeUrl, WASM_FILTER_TYPE_URL } from "./types";

export interface TranslateOptions {
  /** Folder holding <protocol>.wasm. */
  wasmDir: string;
  /**
   * The file Envoy loads for a protocol (default <wasmDir>/<protocol>.wasm). `serve` gives each build
   * its own file named by its sha256, so a new build is a new vm_config: new connections get a new VM
   * and open ones keep theirs. (Remote code, `vm_config.code.remote`, is not fetched by Envoy 1.40 when
   * it arrives in an ECDS update: the filter silently drops out; test/rds checks it.)
   */
  moduleFile?: (protocol: string) => string;
}

export function sha256Of(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** Copies <wasmDir>/<protocol>.wasm to <pinDir>/<protocol>-<sha256 prefix>.wasm (once) and returns that path. */
export function pinModule(wasmDir: string, pinDir: string, protocol: string): string {
  const bytes = fs.readFileSync(path.join(wasmDir, `${protocol}.wasm`));
  const pinned = path.join(pinDir, `${protocol}-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.wasm`);
  if (!fs.existsSync(pinned)) {
    fs.mkdirSync(pinDir, { recursive: true });
    fs.writeFileSync(`${pinned}.tmp`, bytes);
    fs.renameSync(`${pinned}.tmp`, pinned);
  }
  return pinned;
}

const ADS_SOURCE = { ads: {}, resource_api_version: "V3" };

export const extensionConfigName = (service: string) => `metaproto.${service}`;
export const clusterName = (service: string, subset?: string, port?: number) =>
  [service, subset, port].filter((part) => part !== undefined).join(".");

/** The cluster a routed Service's connections go to: its localities are the route's weighted destinations. */
export const routedClusterName = (service: string) => `route|${service}`;

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
        code: { local: { filename: options.moduleFile?.(service.spec.protocol) ?? path.join(options.wasmDir, `${service.spec.protocol}.wasm`) } },
      },
    },
  };
}

export function translate(model: Model, options: TranslateOptions): ResourceSet {
  const set: ResourceSet = new Map(Object.values(TYPE_URLS).map((url) => [url as TypeUrl, new Map<string, Resource>()]));
  const add = (typeUrl: TypeUrl, resource: Resource) => set.get(typeUrl)!.set(resource.name, resource);
  const origin = (located: Located<{ kind: string; metadata: { name: string } }>) =>
    `${located.file} document ${located.document} (${located.value.kind} ${located.value.metadata.name})`;

  const endpointsOf = (service: ServiceDocument, subset?: string, port?: number) =>
    service.spec.subsets.filter((s) => subset === undefined || s.name === subset)
      .flatMap((s) => s.endpoints).filter((e) => port === undefined || e.port === port)
      .map((e) => ({
        endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
        ...(e.weight ? { load_balancing_weight: { value: e.weight } } : {}),
      }));

  const addCluster = (name: string, located: Located<{ kind: string; metadata: { name: string } }>, connectTimeout: string,
    localities: Record<string, unknown>[], weighted: boolean) => {
    add(TYPE_URLS.cluster, {
      name, origin: origin(located),
      value: {
        name, type: "EDS", connect_timeout: duration(connectTimeout), eds_cluster_config: { eds_config: ADS_SOURCE },
        ...(weighted ? { common_lb_config: { locality_weighted_lb_config: {} } } : {}),
      },
    });
    add(TYPE_URLS.endpoint, { name, origin: origin(located), value: { cluster_name: name, endpoints: localities } });
  };

  for (const located of model.services.values()) {
    const service = located.value;
    addCluster(clusterName(service.metadata.name), located, service.spec.connectTimeout, [{ lb_endpoints: endpointsOf(service) }], false);
    for (const subset of service.spec.subsets) {
      addCluster(clusterName(service.metadata.name, subset.name), located, service.spec.connectTimeout, [{ lb_endpoints: endpointsOf(service, subset.name) }], false);
    }
  }

  const routerOf = new Map<string, Located<MetaRouterDocument>>();
  for (const router of model.routers.values()) for (const host of router.value.spec.hosts) routerOf.set(host, router);

  for (const located of model.services.values()) {
    const service = located.value;
    const name = service.metadata.name;
    // Sidecar mode routes whole connections. A routed Service's tcp_proxy goes to one cluster whose
    // localities are the route's destinations, weighted: a weight change is then an EDS update only.
    // Changing tcp_proxy itself would be an LDS update, and Envoy closes the connections of a replaced
    // filter chain once its drain time is over.
    const router = routerOf.get(name);
    let upstream = clusterName(name);
    if (router) {
      upstream = routedClusterName(name);
      const localities = router.value.spec.routes[0].route.filter((d) => (d.weight ?? 100) > 0).map(({ destination, weight }) => ({
        locality: { zone: clusterName(destination.host, destination.subset, destination.port) },
        load_balancing_weight: { value: weight ?? 100 },
        lb_endpoints: endpointsOf(model.services.get(destination.host)!.value, destination.subset, destination.port),
      }));
      addCluster(upstream, router, service.spec.connectTimeout, localities, true);
    }
    const tcpProxy = { "@type": TCP_PROXY_TYPE_URL, stat_prefix: name, cluster: upstream };

    add(TYPE_URLS.listener, {
      name, origin: origin(located),
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
