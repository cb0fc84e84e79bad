// The configuration model: YAML documents in the Kubernetes style (apiVersion, kind, metadata, spec).
// `Service` describes a protocol listener and the subsets of endpoints behind it; `MetaRouter` routes
// its calls, field for field after Aeraki's MetaRouter so its users can move over.
import * as net from "net";
import { z } from "zod";
import { FilterConfig } from "./filter_config.generated";
import * as spec from "./spec_rules";

export const API_VERSION = "metaproto.io/v1alpha1";

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
  error: "must be a lowercase DNS label (a-z, 0-9, '-'; starts and ends with a letter or digit)",
}).max(63, { error: "must be at most 63 characters" });

const whole = (min: number, max: number) => spec.number(min, max, true, true);

const port = whole(1, 65535);

const ipAddress = z.string().refine((value) => net.isIP(value) !== 0, {
  error: "must be an IPv4 or IPv6 address (Envoy connects to addresses, not host names, here)",
});

const metadata = z.strictObject({
  name,
  namespace: name.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

/**
 * The MetaProto filter's configuration (the Wasm plugin's JSON `configuration`): generated from its
 * .proto (api/proto/metaproto/filter/v1alpha1/filter_config.proto), as is the filter's own reader.
 */
export const codecOptions = FilterConfig;

const endpoint = z.strictObject({
  address: ipAddress,
  port,
  weight: whole(1, 128).optional(),
});

const subset = z.strictObject({
  name,
  labels: z.record(z.string(), z.string()).optional(),
  endpoints: z.array(endpoint).min(1, { error: "needs at least one endpoint" }),
});

const clusterDuration = z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, { error: 'must be a duration such as "500ms", "10s" or "1m"' });

export const serviceSpec = z.strictObject({
  protocol: z.string().regex(/^[a-z][a-z0-9_]*$/, { error: "must name a codec (dubbo, thrift, redis, mysql, or the folder name of your own codec)" }),
  port,
  address: ipAddress.default("127.0.0.1"),
  codec: codecOptions.default({}),
  failurePolicy: z.enum(["FAIL_CLOSED", "FAIL_OPEN", "FAIL_RELOAD"], { error: "must be FAIL_CLOSED, FAIL_OPEN or FAIL_RELOAD" }).default("FAIL_RELOAD"),
  connectTimeout: z.string().regex(/^\d+(\.\d+)?(ms|s)$/, { error: 'must be a duration such as "2s" or "500ms"' }).default("2s"),
  subsets: z.array(subset).min(1, { error: "needs at least one subset (name, labels, endpoints)" }),
  /**
   * sidecar: the MetaProto filter before tcp_proxy, routing whole connections. router: a bridge
   * (protocol ⇄ HTTP/2) before Envoy's HTTP connection manager, routing each request (README "Router mode").
   */
  mode: z.enum(["sidecar", "router"], { error: 'must be "sidecar" or "router"' }).default("sidecar"),
  /** Router mode: each of the Service's clusters ejects an endpoint that keeps failing (Envoy's outlier_detection). */
  outlierDetection: z.strictObject({
    consecutive5xx: whole(1, 1000).optional(),
    consecutiveGatewayFailure: whole(1, 1000).optional(),
    interval: clusterDuration.optional(),
    baseEjectionTime: clusterDuration.optional(),
    maxEjectionPercent: whole(1, 100).optional(),
  }).refine((o) => o.consecutive5xx !== undefined || o.consecutiveGatewayFailure !== undefined,
    { error: "needs consecutive5xx, consecutiveGatewayFailure or both: the failures in a row that eject an endpoint" }).optional(),
  /** Router mode: limits of each of the Service's clusters (Envoy's circuit_breakers, default priority). */
  circuitBreakers: z.strictObject({
    maxConnections: whole(1, 4294967295).optional(),
    maxPendingRequests: whole(1, 4294967295).optional(),
    maxRequests: whole(1, 4294967295).optional(),
    maxRetries: whole(0, 4294967295).optional(),
  }).optional(),
});

const stringMatch = z.union([
  z.strictObject({ exact: z.string() }),
  z.strictObject({ prefix: z.string() }),
  z.strictObject({ regex: z.string() }),
], { error: "must be one of {exact: ...}, {prefix: ...} or {regex: ...}" });

const destination = z.strictObject({
  host: name,
  subset: name.optional(),
  port: port.optional(),
});

const tokenBucket = z.strictObject({
  maxTokens: whole(1, 4294967295),
  tokensPerFill: whole(1, 4294967295).default(1),
  fillInterval: z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, { error: 'must be a duration such as "1s"' }),
});

const mutation = z.array(z.strictObject({ key: z.string().min(1), value: z.string() }));

/**
 * Envoy's retry_on conditions a router-mode route may name. The bridge reaches a dead provider through
 * an internal listener that always accepts, so a refused connection shows as a stream `reset`.
 */
export const RETRY_ON = ["reset", "connect-failure", "refused-stream", "gateway-error", "5xx"] as const;

const route = z.strictObject({
  name: z.string().min(1).optional(),
  match: z.strictObject({ attributes: z.record(z.string(), stringMatch) }).optional(),
  route: z.array(z.strictObject({ destination, weight: whole(0, 100).optional() }))
    .min(1, { error: "needs at least one destination" }),
  /**
   * Sidecar mode picks a destination per new connection, router mode per request; left out, each
   * mode's own. Only said to reject what a mode cannot do.
   */
  weightsPer: z.enum(["connection", "request"]).optional(),
  mirror: destination.optional(),
  /** Router mode: how long a request may wait for its answer ("0s": no limit; left out: Envoy's 15 s). */
  timeout: z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, { error: 'must be a duration such as "500ms", "5s" or "1m" ("0s": no limit)' }).optional(),
  mirrorPercentage: z.strictObject({ value: z.number().min(0).max(100) }).optional(),
  /**
   * Router mode: a failed request is sent again, to another endpoint when there is one. Oneway calls
   * are never retried (their stream carries x-dubbo-kind: oneway; a retry could deliver them twice).
   */
  retries: z.strictObject({
    attempts: whole(1, 10),
    retryOn: z.array(z.enum(RETRY_ON, { error: `must be one of ${RETRY_ON.join(", ")}` })).min(1).default(["reset", "connect-failure"]),
    perTryTimeout: z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, { error: 'must be a duration such as "500ms" or "5s"' }).optional(),
  }).optional(),
  requestMutation: mutation.optional(),
  responseMutation: mutation.optional(),
  localRateLimit: z.strictObject({
    tokenBucket: tokenBucket.optional(),
    conditions: z.array(z.strictObject({ match: z.strictObject({ attributes: z.record(z.string(), stringMatch) }), tokenBucket })).optional(),
  }).optional(),
  globalRateLimit: z.strictObject({
    domain: z.string().min(1),
    match: z.strictObject({ attributes: z.record(z.string(), stringMatch) }).optional(),
    descriptors: z.array(z.strictObject({ property: z.string(), descriptorKey: z.string() })).optional(),
    rateLimitService: z.string().min(1),
    requestTimeout: z.string().optional(),
    denyOnFail: z.boolean().optional(),
  }).optional(),
});

export const metaRouterSpec = z.strictObject({
  hosts: z.array(name).min(1, { error: "needs at least one host (a Service's metadata.name)" }),
  routes: z.array(route).min(1, { error: "needs at least one route" }),
});

export const serviceDocument = z.strictObject({
  apiVersion: z.literal(API_VERSION, { error: `must be "${API_VERSION}"` }),
  kind: z.literal("Service"),
  metadata,
  spec: serviceSpec,
});

export const metaRouterDocument = z.strictObject({
  apiVersion: z.literal(API_VERSION, { error: `must be "${API_VERSION}"` }),
  kind: z.literal("MetaRouter"),
  metadata,
  spec: metaRouterSpec,
});

/** A duration such as "200ms", "5s", "10m" or "1h" (parseDuration reads it). */
const duration = z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/, { error: 'must be a duration such as "500ms", "5s", "10m" or "1h"' });

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a duration the schema accepted ("500ms", "5s", "10m", "1h"). */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

const listenAddress = z.strictObject({
  address: ipAddress.default("127.0.0.1"),
  /** 0: any free port (the receiver logs the one it got). */
  port: whole(0, 65535),
});

const telemetrySignals = z.array(z.enum(["traces", "logs"], { error: 'must be "traces" or "logs"' }))
  .min(1, { error: "needs at least one signal: traces, logs" });

const telemetrySink = z.union([
  z.strictObject({
    jsonLines: z.strictObject({ name: z.string().min(1).optional(), path: z.string().min(1), signals: telemetrySignals.optional() }),
  }),
  z.strictObject({
    otlp: z.strictObject({
      name: z.string().min(1).optional(),
      endpoint: z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/, { error: "must be HOST:PORT of an OTLP gRPC endpoint, e.g. 127.0.0.1:4317" }),
      signals: telemetrySignals.optional(),
      timeout: duration.default("5s"),
    }),
  }),
], { error: "needs exactly one of jsonLines: {path}, otlp: {endpoint}" });

/** The telemetry receiver (README "Telemetry receiver"): where it listens, enrichment, batching, buffering, sinks. */
export const telemetrySpec = z.strictObject({
  otlp: z.strictObject({
    grpc: listenAddress.optional(),
    /** OTLP/HTTP (protobuf): POST /v1/traces, /v1/logs; and the receiver's metrics: GET /metrics. */
    http: listenAddress.optional(),
  }).prefault({ grpc: { port: 4317 }, http: { port: 4318 } }),
  enrichment: z.strictObject({
    refreshInterval: duration.default("10m"),
    expireAfter: duration.default("3m"),
    checkInterval: duration.default("1m"),
    /** Attribute pairs holding addresses, and the prefix of what is added for each. */
    addresses: z.array(z.strictObject({ address: z.string().min(1), port: z.string().min(1), prefix: z.string().min(1) })).optional(),
  }).prefault({}),
  batch: z.strictObject({
    maxRecords: whole(1, 1_000_000).default(512),
    maxDelay: duration.default("1s"),
  }).prefault({}),
  buffer: z.strictObject({
    /** Per sink and signal: records held while a sink is down. */
    maxRecords: whole(1, 100_000_000).default(10_000),
  }).prefault({}),
  retry: z.strictObject({
    initialBackoff: duration.default("200ms"),
    maxBackoff: duration.default("5s"),
    multiplier: z.number().min(1).max(10).default(2),
  }).prefault({}),
  sinks: z.array(telemetrySink).min(1, { error: "needs at least one sink" })
    .default([{ jsonLines: { path: "metaproto-telemetry.jsonl" } }]),
  /** How long stopping waits for buffered records to reach the sinks. */
  shutdownGrace: duration.default("5s"),
});

export const telemetryDocument = z.strictObject({
  apiVersion: z.literal(API_VERSION, { error: `must be "${API_VERSION}"` }),
  kind: z.literal("Telemetry"),
  metadata,
  spec: telemetrySpec.prefault({}),
});

export const KINDS = { Service: serviceDocument, MetaRouter: metaRouterDocument, Telemetry: telemetryDocument } as const;
export type Kind = keyof typeof KINDS;

export type ServiceDocument = z.infer<typeof serviceDocument>;
export type MetaRouterDocument = z.infer<typeof metaRouterDocument>;
export type TelemetryDocument = z.infer<typeof telemetryDocument>;
export type TelemetrySpec = z.infer<typeof telemetrySpec>;

/** The name a sink's metrics and logs carry: its own, else "jsonl" or "otlp:<endpoint>". */
export function sinkName(sink: TelemetrySpec["sinks"][number]): string {
  return "jsonLines" in sink ? sink.jsonLines.name ?? "jsonl" : sink.otlp.name ?? `otlp:${sink.otlp.endpoint}`;
}
export type CodecOptions = FilterConfig;
export type MetaRoute = MetaRouterDocument["spec"]["routes"][number];
