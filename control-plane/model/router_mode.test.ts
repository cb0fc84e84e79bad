import { formatError, loadSources } from "./load";
import { attributeHeader, isBridgedAttachmentKey } from "./router_mode";

const service = (name: string, port: number, { protocol = "dubbo", mode = "router", extra = "" } = {}) => `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: ${name} }
spec:
  protocol: ${protocol}
  mode: ${mode}
  port: ${port}
  subsets:
  - { name: v1, endpoints: [{ address: 127.0.0.1, port: 20881 }] }
  - { name: v2, endpoints: [{ address: 127.0.0.1, port: 20882 }] }
${extra}`;

const router = (routes: string, hosts = "[greeter]") => `apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: greeter }
spec:
  hosts: ${hosts}
  routes:
${routes}`;

const load = (...texts: string[]) => loadSources(texts.map((text, i) => ({ file: `f${i}.yaml`, text })));
const messages = (...texts: string[]) => load(...texts).errors.map(formatError);

describe("router mode in the model", () => {
  test("mode defaults to sidecar; router mode with per-request weights, matches and a mirror is accepted", () => {
    const sidecar = load(service("greeter", 20880).replace("  mode: router\n", ""));
    expect(sidecar.model!.services.get("greeter")!.value.spec.mode).toBe("sidecar");
    const routes = `  - match: { attributes: { method: { exact: fail }, tenant: { prefix: t }, service: { regex: "io\\\\..*" } } }
    route: [{ destination: { host: greeter, subset: v2 } }]
  - route:
    - { destination: { host: greeter, subset: v1 }, weight: 90 }
    - { destination: { host: greeter, subset: v2 }, weight: 10 }
    weightsPer: request
    mirror: { host: greeter, subset: v2 }
    mirrorPercentage: { value: 5 }
    timeout: 1.5s`;
    expect(messages(service("greeter", 20880), router(routes))).toEqual([]);
  });

  test("a per-request timeout only in router mode", () => {
    const routes = `  - route: [{ destination: { host: greeter } }]
    timeout: 500ms`;
    expect(messages(service("greeter", 20880, { mode: "sidecar" }), router(routes))).toEqual([
      expect.stringContaining("spec.routes[0].timeout: per-request timeouts: only router mode can honour it"),
    ]);
    expect(messages(service("greeter", 20880), router(routes.replace("500ms", "soon")))).toEqual([
      expect.stringContaining('spec.routes[0].timeout: must be a duration such as "500ms", "5s" or "1m" ("0s": no limit)'),
    ]);
  });

  test("router mode only for protocols with a bridge, and without the MetaProto filter's codec options", () => {
    expect(messages(service("cache", 6380, { protocol: "redis" }))).toEqual([
      expect.stringContaining("spec.mode: router mode needs a bridge from redis to HTTP/2, and there is none yet (bridges exist for: dubbo, thrift): use mode: sidecar"),
    ]);
    expect(messages(service("greeter", 20880).replace("  port: 20880", "  port: 20880\n  codec: { max_pending_calls: 8 }"))).toEqual([
      expect.stringContaining("spec.codec.max_pending_calls: router mode does not run the MetaProto filter"),
    ]);
    expect(messages(service("greeter", 20880).replace("mode: router", "mode: mesh"))).toEqual([
      expect.stringContaining('spec.mode: must be "sidecar" or "router"'),
    ]);
  });

  test("of the codec options, router mode takes policy.authz only (as HCM's RBAC), without deny_text or principals", () => {
    const codec = `  codec:
    max_pending_calls: 8
    policy:
      rate_limits: [{ name: r, max_tokens: 1, fill_interval_ms: 1000 }]
      authz:
        deny_text: go away
        rules:
        - { action: deny, match: { method: { exact: fail }, principals: [{ exact: spiffe://a }] } }
        - { action: allow, match: { attributes: [{ name: "a b", exact: x }] } }`;
    expect(messages(service("greeter", 20880).replace("  port: 20880", `  port: 20880\n${codec}`))).toEqual([
      expect.stringContaining("spec.codec.max_pending_calls: router mode does not run the MetaProto filter (the bridge and Envoy's HTTP router take its place), so it would do nothing: remove it, or use mode: sidecar"),
      expect.stringContaining("spec.codec.policy.rate_limits: router mode limits rates per route: move it to the MetaRouter route's localRateLimit"),
      expect.stringContaining("spec.codec.policy.authz.deny_text: router mode denies through HCM's RBAC"),
      expect.stringContaining("spec.codec.policy.authz.rules[0].match.principals: router mode's consumers are not on TLS"),
      expect.stringContaining("spec.codec.policy.authz.rules[1].match.attributes[0].name: the bridge passes on attachments whose keys are letters"),
    ]);
    const authz = "  codec: { policy: { authz: { default_action: deny, rules: [{ action: allow, match: { method: { exact: sayHello } } }] } } }";
    expect(messages(service("greeter", 20880).replace("  port: 20880", `  port: 20880\n${authz}`))).toEqual([]);
  });

  test("retries in router mode; outlier detection and circuit breakers on router-mode Services only", () => {
    const retried = `  - route: [{ destination: { host: greeter, subset: v1 } }]
    retries: { attempts: 2, retryOn: [reset, 5xx], perTryTimeout: 1s }`;
    const policy = "  outlierDetection: { consecutive5xx: 3, baseEjectionTime: 30s, maxEjectionPercent: 50 }\n  circuitBreakers: { maxRetries: 1000 }";
    expect(messages(service("greeter", 20880, { extra: policy }), router(retried))).toEqual([]);
    expect(messages(service("greeter", 20880, { mode: "sidecar", extra: policy }), router(retried))).toEqual([
      expect.stringContaining("(Service greeter) spec.outlierDetection: outlier detection: only router mode's HTTP/2 clusters see each request's outcome (sidecar mode's tcp_proxy sees connections): remove it, or give the Service mode: router"),
      expect.stringContaining("(Service greeter) spec.circuitBreakers: circuit breakers: only router mode's HTTP/2 clusters"),
      expect.stringContaining("(MetaRouter greeter) spec.routes[0].retries: retries of single requests: only router mode can honour it"),
    ]);
    expect(messages(service("greeter", 20880), router(retried.replace("reset, 5xx", "reset, sometimes")))).toEqual([
      expect.stringContaining("spec.routes[0].retries.retryOn[1]: must be one of reset, connect-failure, refused-stream, gateway-error, 5xx"),
    ]);
    expect(messages(service("greeter", 20880, { extra: "  outlierDetection: { interval: 1s }" }))).toEqual([
      expect.stringContaining("spec.outlierDetection: needs consecutive5xx, consecutiveGatewayFailure or both"),
    ]);
  });

  test("what router mode does not build yet is rejected and says so", () => {
    const routes = `  - route: [{ destination: { host: greeter, subset: v1 } }]
    weightsPer: connection
    mirrorPercentage: { value: 5 }
    requestMutation: [{ key: k, value: v }]
    localRateLimit: { conditions: [{ match: { attributes: { tenant: { exact: t1 } } }, tokenBucket: { maxTokens: 1, fillInterval: 1s } }] }
    globalRateLimit: { domain: d, rateLimitService: rls }
    responseMutation: [{ key: k, value: v }]`;
    expect(messages(service("greeter", 20880), router(routes))).toEqual([
      expect.stringContaining("spec.routes[0].weightsPer: router mode routes each request, so its weights are per request"),
      expect.stringContaining("spec.routes[0].mirrorPercentage: says how many requests to mirror, but the route has no mirror"),
      expect.stringContaining("spec.routes[0].requestMutation: request mutation: not built in router mode yet"),
      expect.stringContaining("spec.routes[0].localRateLimit.conditions[0]: per-attribute buckets are not built in router mode yet (HCM's local rate limit has one bucket per route): give the condition a route of its own"),
      expect.stringContaining("spec.routes[0].globalRateLimit: global rate limit: not built in router mode yet"),
      expect.stringContaining("spec.routes[0].responseMutation: response mutation: not built in router mode yet"),
    ]);
  });

  test("a router-mode route's destinations, mirror and hosts are router-mode Services; attachment keys the bridge passes on", () => {
    const legacy = service("legacy", 20990, { mode: "sidecar" });
    const routes = `  - match: { attributes: { "bad key": { exact: x } } }
    route: [{ destination: { host: legacy, subset: v1 } }]
    mirror: { host: legacy, subset: v3 }
  - route: [{ destination: { host: greeter } }]
    mirror: { host: legacy }`;
    expect(messages(service("greeter", 20880), legacy, router(routes))).toEqual([
      expect.stringContaining('spec.routes[0].route[0].destination.host: Service "legacy" is in sidecar mode'),
      expect.stringContaining("spec.routes[0].match.attributes.bad key: the bridge passes on attachments whose keys are letters, digits"),
      expect.stringContaining('spec.routes[0].mirror.subset: Service "legacy" has no subset "v3"'),
      expect.stringContaining('spec.routes[1].mirror.host: Service "legacy" is in sidecar mode'),
    ]);
    expect(messages(service("greeter", 20880), legacy, router("  - route: [{ destination: { host: greeter } }]", "[greeter, legacy]"))).toEqual([
      expect.stringContaining("spec.hosts: routes both sidecar-mode and router-mode Services (greeter: router, legacy: sidecar)"),
    ]);
  });

  test("a route without a match takes every request: it must come last", () => {
    const routes = `  - route: [{ destination: { host: greeter, subset: v1 } }]
  - match: { attributes: { method: { exact: fail } } }
    route: [{ destination: { host: greeter, subset: v2 } }]`;
    expect(messages(service("greeter", 20880), router(routes))).toEqual([
      expect.stringContaining("spec.routes[1]: never chosen: route 0 has no match and takes every request"),
    ]);
  });

  test("match attributes are the bridge's headers", () => {
    expect(["service", "method", "Tenant", "trace.id"].map((attribute) => attributeHeader(attribute)))
      .toEqual(["x-dubbo-service", "x-dubbo-method", "x-dubbo-attachment-tenant", "x-dubbo-attachment-trace.id"]);
    expect(["service", "method", "Tenant"].map((attribute) => attributeHeader(attribute, "thrift")))
      .toEqual(["x-thrift-service", "x-thrift-method", "x-thrift-header-tenant"]);
    expect(["tenant", "Trace_ID", "a b", "é", ""].map(isBridgedAttachmentKey)).toEqual([true, true, false, false, false]);
  });
});
