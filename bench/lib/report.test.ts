import { aggregates, routerGoal } from "./report";
import type { ProtocolReport, TargetInfo } from "./runner";
import type { RunResult } from "./protocol";

const run = (throughput: number): RunResult => ({
  requests: throughput, seconds: 1, throughput, errors: 0, cpuSec: { envoy: 0.01 },
  latencyUs: { p50: 100, p90: 100, p99: 100, p999: 100, max: 100, mean: 100 },
});

/** A Dubbo-like report: closed-c8 and open-2000, router at the given throughput, both native filters at 10,000 req/s. */
function report(router: { status: string; c8?: number; open?: number }): ProtocolReport {
  const targets: TargetInfo[] = [
    { name: "tcp_proxy", kind: "tcp_proxy", status: "ok" },
    { name: "metaproto_router", kind: "router", status: router.status },
    { name: "generic_proxy", kind: "native", status: "ok" },
    { name: "dubbo_proxy", kind: "native", status: "ok" },
  ];
  const measurements = [
    ...["tcp_proxy", "generic_proxy"].flatMap((target) => [{ shape: "closed-c8", target, round: 1, result: run(10_000) }, { shape: "open-2000", target, round: 1, result: run(2000) }]),
    { shape: "closed-c8", target: "dubbo_proxy", round: 1, result: run(12_000) },
    { shape: "open-2000", target: "dubbo_proxy", round: 1, result: run(2000) },
    ...(router.c8 ? [{ shape: "closed-c8", target: "metaproto_router", round: 1, result: run(router.c8) }] : []),
    ...(router.open ? [{ shape: "open-2000", target: "metaproto_router", round: 1, result: run(router.open) }] : []),
  ];
  return {
    protocol: "dubbo", wasm: "dist/wasm/dubbo.wasm", wasmStatus: "ok", backend: "", targets,
    shapes: [{ id: "closed-c8", label: "", kind: "closed" }, { id: "open-2000", label: "", kind: "open" }],
    measurements, decodeRates: [], envoyIdle: [], envoyIdleErrors: [], problems: [],
  };
}

const goal = (p: ProtocolReport) => routerGoal(p, aggregates(p));

describe("the router-mode aim", () => {
  test("gives the lowest closed-loop ratio against each native filter, met only when every one is ≥ 0.70×", () => {
    expect(goal(report({ status: "ok", c8: 8000, open: 100 }))).toEqual([{
      text: "router mode ≥ 0.70× the native filter (every closed-loop shape)",
      value: "lowest 0.80× generic_proxy (closed-c8); lowest 0.67× dubbo_proxy (closed-c8)", met: false,
    }]);
    expect(goal(report({ status: "ok", c8: 9000 }))[0].met).toBe(true);
  });

  test("says why when the router target did not run, and is absent without it", () => {
    expect(goal(report({ status: "not built" }))).toEqual([{ text: "router mode ≥ 0.70× the native filter (every closed-loop shape)", value: "metaproto_router not built", met: null }]);
    const without = report({ status: "ok" });
    without.targets = without.targets.filter((t) => t.kind !== "router");
    expect(goal(without)).toEqual([]);
  });
});
