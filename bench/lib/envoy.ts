// One Envoy for all proxied targets of a protocol: a listener per target, each with its own cluster
// to the same backend, so stats and connections can be told apart. The pinned binary, the
// stats config and `envoy_bin` come from test/lib/envoy.sh so the benchmark runs what the rigs run.
import { execFileSync } from "child_process";
import { writeFileSync } from "fs";
import * as http from "http";
import * as path from "path";
import { Child, freePort, startChild, stopChild, tail, waitFor } from "./processes";

function fromEnvoySh(repo: string, fn: string, ...args: string[]): string {
  return execFileSync("bash", ["-c", `REPO="$1"; shift; . "$REPO/test/lib/envoy.sh"; ${fn} "$@"`, "bash", repo, ...args], { encoding: "utf8" });
}

export function envoyBinary(repo: string): string {
  return fromEnvoySh(repo, "envoy_bin").trim();
}

export function envoyVersion(binary: string): string {
  const out = execFileSync(binary, ["--version"], { encoding: "utf8" });
  const m = /version:\s*(\S+)/.exec(out);
  return m ? m[1] : out.trim();
}

/** The body of `stats_config:` (stats_tags, histogram buckets) that test/lib/envoy.sh uses. */
export function metaprotoStatsConfigYaml(repo: string): string {
  return fromEnvoySh(repo, "metaproto_stats_config_yaml").trimEnd();
}

export function indent(text: string, spaces: number): string {
  const pad = " ".repeat(spaces);
  return text.trimEnd().split("\n").map((l) => (l.length > 0 ? pad + l : l)).join("\n");
}

export function tcpProxyFilterYaml(cluster: string, statPrefix: string): string {
  return `- name: envoy.filters.network.tcp_proxy
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
    stat_prefix: ${statPrefix}
    cluster: ${cluster}
`;
}

/** The MetaProto sidecar chain: the Wasm network filter with the codec's module, then tcp_proxy (as the rigs run it). */
export function metaprotoFiltersYaml(repo: string, wasm: string, pluginConfig: string, cluster: string, statPrefix: string): string {
  return fromEnvoySh(repo, "metaproto_filters_yaml", wasm, pluginConfig, cluster, statPrefix);
}

export interface ListenerSpec {
  /** Target name; also the listener, stat prefix and cluster suffix. */
  name: string;
  port: number;
  /** Filter chain items; receives the cluster and stat prefix to use. */
  filters(cluster: string, statPrefix: string): string;
}

export function bootstrapYaml(repo: string, adminPort: number, backendPort: number, listeners: ListenerSpec[]): string {
  const listenerYaml = listeners.map((l) => `- name: ${l.name}
  address: { socket_address: { address: 127.0.0.1, port_value: ${l.port} } }
  filter_chains:
  - filters:
${indent(l.filters(`backend_${l.name}`, `bench_${l.name}`), 4)}`).join("\n");
  const clusterYaml = listeners.map((l) => `- name: backend_${l.name}
  type: STATIC
  connect_timeout: 2s
  load_assignment:
    cluster_name: backend_${l.name}
    endpoints:
    - lb_endpoints:
      - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${backendPort} } } }`).join("\n");
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: ${adminPort} } }
stats_config:
${indent(metaprotoStatsConfigYaml(repo), 2)}
static_resources:
  listeners:
${indent(listenerYaml, 2)}
  clusters:
${indent(clusterYaml, 2)}
`;
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
