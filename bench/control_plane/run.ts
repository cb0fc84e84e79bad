// The control-plane benchmark: npm run bench:control-plane -- [--routes 1000 --nodes 100] [--smoke]
// See bench/README.md "Control plane". Writes its section of docs/benchmarks.md (build/bench/ with --smoke).
import { Command } from "commander";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { loadavg, tmpdir } from "os";
import * as path from "path";
import { repoRoot } from "../../control-plane/xds/api";
import { TYPE_URLS } from "../../control-plane/resources/types";
import { envoyBinary, envoyVersion } from "../lib/envoy";
import { log } from "../lib/log";
import { machineFacts } from "../lib/machine";
import { CpuWindow, cpuSeconds, rssBytes } from "../lib/proc_stats";
import { freePort, runMain, runToCompletion, sleep, startChild, stopChild, tail } from "../lib/processes";
import { openNodes, Variant } from "./ads_nodes";
import { CHANGE_KINDS, ChangeKind, ConfigShape, changed, freePortRange, renderConfig, saveConfig } from "./config";
import { measureReloadPhases } from "./reload_phases";
import { ChangeResult, CpBenchResults, MemoryPoint, NodesResult, writeSection } from "./report";
import { reloads, serveMemory, ServeChild, startServe, status, stopServe, waitForAcks, waitForReload } from "./serve_child";
import { summarize } from "./stats";
import { SETTLE_MS } from "../../control-plane/watch";

const ENVOY_NODE = "bench-envoy";
const KNOWN_PROTOCOLS = ["redis", "dubbo", "thrift", "mysql"];

interface Options {
  repo: string;
  workDir: string;
  routes: number;
  nodes: number;
  repeats: number;
  debounceMs: number;
  pollMs: number;
  changes: ChangeKind[];
  variants: Variant[];
  skipEnvoy: boolean;
  protocols: string[];
  cpuProfileDir?: string;
}

const epochNow = () => performance.timeOrigin + performance.now();

/** CPU the machine spent on other processes over a window, in CPUs (1.0 = one CPU busy the whole time). */
function othersCpu(window: Record<string, number>, ownSeconds: number, seconds: number): number {
  const ours = (window.serve ?? 0) + (window.envoy ?? 0) + ownSeconds;
  return Math.max(0, (window.machine_tasks - ours) / seconds);
}

async function memoryPoint(label: string, serve: ServeChild, workDir: string, envoyPid?: number): Promise<MemoryPoint> {
  // Let garbage and pending writes of the last step settle, as an idle control plane would.
  await sleep(1000);
  const probe = await serveMemory(serve, workDir);
  const point: MemoryPoint = { label, rssBytes: rssBytes(serve.child.pid), probe, envoyRssBytes: envoyPid ? rssBytes(envoyPid) : undefined };
  log(`memory ${label}: serve RSS ${(point.rssBytes / 2 ** 20).toFixed(1)} MiB, heap ${(probe.asFound.heapUsed / 2 ** 20).toFixed(1)} MiB ` +
    `(${(probe.afterGc.heapUsed / 2 ** 20).toFixed(1)} MiB after GC)${envoyPid ? `; Envoy RSS ${(rssBytes(envoyPid) / 2 ** 20).toFixed(1)} MiB` : ""}`);
  return point;
}

/** One change saved, then timed until the control plane reloaded it and every one of `nodeIds` ACKed it. */
async function measureChange(o: Options, serve: ServeChild, file: string, shape: ConfigShape, kind: ChangeKind, nodeIds: string[],
  pids: Record<string, number | undefined>): Promise<{ result: ChangeResult; shape: ConfigShape; versions: Record<string, string> }> {
  const next = changed(shape, kind);
  const text = renderConfig(next, o.protocols);
  const before = reloads(serve);
  const previous = before[before.length - 1];
  const window = new CpuWindow({ serve: serve.child.pid, ...pids });
  const ownCpu = process.cpuUsage();
  const load1 = loadavg()[0];
  const serveCpuBefore = cpuSeconds(serve.child.pid);
  const savedAt = saveConfig(file, text);
  const reload = await waitForReload(serve, before.length + 1, 120000);
  // Read when the reload line shows up (polled every 10 ms): the CPU of the reload and the push, without the ACKs.
  const serveCpuToReloadMs = (cpuSeconds(serve.child.pid) - serveCpuBefore) * 1000;
  const ackedAt = await waitForAcks(serve, nodeIds, reload.versions, o.pollMs, 300000);
  const seconds = (epochNow() - savedAt) / 1000;
  const cpu = window.stop();
  const own = process.cpuUsage(ownCpu);
  const changedTypes = Object.keys(reload.versions).filter((k) => reload.versions[k] !== previous?.versions[k]);
  const result: ChangeResult = {
    kind, changedTypes, savedAt, reloadedAt: reload.at, ackedAt,
    saveToReloadMs: reload.at - savedAt, reloadToAckMs: ackedAt - reload.at, saveToAckMs: ackedAt - savedAt,
    serveCpuMs: (cpu.serve ?? NaN) * 1000, serveCpuToReloadMs, envoyCpuMs: pids.envoy ? (cpu.envoy ?? NaN) * 1000 : undefined,
    othersCpu: othersCpu(cpu, (own.user + own.system) / 1e6, seconds), load1,
  };
  return { result, shape: next, versions: reload.versions };
}

function logChange(what: string, r: ChangeResult): void {
  log(`${what} ${r.kind} (${r.changedTypes.join(", ") || "nothing"} changed): save→reloaded ${r.saveToReloadMs.toFixed(0)} ms, ` +
    `reloaded→ACKed ${r.reloadToAckMs.toFixed(0)} ms, save→ACKed ${r.saveToAckMs.toFixed(0)} ms ` +
    `(serve CPU ${r.serveCpuMs.toFixed(0)} ms, ${r.serveCpuToReloadMs?.toFixed(0)} ms of it to the reload${r.envoyCpuMs !== undefined ? `, Envoy CPU ${r.envoyCpuMs.toFixed(0)} ms` : ""}, other processes ${r.othersCpu.toFixed(2)} CPUs, load ${r.load1.toFixed(1)})`);
}

async function envoyPart(o: Options, serve: ServeChild, file: string, shape: ConfigShape, results: CpBenchResults): Promise<ConfigShape> {
  const adminPort = await freePort();
  const bootstrapFile = path.join(o.workDir, "envoy.yaml");
  const bootstrap = await runToCompletion(null, process.execPath, [path.join(o.repo, "control-plane/bin/metaproto.js"), "bootstrap",
    "--node", ENVOY_NODE, "--xds", serve.xdsAddress, "--admin-port", String(adminPort), "-o", bootstrapFile], 60000);
  if (bootstrap.code !== 0) throw new Error(`metaproto bootstrap failed: ${bootstrap.stderr}`);
  const binary = envoyBinary(o.repo);
  const startedAt = epochNow();
  const envoy = startChild("envoy", null, binary, ["-c", bootstrapFile, "--concurrency", "1", "--disable-hot-restart",
    "--base-id", String(adminPort), "--log-level", "warn"], path.join(o.workDir, "envoy.log"));
  try {
    const initial = reloads(serve);
    // The first sync of a large configuration is slow on Envoy's side (thousands of clusters, one Wasm
    // plugin per listener); it is reported, not the subject.
    const syncedAt = await waitForAcks(serve, [ENVOY_NODE], initial[initial.length - 1].versions, 100, 900000).catch((err: Error) => {
      throw new Error(`${err.message}\nEnvoy's log:\n${tail(envoy.logFile, 20)}`);
    });
    results.envoy = { version: envoyVersion(binary), initialSyncMs: syncedAt - startedAt, changes: [] };
    log(`Envoy ACKed the whole configuration ${(results.envoy.initialSyncMs / 1000).toFixed(1)} s after it started`);
    results.memory.push(await memoryPoint(`${o.routes.toLocaleString("en-US")} routes, 1 Envoy connected`, serve, o.workDir, envoy.pid));
    for (let r = 0; r < o.repeats; r++) {
      for (const kind of o.changes) {
        const measured = await measureChange(o, serve, file, shape, kind, [ENVOY_NODE], { envoy: envoy.pid });
        shape = measured.shape;
        results.envoy.changes.push(measured.result);
        logChange(`Envoy, change ${r + 1}/${o.repeats}:`, measured.result);
        // Envoy may still be applying what it ACKed (an ECDS update reconfigures each plugin): let it finish.
        await sleep(2000);
      }
    }
    results.envoy.rssBytes = rssBytes(envoy.pid);
  } finally {
    await stopChild(envoy);
  }
  return shape;
}

async function nodesPart(o: Options, serve: ServeChild, file: string, shape: ConfigShape, variant: Variant, results: CpBenchResults): Promise<ConfigShape> {
  const openedAt = epochNow();
  const nodes = openNodes(serve.xdsAddress, o.nodes, variant, `sim-${variant}`);
  const ids = nodes.map((n) => n.id);
  try {
    const current = reloads(serve);
    const syncedAt = await waitForAcks(serve, ids, current[current.length - 1].versions, 100, 900000);
    const failed = nodes.find((n) => n.error);
    if (failed) throw new Error(`node ${failed.id}: ${failed.error!.message}`);
    const result: NodesResult = { variant, nodes: o.nodes, initialSyncMs: syncedAt - openedAt, changes: [] };
    results.nodes.push(result);
    log(`${o.nodes} simulated ${variant} nodes ACKed the whole configuration ${(result.initialSyncMs / 1000).toFixed(1)} s after they connected`);
    results.memory.push(await memoryPoint(`${o.routes.toLocaleString("en-US")} routes, ${o.nodes} ${variant} nodes connected`, serve, o.workDir));
    for (let r = 0; r < o.repeats; r++) {
      for (const kind of o.changes) {
        const measured = await measureChange(o, serve, file, shape, kind, ids, {});
        shape = measured.shape;
        const changedTypes = measured.result.changedTypes.map((kind) => ({ url: TYPE_URLS[kind as keyof typeof TYPE_URLS], version: measured.versions[kind] }));
        const urls = changedTypes.map((t) => t.url);
        // When the node had every changed type's new version: the last of those responses' arrival.
        const arrivals = nodes.map((n) => Math.max(...changedTypes.map(({ url, version }) => {
          const latest = n.latest.get(url);
          return latest?.version === version ? latest.at : NaN;
        })));
        const missing = arrivals.filter((a) => !Number.isFinite(a)).length;
        if (missing) throw new Error(`${missing} node(s) ACKed at the control plane but never saw the new version: the simulated nodes are wrong`);
        result.changes.push({
          ...measured.result,
          perNodeFromSaveMs: summarize(arrivals.map((a) => a - measured.result.savedAt)),
          perNodeFromReloadMs: summarize(arrivals.map((a) => a - measured.result.reloadedAt)),
          resourcesPerNode: summarize(nodes.map((n) => urls.reduce((sum, url) => sum + (n.latest.get(url)?.resources ?? 0), 0))).median,
        });
        const last = result.changes[result.changes.length - 1];
        logChange(`${o.nodes} ${variant} nodes, change ${r + 1}/${o.repeats}:`, last);
        log(`  per node, save→received: min ${last.perNodeFromSaveMs.min.toFixed(0)} / median ${last.perNodeFromSaveMs.median.toFixed(0)} / p90 ${last.perNodeFromSaveMs.p90.toFixed(0)} / max ${last.perNodeFromSaveMs.max.toFixed(0)} ms; ` +
          `${last.resourcesPerNode} resources per node`);
        await sleep(1000);
      }
    }
  } finally {
    for (const n of nodes) n.close();
  }
  // Streams closed: the control plane drops their watches.
  await sleep(500);
  return shape;
}

async function main(): Promise<number> {
  const program = new Command()
    .name("npm run bench:control-plane --")
    .description("Control-plane benchmark: a change of every route from file save to Envoy's ACK, the same to N simulated ADS nodes, and the control plane's memory")
    .option("--routes <n>", "MetaRouter routes (each a routed Service, its listener, 4 clusters) (default 1000; smoke 10)")
    .option("--nodes <n>", "simulated ADS nodes (default 100; smoke 5)")
    .option("--repeats <n>", "changes per kind and target (default 5; smoke 1)")
    .option("--changes <list>", "what each change moves: weights (every route's: EDS), rate_limit (every route's: ECDS), one_route (the first route's weights)", CHANGE_KINDS.join(","))
    .option("--variants <list>", "xDS variants of the simulated nodes: sotw, delta", "sotw,delta")
    .option("--debounce <ms>", "serve's --debounce (its default: 200)", "200")
    .option("--poll <ms>", "how often GET /status is polled for the ACKs (the resolution of save→ACK)", "10")
    .option("--skip-envoy", "no real Envoy: only the simulated nodes and memory", false)
    .option("--cpu-prof <dir>", "serve (the 1,000-route one) writes a V8 CPU profile there when it stops (node --cpu-prof; open it in Chrome DevTools)")
    .option("--out <file>", "Markdown file whose control-plane section is (re)written (default docs/benchmarks.md; smoke build/bench/control-plane.md)")
    .option("--smoke", "tiny sizes, one change of each kind; writes to build/bench/ only (CI)", false)
    .option("--render <results.json>", "only re-render the section from a saved build/bench/control-plane-results.json")
    .parse(process.argv);
  const opts = program.opts();
  const repo = repoRoot();
  const buildDir = path.join(repo, "build/bench");
  mkdirSync(buildDir, { recursive: true });
  const smoke = Boolean(opts.smoke);
  const out = path.resolve(repo, opts.out ?? (smoke ? "build/bench/control-plane.md" : "docs/benchmarks.md"));
  if (opts.render) {
    writeSection(out, JSON.parse(readFileSync(path.resolve(opts.render), "utf8")) as CpBenchResults);
    log(`wrote the control-plane section of ${path.relative(repo, out)}`);
    return 0;
  }
  const o: Options = {
    repo, workDir: mkdtempSync(path.join(tmpdir(), "metaproto-cp-bench-")),
    routes: Number(opts.routes ?? (smoke ? 10 : 1000)), nodes: Number(opts.nodes ?? (smoke ? 5 : 100)),
    repeats: Number(opts.repeats ?? (smoke ? 1 : 5)), debounceMs: Number(opts.debounce), pollMs: Number(opts.poll),
    changes: String(opts.changes).split(",").filter(Boolean) as ChangeKind[],
    variants: String(opts.variants).split(",").filter(Boolean) as Variant[],
    skipEnvoy: Boolean(opts.skipEnvoy),
    protocols: KNOWN_PROTOCOLS.filter((p) => existsSync(path.join(repo, "dist/wasm", `${p}.wasm`))),
    cpuProfileDir: opts.cpuProf ? path.resolve(String(opts.cpuProf)) : undefined,
  };
  for (const [name, v] of [["routes", o.routes], ["nodes", o.nodes], ["repeats", o.repeats], ["poll", o.pollMs]] as const) {
    if (!(v > 0)) throw new Error(`--${name} must be a positive number`);
  }
  if (!(o.debounceMs >= 0)) throw new Error("--debounce must be a number of milliseconds");
  for (const c of o.changes) if (!CHANGE_KINDS.includes(c)) throw new Error(`--changes: unknown change "${c}" (${CHANGE_KINDS.join(", ")})`);
  for (const v of o.variants) if (v !== "sotw" && v !== "delta") throw new Error(`--variants: unknown variant "${v}" (sotw, delta)`);
  if (!o.protocols.length) throw new Error("no codec module in dist/wasm: run ./build.sh build first");
  if (!existsSync(path.join(repo, "build/cp/control-plane/cli/main.js"))) throw new Error("the control plane is not compiled: run ./build.sh build first");

  const started = Date.now();
  log(`${o.routes} routes (${o.protocols.join(", ")}), ${o.nodes} simulated nodes (${o.variants.join(", ")}), ${o.repeats} change(s) per kind (${o.changes.join(", ")}); ` +
    `${smoke ? "SMOKE; " : ""}logs in ${o.workDir}`);
  const results: CpBenchResults = {
    command: ["npm run bench:control-plane", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" "), smoke, routes: o.routes, protocols: o.protocols,
    debounceMs: o.debounceMs, settleMs: SETTLE_MS, pollMs: o.pollMs, repeats: o.repeats, memory: [], nodes: [], wallClockSec: 0,
    machine: machineFacts(repo, o.skipEnvoy ? "not run" : envoyVersion(envoyBinary(repo))), loadAverage: loadavg(),
  };

  // Baseline: the control plane with one route and nothing connected.
  const tinyFile = path.join(o.workDir, "tiny", "config.yaml");
  mkdirSync(path.dirname(tinyFile), { recursive: true });
  const tinyBase = await freePortRange(1);
  writeFileSync(tinyFile, renderConfig({ routes: 1, listenerPortBase: tinyBase, weightsGeneration: 0, rateLimitGeneration: 0, firstRouteGeneration: 0 }, o.protocols));
  const tiny = await startServe(repo, path.dirname(tinyFile), tinyFile, o.debounceMs, null);
  await waitForReload(tiny, 1, 60000);
  results.memory.push(await memoryPoint("1 route, nothing connected", tiny, path.dirname(tinyFile)));
  await stopServe(tiny);

  let shape: ConfigShape = { routes: o.routes, listenerPortBase: await freePortRange(o.routes), weightsGeneration: 0, rateLimitGeneration: 0, firstRouteGeneration: 0 };
  const file = path.join(o.workDir, "config", "config.yaml");
  mkdirSync(path.dirname(file), { recursive: true });
  const text = renderConfig(shape, o.protocols);
  writeFileSync(file, text);
  results.configBytes = Buffer.byteLength(text);
  log(`configuration: ${o.routes} Services + ${o.routes} MetaRouters, ${(results.configBytes / 1024).toFixed(0)} KiB, listeners on 127.0.0.1:${shape.listenerPortBase}-${shape.listenerPortBase + o.routes - 1}`);

  const serveStartedAt = epochNow();
  const serve = await startServe(repo, o.workDir, file, o.debounceMs, null, o.cpuProfileDir);
  try {
    const first = await waitForReload(serve, 1, 300000);
    results.serveStartMs = first.at - serveStartedAt;
    const counts = await status(serve);
    if (counts.config.applied !== 1) throw new Error("serve did not apply the configuration");
    results.memory.push(await memoryPoint(`${o.routes.toLocaleString("en-US")} routes, nothing connected`, serve, o.workDir));

    if (!o.skipEnvoy) shape = await envoyPart(o, serve, file, shape, results);
    for (const variant of o.variants) shape = await nodesPart(o, serve, file, shape, variant, results);
  } finally {
    await stopServe(serve);
  }

  // Where a reload's time goes, on the same machine right after: serve's steps in this process.
  log("reload phases (serve's steps, timed in this process)");
  const texts = Array.from({ length: Math.max(3, o.repeats + 1) }, (_, g) => renderConfig({ ...shape, weightsGeneration: shape.weightsGeneration + g + 1 }, o.protocols));
  results.phases = measureReloadPhases(o.workDir, path.join(repo, "dist/wasm"), texts);
  log(`  load ${results.phases.load.median.toFixed(0)} ms (whole file: js-yaml ${results.phases.jsYamlParse!.median.toFixed(0)}, yaml ${results.phases.yamlParse.median.toFixed(0)}; schema ${results.phases.schema.median.toFixed(0)}, ` +
    `cross-check ${results.phases.crossCheck.median.toFixed(0)}), translate ${results.phases.translate.median.toFixed(0)} ms, snapshot ${results.phases.snapshot.median.toFixed(0)} ms (medians)`);

  results.wallClockSec = (Date.now() - started) / 1000;
  results.loadAverageAtEnd = loadavg();
  writeFileSync(path.join(buildDir, "control-plane-results.json"), JSON.stringify(results, null, 2));
  writeSection(out, results);
  log(`wrote the control-plane section of ${path.relative(repo, out)} (raw results: build/bench/control-plane-results.json)`);
  return 0;
}

runMain(main);
