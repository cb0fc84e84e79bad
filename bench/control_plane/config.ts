// The configuration the control-plane benchmark serves: N Services, each with a MetaRouter of one
// route. Sidecar mode allows one route per MetaRouter and one MetaRouter per Service (model/cross_check.ts),
// so N routes means N routed Services, each its own Envoy listener.
import { renameSync, writeFileSync } from "fs";
import * as net from "net";

/** Protocol mix of the generated Services, per 10 Services. */
const PROTOCOL_MIX = ["redis", "redis", "redis", "redis", "dubbo", "dubbo", "dubbo", "thrift", "thrift", "mysql"];

/**
 * What a change touches: every route's weights (an EDS update), every route's rate limit (an ECDS
 * update), or the weights of one route only (the everyday edit: the whole file is still read again).
 */
export const CHANGE_KINDS = ["weights", "rate_limit", "one_route"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface ConfigShape {
  routes: number;
  /** First of `routes` consecutive listener ports on 127.0.0.1. */
  listenerPortBase: number;
  /** How often each knob was moved: the weights and the rate limit derive from these, so every save differs. */
  weightsGeneration: number;
  rateLimitGeneration: number;
  /** Moves the weights of the first route only. */
  firstRouteGeneration: number;
}

export function protocolOf(index: number, protocols: string[]): string {
  const mix = PROTOCOL_MIX.filter((p) => protocols.includes(p));
  return (mix.length ? mix : protocols)[index % (mix.length || protocols.length)];
}

export const serviceName = (index: number) => `svc-${String(index).padStart(4, "0")}`;

/** The canary weight of subset v1: 95, 90, ..., 55, then again. Never 100, so both destinations stay localities. */
const canaryWeight = (generation: number) => 95 - 5 * (generation % 9);

export function renderConfig(shape: ConfigShape, protocols: string[]): string {
  const docs: string[] = [];
  const maxTokens = 1000 + shape.rateLimitGeneration;
  for (let i = 0; i < shape.routes; i++) {
    const name = serviceName(i);
    const v1 = canaryWeight(shape.weightsGeneration + (i === 0 ? shape.firstRouteGeneration : 0));
    // Upstream addresses are never dialled (no traffic in this benchmark): any valid address will do.
    const upstreamPort = 30000 + (i % 10000);
    docs.push(`apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: ${name}, labels: { team: team-${i % 20} } }
spec:
  protocol: ${protocolOf(i, protocols)}
  port: ${shape.listenerPortBase + i}
  codec: { on_decode_error: pass_through }
  subsets:
  - name: v1
    labels: { version: v1 }
    endpoints: [{ address: 10.1.${i >> 8}.${i & 255}, port: ${upstreamPort} }, { address: 10.2.${i >> 8}.${i & 255}, port: ${upstreamPort} }]
  - name: v2
    labels: { version: v2 }
    endpoints: [{ address: 10.3.${i >> 8}.${i & 255}, port: ${upstreamPort} }]
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: ${name} }
spec:
  hosts: [${name}]
  routes:
  - name: canary
    route:
    - { destination: { host: ${name}, subset: v1 }, weight: ${v1} }
    - { destination: { host: ${name}, subset: v2 }, weight: ${100 - v1} }
    localRateLimit:
      tokenBucket: { maxTokens: ${maxTokens}, tokensPerFill: 100, fillInterval: 1s }
`);
  }
  return docs.join("---\n");
}

/** Saves the way editors do: a new file renamed over the old one. Returns the epoch ms (fractional) of the rename. */
export function saveConfig(file: string, text: string): number {
  writeFileSync(`${file}.new`, text);
  const at = performance.timeOrigin + performance.now();
  renameSync(`${file}.new`, file);
  return at;
}

/** The next configuration: one knob moved (in every route, or in the first). */
export function changed(shape: ConfigShape, kind: ChangeKind): ConfigShape {
  if (kind === "weights") return { ...shape, weightsGeneration: shape.weightsGeneration + 1 };
  if (kind === "rate_limit") return { ...shape, rateLimitGeneration: shape.rateLimitGeneration + 1 };
  return { ...shape, firstRouteGeneration: shape.firstRouteGeneration + 1 };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free ports below the kernel's ephemeral range (32768+), where `free_port` of the
 * rigs and port 0 never hand out ports, so other runs on the machine do not take them meanwhile.
 */
export async function freePortRange(count: number, from = 20000, below = 32768): Promise<number> {
  for (let base = from; base + count <= below; ) {
    let ok = true;
    for (let p = base; p < base + count; p++) {
      if (!(await portFree(p))) {
        base = p + 1;
        ok = false;
        break;
      }
    }
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports between ${from} and ${below}`);
}
