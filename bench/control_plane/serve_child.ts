// `metaproto serve` as a child process of the benchmark: started on 127.0.0.1 ports, its reloads read
// from its own log, its per-node ACK state from GET /status, its memory from the preloaded probe.
import { existsSync, readFileSync, rmSync } from "fs";
import * as http from "http";
import * as path from "path";
import { TYPE_URLS } from "../../control-plane/resources/types";
import type { StatusReport } from "../../control-plane/status";
import { Child, freePort, sleep, startChild, stopChild, tail } from "../lib/processes";
import type { MemoryProbe } from "./memory_probe";

/** Status type names (the last part of the type URL) → the keys of the "configuration loaded" log line. */
const KIND_OF_TYPE = new Map(Object.entries(TYPE_URLS).map(([kind, url]) => [url.split(".").pop()!, kind]));

export interface Reload {
  /** Epoch ms of the "configuration loaded" line (pino's ISO time: millisecond resolution). */
  at: number;
  versions: Record<string, string>;
}

export interface ServeChild {
  child: Child;
  xdsAddress: string;
  xdsPort: number;
  httpPort: number;
}

/** cpuProfileDir: where serve writes a V8 CPU profile (node --cpu-prof) when it stops. */
export async function startServe(repo: string, workDir: string, configFile: string, debounceMs: number, cpus: string | null, cpuProfileDir?: string): Promise<ServeChild> {
  const xdsPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === xdsPort) httpPort = await freePort();
  const env = { ...process.env, METAPROTO_BENCH_MEMORY_FILE: path.join(workDir, "serve-memory.json") };
  const child = startChild("metaproto serve", cpus, process.execPath, [
    ...(cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", cpuProfileDir] : []),
    "--expose-gc", "--require", path.join(__dirname, "memory_probe.js"),
    path.join(repo, "control-plane/bin/metaproto.js"), "serve", configFile,
    "--listen", `127.0.0.1:${xdsPort}`, "--http-listen", `127.0.0.1:${httpPort}`, "--debounce", String(debounceMs),
    "--wasm-dir", path.join(repo, "dist/wasm"), "--pin-dir", path.join(workDir, "pinned"),
  ], path.join(workDir, "serve.log"), env);
  const serve = { child, xdsAddress: `127.0.0.1:${xdsPort}`, xdsPort, httpPort };
  const deadline = Date.now() + 120000;
  while (!readLog(child).includes("serving ADS")) {
    if (child.process.exitCode !== null || Date.now() > deadline) {
      throw new Error(`metaproto serve did not start; its log:\n${tail(child.logFile, 20)}`);
    }
    await sleep(50);
  }
  return serve;
}

export async function stopServe(serve: ServeChild): Promise<void> {
  await stopChild(serve.child);
}

function readLog(child: Child): string {
  try {
    return readFileSync(child.logFile, "utf8");
  } catch {
    return "";
  }
}

/** Every "configuration loaded" line of serve's log so far, in order. */
export function reloads(serve: ServeChild): Reload[] {
  const out: Reload[] = [];
  for (const line of readLog(serve.child).split("\n")) {
    if (!line.includes('"configuration loaded"')) continue;
    const entry = JSON.parse(line) as { time: string; versions: Record<string, string> };
    out.push({ at: Date.parse(entry.time), versions: entry.versions });
  }
  return out;
}

/** Waits for reload number `count` (1-based) and returns it. */
export async function waitForReload(serve: ServeChild, count: number, timeoutMs: number): Promise<Reload> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = reloads(serve);
    if (all.length >= count) return all[count - 1];
    if (readLog(serve.child).includes("configuration rejected")) throw new Error(`serve rejected the configuration:\n${tail(serve.child.logFile, 20)}`);
    if (Date.now() > deadline) throw new Error(`no reload ${count} within ${timeoutMs} ms; serve's log:\n${tail(serve.child.logFile, 10)}`);
    await sleep(10);
  }
}

/** GET /status on a fresh connection (no keep-alive, so nothing holds serve open when it is stopped). */
export function status(serve: ServeChild): Promise<StatusReport> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port: serve.httpPort, path: "/status", agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => {
        try { resolve(JSON.parse(body) as StatusReport); } catch (err) { reject(err); }
      });
    });
    request.on("error", reject);
  });
}

/** Whether the node ACKed exactly these versions of every type it subscribed to, and NACKed none. */
export function nodeAcked(report: StatusReport, nodeId: string, versions: Record<string, string>): boolean {
  const node = report.nodes.find((n) => n.id === nodeId);
  if (!node || node.streams === 0 || node.types.length === 0) return false;
  return node.types.every((t) => t.responses === 0 || t.acked === versions[KIND_OF_TYPE.get(t.type) ?? ""]);
}

export function nacks(report: StatusReport): string[] {
  return report.nodes.flatMap((n) => n.types.filter((t) => t.nack).map((t) => `${n.id} ${t.type}: ${t.nack!.message}`));
}

/**
 * Polls GET /status every `pollMs` until every one of `nodeIds` ACKed `versions`; resolves to the
 * epoch ms of the first poll that saw it (an upper bound: the ACK arrived at most one poll earlier).
 */
export async function waitForAcks(serve: ServeChild, nodeIds: string[], versions: Record<string, string>, pollMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await status(serve);
    const at = performance.timeOrigin + performance.now();
    if (nodeIds.every((id) => nodeAcked(report, id, versions))) return at;
    const rejected = nacks(report);
    if (rejected.length) throw new Error(`NACK: ${rejected.slice(0, 3).join("; ")}`);
    if (Date.now() > deadline) {
      const missing = nodeIds.filter((id) => !nodeAcked(report, id, versions));
      throw new Error(`${missing.length} node(s) did not ACK within ${timeoutMs} ms, e.g. ${JSON.stringify(report.nodes.find((n) => n.id === missing[0]) ?? missing[0])}`);
    }
    await sleep(pollMs);
  }
}

/** The control plane's memory now (serve's probe on SIGUSR2). */
export async function serveMemory(serve: ServeChild, workDir: string): Promise<MemoryProbe> {
  const file = path.join(workDir, "serve-memory.json");
  rmSync(file, { force: true });
  process.kill(serve.child.pid, "SIGUSR2");
  const deadline = Date.now() + 30000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error("serve did not answer the memory probe (SIGUSR2) within 30 s");
    await sleep(20);
  }
  return JSON.parse(readFileSync(file, "utf8")) as MemoryProbe;
}
