// Public types of the host emulator: what tests pass in and get back.
import type { SharedData } from "./shared_data";

/** Envoy/spdlog log levels, in the order of their numeric values 0..5. */
export type LogLevelName = "trace" | "debug" | "info" | "warn" | "error" | "critical";

/** The levels by numeric value (`LOG_LEVELS[2] === "info"`). */
export const LOG_LEVELS: readonly LogLevelName[] = ["trace", "debug", "info", "warn", "error", "critical"];

/** proxy-wasm `WasmResult` codes returned by host functions. */
export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
}

/** Network filter status as Envoy sees it: any non-zero return value of a data callback is a pause. */
export enum FilterStatus {
  Continue = 0,
  Pause = 1,
}

/** One log line, from `proxy_log` or from WASI `fd_write` (stdout is logged at info, stderr at error, as Envoy does). */
export interface LogEntry {
  level: LogLevelName;
  message: string;
  source: "proxy_log" | "stdout" | "stderr";
  /** The context that was executing (the VM-side caller), 0 outside callbacks. */
  contextId: number;
}

/** A `proxy_call_foreign_function` call, whatever its result. */
export interface ForeignCall {
  name: string;
  argument: Uint8Array;
  contextId: number;
  result: WasmResult;
}

/** A call to a host function the emulator does not implement (it returned `Unimplemented`, or ENOSYS for WASI). */
export interface UnimplementedCall {
  module: string;
  name: string;
  args: Array<number | bigint>;
  contextId: number;
}

/** A host call that passed an out-of-bounds pointer; Envoy answers it with `InvalidMemoryAccess` (WASI: EFAULT). */
export interface MemoryFault {
  function: string;
  ptr: number;
  length: number;
  contextId: number;
}

/** A trap (or any exception) raised while the VM was executing. */
export interface TrapRecord {
  /** The export being called, e.g. `proxy_on_downstream_data`. */
  callback: string;
  contextId: number;
  error: unknown;
  /** `error` rendered as text. */
  message: string;
  /** Everything the module logged during the failing call, regardless of the host log level. */
  logs: LogEntry[];
}

/** A metric as the emulator holds it. Names are as the module defined them (Envoy adds the `wasmcustom.` prefix). */
export interface MetricSnapshot {
  name: string;
  type: "counter" | "gauge" | "histogram";
  /** Counter/gauge value; for a histogram, the number of samples. */
  value: number;
  /** Histogram samples, in recording order. */
  samples?: number[];
}

/** A `proxy_grpc_call` the module made. */
export interface GrpcCall {
  token: number;
  /** The context that made it (and gets its answer). */
  contextId: number;
  /** `envoy_grpc.cluster_name` of the GrpcService the module passed. */
  cluster: string;
  /** e.g. `opentelemetry.proto.collector.trace.v1.TraceService`. */
  serviceName: string;
  method: string;
  initialMetadata: Uint8Array;
  /** The serialized request message. */
  request: Uint8Array;
  timeoutMs: number;
  /** null while open; "ok" after grpcRespond; the status after grpcFail. */
  outcome: null | "ok" | number;
}

/** Options for {@link ProxyTestHost.load}. */
export interface HostOptions {
  /** Plugin configuration (`PluginConfig.configuration`), read by the module in `proxy_on_configure`. */
  pluginConfig?: string | Uint8Array;
  /** VM configuration (`vm_config.configuration`), available in `proxy_on_vm_start`. */
  vmConfig?: string | Uint8Array;
  /**
   * Properties for `proxy_get_property`, keyed by path. A path arrives from the module as
   * NUL-separated segments (`"source\0address"`); a key written with dots (`"source.address"`)
   * matches it too. Values are raw bytes (strings are UTF-8 encoded): encode integers the way
   * Envoy does (int64/uint64 little-endian, 8 bytes) if the module expects them.
   */
  properties?: Record<string, string | Uint8Array>;
  /** Host (Envoy `wasm` logger) level: what `proxy_get_log_level` returns and which lines are kept. Default `info`, as in Envoy. */
  logLevel?: LogLevelName;
  /** Wall clock at load, ms since the epoch. Default `Date.now()`. The clock only moves with {@link ProxyTestHost.advanceTime}. */
  nowMs?: number;
  /** `plugin_root_id` property / root id. Default `""`. */
  rootId?: string;
  /** `plugin_vm_id` property; also the shared-data/queue namespace. Default `""`. */
  vmId?: string;
  /** `plugin_name` property. Default `"proxytest"`. */
  pluginName?: string;
  /** WASI environment variables (Envoy: `vm_config.environment_variables`). */
  env?: Record<string, string>;
  /** Shared-data store; pass another host's `sharedData` to emulate two worker VMs of one vm_id. */
  sharedData?: SharedData;
  /**
   * Largest linear memory the VM may have, in bytes; a callback that leaves it larger traps, as the
   * module's allocation would fail in Envoy. Default {@link ENVOY_MAX_VM_MEMORY_BYTES}.
   */
  maxMemoryBytes?: number;
  /**
   * Clusters a `proxy_grpc_call` may target (others get BadArgument, as Envoy refuses an unknown
   * cluster). Default: any.
   */
  grpcClusters?: string[];
  /** Print every kept log line to the console as it happens (also enabled by env `PROXYTEST_ECHO_LOGS=1`). */
  echoLogs?: boolean;
}

/** proxy-wasm-cpp-host's default cap on a VM's linear memory (PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES). */
export const ENVOY_MAX_VM_MEMORY_BYTES = 1024 * 1024 * 1024;

/** Options for {@link ProxyTestHost.newConnection}. */
export interface ConnectionOptions {
  /** Per-connection properties, overriding the host's (same key rules as {@link HostOptions.properties}). */
  properties?: Record<string, string | Uint8Array>;
}

/** Result of feeding bytes to one direction of a connection. */
export interface DataResult {
  /** What the callback returned, as Envoy reads it (0 Continue, anything else Pause). */
  status: FilterStatus;
  /** Bytes that left the filter in this direction during this call (after any `set_buffer_bytes`). */
  forwarded: Uint8Array;
  /** Bytes still held in this direction's buffer because the filter paused. */
  buffered: number;
}
