// Router mode's per-request policy as Envoy gets it (README "Router mode"): a route's retries and
// local rate limit, a Service's outlier detection and circuit breakers on its clusters, and its
// `codec.policy.authz` as HCM's RBAC on the bridge's headers. HCM answers a denied request with 403
// and a rate-limited one with 429, which the bridge turns into Dubbo status 40 and 100, or Thrift's
// TApplicationException UNKNOWN and LOADSHEDDING.
import { BRIDGES, attributeHeader } from "../model/router_mode";
import type { CodecOptions, MetaRoute, ServiceDocument } from "../model/schema";
import { duration } from "./pieces";

export const RBAC_FILTER = "envoy.filters.http.rbac";
export const LOCAL_RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit";
const RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const RBAC_PER_ROUTE_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";
const LOCAL_RATE_LIMIT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

type Authz = NonNullable<NonNullable<CodecOptions["policy"]>["authz"]>;
type CallMatch = NonNullable<NonNullable<Authz["rules"]>[number]["match"]>;
type StringMatch = NonNullable<CallMatch["service"]>;

/**
 * A route's retries. Oneway calls are kept out (retriable_request_headers: only streams whose kind
 * header, x-dubbo-kind or x-thrift-kind, is not `oneway`): a oneway has no answer, so a reset after
 * the provider took it says nothing about delivery, and a retry could hand it over a second time.
 * `previous_hosts` sends each retry to an endpoint not yet tried.
 */
export function retryPolicy(retries: NonNullable<MetaRoute["retries"]>, protocol: string): Record<string, unknown> {
  return {
    retry_on: retries.retryOn.join(","),
    num_retries: { value: retries.attempts },
    ...(retries.perTryTimeout ? { per_try_timeout: duration(retries.perTryTimeout) } : {}),
    retry_host_predicate: [{
      name: "envoy.retry_host_predicates.previous_hosts",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" },
    }],
    host_selection_retry_max_attempts: 5,
    retriable_request_headers: [{ name: BRIDGES[protocol].kindHeader, string_match: { exact: "oneway" }, invert_match: true, treat_missing_header_as_empty: true }],
  };
}

const always = (key: string) => ({ runtime_key: key, default_value: { numerator: 100, denominator: "HUNDRED" } });

/**
 * HCM's local rate limit: the listener's filter has no bucket (requests pass), each limited route
 * brings its own in typed_per_filter_config; its stats are `<statPrefix>.http_local_rate_limit.*`.
 */
export function localRateLimitConfig(statPrefix: string, bucket?: { maxTokens: number; tokensPerFill: number; fillInterval: string }): Record<string, unknown> {
  return {
    "@type": LOCAL_RATE_LIMIT_TYPE,
    stat_prefix: statPrefix,
    ...(bucket ? {
      token_bucket: { max_tokens: bucket.maxTokens, tokens_per_fill: { value: bucket.tokensPerFill }, fill_interval: duration(bucket.fillInterval) },
      filter_enabled: always(`metaproto.${statPrefix}.local_rate_limit_enabled`),
      filter_enforced: always(`metaproto.${statPrefix}.local_rate_limit_enforced`),
    } : {}),
  };
}

/** The route's typed_per_filter_config: its own bucket when it has a local rate limit. */
export function routeFilterConfigs(statPrefix: string, route: MetaRoute): Record<string, unknown> {
  const bucket = route.localRateLimit?.tokenBucket;
  return bucket ? { [LOCAL_RATE_LIMIT_FILTER]: localRateLimitConfig(statPrefix, bucket) } : {};
}

/** RBAC off on a route (the heartbeat route: a consumer's keepalive is never denied). */
export const rbacOff = () => ({ [RBAC_FILTER]: { "@type": RBAC_PER_ROUTE_TYPE } });

type Principal = Record<string, unknown>;
const anyOf = (ids: Principal[]): Principal => (ids.length === 1 ? ids[0] : { or_ids: { ids } });
const allOf = (ids: Principal[]): Principal => (ids.length === 0 ? { any: true } : ids.length === 1 ? ids[0] : { and_ids: { ids } });

function headerPrincipal(header: string, match: StringMatch): Principal {
  if ("present" in match) return { header: { name: header, present_match: true } };
  return { header: { name: header, string_match: "regex" in match ? { safe_regex: { regex: match.regex } } : match } };
}

/** A filter call match as one RBAC principal over the bridge's headers and the consumer's address. */
function principalOf(protocol: string, match: CallMatch = {}): Principal {
  const ids: Principal[] = [];
  if (match.service) ids.push(headerPrincipal(attributeHeader("service", protocol), match.service));
  if (match.method) ids.push(headerPrincipal(attributeHeader("method", protocol), match.method));
  for (const { name, ...m } of match.attributes ?? []) ids.push(headerPrincipal(attributeHeader(name, protocol), m as StringMatch));
  if (match.source_cidrs?.length) {
    ids.push(anyOf(match.source_cidrs.map((cidr) => {
      const [address, bits] = cidr.split("/");
      return { direct_remote_ip: { address_prefix: address, prefix_len: { value: Number(bits ?? 32) } } };
    })));
  }
  return allOf(ids);
}

/**
 * The filter's authz (first matching rule's action, else default_action) as one ALLOW policy: a
 * request is allowed when an allow rule matches and no deny rule before it does, or when no rule
 * matches and the default is allow. No principal at all: RBAC denies everything.
 */
export function rbacFilterConfig(authz: Authz, protocol: string): Record<string, unknown> {
  const rules = (authz.rules ?? []).map((rule) => ({ action: rule.action, principal: principalOf(protocol, rule.match) }));
  const principals: Principal[] = [];
  rules.forEach((rule, i) => {
    if (rule.action !== "allow") return;
    const earlierDenies = rules.slice(0, i).filter((r) => r.action === "deny").map((r) => r.principal);
    principals.push(earlierDenies.length ? allOf([rule.principal, { not_id: anyOf(earlierDenies) }]) : rule.principal);
  });
  if ((authz.default_action ?? "allow") === "allow") principals.push(rules.length ? { not_id: anyOf(rules.map((r) => r.principal)) } : { any: true });
  return {
    "@type": RBAC_TYPE,
    rules: { action: "ALLOW", policies: principals.length ? { authz: { permissions: [{ any: true }], principals } } : {} },
  };
}

/** HCM's http filters before the router, for what the Service and its routes ask for. */
export function routerModeHttpFilters(service: ServiceDocument, routes: MetaRoute[]): Record<string, unknown>[] {
  const authz = service.spec.codec.policy?.authz;
  return [
    // RBAC first: a denied request takes no token.
    ...(authz ? [{ name: RBAC_FILTER, typed_config: rbacFilterConfig(authz, service.spec.protocol) }] : []),
    ...(routes.some((route) => route.localRateLimit) ? [{ name: LOCAL_RATE_LIMIT_FILTER, typed_config: localRateLimitConfig(service.metadata.name) }] : []),
  ];
}

/** The fields whose values are given, wrapped as Envoy's UInt32Value / Duration. */
const given = (fields: Record<string, number | string | undefined>) => Object.fromEntries(Object.entries(fields)
  .filter(([, value]) => value !== undefined)
  .map(([field, value]) => [field, typeof value === "string" ? duration(value) : { value }]));

/** A bridged cluster's outlier detection and circuit breakers, from the Service that owns it. */
export function clusterPolicy(service: ServiceDocument): Record<string, unknown> {
  const { outlierDetection: o, circuitBreakers: c } = service.spec;
  return {
    ...(o ? {
      outlier_detection: given({
        consecutive_5xx: o.consecutive5xx,
        consecutive_gateway_failure: o.consecutiveGatewayFailure,
        // Each kind is enforced only when asked for (Envoy enforces consecutive 5xx by default).
        enforcing_consecutive_5xx: o.consecutive5xx === undefined ? 0 : 100,
        enforcing_consecutive_gateway_failure: o.consecutiveGatewayFailure === undefined ? 0 : 100,
        interval: o.interval,
        base_ejection_time: o.baseEjectionTime,
        max_ejection_percent: o.maxEjectionPercent,
      }),
    } : {}),
    ...(c ? {
      circuit_breakers: {
        thresholds: [{
          priority: "DEFAULT",
          ...given({ max_connections: c.maxConnections, max_pending_requests: c.maxPendingRequests, max_requests: c.maxRequests, max_retries: c.maxRetries }),
        }],
      },
    } : {}),
  };
}
