// Redis: a Debian redis-server 7.0 as backend; load from redis-benchmark (GET/SET, unpipelined and
// -P 16, 50 clients) plus the TypeScript driver for a fixed-rate GET (redis-benchmark has no rate limit).
import * as net from "net";
import * as path from "path";
import { openLoopShape } from "../lib/driver_shapes";
import type { Pinning } from "../lib/pinning";
import { CpuWindow, ticksPerSecond } from "../lib/proc_stats";
import { freePort, portOpen, runToCompletion, startChild, stopChild, tail, waitFor } from "../lib/processes";
import type { Backend, BenchOptions, CodecCall, LatencySummary, ProtocolBench, RunContext, RunResult, Shape, Wire } from "../lib/protocol";

const KEY = "metaproto:bench";
const VALUE = "xxx"; // 3 bytes, redis-benchmark's default payload size

function command(...args: string[]): Buffer {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return Buffer.from(out);
}

/** Length of the RESP reply at buf[at..], or -1 if incomplete. Handles the reply types GET/SET/PING give. */
function replyLength(buf: Buffer, at: number): number {
  const eol = buf.indexOf(13, at);
  if (eol < 0 || eol + 1 >= buf.length) return -1;
  const type = buf[at];
  if (type === 0x24 /* $ */) {
    const n = Number(buf.toString("latin1", at + 1, eol));
    if (n < 0) return eol + 2 - at;
    const end = eol + 2 + n + 2;
    return end <= buf.length ? end - at : -1;
  }
  if (type === 0x2b /* + */ || type === 0x2d /* - */ || type === 0x3a /* : */) return eol + 2 - at;
  throw new Error(`unexpected RESP reply type 0x${type.toString(16)} for GET`);
}

class RedisGetWire implements Wire {
  readonly pairing = "fifo" as const;
  private readonly request = command("GET", KEY);
  readonly requestLength = this.request.length;

  writeRequest(_seq: number, out: Buffer, at: number): void {
    this.request.copy(out, at);
  }

  parse(buf: Buffer, onReply: (seq: number, ok: boolean) => void): number {
    let at = 0;
    while (at < buf.length) {
      const n = replyLength(buf, at);
      if (n < 0) break;
      onReply(-1, buf[at] !== 0x2d);
      at += n;
    }
    return at;
  }
}

/** Parses redis-benchmark's (non-CSV) report: summary line plus the percentile distribution. */
export function parseRedisBenchmark(text: string): { throughput: number; requests: number; seconds: number; latencyUs: LatencySummary } {
  const clean = text.replace(/\r/g, "\n");
  const thr = /throughput summary:\s*([\d.]+) requests per second/.exec(clean);
  const summary = /latency summary \(msec\):\s*\n\s*avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)/.exec(clean);
  const completed = /(\d+) requests completed in ([\d.]+) seconds/.exec(clean);
  if (!thr || !summary || !completed) throw new Error(`cannot parse redis-benchmark output:\n${clean.slice(-1500)}`);
  // The distribution lists HDR ticks (50, 75, 87.5, ... 99.902 ...): take the first at or above p.
  const ticks = [...clean.matchAll(/^([\d.]+)% <= ([\d.]+) milliseconds \(cumulative count \d+\)$/gm)];
  const distribution = ticks.slice(0, ticks.findIndex((m, i) => i > 0 && Number(m[1]) === 100) + 1 || undefined);
  const at = (p: number) => {
    const hit = distribution.find((m) => Number(m[1]) >= p);
    return hit ? Number(hit[2]) * 1000 : NaN;
  };
  const ms = (i: number) => Number(summary[i]) * 1000;
  return {
    throughput: Number(thr[1]),
    requests: Number(completed[1]),
    seconds: Number(completed[2]),
    latencyUs: { mean: ms(1), p50: ms(3), p90: at(90), p99: ms(5), p999: at(99.9), max: ms(6) },
  };
}

/** redis-benchmark, 50 clients, one command, optional pipelining; sized to run about `durationSec`. */
function redisBenchmarkShape(test: "get" | "set", pipeline: number, smoke: boolean): Shape {
  return {
    id: `rb-${test}-p${pipeline}`,
    label: `redis-benchmark -c 50 -t ${test}${pipeline > 1 ? ` -P ${pipeline}` : ""}`,
    kind: "closed",
    async run(ctx: RunContext): Promise<RunResult> {
      const guess = pipeline > 1 ? 150_000 : 30_000;
      const rate = ctx.rateHint > 0 ? ctx.rateHint : guess;
      const n = Math.max(smoke ? 2_000 : 10_000, Math.round(rate * ctx.durationSec));
      const args = ["-h", ctx.host, "-p", String(ctx.port), "-c", "50", "-n", String(n), "-t", test, "--precision", "3"];
      if (pipeline > 1) args.push("-P", String(pipeline));
      // The shell reports its waited child's CPU time (cutime/cstime) when redis-benchmark ends.
      const script = 'redis-benchmark "$@"; rc=$?; echo "CHILD_CPU $(cut -d" " -f16,17 /proc/$$/stat)" >&2; exit $rc';
      const cpu = new CpuWindow({ ...ctx.pids });
      const done = await runToCompletion(ctx.pin.load, "sh", ["-c", script, "sh", ...args], (ctx.durationSec * 10 + 60) * 1000);
      const cpuSec = cpu.stop();
      if (done.code !== 0) throw new Error(`redis-benchmark exited ${done.code}: ${done.stderr.slice(-1000)}`);
      const parsed = parseRedisBenchmark(done.stdout);
      const ticks = /CHILD_CPU (\d+) (\d+)/.exec(done.stderr);
      if (ticks) cpuSec.load = (Number(ticks[1]) + Number(ticks[2])) / ticksPerSecond();
      const errors = (done.stdout.match(/ERR|Error/g) ?? []).length;
      return { ...parsed, errors, cpuSec, totalCalls: parsed.requests };
    },
  };
}

function redisProxyFilters(cluster: string, statPrefix: string): string {
  return `- name: envoy.filters.network.redis_proxy
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy
    stat_prefix: ${statPrefix}
    settings: { op_timeout: 5s }
    prefix_routes: { catch_all_route: { cluster: ${cluster} } }
`;
}

function send(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(bytes));
    s.once("data", (d) => {
      s.destroy();
      resolve(d.toString());
    });
    s.once("error", reject);
  });
}

export const protocol: ProtocolBench = {
  name: "redis",
  pluginConfig: "{}",
  nativeFilters: [{ name: "redis_proxy", filtersYaml: redisProxyFilters, note: "redis_proxy (one multiplexed upstream connection)" }],

  async startBackend(workDir: string, pin: Pinning): Promise<Backend> {
    const port = await freePort();
    const child = startChild("redis-server", pin.backend, "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--maxclients", "10000"],
      path.join(workDir, "redis-server.log"));
    if (!(await waitFor(() => portOpen(port), 20_000))) {
      await stopChild(child);
      throw new Error(`redis-server did not start:\n${tail(child.logFile)}`);
    }
    const version = (await runToCompletion(null, "redis-server", ["--version"], 5000)).stdout.trim().split(" ")[2] ?? "";
    return { port, child, description: `redis-server ${version.replace("v=", "")} (Debian), no persistence` };
  },

  async prepare(port: number): Promise<void> {
    const reply = await send(port, command("SET", KEY, VALUE));
    if (!reply.startsWith("+OK")) throw new Error(`SET ${KEY} failed: ${reply}`);
  },

  shapes(options: BenchOptions): Shape[] {
    const rate = options.rate ?? 2000;
    const warmup = options.smoke ? 0.3 : 1;
    if (options.smoke) return [redisBenchmarkShape("get", 1, true), redisBenchmarkShape("set", 16, true), openLoopShape(rate, 8, warmup)];
    return [
      redisBenchmarkShape("get", 1, false),
      redisBenchmarkShape("set", 1, false),
      redisBenchmarkShape("get", 16, false),
      redisBenchmarkShape("set", 16, false),
      openLoopShape(rate, 8, warmup),
    ];
  },

  wire(): Wire {
    return new RedisGetWire();
  },

  codecCalls(): CodecCall[] {
    // RESP2 bytes as redis-server 7.0 exchanges them for these commands.
    const big = "v".repeat(16 * 1024);
    return [
      { name: "GET (3-byte value)", request: command("GET", KEY), response: Buffer.from(`$3\r\n${VALUE}\r\n`) },
      { name: "SET (3-byte value)", request: command("SET", KEY, VALUE), response: Buffer.from("+OK\r\n") },
      { name: "SET (16 KiB value)", request: command("SET", "metaproto:big", big), response: Buffer.from("+OK\r\n") },
      { name: "GET (16 KiB value)", request: command("GET", "metaproto:big"), response: Buffer.from(`$${big.length}\r\n${big}\r\n`) },
    ];
  },
};
