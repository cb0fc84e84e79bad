// What a protocol contributes to the benchmark. One module per protocol in bench/protocols/<name>.ts
// exports `protocol: ProtocolBench`; the harness does targets, rounds, measurement and the report.
import type * as net from "net";
import type { Child } from "./processes";
import type { Pinning } from "./pinning";

/** Request bytes and reply parsing for the TypeScript load driver (bench/lib/load_driver.ts). */
export interface Wire {
  /** Bytes of one request. */
  readonly requestLength: number;
  /** How replies find their request: by the id the request carried, or in order. */
  readonly pairing: "id" | "fifo";
  /** Writes request number `seq` (0 <= seq < 2^32) at `out[at..at+requestLength)`. */
  writeRequest(seq: number, out: Buffer, at: number): void;
  /**
   * Parses the whole replies in `buf[0..)`, calling `onReply(seq, ok)` for each (`seq` is -1 with
   * FIFO pairing); returns the bytes consumed. `ok` is false for a reply that says the call failed.
   */
  parse(buf: Buffer, onReply: (seq: number, ok: boolean) => void): number;
  /**
   * Optional, for server-first protocols (MySQL): runs on a freshly connected socket before the first
   * request (read the greeting, log in) and resolves once calls may be sent. It must remove every
   * listener it adds; the server must send nothing unasked after it.
   */
  handshake?(socket: net.Socket, timeoutMs: number): Promise<void>;
}

/** Everything a shape's run may use. */
export interface RunContext {
  repo: string;
  workDir: string;
  pin: Pinning;
  host: string;
  port: number;
  /** Measured seconds (the shape's own warm-up comes on top). */
  durationSec: number;
  /** Processes whose CPU time the run attributes: Envoy (absent for the direct target) and the backend. */
  pids: { envoy?: number; backend: number };
  /** A rate (requests/s) seen earlier for this shape and target, to size fixed-count tools; 0 if none. */
  rateHint: number;
  protocol: ProtocolBench;
  /** True during the warm-up pass (results are not reported). */
  warmup: boolean;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** What one run of one shape against one target measured. Latencies in microseconds. */
export interface RunResult {
  requests: number;
  seconds: number;
  throughput: number;
  latencyUs: LatencySummary;
  errors: number;
  /** CPU seconds in the window, by process role: envoy, backend, load. */
  cpuSec: Record<string, number>;
  /** Open loop only: how late the driver sent compared to the schedule (µs). */
  sendLagUs?: { p50: number; p99: number };
  /** Requests sent in the window whose reply never came. */
  lost?: number;
  /** Replies the load generator received over the whole run, warm-up included (for the MetaProto count check). */
  totalCalls?: number;
  note?: string;
}

export interface Shape {
  /** Short id used in file names and tables, e.g. `closed-c8`. */
  id: string;
  /** Human label, e.g. `closed loop, 8 in flight`. */
  label: string;
  kind: "closed" | "open";
  run(ctx: RunContext): Promise<RunResult>;
}

/** An Envoy native L7 filter for the protocol: the filters of its listener, ending in its proxy. */
export interface NativeFilter {
  /** Target name in tables, e.g. `redis_proxy`. */
  name: string;
  /** YAML list items (`- name: ...`) for the listener's filter chain, routing to `cluster`. */
  filtersYaml(cluster: string, statPrefix: string): string;
  /** Whether Envoy should open an upstream connection per downstream connection (for the idle-memory note). */
  note?: string;
}

export interface Backend {
  port: number;
  child: Child;
  /** e.g. `Apache Dubbo 3.3.6 Java provider (OpenJDK 17)`. */
  description: string;
}

/** A message for the codec micro-benchmark: bytes a compiled module decodes in one direction. */
export interface CodecSample {
  name: string;
  direction: "downstream" | "upstream";
  bytes: Buffer;
}

/** Pairs of request/response bytes that make one call, for the codec micro-benchmark mix. */
export interface CodecCall {
  name: string;
  request: Buffer;
  response: Buffer;
}

export interface BenchOptions {
  smoke: boolean;
  durationSec: number;
  /** Per-protocol override of the open-loop rate (requests/s). */
  rate?: number;
}

export interface ProtocolBench {
  /** Also the Wasm module name: dist/wasm/<name>.wasm, and the `protocol` metric label. */
  name: string;
  /** The MetaProto plugin configuration (JSON text). */
  pluginConfig: string;
  /** Envoy's own L7 filters for this protocol; the first is the one the ratio table uses. */
  nativeFilters: NativeFilter[];
  /** Envoy's native filter for the protocol when the Envoy build lacks it: listed as "not available". */
  unavailableNative?: { name: string; note: string };
  startBackend(workDir: string, pin: Pinning): Promise<Backend>;
  /** Runs once against the direct backend before any target (e.g. to populate keys). */
  prepare?(port: number): Promise<void>;
  /** The load shapes, in the order they run. */
  shapes(options: BenchOptions): Shape[];
  /** The driver's request/reply codec; `connectionIndex` lets ids differ between connections. */
  wire(connectionIndex: number): Wire;
  /** Calls for the codec micro-benchmark and the Wasm memory measurement (request + response). */
  codecCalls(repo: string): CodecCall[];
  /**
   * Optional: messages every connection starts with before any call can be made (a server-first
   * handshake: greeting, login, OK), fed in order on each new connection of the codec
   * micro-benchmark and the Wasm memory measurement, before `codecCalls`. Not counted as messages.
   */
  codecPreamble?(repo: string): CodecSample[];
  /**
   * Optional: answers requests without a real backend, for the load-driver ceiling check
   * (bench/lib/canned_server.ts). `requestLength` returns the length of the whole request at
   * `buf[at..]`, or 0 if incomplete; `reply` returns the bytes that answer it.
   */
  cannedResponder?: {
    requestLength(buf: Buffer, at: number): number;
    reply(request: Buffer): Buffer;
  };
}
