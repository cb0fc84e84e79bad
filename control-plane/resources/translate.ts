// Model → Envoy resources, built from the pieces in pieces.ts. A sidecar-mode Service: a listener whose
// MetaProto Wasm filter comes through ECDS (config_discovery) followed by tcp_proxy, EDS clusters for
// the Service, each subset and its route, their endpoints, and the filter's TypedExtensionConfig.
// A router-mode Service (routerModeResources): the bridge (through ECDS) and HCM with routes over RDS.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Located, Model } from "../model/load";
import type { CodecOptions, MetaRouterDocument, ServiceDocument } from "../model/schema";
import { attributeHeader, BRIDGES } from "../model/router_mode";
import {
  bridgeConfiguration, bridgedClusterOptions, duration, httpConnectionManagerFilter, internalLbEndpoint, internalListener, lbEndpoint,
  listener, originalDstCluster, originalDstListenerFilter, tcpProxyFilter, wasmFilterConfig,
} from "./pieces";
import { clusterPolicy, rbacOff, retryPolicy, routeFilterConfigs, routerModeHttpFilters } from "./router_policy";
import { Resource, ResourceSet, TYPE_URLS, TypeUrl, WASM_FILTER_TYPE_URL } from "./types";

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
  /**
   * The `revision` to put in a Service's filter configuration (given it without one): `serve`
   * changes it whenever that configuration changes, so a configuration changed back to an earlier
   * one is still new to Envoy. Envoy would reuse the earlier plugin without running its
   * on_configure, and connections opened before would keep the policy in between.
   */
  revisionOf?: (service: string, configuration: string) => string;
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

/**
 * The cluster of a route of a Service's MetaRouter: its localities are the route's weighted
 * destinations. The route without a match (tcp_proxy's own cluster) is `route|<service>`; a route
 * with one is `route|<service>|<route name or index>`, chosen by the filter's connection routes.
 */
export const routedClusterName = (service: string, route?: string) => (route === undefined ? `route|${service}` : `route|${service}|${route}`);

type FilterPolicy = NonNullable<CodecOptions["policy"]>;
type CallMatch = NonNullable<NonNullable<FilterPolicy["routes"]>[number]["match"]>;
type MetaRoute = MetaRouterDocument["spec"]["routes"][number];

const millis = (text: string) => duration(text).seconds * 1000 + Math.round((duration(text).nanos ?? 0) / 1e6);

type AttributeMatches = Record<string, { exact: string } | { prefix: string } | { regex: string }>;

/**
 * A MetaRouter attribute match as the filter's call match. As in Aeraki's MetaRouter, `service`
 * and `method` are the call's own; any other name is a request attribute (Dubbo attachment,
 * THeader info header).
 */
function attributeMatch(...matches: (AttributeMatches | undefined)[]): CallMatch {
  const call: CallMatch = {};
  const attributes: NonNullable<CallMatch["attributes"]> = [];
  for (const [name, m] of matches.flatMap((match) => Object.entries(match ?? {}))) {
    if (name === "service" || name === "method") call[name] = m;
    else attributes.push({ name, ...m });
  }
  if (attributes.length) call.attributes = attributes;
  return call;
}

/** A MetaRouter route's request mutation and local rate limits as filter policy stages. */
function routePolicy(router: MetaRouterDocument, route: MetaRoute, index: number, policy: FilterPolicy): FilterPolicy {
  const name = `${router.metadata.name}.${route.name ?? index}`;
  const out: FilterPolicy = { ...policy };
  // A matched route's stages apply to the calls its match selects.
  const routeMatch = route.match ? { match: attributeMatch(route.match.attributes) } : {};
  if (route.requestMutation) {
    out.mutations = [...(policy.mutations ?? []), { ...routeMatch, set: Object.fromEntries(route.requestMutation.map((m) => [m.key, m.value])) }];
  }
  const limit = route.localRateLimit;
  if (limit) {
    const bucket = (b: { maxTokens: number; tokensPerFill: number; fillInterval: string }) =>
      ({ max_tokens: b.maxTokens, tokens_per_fill: b.tokensPerFill, fill_interval_ms: millis(b.fillInterval) });
    // Conditions first: a call that matches one draws from its bucket, as Aeraki's LocalRateLimit does.
    const rules = [
      ...(limit.conditions ?? []).map((c, i) => ({ name: `${name}.condition${i}`, match: attributeMatch(route.match?.attributes, c.match.attributes), ...bucket(c.tokenBucket) })),
      ...(limit.tokenBucket ? [{ name, ...routeMatch, ...bucket(limit.tokenBucket) }] : []),
    ];
    out.rate_limits = [...(policy.rate_limits ?? []), ...rules];
  }
  return out;
}

/** The name a route's cluster goes by: its own name, else its index. */
const routeKey = (route: MetaRoute, index: number) => route.name ?? String(index);

/**
 * The Wasm filter's `configuration` JSON: the codec options as the filter reads them, with the
 * Service's MetaRouter stages (request mutation, local rate limits, the connection routes of
 * matched routes) added to its policy.
 */
export function filterConfiguration(service: string, codec: CodecOptions, router?: MetaRouterDocument): string {
  if (!router) return JSON.stringify(codec);
  let policy: FilterPolicy = codec.policy ?? {};
  router.spec.routes.forEach((route, i) => { policy = routePolicy(router, route, i, policy); });
  const routes = router.spec.routes.flatMap((route, i) =>
    route.match ? [{ match: attributeMatch(route.match.attributes), cluster: routedClusterName(service, routeKey(route, i)) }] : []);
  if (routes.length) policy = { ...policy, routes: [...(policy.routes ?? []), ...routes] };
  return JSON.stringify(Object.keys(policy).length > 0 ? { ...codec, policy } : codec);
}

/** True when the filter chooses connections' clusters: tcp_proxy must then wait for the first request. */
export const routesConnections = (router?: MetaRouterDocument) => router?.spec.routes.some((route) => route.match) ?? false;

/** The Service's Wasm filter, as its ECDS TypedExtensionConfig carries it. */
function serviceWasmFilterConfig(service: ServiceDocument, options: TranslateOptions, router?: MetaRouterDocument): Record<string, unknown> {
  let configuration = filterConfiguration(service.metadata.name, service.spec.codec, router);
  if (options.revisionOf) configuration = JSON.stringify({ ...JSON.parse(configuration), revision: options.revisionOf(service.metadata.name, configuration) });
  return wasmFilterConfig({
    name: service.metadata.name,
    moduleFile: options.moduleFile?.(service.spec.protocol) ?? path.join(options.wasmDir, `${service.spec.protocol}.wasm`),
    configuration,
    failurePolicy: service.spec.failurePolicy,
  });
}

export function translate(model: Model, options: TranslateOptions): ResourceSet {
  const set: ResourceSet = new Map(Object.values(TYPE_URLS).map((url) => [url as TypeUrl, new Map<string, Resource>()]));
  const add = (typeUrl: TypeUrl, resource: Resource) => set.get(typeUrl)!.set(resource.name, resource);
  const origin = (located: Located<{ kind: string; metadata: { name: string } }>) =>
    `${located.file} document ${located.document} (${located.value.kind} ${located.value.metadata.name})`;

  const endpointsOf = (service: ServiceDocument, subset?: string, port?: number) =>
    service.spec.subsets.filter((s) => subset === undefined || s.name === subset)
      .flatMap((s) => s.endpoints).filter((e) => port === undefined || e.port === port)
      .map(lbEndpoint);

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
    if (service.spec.mode === "router") continue;
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
    if (service.spec.mode === "router") {
      routerModeResources(model, located, routerOf.get(name), options, add, origin);
      continue;
    }
    // Sidecar mode routes whole connections. A routed Service's tcp_proxy goes to one cluster whose
    // localities are the route's destinations, weighted: a weight change is then an EDS update only.
    // Changing tcp_proxy itself would be an LDS update, and Envoy closes the connections of a replaced
    // filter chain once its drain time is over.
    const router = routerOf.get(name);
    let upstream = clusterName(name);
    router?.value.spec.routes.forEach((route, i) => {
      const localities = route.route.filter((d) => (d.weight ?? 100) > 0).map(({ destination, weight }) => ({
        locality: { zone: clusterName(destination.host, destination.subset, destination.port) },
        load_balancing_weight: { value: weight ?? 100 },
        lb_endpoints: endpointsOf(model.services.get(destination.host)!.value, destination.subset, destination.port),
      }));
      const routed = route.match ? routedClusterName(name, routeKey(route, i)) : routedClusterName(name);
      if (!route.match) upstream = routed;
      addCluster(routed, router, service.spec.connectTimeout, localities, true);
    });
    const filterDiscovery = { name: extensionConfigName(name), config_discovery: { config_source: ADS_SOURCE, type_urls: [WASM_FILTER_TYPE_URL] } };
    add(TYPE_URLS.listener, {
      name, origin: origin(located),
      value: listener(name, service.spec.address, service.spec.port,
        [filterDiscovery, tcpProxyFilter({ statPrefix: name, cluster: upstream, connectOnData: routesConnections(router?.value) })]),
    });
    add(TYPE_URLS.extensionConfig, {
      name: extensionConfigName(name), origin: origin(located),
      value: { name: extensionConfigName(name), typed_config: serviceWasmFilterConfig(service, options, router?.value) },
    });
  }
  return set;
}

/** The internal listener of a router-mode Service (provider side of its bridge), and its tcp_proxy's ORIGINAL_DST cluster. */
export const bridgeListenerName = (service: string) => `bridge|${service}`;
/** The RouteConfiguration of a router-mode Service's HCM. */
export const routeConfigName = (service: string) => service;
/** The ECDS name of the bridge's provider side on a router-mode Service's internal listener. */
export const providerSideConfigName = (service: string) => `${extensionConfigName(service)}.provider_side`;

type HeaderMatch = { name: string; string_match: { exact: string } | { prefix: string } | { safe_regex: { regex: string } } };

/** A MetaRouter match as HCM header matchers on the bridge's headers. */
function headerMatchers(attributes: AttributeMatches | undefined, protocol: string): HeaderMatch[] {
  return Object.entries(attributes ?? {}).map(([attribute, m]) => ({
    name: attributeHeader(attribute, protocol),
    string_match: "regex" in m ? { safe_regex: { regex: m.regex } } : m,
  }));
}

/** A percentage (0 to 100, fractions allowed) as a runtime fraction in millionths. */
const fractionOf = (percent: number) => ({ default_value: { numerator: Math.round(percent * 10_000), denominator: "MILLION" } });

/**
 * A router-mode Service: its listener ([bridge consumer side] + HCM, routes over RDS), its internal
 * listener ([bridge provider side] + tcp_proxy to ORIGINAL_DST), bridged clusters for the Service
 * and each subset (EDS; endpoints addressed through the internal listener), and its RouteConfiguration:
 * heartbeats to any endpoint, then the MetaRouter's routes in order (weighted_clusters per request,
 * header matches, mirrors); without a MetaRouter every request goes to the whole Service.
 */
function routerModeResources(model: Model, located: Located<ServiceDocument>, router: Located<MetaRouterDocument> | undefined,
  options: TranslateOptions, add: (typeUrl: TypeUrl, resource: Resource) => void,
  origin: (located: Located<{ kind: string; metadata: { name: string } }>) => string): void {
  const service = located.value;
  const name = service.metadata.name;
  const bridge = BRIDGES[service.spec.protocol];
  if (!bridge) throw new Error(`Service ${name}: router mode has no bridge for ${service.spec.protocol}`);
  const moduleFile = options.moduleFile?.(bridge.module) ?? path.join(options.wasmDir, `${bridge.module}.wasm`);
  const bridgeFilter = (configName: string, side: "consumer" | "provider") => add(TYPE_URLS.extensionConfig, {
    name: configName, origin: origin(located),
    value: {
      name: configName,
      typed_config: wasmFilterConfig({ name: `${name}.${side}_side`, moduleFile, configuration: bridgeConfiguration(side, bridge.namesService ? name : undefined), failurePolicy: service.spec.failurePolicy }),
    },
  });
  const discovered = (configName: string) => ({ name: configName, config_discovery: { config_source: ADS_SOURCE, type_urls: [WASM_FILTER_TYPE_URL] } });

  // Bridged clusters: a destination's own Service (router mode too, cross_check.ts makes sure) owns them.
  const addBridgedCluster = (owner: Located<ServiceDocument>, subset?: string, port?: number) => {
    const cluster = clusterName(owner.value.metadata.name, subset, port);
    const endpoints = owner.value.spec.subsets.filter((s) => subset === undefined || s.name === subset)
      .flatMap((s) => s.endpoints).filter((e) => port === undefined || e.port === port)
      .map((e) => internalLbEndpoint(bridgeListenerName(owner.value.metadata.name), e));
    add(TYPE_URLS.cluster, {
      name: cluster, origin: origin(owner),
      value: { name: cluster, type: "EDS", connect_timeout: duration(owner.value.spec.connectTimeout), eds_cluster_config: { eds_config: ADS_SOURCE }, ...bridgedClusterOptions(), ...clusterPolicy(owner.value) },
    });
    add(TYPE_URLS.endpoint, { name: cluster, origin: origin(owner), value: { cluster_name: cluster, endpoints: [{ lb_endpoints: endpoints }] } });
    return cluster;
  };
  const whole = addBridgedCluster(located);
  for (const subset of service.spec.subsets) addBridgedCluster(located, subset.name);

  const routes: Record<string, unknown>[] = bridge.heartbeatPath
    // Heartbeats (and other Dubbo events) keep the consumer's connection alive: any endpoint answers them.
    ? [{
      name: "heartbeat", match: { path: bridge.heartbeatPath }, route: { cluster: whole },
      ...(service.spec.codec.policy?.authz ? { typed_per_filter_config: rbacOff() } : {}),
    }]
    : [];
  router?.value.spec.routes.forEach((route, i) => {
    const destinations = route.route.filter((d) => (d.weight ?? 100) > 0).map(({ destination, weight }) => ({
      name: addBridgedCluster(model.services.get(destination.host)!, destination.subset, destination.port),
      weight: { value: weight ?? 100 },
    }));
    const mirror = route.mirror ? addBridgedCluster(model.services.get(route.mirror.host)!, route.mirror.subset) : undefined;
    const headers = headerMatchers(route.match?.attributes, service.spec.protocol);
    const filterConfigs = routeFilterConfigs(`${name}.${routeKey(route, i)}`, route);
    routes.push({
      name: routeKey(route, i),
      match: { prefix: "/", ...(headers.length ? { headers } : {}) },
      ...(Object.keys(filterConfigs).length ? { typed_per_filter_config: filterConfigs } : {}),
      route: {
        // One destination left (the others weighted 0): a plain cluster, as Envoy shows it simplest.
        ...(destinations.length === 1 ? { cluster: destinations[0].name } : { weighted_clusters: { clusters: destinations } }),
        // HCM answers a request past it with 504, which the bridge turns into Dubbo status 31 (SERVER_TIMEOUT), a Thrift TApplicationException TIMEOUT (12).
        ...(route.timeout ? { timeout: duration(route.timeout) } : {}),
        ...(route.retries ? { retry_policy: retryPolicy(route.retries, service.spec.protocol) } : {}),
        ...(mirror ? {
          request_mirror_policies: [{ cluster: mirror, ...(route.mirrorPercentage ? { runtime_fraction: fractionOf(route.mirrorPercentage.value) } : {}) }],
        } : {}),
      },
    });
  });
  if (!router) routes.push({ name: "all", match: { prefix: "/" }, route: { cluster: whole } });
  add(TYPE_URLS.route, {
    name: routeConfigName(name), origin: origin(router ?? located),
    value: { name: routeConfigName(name), virtual_hosts: [{ name, domains: ["*"], routes }] },
  });

  bridgeFilter(extensionConfigName(name), "consumer");
  bridgeFilter(providerSideConfigName(name), "provider");
  add(TYPE_URLS.listener, {
    name, origin: origin(located),
    value: listener(name, service.spec.address, service.spec.port, [
      discovered(extensionConfigName(name)),
      httpConnectionManagerFilter({
        statPrefix: name, rds: { routeConfigName: routeConfigName(name), configSource: ADS_SOURCE },
        httpFilters: routerModeHttpFilters(service, router?.value.spec.routes ?? []),
      }),
    ]),
  });
  const bridgeListener = bridgeListenerName(name);
  add(TYPE_URLS.listener, {
    name: bridgeListener, origin: origin(located),
    value: internalListener(bridgeListener, [originalDstListenerFilter()], [
      discovered(providerSideConfigName(name)),
      tcpProxyFilter({ statPrefix: `bridge.${name}`, cluster: bridgeListener }),
    ]),
  });
  add(TYPE_URLS.cluster, { name: bridgeListener, origin: origin(located), value: originalDstCluster(bridgeListener, service.spec.connectTimeout) });
}
