// The benchmark command: npm run bench -- --protocol dubbo,redis --duration 10 [--smoke]
// See bench/README.md. Writes docs/benchmarks.md + docs/benchmarks.png (build/bench/ with --smoke).
import { Command } from "commander";
import { execFileSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { compileAssemblyScript, repoRoot } from "../api/proxytest";
import { envoyBinary, envoyVersion } from "./lib/envoy";
import { log } from "./lib/log";
import { machineFacts } from "./lib/machine";
import { choosePinning } from "./lib/pinning";
import { runMain, stopAllChildren } from "./lib/processes";
import { RunInfo, plotData, renderMarkdown } from "./lib/report";
import { loadBaseline } from "./lib/baseline";
import { FLOOR_TARGETS, ProtocolReport, benchProtocol } from "./lib/runner";
import { sectionOf } from "./control_plane/report";

function parseRates(spec: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of (spec ?? "").split(",").filter(Boolean)) {
    const [name, value] = part.split("=");
    if (!name || !Number(value)) throw new Error(`--rate expects protocol=requests_per_second[,...], got "${part}"`);
    out.set(name, Number(value));
  }
  return out;
}

async function main(): Promise<number> {
  const program = new Command()
    .name("npm run bench --")
    .description("MetaProto benchmarks: direct vs tcp_proxy vs MetaProto (Wasm) vs Envoy's native filter, interleaved")
    .option("--protocol <list>", "protocols to run (bench/protocols/<name>.ts)", "dubbo,redis")
    .option("--duration <seconds>", "measured seconds per shape, target and round (default 10; smoke 1)")
    .option("--rounds <n>", "interleaved rounds (default 3; smoke 1)")
    .option("--warmup <seconds>", "warm-up pass per shape and target before the rounds (default 2; smoke 0)")
    .option("--rate <list>", "open-loop rate per protocol, e.g. dubbo=2000,redis=5000 (defaults in bench/protocols)")
    .option("--pin <spec>", "CPU pinning: envoy=1,backend=0,load=0 or none (default: chosen from the CPU count)")
    .option("--idle-connections <n>", "connections for the memory-per-connection measurements (default 1000; smoke 200)")
    .option("--codec-seconds <s>", "seconds per message mix in the codec micro-benchmark (default 2; smoke 0.3)")
    .option("--targets <list>", "only these targets (direct and tcp_proxy always run), e.g. metaproto,wasm_floor,read_floor,redis_proxy")
    .option("--shapes <list>", "only these shape ids, e.g. closed-c64,open-2000")
    .option("--skip-memory", "skip the Envoy idle-connection memory measurement", false)
    .option("--skip-codec", "skip the host-emulator measurements (decode rate, Wasm heap)", false)
    .option("--wasm-dir <dir>", "where the compiled modules are (default dist/wasm)")
    .option("--out <dir>", "where benchmarks.md/.png go (default docs/; smoke build/bench/)")
    .option("--smoke", "tiny durations, one round, fewer shapes; writes to build/bench/ only (CI)", false)
    .option("--render <results.json>", "only re-render the report and plot from a saved build/bench/results.json")
    .parse(process.argv);
  const o = program.opts();
  if (o.render) {
    const saved = JSON.parse(readFileSync(path.resolve(o.render), "utf8")) as { info: RunInfo; reports: ProtocolReport[] };
    writeOutputs(repoRoot(), path.resolve(repoRoot(), o.out ?? (saved.info.smoke ? "build/bench" : "docs")), saved.info, saved.reports);
    return 0;
  }
  const smoke = Boolean(o.smoke);
  const repo = repoRoot();
  const started = Date.now();
  const durationSec = Number(o.duration ?? (smoke ? 1 : 10));
  const rounds = Number(o.rounds ?? (smoke ? 1 : 3));
  const warmupPassSec = Number(o.warmup ?? (smoke ? 0 : 2));
  const idleConnections = Number(o.idleConnections ?? (smoke ? 200 : 1000));
  const codecBenchSec = Number(o.codecSeconds ?? (smoke ? 0.3 : 2));
  const outDir = path.resolve(repo, o.out ?? (smoke ? "build/bench" : "docs"));
  const rates = parseRates(o.rate);
  const protocols = String(o.protocol).split(",").map((s) => s.trim()).filter(Boolean);
  for (const [name, v] of [["duration", durationSec], ["rounds", rounds], ["idle-connections", idleConnections]] as const) {
    if (!(v > 0)) throw new Error(`--${name} must be a positive number`);
  }

  const pin = choosePinning(o.pin);
  // The harness itself stays off Envoy's CPU.
  if (pin.load) execFileSync("taskset", ["-pc", pin.load, String(process.pid)], { stdio: "ignore" });
  const workDir = mkdtempSync(path.join(tmpdir(), "metaproto-bench-"));
  const buildDir = path.join(repo, "build/bench");
  mkdirSync(buildDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const binary = envoyBinary(repo);
  const version = envoyVersion(binary);
  log(`protocols ${protocols.join(", ")}; ${rounds} round(s) x ${durationSec}s; ${smoke ? "SMOKE; " : ""}logs in ${workDir}`);
  log(`pinning: ${pin.description}`);
  log(`Envoy ${version} (${binary})`);

  const floorWasm: Record<string, string> = {};
  for (const floor of FLOOR_TARGETS) {
    floorWasm[floor.name] = path.join(buildDir, `${floor.name}.wasm`);
    log(`compiling ${floor.source} -> ${path.relative(repo, floorWasm[floor.name])} (the ${floor.name} target)`);
    await compileAssemblyScript(floor.source, floorWasm[floor.name]);
  }

  const reports: ProtocolReport[] = [];
  let failed = false;
  for (const name of protocols) {
    try {
      reports.push(await benchProtocol(name, {
        repo, workDir, envoyBinary: binary, pin, rounds, warmupPassSec, idleConnections, codecBenchSec,
        wasmDir: path.resolve(repo, o.wasmDir ?? "dist/wasm"), floorWasm,
        onlyTargets: o.targets ? String(o.targets).split(",") : undefined,
        onlyShapes: o.shapes ? String(o.shapes).split(",") : undefined,
        skipMemory: Boolean(o.skipMemory), skipCodec: Boolean(o.skipCodec),
        options: { smoke, durationSec, rate: rates.get(name) },
      }));
    } catch (err) {
      failed = true;
      log(`ERROR [${name}] ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      await stopAllChildren();
    }
  }
  if (reports.length === 0) return 1;

  const argv = process.argv.slice(2).join(" ");
  const info: RunInfo = {
    command: `npm run bench -- ${argv}`.trim(), smoke, durationSec, rounds, warmupPassSec, idleConnections,
    wallClockSec: (Date.now() - started) / 1000, pin, machine: machineFacts(repo, version),
    baseline: loadBaseline(repo),
  };
  writeFileSync(path.join(buildDir, "results.json"), JSON.stringify({ info, reports }, null, 2));
  writeOutputs(repo, outDir, info, reports);
  // A failed direct/tcp_proxy run or driver check means the harness, not a target, broke.
  for (const r of reports) for (const problem of r.problems) log(`ERROR [${r.protocol}] ${problem}`);
  return failed || reports.some((r) => r.problems.length > 0) ? 1 : 0;
}

function writeOutputs(repo: string, outDir: string, info: RunInfo, reports: ProtocolReport[]): void {
  const buildDir = path.join(repo, "build/bench");
  mkdirSync(buildDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const plotFile = path.join(buildDir, "plot-data.json");
  writeFileSync(plotFile, JSON.stringify(plotData(reports), null, 2));
  const md = path.join(outDir, "benchmarks.md");
  // The control-plane benchmark's section (bench/control_plane/) is its own run's: keep it.
  const controlPlane = existsSync(md) ? sectionOf(readFileSync(md, "utf8")) : "";
  writeFileSync(md, renderMarkdown(reports, info) + (controlPlane ? `\n${controlPlane}\n` : ""));
  const png = path.join(outDir, "benchmarks.png");
  const python = path.join(repo, ".venv/bin/python");
  execFileSync(python, [path.join(repo, "bench/lib/plot.py"), plotFile, png], { stdio: "inherit" });
  log(`wrote ${path.relative(repo, md)} and ${path.relative(repo, png)} (raw results: build/bench/results.json)`);
}

runMain(main);
