// One Envoy for all proxied targets of a protocol: a listener per target, each with its own cluster
// to the same backend, so stats and connections can be told apart. The configuration is built from
// the control plane's pieces (control-plane/resources/pieces.ts), as the rigs' is, so the benchmark
// runs MetaProto as the rigs and `metaproto` do; the pinned binary is `envoy_bin` of test/lib/envoy.sh.
import { execFileSync } from "child_process";
import { writeFileSync } from "fs";
import * as http from "http";
import * as path from "path";
import * as YAML from "yaml";
import { grpcCluster, listener, NetworkFilter, staticCluster, staticResourcesBootstrap, tcpProxyFilter, wasmFilter } from "../../control-plane/resources/pieces";
import { Child, freePort, startChild, stopChild, tail, waitFor } from "./processes";
import type { NativeFilter } from "./protocol";

export function envoyBinary(repo: string): string {
  return execFileSync("bash", ["-c", 'REPO="$1"; . "$REPO/test/lib/envoy.sh"; envoy_bin', "bash", repo], { encoding: "utf8" }).trim();
}

export function envoyVersion(binary: string): string {
  const out = execFileSync(binary, ["--version"], { encoding: "utf8" });
  const m = /version:\s*(\S+)/.exec(out);
  return m ? m[1] : out.trim();
}

/** A listener's filter chain, given the cluster it sends to and its stat prefix. */
export type FilterChain = (cluster: string, statPrefix: string) => NetworkFilter[];

/** tcp_proxy alone. */
export const tcpProxyChain: FilterChain = (cluster, statPrefix) => [tcpProxyFilter({ statPrefix, cluster })];

/** The MetaProto sidecar chain: the Wasm network filter with a module, then tcp_proxy (as the rigs run it). */
export function metaprotoChain(wasm: string, pluginConfig: string): FilterChain {
  return (cluster, statPrefix) => [wasmFilter({ moduleFile: wasm, configuration: pluginConfig }), tcpProxyFilter({ statPrefix, cluster })];
}

/** Envoy's own filter for the protocol, from the YAML list items the protocol writes. */
export function nativeChain(native: NativeFilter): FilterChain {
  return (cluster, statPrefix) => YAML.parse(native.filtersYaml(cluster, statPrefix)) as NetworkFilter[];
}

/** What a target whose configuration comes whole adds to the bootstrap (router mode: the control plane's translation). */
export interface EnvoyResources {
  listeners: Record<string, unknown>[];
  clusters: Record<string, unknown>[];
  bootstrapExtensions: Record<string, unknown>[];
  /** The cluster whose connections reach the backend (for the idle-connection count). */
  upstreamCluster: string;
}

export interface ListenerSpec {
  /** Target name; also the listener, stat prefix and cluster suffix (a chain's). */
  name: string;
  port: number;
  /** A listener on `port` with this chain to its own STATIC cluster `backend_<name>`, or */
  filters?: FilterChain;
  /** everything the target needs, its listener on `port`, given the backend's port. */
  resources?: (port: number, backendPort: number) => EnvoyResources;
}

/** The cluster of a target whose connections reach the backend. */
export const upstreamClusterOf = (l: ListenerSpec, backendPort: number) =>
  l.resources ? l.resources(l.port, backendPort).upstreamCluster : `backend_${l.name}`;

export function bootstrapYaml(adminPort: number, backendPort: number, listeners: ListenerSpec[],
  grpcClusters: { name: string; port: number }[] = []): string {
  const chains = listeners.filter((l) => l.filters);
  const whole = listeners.flatMap((l) => (l.resources ? [l.resources(l.port, backendPort)] : []));
  const { static_resources: resources, ...frame } = staticResourcesBootstrap(
    { adminPort },
    [
      ...chains.map((l) => listener(l.name, "127.0.0.1", l.port, l.filters!(upstreamClusterOf(l, backendPort), `bench_${l.name}`))),
      ...whole.flatMap((r) => r.listeners),
    ],
    [
      ...chains.map((l) => staticCluster(upstreamClusterOf(l, backendPort), [{ address: "127.0.0.1", port: backendPort }])),
      ...whole.flatMap((r) => r.clusters),
      ...grpcClusters.map(({ name, port }) => grpcCluster(name, [{ address: "127.0.0.1", port }])),
    ],
  );
  const extensions = [...new Map(whole.flatMap((r) => r.bootstrapExtensions).map((e) => [e.name, e])).values()];
  return YAML.stringify({ ...frame, ...(extensions.length ? { bootstrap_extensions: extensions } : {}), static_resources: resources });
}

export class Envoy {
  constructor(readonly child: Child, readonly adminPort: number) {}

  get pid(): number {
    return this.child.pid;
  }

  admin(pathAndQuery: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port: this.adminPort, path: pathAndQuery, timeout: 5000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`admin ${pathAndQuery}: HTTP ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error(`admin ${pathAndQuery}: timeout`)));
    });
  }

  /** Sum of the /stats counters and gauges whose name matches `pattern`. */
  async statSum(pattern: RegExp): Promise<number> {
    const text = await this.admin("/stats");
    let sum = 0;
    for (const line of text.split("\n")) {
      const i = line.lastIndexOf(": ");
      if (i < 0) continue;
      const name = line.slice(0, i);
      const value = Number(line.slice(i + 2));
      if (pattern.test(name) && Number.isFinite(value)) sum += value;
    }
    return sum;
  }

  /** Sum of the /stats/prometheus samples whose series (name{labels}) matches `pattern`. */
  async prometheusSum(pattern: RegExp): Promise<number> {
    const text = await this.admin("/stats/prometheus");
    let sum = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("#") || line.length === 0) continue;
      const i = line.lastIndexOf(" ");
      if (pattern.test(line.slice(0, i))) sum += Number(line.slice(i + 1));
    }
    return sum;
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

let baseId = 40000 + (process.pid % 10000);

export async function startEnvoy(binary: string, yaml: string, workDir: string, label: string, cpus: string | null,
  adminPort: number): Promise<Envoy> {
  const config = path.join(workDir, `envoy-${label}.yaml`);
  writeFileSync(config, yaml);
  const child = startChild(`envoy (${label})`, cpus, binary,
    ["-c", config, "--concurrency", "1", "--log-level", "warn", "--base-id", String(baseId++), "--disable-hot-restart"],
    path.join(workDir, `envoy-${label}.log`));
  const envoy = new Envoy(child, adminPort);
  const live = await waitFor(async () => child.process.exitCode === null && (await envoy.admin("/ready")).includes("LIVE"), 30_000);
  if (!live) {
    await stopChild(child);
    throw new Error(`Envoy did not become ready; its log (${child.logFile}):\n${tail(child.logFile)}`);
  }
  return envoy;
}

export { freePort };
