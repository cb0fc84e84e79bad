// Shapes that run the TypeScript load driver as a child process pinned to the load CPU.
import * as path from "path";
import type { DriverOutput, DriverSpec } from "./load_driver";
import { runToCompletion } from "./processes";
import type { RunContext, RunResult, Shape } from "./protocol";

const DRIVER = path.join(__dirname, "load_driver.js");

async function runDriver(ctx: RunContext, spec: Omit<DriverSpec, "protocol" | "host" | "port" | "durationSec" | "pids">): Promise<RunResult> {
  const full: DriverSpec = {
    ...spec,
    protocol: ctx.protocol.name,
    host: ctx.host,
    port: ctx.port,
    durationSec: ctx.durationSec,
    pids: ctx.pids,
  };
  const timeoutMs = (full.warmupSec + full.durationSec + (full.drainSec ?? 2) + 30) * 1000;
  const done = await runToCompletion(ctx.pin.load, process.execPath, [DRIVER, JSON.stringify(full)], timeoutMs);
  const line = done.stdout.trim().split("\n").pop() ?? "";
  if (done.code !== 0 || !line.startsWith("{")) {
    throw new Error(`load driver exited ${done.code}: ${done.stderr.trim().slice(-2000)}`);
  }
  const out = JSON.parse(line) as DriverOutput;
  return {
    requests: out.requests,
    seconds: out.seconds,
    throughput: out.throughput,
    latencyUs: out.latencyUs,
    errors: out.errors,
    cpuSec: out.cpuSec,
    sendLagUs: out.sendLagUs,
    lost: out.lost,
    totalCalls: out.totalCalls,
  };
}

/** Closed loop: `inFlight` calls outstanding at all times over `connections` connections. */
export function closedLoopShape(inFlight: number, connections: number, warmupSec: number): Shape {
  const conns = Math.min(inFlight, connections);
  return {
    id: `closed-c${inFlight}`,
    label: `closed loop, ${inFlight} in flight over ${conns} connection${conns > 1 ? "s" : ""}`,
    kind: "closed",
    run: (ctx) => runDriver(ctx, { connections: conns, mode: "closed", inFlight, warmupSec }),
  };
}

/** Open loop: `rate` calls per second on a fixed schedule over `connections` connections. */
export function openLoopShape(rate: number, connections: number, warmupSec: number): Shape {
  return {
    id: `open-${rate}`,
    label: `open loop, fixed ${rate} req/s over ${connections} connections`,
    kind: "open",
    // Busy-poll pacing only when the load generator has a CPU of its own: spinning next to the
    // system under test would take CPU from what is measured.
    run: (ctx) => runDriver(ctx, {
      connections, mode: "open", rate, warmupSec, drainSec: 2,
      pacing: ctx.pin.load !== null && ctx.pin.load !== ctx.pin.envoy && ctx.pin.load !== ctx.pin.backend ? "spin" : "thread",
    }),
  };
}
