// The TypeScript load driver: replays a protocol's request over N connections, pairs replies by
// id or in order, and records latency in an HDR histogram. Two shapes:
//   closed loop: a fixed number of calls in flight; each reply triggers the next call;
//   open loop:   calls sent on a fixed schedule (a busy event loop paces it), latency measured
//                from the *intended* send time, so a slow target cannot hide queueing by slowing
//                the driver down (no coordinated omission).
// Run as a child process (pinned with taskset by the harness): node load_driver.js '<json DriverSpec>'.
// Prints one JSON line (DriverOutput) on stdout.
import * as net from "net";
import * as path from "path";
import { Worker } from "worker_threads";
import { performance } from "perf_hooks";
import { newLatencyHistogram, recordUs, summarize } from "./histogram";
import { CpuWindow } from "./proc_stats";
import type { LatencySummary, ProtocolBench, Wire } from "./protocol";

export interface DriverSpec {
  protocol: string;
  host: string;
  port: number;
  connections: number;
  mode: "closed" | "open";
  /** Closed loop: calls in flight across all connections. */
  inFlight?: number;
  /** Open loop: offered requests per second across all connections. */
  rate?: number;
  warmupSec: number;
  durationSec: number;
  /** Open loop pacing: a metronome thread (the driver sleeps between sends) or a busy event loop. */
  pacing?: "thread" | "spin";
  /** How long to wait for replies to calls sent in the window after it closes (open loop). */
  drainSec?: number;
  pids: { envoy?: number; backend: number };
}

export interface DriverOutput {
  requests: number;
  seconds: number;
  throughput: number;
  latencyUs: LatencySummary;
  errors: number;
  lost: number;
  cpuSec: Record<string, number>;
  sendLagUs?: { p50: number; p99: number };
  /** Successful replies over the whole run, warm-up and drain included. */
  totalCalls: number;
}

const RING = 1 << 16; // calls in flight per connection the id ring can track

/** Wall-clock milliseconds on a clock shared with worker threads. */
const nowMs = () => performance.timeOrigin + performance.now();

class DriverConnection {
  readonly socket: net.Socket;
  private readonly wire: Wire;
  private pending: Buffer = Buffer.alloc(0);
  private seq = 0;
  /** By id: intended send time per ring slot (NaN = free). FIFO: a queue of intended send times. */
  private readonly sentAt = new Float64Array(RING).fill(NaN);
  private head = 0;
  private tail = 0;
  outstanding = 0;
  /** Calls queued for the next write. */
  private batchTimes: number[] = [];

  constructor(readonly index: number, wire: Wire, socket: net.Socket, private readonly onReply: (sentAt: number, ok: boolean) => void,
    private readonly onBadReply: () => void) {
    this.wire = wire;
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
  }

  /** Queues a call intended at `intendedMs`; flush() writes the queue in one send. */
  queue(intendedMs: number): void {
    this.batchTimes.push(intendedMs);
  }

  flush(): void {
    const n = this.batchTimes.length;
    if (n === 0) return;
    const size = this.wire.requestLength;
    const out = Buffer.allocUnsafe(n * size);
    for (let i = 0; i < n; i++) {
      const seq = this.seq++ >>> 0;
      this.seq >>>= 0;
      this.wire.writeRequest(seq, out, i * size);
      const t = this.batchTimes[i];
      if (this.wire.pairing === "id") {
        const slot = seq & (RING - 1);
        if (!Number.isNaN(this.sentAt[slot])) this.onBadReply(); // ring overrun: an old call is given up
        else this.outstanding++;
        this.sentAt[slot] = t;
      } else {
        this.sentAt[this.tail] = t;
        this.tail = (this.tail + 1) & (RING - 1);
        this.outstanding++;
      }
    }
    this.batchTimes = [];
    this.socket.write(out);
  }

  private receive(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const used = this.wire.parse(buf, (seq, ok) => {
      let t: number;
      if (this.wire.pairing === "id") {
        const slot = seq & (RING - 1);
        t = this.sentAt[slot];
        if (Number.isNaN(t)) {
          this.onBadReply();
          return;
        }
        this.sentAt[slot] = NaN;
      } else {
        if (this.head === this.tail) {
          this.onBadReply();
          return;
        }
        t = this.sentAt[this.head];
        this.head = (this.head + 1) & (RING - 1);
      }
      this.outstanding--;
      this.onReply(t, ok);
    });
    buf = buf.subarray(used);
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }
}

function connectAll(spec: DriverSpec, protocol: ProtocolBench, onReply: (c: DriverConnection, sentAt: number, ok: boolean) => void,
  onBad: () => void): Promise<DriverConnection[]> {
  const tasks: Array<Promise<DriverConnection>> = [];
  for (let i = 0; i < spec.connections; i++) {
    tasks.push(new Promise((resolve, reject) => {
      const socket = net.connect(spec.port, spec.host);
      socket.setNoDelay(true);
      socket.once("error", reject);
      socket.once("connect", () => {
        const wire = protocol.wire(i);
        // Server-first protocols log in before the first call; a failed login fails the run.
        const ready = wire.handshake ? wire.handshake(socket, 10_000) : Promise.resolve();
        ready.then(() => {
          socket.removeListener("error", reject);
          socket.on("error", () => onBad());
          const c: DriverConnection = new DriverConnection(i, wire, socket, (t, ok) => onReply(c, t, ok), onBad);
          resolve(c);
        }, (err) => {
          socket.destroy();
          reject(err);
        });
      });
    }));
  }
  return Promise.all(tasks);
}

/**
 * A worker thread that wakes the main thread on the open-loop schedule (`Atomics.wait` sleeps with
 * microsecond precision; libuv timers run on a millisecond clock). The main thread sleeps in between.
 */
function startMetronome(periodMs: number, onTick: () => void): () => void {
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const source = `
    const { parentPort, workerData } = require("worker_threads");
    const { performance } = require("perf_hooks");
    const flag = workerData.flag;
    const now = () => performance.timeOrigin + performance.now();
    let next = now();
    while (Atomics.load(flag, 0) === 0) {
      next += workerData.periodMs;
      const wait = next - now();
      if (wait > 0) Atomics.wait(flag, 0, 0, wait);
      else if (wait < -100 * workerData.periodMs) next = now(); // fell far behind: do not burst
      parentPort.postMessage(0);
    }`;
  const worker = new Worker(source, { eval: true, workerData: { flag: shared, periodMs } });
  worker.on("message", onTick);
  return () => {
    Atomics.store(shared, 0, 1);
    Atomics.notify(shared, 0);
    void worker.terminate();
  };
}

/**
 * Runs `onTick` on every event-loop iteration until stopped: the loop never sleeps (I/O is polled
 * with a zero timeout between ticks), so sends happen within microseconds of their schedule and
 * replies are read as soon as they arrive. Costs a full CPU: the load generator's CPU, not the
 * system under test's. Timers alone are too coarse (libuv runs them on a millisecond clock).
 */
function startBusyLoop(onTick: () => void): () => void {
  let on = true;
  const spin = () => {
    if (!on) return;
    onTick();
    setImmediate(spin);
  };
  setImmediate(spin);
  return () => {
    on = false;
  };
}

export async function drive(spec: DriverSpec): Promise<DriverOutput> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const protocol: ProtocolBench = require(path.join(__dirname, "..", "protocols", spec.protocol)).protocol;
  const latency = newLatencyHistogram();
  const lag = newLatencyHistogram();
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let running = true;
  let completed = 0;
  let errors = 0;
  let bad = 0;
  let sentInWindow = 0;
  let answeredInWindow = 0;

  let totalCalls = 0;
  const onReply = (c: DriverConnection, sentAt: number, ok: boolean) => {
    const now = nowMs();
    if (ok) totalCalls++;
    if (sentAt >= windowStart && sentAt < windowEnd) {
      answeredInWindow++;
      if (now < windowEnd || spec.mode === "open") {
        completed++;
        if (!ok) errors++;
        recordUs(latency, (now - sentAt) * 1000);
      }
    }
    if (spec.mode === "closed" && running) c.queue(nowMs());
  };
  const conns = await connectAll(spec, protocol, onReply, () => bad++);
  // Closed loop: after each batch of replies, send their replacements in one write.
  if (spec.mode === "closed") for (const c of conns) c.socket.on("data", () => c.flush());

  let stopMetronome = () => {};
  const t0 = nowMs();
  if (spec.mode === "closed") {
    const inFlight = Math.max(1, spec.inFlight ?? 1);
    for (let i = 0; i < inFlight; i++) conns[i % conns.length].queue(t0);
    for (const c of conns) c.flush();
  } else {
    const rate = spec.rate ?? 1000;
    const intervalMs = 1000 / rate;
    let k = 0;
    let rr = 0;
    const tick = () => {
      if (!running) return;
      const now = nowMs();
      while (t0 + k * intervalMs <= now) {
        const intended = t0 + k * intervalMs;
        k++;
        if (intended >= windowStart && intended < windowEnd) {
          sentInWindow++;
          recordUs(lag, (now - intended) * 1000);
        }
        conns[rr].queue(intended);
        rr = (rr + 1) % conns.length;
      }
      for (const c of conns) c.flush();
    };
    stopMetronome = spec.pacing === "spin" ? startBusyLoop(tick) : startMetronome(Math.max(intervalMs, 0.05), tick);
  }

  await new Promise((r) => setTimeout(r, spec.warmupSec * 1000));
  windowStart = nowMs();
  windowEnd = windowStart + spec.durationSec * 1000;
  const cpu = new CpuWindow({ ...spec.pids });
  const ownCpuStart = process.cpuUsage();
  await new Promise((r) => setTimeout(r, Math.max(0, windowEnd - nowMs())));
  const cpuSec = cpu.stop();
  const own = process.cpuUsage(ownCpuStart);
  cpuSec.load = (own.user + own.system) / 1e6;
  const seconds = (nowMs() - windowStart) / 1000;
  const closedCompleted = completed;
  running = false;
  stopMetronome();
  if (spec.mode === "open") {
    // Replies to calls sent in the window still count, however late: that is the latency.
    const deadline = nowMs() + (spec.drainSec ?? 2) * 1000;
    while (answeredInWindow < sentInWindow && nowMs() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  for (const c of conns) c.socket.destroy();
  const requests = spec.mode === "open" ? completed : closedCompleted;
  return {
    requests,
    seconds,
    throughput: requests / seconds,
    latencyUs: summarize(latency),
    errors: errors + bad,
    lost: spec.mode === "open" ? sentInWindow - answeredInWindow : 0,
    cpuSec,
    sendLagUs: spec.mode === "open" ? { p50: lag.getValueAtPercentile(50), p99: lag.getValueAtPercentile(99) } : undefined,
    totalCalls,
  };
}

if (require.main === module) {
  const spec = JSON.parse(process.argv[2]) as DriverSpec;
  drive(spec).then(
    (out) => {
      process.stdout.write(JSON.stringify(out) + "\n");
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`load driver failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(2);
    },
  );
}
