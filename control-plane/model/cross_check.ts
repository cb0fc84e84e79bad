// Checks across documents: references resolve, listener ports and names are unique, regexes are RE2,
// weights add up, and nothing asks for what the data plane cannot do yet (each says why).
import { RE2JS } from "re2js";
import type { FieldPath, Model } from "./load";
import { BRIDGE_MODULES, bridgedProtocols, isBridgedAttachmentKey } from "./router_mode";
import { CodecOptions, Kind, MetaRoute, sinkName } from "./schema";

/**
 * Protocols whose server speaks first (its codec's serverFirst()): the filter never holds their
 * connections for a route, since the client waits for the server's greeting.
 */
const SERVER_FIRST_PROTOCOLS = new Set(["mysql"]);

/** Field path (from the document root), message, and the document: kind and name. */
export type Finding = [FieldPath, string, Kind, string];

export function crossCheck(model: Model): Finding[] {
  const findings: Finding[] = [];
  // Listeners by port, then address → Service: a Service is compared with those on its port only, not
  // with every earlier one (that was quadratic: about a tenth of a reload at 1,000 Services).
  const listeners = new Map<number, Map<string, string>>();
  for (const [name, { value }] of model.services) {
    const { spec } = value;
    let onPort = listeners.get(spec.port);
    if (!onPort) listeners.set(spec.port, (onPort = new Map()));
    const clash = [...onPort].find(([address]) =>
      address === spec.address || address === "0.0.0.0" || spec.address === "0.0.0.0" || address === "::" || spec.address === "::");
    if (clash) findings.push([["spec", "port"], `port ${spec.port} is already the listener of Service ${clash[1]}: give each Service its own port`, "Service", name]);
    onPort.set(spec.address, name);
    if (spec.mode === "router") {
      if (!BRIDGE_MODULES[spec.protocol]) {
        findings.push([["spec", "mode"], `router mode needs a bridge from ${spec.protocol} to HTTP/2, and there is none yet (bridges exist for: ${bridgedProtocols().join(", ")}): use mode: sidecar`, "Service", name]);
      }
      checkRouterModeCodec(spec.codec, (fieldPath, message) => findings.push([["spec", "codec", ...fieldPath], message, "Service", name]));
    } else {
      const routerOnly = "only router mode's HTTP/2 clusters see each request's outcome (sidecar mode's tcp_proxy sees connections): remove it, or give the Service mode: router";
      if (spec.outlierDetection) findings.push([["spec", "outlierDetection"], `outlier detection: ${routerOnly}`, "Service", name]);
      if (spec.circuitBreakers) findings.push([["spec", "circuitBreakers"], `circuit breakers: ${routerOnly}`, "Service", name]);
    }
    const subsetNames = new Set<string>();
    spec.subsets.forEach((subset, i) => {
      if (subsetNames.has(subset.name)) findings.push([["spec", "subsets", i, "name"], `subset "${subset.name}" is defined twice: rename one`, "Service", name]);
      subsetNames.add(subset.name);
    });
  }

  const routedHosts = new Map<string, string>();
  for (const [name, { value }] of model.routers) {
    const at = (fieldPath: FieldPath, message: string) => findings.push([["spec", ...fieldPath], message, "MetaRouter", name]);
    const modeOf = (host: string) => model.services.get(host)?.value.spec.mode;
    const hostModes = new Set(value.spec.hosts.map(modeOf).filter(Boolean));
    if (hostModes.size > 1) at(["hosts"], `routes both sidecar-mode and router-mode Services (${value.spec.hosts.map((h) => `${h}: ${modeOf(h) ?? "?"}`).join(", ")}): one MetaRouter routes Services of one mode`);
    const routerMode = hostModes.has("router");
    value.spec.hosts.forEach((host, i) => {
      const service = model.services.get(host);
      if (!service) at(["hosts", i], `no Service named "${host}": define it or fix the name (Services: ${[...model.services.keys()].join(", ") || "none"})`);
      else if (routedHosts.has(host)) at(["hosts", i], `MetaRouter ${routedHosts.get(host)} already routes "${host}": put its routes in one MetaRouter`);
      routedHosts.set(host, name);
    });
    value.spec.routes.forEach((route, r) => {
      const routeAt = (fieldPath: FieldPath, message: string) => at(["routes", r, ...fieldPath], message);
      const checkMatches = (attributes: Record<string, { exact?: string; prefix?: string; regex?: string }> | undefined, base: FieldPath) => {
        for (const [attribute, match] of Object.entries(attributes ?? {})) {
          if (match.regex === undefined) continue;
          try { RE2JS.compile(match.regex); } catch (err) {
            routeAt([...base, attribute, "regex"], `not a valid RE2 regex (${(err as Error).message}): Envoy uses RE2 syntax (no lookaround or backreferences)`);
          }
        }
      };
      checkMatches(route.match?.attributes, ["match", "attributes"]);
      route.localRateLimit?.conditions?.forEach((condition, c) => checkMatches(condition.match.attributes, ["localRateLimit", "conditions", c, "match", "attributes"]));
      checkMatches(route.globalRateLimit?.match?.attributes, ["globalRateLimit", "match", "attributes"]);

      const hostProtocols = new Set(value.spec.hosts.map((h) => model.services.get(h)?.value.spec.protocol).filter(Boolean));
      route.route.forEach(({ destination }, d) => {
        const service = model.services.get(destination.host);
        if (!service) {
          routeAt(["route", d, "destination", "host"], `no Service named "${destination.host}": define it or fix the name`);
          return;
        }
        if (hostProtocols.size && !hostProtocols.has(service.value.spec.protocol)) {
          routeAt(["route", d, "destination", "host"], `Service "${destination.host}" speaks ${service.value.spec.protocol}, not ${[...hostProtocols].join("/")}: route to a Service of the same protocol`);
        }
        if (routerMode && service.value.spec.mode !== "router") {
          routeAt(["route", d, "destination", "host"], `Service "${destination.host}" is in sidecar mode: a router-mode route sends requests over HTTP/2 to Services behind a bridge, so give it mode: router`);
        }
        const subsets = service.value.spec.subsets;
        const subset = destination.subset === undefined ? undefined : subsets.find((s) => s.name === destination.subset);
        if (destination.subset !== undefined && !subset) {
          routeAt(["route", d, "destination", "subset"], `Service "${destination.host}" has no subset "${destination.subset}" (it has: ${subsets.map((s) => s.name).join(", ")})`);
          return;
        }
        const endpoints = (subset ? [subset] : subsets).flatMap((s) => s.endpoints);
        if (destination.port !== undefined && !endpoints.some((e) => e.port === destination.port)) {
          routeAt(["route", d, "destination", "port"], `no endpoint of ${destination.host}${subset ? `/${subset.name}` : ""} listens on port ${destination.port}: use one of ${[...new Set(endpoints.map((e) => e.port))].join(", ")} or leave port out`);
        }
      });
      if (route.route.length > 1) {
        const missing = route.route.findIndex((d) => d.weight === undefined);
        const total = route.route.reduce((sum, d) => sum + (d.weight ?? 0), 0);
        if (missing >= 0) routeAt(["route", missing, "weight"], "is required when a route has several destinations: give each a weight, summing to 100");
        else if (total !== 100) routeAt(["route"], `weights sum to ${total}: make them sum to 100`);
      }
      if (route.route.length === 1 && route.route[0].weight === 0) routeAt(["route", 0, "weight"], "the only destination has weight 0: give it 100 or add another destination");

      if (routerMode) checkRouterModeRoute(route, routeAt);
      else {
        const routerOnly = `only router mode can honour it: remove it, or give the Service mode: router (protocols with a bridge: ${bridgedProtocols().join(", ")}); sidecar mode routes whole connections`;
        if (route.weightsPer === "request") routeAt(["weightsPer"], `per-request weights on one connection: ${routerOnly}`);
        if (route.mirror) routeAt(["mirror"], `mirroring: ${routerOnly}`);
        if (route.mirrorPercentage) routeAt(["mirrorPercentage"], `mirroring: ${routerOnly}`);
        if (route.timeout) routeAt(["timeout"], `per-request timeouts: ${routerOnly}`);
        if (route.retries) routeAt(["retries"], `retries of single requests: ${routerOnly}`);
        if (route.globalRateLimit) routeAt(["globalRateLimit"], `global rate limit: ${routerOnly}, and even there it is not built yet`);
        const notYet = "the MetaProto filter does not apply it yet: remove it for now";
        if (route.responseMutation) routeAt(["responseMutation"], `response mutation: ${notYet}`);
      }
      if (route.mirror) {
        const shadow = model.services.get(route.mirror.host);
        if (!shadow) routeAt(["mirror", "host"], `no Service named "${route.mirror.host}": define it or fix the name`);
        else if (route.mirror.subset !== undefined && !shadow.value.spec.subsets.some((s) => s.name === route.mirror!.subset)) {
          routeAt(["mirror", "subset"], `Service "${route.mirror.host}" has no subset "${route.mirror.subset}" (it has: ${shadow.value.spec.subsets.map((s) => s.name).join(", ")})`);
        } else if (routerMode && shadow.value.spec.mode !== "router") {
          routeAt(["mirror", "host"], `Service "${route.mirror.host}" is in sidecar mode: mirrored requests go over HTTP/2 to Services behind a bridge, so give it mode: router`);
        } else if (route.mirror.port !== undefined) {
          routeAt(["mirror", "port"], "a mirror goes to a subset's endpoints: leave port out");
        }
      }
      const serverFirst = value.spec.hosts.filter((h) => SERVER_FIRST_PROTOCOLS.has(model.services.get(h)?.value.spec.protocol ?? ""));
      if (route.match && serverFirst.length) {
        routeAt(["match"], `${serverFirst.join(", ")} speaks ${model.services.get(serverFirst[0])!.value.spec.protocol}, whose server speaks first: tcp_proxy connects before the first request, so a connection cannot be routed by it; remove the match (weights still choose a destination per new connection)`);
      }
    });
    // Sidecar mode routes whole connections: the first request's match picks a route, and a route
    // without a match takes the connections no earlier route matched, so it must come last.
    // Router mode is the same with requests: Envoy's routes are tried in order, the first match wins.
    const catchAll = value.spec.routes.findIndex((route) => !route.match);
    if (catchAll >= 0 && catchAll < value.spec.routes.length - 1) {
      at(["routes", catchAll + 1], `never chosen: route ${catchAll} has no match and takes every ${routerMode ? "request" : "connection"}; move the route without a match to the end`);
    }
  }
  const telemetryNames = [...model.telemetry.keys()];
  for (const name of telemetryNames.slice(1)) {
    findings.push([["metadata", "name"], `Telemetry ${telemetryNames[0]} is already defined: one receiver runs per control plane, so keep one Telemetry document`, "Telemetry", name]);
  }
  for (const [name, { value }] of model.telemetry) {
    const sinkNames = new Set<string>();
    value.spec.sinks.forEach((sink, i) => {
      const named = sinkName(sink);
      if (sinkNames.has(named)) findings.push([["spec", "sinks", i], `another sink is named "${named}": give each sink its own name (sinks' metrics are labelled with it)`, "Telemetry", name]);
      sinkNames.add(named);
    });
  }
  return findings;
}

/**
 * A router-mode Service's codec options: the MetaProto filter does not run there, so only
 * `policy.authz` means something (it becomes HCM's RBAC on the bridge's headers).
 */
function checkRouterModeCodec(codec: CodecOptions, at: (fieldPath: FieldPath, message: string) => void): void {
  const nothing = "router mode does not run the MetaProto filter (the bridge and Envoy's HTTP router take its place), so it would do nothing: remove it, or use mode: sidecar";
  const { policy, ...options } = codec;
  for (const option of Object.keys(options)) at([option], nothing);
  const { authz, ...stages } = policy ?? {};
  for (const stage of Object.keys(stages)) {
    at(["policy", stage], stage === "rate_limits" ? "router mode limits rates per route: move it to the MetaRouter route's localRateLimit" : nothing);
  }
  if (authz?.deny_text !== undefined) at(["policy", "authz", "deny_text"], "router mode denies through HCM's RBAC, whose answer says \"RBAC: access denied\" (the consumer gets Dubbo status 40): remove deny_text");
  authz?.rules?.forEach((rule, r) => {
    const match = rule.match ?? {};
    const base: FieldPath = ["policy", "authz", "rules", r, "match"];
    if (match.principals) at([...base, "principals"], "router mode's consumers are not on TLS, so there is no principal to match: remove principals (source_cidrs still match)");
    match.attributes?.forEach((attribute, a) => {
      if (!isBridgedAttachmentKey(attribute.name)) at([...base, "attributes", a, "name"], "the bridge passes on attachments whose keys are letters, digits, '-', '_' and '.' only, so this one can never match: rename the attachment");
    });
  });
}

/**
 * What a router-mode route can ask for today: weights per request, matches on service, method and
 * attachments (as the bridge's headers), mirroring, timeouts, retries, a local rate limit per route.
 * The rest says it is not built yet.
 */
function checkRouterModeRoute(route: MetaRoute, routeAt: (fieldPath: FieldPath, message: string) => void): void {
  if (route.weightsPer === "connection") {
    routeAt(["weightsPer"], "router mode routes each request, so its weights are per request: leave weightsPer out or set it to request");
  }
  for (const attribute of Object.keys(route.match?.attributes ?? {})) {
    if (attribute !== "service" && attribute !== "method" && !isBridgedAttachmentKey(attribute)) {
      routeAt(["match", "attributes", attribute], "the bridge passes on attachments whose keys are letters, digits, '-', '_' and '.' only, so this one can never match: rename the attachment");
    }
  }
  if (route.mirrorPercentage && !route.mirror) routeAt(["mirrorPercentage"], "says how many requests to mirror, but the route has no mirror: add mirror or remove it");
  const notBuilt = "not built in router mode yet: remove it for now (sidecar mode applies it through the MetaProto filter)";
  if (route.requestMutation) routeAt(["requestMutation"], `request mutation: ${notBuilt}`);
  route.localRateLimit?.conditions?.forEach((_, c) => routeAt(["localRateLimit", "conditions", c],
    "per-attribute buckets are not built in router mode yet (HCM's local rate limit has one bucket per route): give the condition a route of its own, with its match and a tokenBucket"));
  if (route.globalRateLimit) routeAt(["globalRateLimit"], "global rate limit: not built in router mode yet (Envoy's HTTP ratelimit filter could do it): remove it for now");
  if (route.responseMutation) routeAt(["responseMutation"], "response mutation: not built in router mode yet: remove it for now");
}
