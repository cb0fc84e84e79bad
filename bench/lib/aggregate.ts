// Per (protocol, shape, target): medians over rounds of what each run measured.
import type { ProtocolReport } from "./runner";

export interface Aggregate {
  shape: string;
  target: string;
  rounds: number;
  failedRounds: number;
  throughput: number;
  throughputMin: number;
  throughputMax: number;
  p50: number;
  p99: number;
  p999: number;
  /** Envoy CPU milliseconds per 1 000 requests (= µs per request). */
  envoyCpuMsPer1k: number;
  backendCpuMsPer1k: number;
  /** Load generator CPU as a share of one CPU over the window. */
  loadCpuShare: number;
  envoyRssMiB: number;
  errors: number;
  lost: number;
  sendLagP99: number;
  /** CPUs' worth of work by processes outside the benchmark during the window (machine busy time minus ours). */
  otherCpu: number;
  /** CPUs' worth of time the hypervisor took from this VM during the window (/proc/stat steal). */
  stealCpu: number;
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function aggregate(report: ProtocolReport, shape: string, target: string): Aggregate | null {
  const runs = report.measurements.filter((m) => m.shape === shape && m.target === target);
  if (runs.length === 0) return null;
  const ok = runs.filter((m) => m.result).map((m) => ({ r: m.result!, rss: m.envoyRssBytes }));
  const med = (f: (x: (typeof ok)[number]) => number) => median(ok.map(f));
  const per1k = (cpu: number | undefined, requests: number) => (cpu === undefined ? NaN : (cpu / requests) * 1e6);
  return {
    shape,
    target,
    rounds: runs.length,
    failedRounds: runs.length - ok.length,
    throughput: med((x) => x.r.throughput),
    throughputMin: Math.min(...ok.map((x) => x.r.throughput)),
    throughputMax: Math.max(...ok.map((x) => x.r.throughput)),
    p50: med((x) => x.r.latencyUs.p50),
    p99: med((x) => x.r.latencyUs.p99),
    p999: med((x) => x.r.latencyUs.p999),
    envoyCpuMsPer1k: med((x) => per1k(x.r.cpuSec.envoy, x.r.requests)),
    backendCpuMsPer1k: med((x) => per1k(x.r.cpuSec.backend, x.r.requests)),
    loadCpuShare: med((x) => (x.r.cpuSec.load ?? NaN) / x.r.seconds),
    envoyRssMiB: med((x) => (x.rss ?? NaN) / 2 ** 20),
    errors: ok.reduce((s, x) => s + x.r.errors, 0),
    lost: ok.reduce((s, x) => s + (x.r.lost ?? 0), 0),
    sendLagP99: med((x) => x.r.sendLagUs?.p99 ?? NaN),
    otherCpu: med((x) => {
      const c = x.r.cpuSec;
      if (c.machine_tasks === undefined) return NaN;
      return Math.max(0, c.machine_tasks - (c.envoy ?? 0) - (c.backend ?? 0) - (c.load ?? 0)) / x.r.seconds;
    }),
    stealCpu: med((x) => (x.r.cpuSec.machine_steal ?? NaN) / x.r.seconds),
  };
}
