// Runs one protocol: codec micro-benchmark and Wasm memory (host emulator), then the backend, one
// Envoy with a listener per proxied target, the load shapes against every target interleaved
// round by round, the MetaProto sanity check, and Envoy's memory per idle connection.
import { createHash } from "crypto";
import { existsSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { probeTarget } from "./connections";
import { DriverSpec } from "./load_driver";
import { Envoy, ListenerSpec, bootstrapYaml, metaprotoChain, nativeChain, startEnvoy, tcpProxyChain } from "./envoy";
import { EnvoyIdleMemory, envoyIdleMemory } from "./envoy_idle";
import { log } from "./log";
import type { Pinning } from "./pinning";
import { rssBytes } from "./proc_stats";
import { Child, freePort, logContains, portOpen, runToCompletion, startChild, stopChild, waitFor } from "./processes";
import type { Backend, BenchOptions, ProtocolBench, RunResult, Shape } from "./protocol";
import { ROUTER_TARGET, routerBridge, routerResources } from "./router_target";
import { DecodeRate, IdleMemory, decodeRate, idleMemory } from "./wasm_bench";

/** `router`: router mode (the bridge, HCM and an internal listener), which emits no metaproto_* metrics. */
export type TargetKind = "direct" | "tcp_proxy" | "wasm_floor" | "read_floor" | "metaproto" | "router" | "native";

/**
 * Wasm filters that do less than MetaProto, run beside it so its cost splits into what any Wasm
 * filter pays, what reading the bytes into the VM costs, and its own decode, pairing and metrics.
 */
export const FLOOR_TARGETS: { name: "wasm_floor" | "read_floor"; source: string; note: string }[] = [
  { name: "wasm_floor", source: "bench/assembly/empty_filter.ts", note: "an empty Wasm network filter (bench/assembly/empty_filter.ts) + tcp_proxy" },
  { name: "read_floor", source: "bench/assembly/read_floor.ts", note: "a Wasm network filter that reads every byte into the VM and nothing else (bench/assembly/read_floor.ts) + tcp_proxy" },
];

/** The MetaProto target with a policy chain configured that lets every call through. */
export const POLICY_TARGET = "metaproto_policy";

/**
 * The plugin configuration plus a policy whose every stage runs and lets the call through: an
 * authz rule that never matches, and a rate limit (shared data read and written per call) that
 * never runs dry.
 */
export function withPassingPolicy(pluginConfig: string): string {
  const config = pluginConfig.trim().length > 0 ? JSON.parse(pluginConfig) : {};
  config.policy = {
    authz: { default_action: "allow", rules: [{ action: "deny", match: { method: { exact: "__metaproto_never__" } } }] },
    rate_limits: [{ name: "bench", max_tokens: 1e12, tokens_per_fill: 1e12, fill_interval_ms: 1000 }],
  };
  return JSON.stringify(config);
}

/** MetaProto targets with tracing on: every call sampled, and 1 % of them. */
export const TRACING_TARGETS: ReadonlyArray<{ name: string; percent: number }> = [
  { name: "metaproto_tracing_100", percent: 100 },
  { name: "metaproto_tracing_1", percent: 1 },
];

/**
 * The cluster the tracing targets export spans to (OTLP over gRPC): a `metaproto receiver` child
 * writing to /dev/null, pinned with the backend, so Envoy's CPU per call includes the gRPC send.
 */
export const BENCH_COLLECTOR_CLUSTER = "metaproto_bench_otlp";

/** The plugin configuration plus tracing at `percent` sampling (contexts the load carries are ignored). */
/** The OTLP collector of the tracing targets: `metaproto receiver`, records to /dev/null. */
async function startCollector(env: RunnerEnv, protocol: string): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const child = startChild(`${protocol} OTLP collector`, env.pin.backend, process.execPath,
    [path.join(env.repo, "control-plane/bin/metaproto.js"), "--log-level", "warn", "receiver", "--grpc-listen", `127.0.0.1:${port}`,
      "--http-listen", "off", "--jsonl", "/dev/null"],
    path.join(env.workDir, `${protocol}-collector.log`));
  if (!(await waitFor(async () => await portOpen(port), 20_000))) throw new Error(`the OTLP collector (metaproto receiver) did not listen on :${port}`);
  return { child, port };
}

export function withTracing(pluginConfig: string, percent: number): string {
  const config = pluginConfig.trim().length > 0 ? JSON.parse(pluginConfig) : {};
  config.tracing = { collector_cluster: BENCH_COLLECTOR_CLUSTER, sampling: { percent, parent_based: false } };
  return JSON.stringify(config);
}

export interface TargetInfo {
  name: string;
  kind: TargetKind;
  /** "ok", "not built" or "failed: <why>". */
  status: string;
  note?: string;
  port?: number;
}

export interface Measurement {
  shape: string;
  target: string;
  round: number;
  result?: RunResult;
  error?: string;
  /** Envoy's RSS right after the run (one Envoy serves every proxied target). */
  envoyRssBytes?: number;
}

export interface ProtocolReport {
  protocol: string;
  wasm: string;
  wasmStatus: string;
  /** sha256 (first 16 hex digits) and modification time of the module measured. */
  wasmSha256?: string;
  wasmModified?: string;
  backend: string;
  targets: TargetInfo[];
  shapes: Array<{ id: string; label: string; kind: string }>;
  measurements: Measurement[];
  decodeRates: DecodeRate[];
  wasmMemory?: IdleMemory;
  envoyIdle: EnvoyIdleMemory[];
  envoyIdleErrors: string[];
  metaprotoCheck?: { counted: number; replies: number; decodeErrors: number; passThrough: number };
  driverCeiling?: { shape: string; throughput: number; loadCpuSec: number; seconds: number; p50Us: number };
  problems: string[];
}

export interface RunnerEnv {
  repo: string;
  workDir: string;
  envoyBinary: string;
  pin: Pinning;
  options: BenchOptions;
  rounds: number;
  warmupPassSec: number;
  idleConnections: number;
  codecBenchSec: number;
  /** Where compiled modules are looked up (dist/wasm). */
  wasmDir: string;
  /** The compiled FLOOR_TARGETS modules, by target name. */
  floorWasm: Record<string, string>;
  /** If set, only these targets / shape ids run. */
  onlyTargets?: string[];
  onlyShapes?: string[];
  /** Skip the Envoy-per-target idle-connection measurement and the host-emulator measurements. */
  skipMemory?: boolean;
  skipCodec?: boolean;
}

function loadProtocol(name: string): ProtocolBench {
  const file = path.join(__dirname, "..", "protocols", `${name}.js`);
  if (!existsSync(file)) throw new Error(`no benchmark module for protocol "${name}" (bench/protocols/${name}.ts)`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file);
  if (!mod.protocol) throw new Error(`bench/protocols/${name}.ts does not export \`protocol\``);
  return mod.protocol as ProtocolBench;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "-");

function describe(r: RunResult): string {
  const cpu = r.cpuSec.envoy !== undefined ? `, envoy ${fmt((r.cpuSec.envoy / r.requests) * 1e6, 1)} ms CPU/1k` : "";
  return `${fmt(r.throughput)} req/s, p50 ${fmt(r.latencyUs.p50)} µs, p99 ${fmt(r.latencyUs.p99)} µs${cpu}${r.errors ? `, ${r.errors} errors` : ""}`;
}

async function driverCeiling(protocol: ProtocolBench, env: RunnerEnv): Promise<ProtocolReport["driverCeiling"]> {
  if (!protocol.cannedResponder) return undefined;
  const port = await freePort();
  // The canned server gets Envoy's CPU (Envoy is not running yet), the driver its usual one.
  const server = startChild(`${protocol.name} canned responder`, env.pin.envoy, process.execPath,
    [path.join(__dirname, "canned_server.js"), protocol.name, String(port)], path.join(env.workDir, `${protocol.name}-canned.log`));
  try {
    if (!(await waitFor(() => logContains(server, "CANNED READY"), 10_000))) throw new Error("canned responder did not start");
    const seconds = env.options.smoke ? 1 : 3;
    const spec: DriverSpec = {
      protocol: protocol.name, host: "127.0.0.1", port, connections: 8, mode: "closed", inFlight: 64,
      warmupSec: env.options.smoke ? 0.3 : 1, durationSec: seconds, pids: { backend: server.pid },
    };
    const done = await runToCompletion(env.pin.load, process.execPath, [path.join(__dirname, "load_driver.js"), JSON.stringify(spec)], 60_000);
    if (done.code !== 0) throw new Error(done.stderr.slice(-1000));
    const out = JSON.parse(done.stdout.trim().split("\n").pop()!) as RunResult;
    return { shape: "closed loop, 64 in flight over 8 connections", throughput: out.throughput, loadCpuSec: out.cpuSec.load, seconds: out.seconds, p50Us: out.latencyUs.p50 };
  } finally {
    await stopChild(server);
  }
}

export async function benchProtocol(name: string, env: RunnerEnv): Promise<ProtocolReport> {
  const protocol = loadProtocol(name);
  const wasm = path.join(env.wasmDir, `${protocol.name}.wasm`);
  const built = existsSync(wasm);
  const report: ProtocolReport = {
    protocol: protocol.name, wasm: path.relative(env.repo, wasm), wasmStatus: built ? "ok" : "not built",
    backend: "", targets: [], shapes: [], measurements: [], decodeRates: [], envoyIdle: [], envoyIdleErrors: [], problems: [],
  };
  if (built) {
    report.wasmSha256 = createHash("sha256").update(readFileSync(wasm)).digest("hex").slice(0, 16);
    report.wasmModified = statSync(wasm).mtime.toISOString().replace(/\.\d+Z$/, "Z");
  }
  const shapes: Shape[] = protocol.shapes(env.options).filter((s) => !env.onlyShapes || env.onlyShapes.includes(s.id));
  if (shapes.length === 0) throw new Error(`no shapes left for ${name} after --shapes`);
  report.shapes = shapes.map((s) => ({ id: s.id, label: s.label, kind: s.kind }));
  if (!built) log(`[${name}] ${report.wasm} is not built: the MetaProto target is reported as "not built"`);

  // 1. In-process measurements of the compiled module (before any server competes for the CPUs).
  if (built && !env.skipCodec) {
    const module = new WebAssembly.Module(readFileSync(wasm));
    const calls = protocol.codecCalls(env.repo);
    const preamble = protocol.codecPreamble ? protocol.codecPreamble(env.repo) : [];
    log(`[${name}] codec micro-benchmark (host emulator, ${env.codecBenchSec}s per mix)`);
    for (const call of calls) report.decodeRates.push(await decodeRate(module, protocol.pluginConfig, call.name, [call], env.codecBenchSec, preamble));
    report.decodeRates.push(await decodeRate(module, protocol.pluginConfig, "mixed (all of the above in turn)", calls, env.codecBenchSec, preamble));
    for (const r of report.decodeRates) log(`[${name}]   ${r.name}: ${fmt(r.messagesPerSec)} msg/s, ${fmt(r.megabytesPerSec, 1)} MB/s`);
    log(`[${name}] Wasm heap per idle connection (host emulator, ${env.idleConnections} connections)`);
    report.wasmMemory = await idleMemory(module, protocol.pluginConfig, calls[0], env.idleConnections, preamble);
    log(`[${name}]   ${fmt(report.wasmMemory.heapBytesPerConnection)} B idle, ${fmt(report.wasmMemory.heapBytesPerConnectionAfterCall)} B after one call`);
  }

  // 2. Can the load driver push more than the targets will take?
  log(`[${name}] load-driver ceiling check`);
  try {
    report.driverCeiling = await driverCeiling(protocol, env);
    if (report.driverCeiling) log(`[${name}]   driver vs canned responder: ${fmt(report.driverCeiling.throughput)} req/s, driver CPU ${fmt(report.driverCeiling.loadCpuSec / report.driverCeiling.seconds * 100)} %`);
  } catch (err) {
    report.problems.push(`driver ceiling check failed: ${String(err)}`);
  }

  // 3. Backend and Envoy.
  const backend: Backend = await protocol.startBackend(env.workDir, env.pin);
  report.backend = backend.description;
  let envoy: Envoy | null = null;
  let collector: { child: Child; port: number } | null = null;
  try {
    if (protocol.prepare) await protocol.prepare(backend.port);
    const listeners: ListenerSpec[] = [];
    const targets: TargetInfo[] = [{ name: "direct", kind: "direct", status: "ok", port: backend.port, note: "no proxy" }];
    const tcpSpec = { name: "tcp_proxy", filters: tcpProxyChain };
    listeners.push({ ...tcpSpec, port: await freePort() });
    targets.push({ name: "tcp_proxy", kind: "tcp_proxy", status: "ok", note: "tcp_proxy only" });
    const floorSpecs = FLOOR_TARGETS.map((floor) => ({ name: floor.name, filters: metaprotoChain(env.floorWasm[floor.name], "{}") }));
    for (const [i, floor] of FLOOR_TARGETS.entries()) {
      if (env.onlyTargets && !env.onlyTargets.includes(floor.name)) continue;
      listeners.push({ ...floorSpecs[i], port: await freePort() });
      targets.push({ name: floor.name, kind: floor.name, status: "ok", note: floor.note });
    }
    const metaSpec = { name: "metaproto", filters: metaprotoChain(wasm, protocol.pluginConfig) };
    const policySpec = { name: POLICY_TARGET, filters: metaprotoChain(wasm, withPassingPolicy(protocol.pluginConfig)) };
    const tracingSpecs = TRACING_TARGETS.map((t) => ({
      spec: { name: t.name, filters: metaprotoChain(wasm, withTracing(protocol.pluginConfig, t.percent)) },
      note: `tcp_proxy, with tracing: ${t.percent} % of calls sampled, spans encoded and queued for export`,
    }));
    const metaprotoVariants = [
      { spec: metaSpec, note: "tcp_proxy" },
      { spec: policySpec, note: "tcp_proxy, with a policy that lets every call through (authz rule that never matches, a rate limit that never runs dry)" },
      ...tracingSpecs,
    ];
    for (const { spec, note } of metaprotoVariants) {
      if (built && (!env.onlyTargets || env.onlyTargets.includes(spec.name))) {
        listeners.push({ ...spec, port: await freePort() });
        targets.push({ name: spec.name, kind: "metaproto", status: "ok", note: `Wasm (${report.wasm}) + ${note}` });
      } else if (!built) {
        targets.push({ name: spec.name, kind: "metaproto", status: "not built", note: `${report.wasm} missing` });
      }
    }
    const bridge = routerBridge(protocol.name, env.wasmDir);
    const routerSpec = { name: ROUTER_TARGET, resources: (port: number, backendPort: number) => routerResources(protocol.name, env.wasmDir, port, backendPort) };
    if (bridge && (!env.onlyTargets || env.onlyTargets.includes(ROUTER_TARGET))) {
      const module = path.relative(env.repo, bridge.module);
      if (bridge.built) listeners.push({ ...routerSpec, port: await freePort() });
      targets.push({ name: ROUTER_TARGET, kind: "router", status: bridge.built ? "ok" : "not built",
        note: bridge.built ? `router mode: ${module} + HCM + an internal listener with tcp_proxy, configured by the control plane's translation of a one-route model` : `${module} missing` });
    }
    for (const nf of protocol.nativeFilters.filter((n) => !env.onlyTargets || env.onlyTargets.includes(n.name))) {
      listeners.push({ name: nf.name, filters: nativeChain(nf), port: await freePort() });
      targets.push({ name: nf.name, kind: "native", status: "ok", note: nf.note });
    }
    if (protocol.unavailableNative) {
      targets.push({ name: protocol.unavailableNative.name, kind: "native", status: "not available", note: protocol.unavailableNative.note });
    }
    for (const l of listeners) targets.find((t) => t.name === l.name)!.port = l.port;
    report.targets = targets;

    const adminPort = await freePort();
    const tracing = listeners.some((l) => TRACING_TARGETS.some((t) => t.name === l.name));
    if (tracing) collector = await startCollector(env, protocol.name);
    envoy = await startEnvoy(env.envoyBinary, bootstrapYaml(adminPort, backend.port, listeners,
      collector ? [{ name: BENCH_COLLECTOR_CLUSTER, port: collector.port }] : []), env.workDir, protocol.name, env.pin.envoy, adminPort);
    const runEnvoy = envoy;

    // 4. Every target must answer one call, or it is reported as failed and skipped.
    for (const t of targets.filter((t) => t.status === "ok")) {
      try {
        await probeTarget(protocol, t.port!);
      } catch (err) {
        t.status = `failed: ${err instanceof Error ? err.message : String(err)}`;
        log(`[${name}] WARNING target ${t.name} does not answer: ${t.status}`);
        if (t.kind === "direct" || t.kind === "tcp_proxy") throw new Error(`${t.name} does not answer: the harness cannot measure anything`);
      }
    }
    const live = targets.filter((t) => t.status === "ok");
    const countedBefore = built ? await runEnvoy.prometheusSum(/^metaproto_requests_total\{.*response_status="ok"/) : 0;
    let metaprotoReplies = built ? 1 : 0; // the probe

    const rateHints = new Map<string, number>();
    const runOnce = async (shape: Shape, target: TargetInfo, durationSec: number, warmup: boolean): Promise<RunResult> => {
      const result = await shape.run({
        repo: env.repo, workDir: env.workDir, pin: env.pin, host: "127.0.0.1", port: target.port!, durationSec,
        pids: target.kind === "direct" ? { backend: backend.child.pid } : { envoy: runEnvoy.pid, backend: backend.child.pid },
        rateHint: rateHints.get(`${shape.id}/${target.name}`) ?? 0, protocol, warmup,
      });
      rateHints.set(`${shape.id}/${target.name}`, result.throughput);
      if (target.kind === "metaproto") metaprotoReplies += result.totalCalls ?? result.requests;
      return result;
    };

    // 5. Warm-up pass: JIT of the backend, Envoy's pools, and a rate estimate for fixed-count tools.
    if (env.warmupPassSec > 0) {
      for (const shape of shapes) {
        for (const t of live) {
          log(`[${name}] warm-up ${shape.id} -> ${t.name}`);
          try {
            await runOnce(shape, t, env.warmupPassSec, true);
          } catch (err) {
            log(`[${name}] WARNING warm-up ${shape.id} -> ${t.name} failed: ${String(err)}`);
          }
        }
      }
    }

    // 6. Measured rounds, interleaved: every target once per shape per round.
    for (let round = 1; round <= env.rounds; round++) {
      for (const shape of shapes) {
        for (const t of live) {
          const m: Measurement = { shape: shape.id, target: t.name, round };
          try {
            m.result = await runOnce(shape, t, env.options.durationSec, false);
            if (t.kind !== "direct") m.envoyRssBytes = rssBytes(runEnvoy.pid);
            log(`[${name}] round ${round}/${env.rounds} ${shape.id} -> ${t.name}: ${describe(m.result)}`);
          } catch (err) {
            m.error = err instanceof Error ? err.message : String(err);
            log(`[${name}] WARNING round ${round}/${env.rounds} ${shape.id} -> ${t.name} failed: ${m.error}`);
            if (t.kind === "direct" || t.kind === "tcp_proxy") report.problems.push(`${shape.id} -> ${t.name} (round ${round}): ${m.error}`);
          }
          report.measurements.push(m);
        }
      }
    }

    // 7. Did MetaProto decode and pair what went through it? (Only the `metaproto` kind: the router
    // target's bridge counts nothing in metaproto_*, and its replies are not added above.)
    if (built && live.some((t) => t.kind === "metaproto")) {
      const counted = (await runEnvoy.prometheusSum(/^metaproto_requests_total\{.*response_status="ok"/)) - countedBefore;
      const decodeErrors = await runEnvoy.prometheusSum(/^metaproto_decode_errors_total\{/);
      const passThrough = await runEnvoy.prometheusSum(/^metaproto_passthrough_connections_total\{/);
      report.metaprotoCheck = { counted, replies: metaprotoReplies, decodeErrors, passThrough };
      log(`[${name}] MetaProto counted ${fmt(counted)} ok calls for ${fmt(metaprotoReplies)} replies the load saw; decode errors ${decodeErrors}`);
    }
    if (collector) {
      const exported = await runEnvoy.prometheusSum(/^metaproto_spans_exported_total\b/);
      const dropped = await runEnvoy.prometheusSum(/^metaproto_spans_dropped_total\{/);
      log(`[${name}] tracing targets: ${fmt(exported)} spans exported to the collector, ${fmt(dropped)} dropped`);
      if (exported === 0) report.problems.push("the tracing targets exported no span to the collector");
    }
    await envoy.stop();
    envoy = null;

    // 8. Envoy memory per idle connection, a fresh Envoy per target.
    for (const t of live.filter((t) => t.kind !== "direct" && !env.skipMemory)) {
      const variant = metaprotoVariants.find((v) => v.spec.name === t.name);
      const spec = t.kind === "tcp_proxy" ? tcpSpec : variant ? variant.spec : t.kind === "wasm_floor" || t.kind === "read_floor" ? floorSpecs.find((f) => f.name === t.name)! : t.kind === "router" ? routerSpec
        : { name: t.name, filters: nativeChain(protocol.nativeFilters.find((n) => n.name === t.name)!) };
      log(`[${name}] Envoy RSS over ${env.idleConnections} idle connections -> ${t.name}`);
      try {
        const m = await envoyIdleMemory(env.envoyBinary, env.workDir, env.pin.envoy, protocol, backend.port, spec, env.idleConnections);
        report.envoyIdle.push(m);
        log(`[${name}]   ${t.name}: ${fmt(m.bytesPerIdleConnection)} B per idle connection, ${fmt(m.bytesPerConnectionAfterCall)} B after one call`);
      } catch (err) {
        report.envoyIdleErrors.push(`${t.name}: ${String(err)}`);
        log(`[${name}] WARNING idle-connection measurement for ${t.name} failed: ${String(err)}`);
      }
    }
  } finally {
    if (envoy) await envoy.stop();
    if (collector) await stopChild(collector.child);
    await stopChild(backend.child);
  }
  return report;
}
