/**
 * proxytest: a proxy-wasm (ABI 0.2.1) host emulator for network-filter modules.
 *
 * Loads a compiled module in Node's own WebAssembly, implements the host functions it imports
 * the way Envoy 1.40's Wasm network filter does (proxy-wasm-cpp-host + Envoy's Context), and
 * drives the network-filter callbacks, so codec and filter tests run against the compiled `.wasm`
 * without an Envoy. See README.md beside this file for what is and is not emulated.
 */
import { readFileSync } from "fs";
import { randomFillSync } from "crypto";
import { deflateSync, inflateSync } from "zlib";
import { EMPTY, concat, toBytes, u64le, utf8, utf8Decoder } from "./bytes";
import { ConnState, Connection } from "./connection";
import type { ConnectionDriver } from "./connection";
import { ConfigRejected, HostLoadError, OutOfBounds, ProcExit, RestrictedCallback, VmFailed, VmTrap, formatLogs } from "./errors";
import { decodeSetEnvoyFilterStateArguments } from "./filter_state";
import { SharedData } from "./shared_data";
import { ENVOY_MAX_VM_MEMORY_BYTES, FilterStatus, LOG_LEVELS, WasmResult } from "./types";
import type {
  ConnectionOptions, DataResult, ForeignCall, GrpcCall, HostOptions, LogEntry, LogLevelName, MemoryFault, MetricSnapshot, TrapRecord,
  UnimplementedCall,
} from "./types";

/**
 * The cluster of a serialized envoy.config.core.v3.GrpcService whose target is `envoy_grpc`
 * (field 1, EnvoyGrpc.cluster_name field 1); null when it holds no such thing.
 */
export function grpcServiceCluster(bytes: Uint8Array): string | null {
  let at = 0;
  const varint = (): number => {
    let n = 0;
    let shift = 0;
    while (at < bytes.length) {
      const b = bytes[at++];
      n += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return n;
      shift += 7;
    }
    return -1;
  };
  let cluster: string | null = null;
  while (at < bytes.length) {
    const key = varint();
    if (key < 0 || (key & 7) !== 2) return null; // this reader knows length-delimited fields only
    const length = varint();
    if (length < 0 || at + length > bytes.length) return null;
    const body = bytes.subarray(at, at + length);
    at += length;
    if (key >>> 3 !== 1) continue;
    if (body.length < 2 || body[0] !== 0x0a || body[1] + 2 > body.length) return null;
    cluster = utf8Decoder.decode(body.subarray(2, 2 + body[1]));
  }
  return cluster;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

// Host functions Envoy registers under "env" (proxy-wasm-cpp-host, ABI 0.2.1) that the emulator
// answers with Unimplemented: HTTP-only or callout functions a network codec has no use for here.
const UNIMPLEMENTED_ENV = new Set([
  "proxy_send_local_response",
  "proxy_get_header_map_value",
  "proxy_add_header_map_value",
  "proxy_replace_header_map_value",
  "proxy_remove_header_map_value",
  "proxy_get_header_map_pairs",
  "proxy_set_header_map_pairs",
  "proxy_get_header_map_size",
  "proxy_http_call",
  "proxy_grpc_stream",
  "proxy_grpc_close",
  "proxy_grpc_cancel",
  "proxy_grpc_send",
]);

// WASI functions Envoy registers whose behaviour is "not supported": the emulator answers ENOSYS and records them.
const UNIMPLEMENTED_WASI = new Set([
  "fd_pread",
  "fd_pwrite",
  "fd_readdir",
  "fd_renumber",
  "fd_sync",
  "fd_tell",
  "path_create_directory",
  "path_filestat_set_times",
  "path_link",
  "path_readlink",
  "path_remove_directory",
  "path_rename",
  "path_symlink",
  "path_unlink_file",
  "sock_accept",
  "sock_recv",
  "sock_send",
  "sock_shutdown",
]);

// Host calls proxy-wasm-cpp-host allows while `_initialize`/`_start` runs; anything else traps.
const ALLOWED_DURING_START = new Set([
  "env.proxy_log",
  "env.emscripten_notify_memory_growth",
  ...[
    "fd_write",
    "args_sizes_get",
    "args_get",
    "environ_sizes_get",
    "environ_get",
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "poll_oneoff",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_advise",
    "fd_allocate",
    "fd_datasync",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_dir_name",
    "fd_prestat_get",
    "fd_pwrite",
    "fd_readdir",
    "fd_renumber",
    "fd_sync",
    "fd_tell",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
  ].map((n) => "wasi." + n),
]);

// Host calls allowed while the host runs the module's malloc for a returned value.
const ALLOWED_DURING_MALLOC = new Set(["env.proxy_log", "wasi.fd_write", "wasi.clock_time_get", "wasi.poll_oneoff"]);

type AnyFn = (...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

interface BufferView {
  data: Uint8Array;
  /** Present for the two network buffers while the filter holds them; absent means immutable. */
  replace?: (next: Uint8Array) => void;
}

interface MetricState {
  name: string;
  type: 0 | 1 | 2;
  value: number;
  samples: number[];
}

interface QueueState {
  rootContextId: number;
  items: Uint8Array[];
}

const ROOT_CONTEXT_ID = 1;
const METRIC_TYPE_NAMES = ["counter", "gauge", "histogram"] as const;

// ---------------------------------------------------------------------------------------------
// Host
// ---------------------------------------------------------------------------------------------

/**
 * A proxy-wasm host emulating Envoy's Wasm network filter, for one VM and one plugin (root context 1).
 *
 * ```ts
 * const host = await ProxyTestHost.load("build/codec.wasm", { pluginConfig: "{}" });
 * host.start();
 * const c = host.newConnection();
 * expect(c.downstream(bytes).forwarded).toEqual(bytes);
 * ```
 */
export class ProxyTestHost {
  /** The root context id (Envoy allocates 1 to the first plugin of a VM). */
  readonly rootContextId = ROOT_CONTEXT_ID;
  /** Log lines at or above the host log level, in order. */
  readonly logs: LogEntry[] = [];
  /** Every `proxy_call_foreign_function` call. */
  readonly foreignCalls: ForeignCall[] = [];
  /** Calls to host functions the emulator does not implement. */
  readonly unimplementedCalls: UnimplementedCall[] = [];
  /** Host calls that passed out-of-bounds pointers (answered with InvalidMemoryAccess / EFAULT). */
  readonly memoryFaults: MemoryFault[] = [];
  /** Traps; after the first one the VM is failed. */
  readonly traps: TrapRecord[] = [];
  /** The shared-data store (`proxy_get/set_shared_data`). */
  readonly sharedData: SharedData;
  /** Tick period set by the module with `proxy_set_tick_period_milliseconds` (0 = no timer). */
  tickPeriodMs = 0;
  /** Every `proxy_grpc_call` the module made, in order; answer them with grpcRespond / grpcFail. */
  readonly grpcCalls: GrpcCall[] = [];
  private nextGrpcToken = 1;
  private grpcReceiveBuffer: Uint8Array | null = null;

  private readonly options: HostOptions;
  private readonly module: WebAssembly.Module;
  private instance!: WebAssembly.Instance;
  private exportsObj!: Record<string, unknown>;
  private memory!: WebAssembly.Memory;
  private readonly maxMemoryBytes: number;
  private readonly logLevel: number;
  private readonly echo: boolean;
  private readonly hostProperties: Map<string, Uint8Array>;
  private readonly vmConfig: Uint8Array;
  private pluginConfig: Uint8Array;
  private nowNs: bigint;
  private monotonicNs = 1_000_000_000n;
  private nextTickAtNs: bigint | null = null;
  private startedFlag = false;
  private startAttempted = false;
  private shutDown = false;
  private failure: TrapRecord | null = null;
  private readonly connections = new Map<number, { state: ConnState; facade: Connection }>();
  private nextContextId = ROOT_CONTEXT_ID + 1;
  /** Root contexts created by reconfigure(); new connections attach to the newest. */
  private extraRoots = new Set<number>();
  private currentRootId = ROOT_CONTEXT_ID;
  private nextConnectionNumber = 1;
  private currentContextId = 0;
  private effectiveContextId = 0;
  private depth = 0;
  private callOutput: LogEntry[] = [];
  /** Unfiltered output of the last completed top-level VM call. */
  private lastCallOutput: LogEntry[] = [];
  private afterVmCall: Array<() => void> = [];
  private posted: Array<() => void> = [];
  private operationDepth = 0;
  private restriction: { allowed: Set<string>; phase: string } | null = null;
  private pluginConfigAvailable = false;
  private readonly metricsById = new Map<number, MetricState>();
  private readonly metricIds = new Map<string, number>();
  private readonly nextMetricId = [0, 1, 2];
  private readonly queueTokens = new Map<string, number>();
  private readonly queues = new Map<number, QueueState>();
  private nextQueueToken = 1;
  private rootDonePending = false;
  private rootDeleted = false;
  private readonly driver: ConnectionDriver;

  private constructor(module: WebAssembly.Module, options: HostOptions) {
    this.module = module;
    this.options = options;
    const level = LOG_LEVELS.indexOf(options.logLevel ?? "info");
    if (level < 0) throw new Error(`unknown log level ${options.logLevel}`);
    this.logLevel = level;
    this.echo = options.echoLogs === true || process.env.PROXYTEST_ECHO_LOGS === "1";
    this.maxMemoryBytes = options.maxMemoryBytes ?? ENVOY_MAX_VM_MEMORY_BYTES;
    this.hostProperties = ProxyTestHost.propertyMap(options.properties);
    this.vmConfig = toBytes(options.vmConfig).slice();
    this.pluginConfig = toBytes(options.pluginConfig).slice();
    this.nowNs = BigInt(Math.round((options.nowMs ?? Date.now()) * 1e6));
    this.sharedData = options.sharedData ?? new SharedData();
    this.driver = {
      feed: (state, direction, bytes, eos) => this.feed(state, direction, bytes, eos),
      close: (state, side) => this.closeConnection(state, side),
    };
  }

  /**
   * Compiles and instantiates a module, checks its imports against what Envoy provides, and runs
   * its start code (`_initialize`, or `_start`) under Envoy's start-up restrictions.
   * @param wasm a path to a `.wasm` file, the bytes, or a compiled module
   * @throws HostLoadError if Envoy would refuse the module; VmTrap if start-up code traps
   */
  static async load(wasm: string | Uint8Array | WebAssembly.Module, options: HostOptions = {}): Promise<ProxyTestHost> {
    let module: WebAssembly.Module;
    if (wasm instanceof WebAssembly.Module) module = wasm;
    else module = await WebAssembly.compile(typeof wasm === "string" ? readFileSync(wasm) : new Uint8Array(wasm));
    const host = new ProxyTestHost(module, options);
    host.instantiate();
    return host;
  }

  // -------------------------------------------------------------------------------------------
  // Public driving API
  // -------------------------------------------------------------------------------------------

  /**
   * Brings the plugin up as Envoy does: `proxy_on_context_create(root, 0)`,
   * `proxy_on_vm_start(root, vmConfigSize)`, `proxy_on_configure(root, pluginConfigSize)`.
   * @throws ConfigRejected if on_vm_start or on_configure returns 0
   */
  start(): void {
    this.assertAlive();
    if (this.startAttempted) throw new Error("host.start() can only be called once (Envoy starts a plugin once)");
    this.startAttempted = true;
    this.operation(() => {
      const root = ROOT_CONTEXT_ID;
      this.pluginConfigAvailable = true;
      try {
        this.invoke("proxy_on_context_create", root, [root, 0]);
      } finally {
        this.pluginConfigAvailable = false;
      }
      const vmOk = this.invoke("proxy_on_vm_start", root, [root, this.vmConfig.length]);
      if (vmOk === 0) throw new ConfigRejected("vm_start", this.lastCallOutput);
      this.pluginConfigAvailable = true;
      let ok: number | undefined;
      try {
        ok = this.invoke("proxy_on_configure", root, [root, this.pluginConfig.length]);
      } finally {
        this.pluginConfigAvailable = false;
      }
      if (ok === 0) throw new ConfigRejected("configure", this.lastCallOutput);
      this.startedFlag = true;
    });
  }

  /**
   * Opens a connection: `proxy_on_context_create(id, root)` then `proxy_on_new_connection(id)`.
   * Default properties: `connection_id` (uint64), `source.address`/`source.port`,
   * `destination.address`/`destination.port` (127.0.0.1, ports 40000+n and 10000).
   */
  newConnection(opts: ConnectionOptions = {}): Connection {
    this.assertAlive();
    if (!this.startedFlag) throw new Error("call host.start() before newConnection()");
    if (this.shutDown) throw new Error("host is shut down");
    const n = this.nextConnectionNumber++;
    const props = new Map<string, Uint8Array>([
      ["connection_id", u64le(n)],
      ["source.address", utf8.encode(`127.0.0.1:${40000 + n}`)],
      ["source.port", u64le(40000 + n)],
      ["destination.address", utf8.encode("127.0.0.1:10000")],
      ["destination.port", u64le(10000)],
    ]);
    for (const [k, v] of ProxyTestHost.propertyMap(opts.properties)) props.set(k, v);
    const state = new ConnState(this.nextContextId++, props);
    const facade = new Connection(state, this.driver);
    this.connections.set(state.id, { state, facade });
    this.operation(() => {
      this.invoke("proxy_on_context_create", state.id, [state.id, this.currentRootId]);
      state.contextCreated = true;
      const raw = this.invoke("proxy_on_new_connection", state.id, [state.id]);
      state.newConnectionStatus = raw === undefined || raw === 0 ? FilterStatus.Continue : FilterStatus.Pause;
    });
    return facade;
  }

  /**
   * A configuration-only update, as Envoy applies one from ECDS: the same VM gets a new root
   * context (`proxy_on_context_create(newRoot, 0)`, `proxy_on_configure(newRoot, size)`); new
   * connections attach to it, open ones stay with the root they were created under.
   * @returns the new root context id
   * @throws ConfigRejected if on_configure returns 0 (Envoy then keeps the previous configuration)
   */
  reconfigure(pluginConfig: string | Uint8Array): number {
    this.assertAlive();
    if (!this.startedFlag) throw new Error("call host.start() before reconfigure()");
    const root = this.nextContextId++;
    const previousConfig = this.pluginConfig;
    this.pluginConfig = toBytes(pluginConfig).slice();
    this.extraRoots.add(root);
    this.operation(() => {
      this.pluginConfigAvailable = true;
      let ok: number | undefined;
      try {
        this.invoke("proxy_on_context_create", root, [root, 0]);
        ok = this.invoke("proxy_on_configure", root, [root, this.pluginConfig.length]);
      } finally {
        this.pluginConfigAvailable = false;
      }
      if (ok === 0) {
        this.pluginConfig = previousConfig;
        throw new ConfigRejected("configure", this.lastCallOutput);
      }
    });
    this.currentRootId = root;
    return root;
  }

  /**
   * Answers gRPC call `token` with a response message (`proxy_on_grpc_receive` on the context that
   * made the call; the bytes are the gRPC receive buffer during it), as Envoy does for a unary call
   * that succeeded.
   */
  grpcRespond(token: number, response: Uint8Array = new Uint8Array(0)): void {
    const call = this.openGrpcCall(token);
    call.outcome = "ok";
    this.operation(() => {
      this.grpcReceiveBuffer = response;
      try {
        this.invoke("proxy_on_grpc_receive", call.contextId, [call.contextId, token, response.length]);
      } finally {
        this.grpcReceiveBuffer = null;
      }
    });
  }

  /** Ends gRPC call `token` with a non-OK status (`proxy_on_grpc_close`), as Envoy does on failure or timeout. */
  grpcFail(token: number, status: number): void {
    const call = this.openGrpcCall(token);
    call.outcome = status;
    this.operation(() => {
      this.invoke("proxy_on_grpc_close", call.contextId, [call.contextId, token, status]);
    });
  }

  /** gRPC calls not answered yet. */
  openGrpcCalls(): GrpcCall[] {
    return this.grpcCalls.filter((c) => c.outcome === null);
  }

  private openGrpcCall(token: number): GrpcCall {
    this.assertAlive();
    const call = this.grpcCalls.find((c) => c.token === token);
    if (!call) throw new Error(`no gRPC call with token ${token}`);
    if (call.outcome !== null) throw new Error(`gRPC call ${token} was answered already`);
    return call;
  }

  /** Calls `proxy_on_tick(root)` now, whatever the timer says. */
  tick(): void {
    this.assertAlive();
    if (!this.startedFlag) throw new Error("call host.start() before tick()");
    this.operation(() => {
      this.invoke("proxy_on_tick", ROOT_CONTEXT_ID, [ROOT_CONTEXT_ID]);
    });
  }

  /**
   * Moves the clock forward. If the module set a tick period, every tick that falls due fires at
   * its due time (clock set to it), as Envoy's timer would.
   */
  advanceTime(ms: number): void {
    if (!(ms >= 0)) throw new Error("advanceTime needs a non-negative number of milliseconds");
    const target = this.nowNs + BigInt(Math.round(ms * 1e6));
    while (
      this.startedFlag &&
      !this.shutDown &&
      this.failure === null &&
      this.tickPeriodMs > 0 &&
      this.nextTickAtNs !== null &&
      this.nextTickAtNs <= target
    ) {
      this.setClock(this.nextTickAtNs);
      this.nextTickAtNs = this.nowNs + BigInt(this.tickPeriodMs) * 1_000_000n;
      this.tick();
    }
    this.setClock(target);
  }

  /** Current wall clock in ms since the epoch (what `proxy_get_current_time_nanoseconds` reports / 1e6). */
  get nowMs(): number {
    return Number(this.nowNs / 1000n) / 1000;
  }

  /** True after a trap: every further call throws {@link VmFailed}. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Connections that are open (not yet closed). */
  openConnections(): Connection[] {
    return [...this.connections.values()].map((c) => c.facade);
  }

  /**
   * Shuts the VM down as Envoy does on drain: open connections are closed locally, then
   * `proxy_on_done(root)`; if it returns non-zero `proxy_on_delete(root)` follows, otherwise the
   * module must call `proxy_done()` later.
   */
  shutdown(): void {
    this.assertAlive();
    if (this.shutDown) return;
    this.shutDown = true;
    this.operation(() => {
      for (const { state } of [...this.connections.values()]) this.finish(state, "shutdown", 1);
      if (!this.startedFlag) return;
      const done = this.invoke("proxy_on_done", ROOT_CONTEXT_ID, [ROOT_CONTEXT_ID]);
      if (done === undefined || done !== 0) this.deleteRoot();
      else this.rootDonePending = true;
    });
  }

  /** All metrics the module defined, in definition order. */
  metrics(): MetricSnapshot[] {
    return [...this.metricsById.values()].map((m) => {
      const snap: MetricSnapshot = { name: m.name, type: METRIC_TYPE_NAMES[m.type], value: m.type === 2 ? m.samples.length : m.value };
      if (m.type === 2) snap.samples = [...m.samples];
      return snap;
    });
  }

  /** The metric with this name (first defined, whatever its type), or undefined. */
  metric(name: string): MetricSnapshot | undefined {
    return this.metrics().find((m) => m.name === name);
  }

  /** The value of the counter with this name, or undefined if the module never defined it. */
  counterValue(name: string): number | undefined {
    return this.metrics().find((m) => m.name === name && m.type === "counter")?.value;
  }

  /** Log messages (text only), optionally only those at or above `minLevel`. */
  logMessages(minLevel: LogLevelName = "trace"): string[] {
    const min = LOG_LEVELS.indexOf(minLevel);
    return this.logs.filter((l) => LOG_LEVELS.indexOf(l.level) >= min).map((l) => l.message);
  }

  /** Current size of the module's linear memory in bytes (grows, never shrinks). */
  guestMemoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Calls any export of the module (an escape hatch for extra test exports), with the same trap
   * handling as callbacks. i64 parameters must be passed as bigint.
   */
  call(exportName: string, ...args: Array<number | bigint>): number | bigint | undefined {
    this.assertAlive();
    const fn = this.exportsObj[exportName];
    if (typeof fn !== "function") throw new Error(`module has no exported function ${exportName}`);
    return this.operation(() => this.invokeRaw(exportName, ROOT_CONTEXT_ID, args, null));
  }

  /**
   * Copies bytes into guest memory through the module's `malloc` (SDK: a pinned ArrayBuffer the
   * GC will not free) and returns the pointer, for exports that take (ptr, len).
   */
  writeGuestBytes(bytes: Uint8Array | string): number {
    this.assertAlive();
    const data = toBytes(bytes);
    return this.operation(() => {
      const ptr = Number(this.invokeRaw(this.mallocName(), ROOT_CONTEXT_ID, [Math.max(data.length, 1)], ALLOWED_DURING_MALLOC)) >>> 0;
      if (ptr === 0) throw new Error("guest malloc returned 0");
      this.writeBytes(ptr, data);
      return ptr;
    });
  }

  /** Copies `len` bytes out of guest memory at `ptr`. */
  readGuestBytes(ptr: number, len: number): Uint8Array {
    return this.readBytes(ptr, len);
  }

  // -------------------------------------------------------------------------------------------
  // VM calls
  // -------------------------------------------------------------------------------------------

  private instantiate(): void {
    const problems: string[] = [];
    const exportNames = new Set(WebAssembly.Module.exports(this.module).map((e) => e.name));
    if (!exportNames.has("proxy_abi_version_0_2_1") && !exportNames.has("proxy_abi_version_0_2_0")) {
      problems.push("no proxy_abi_version_0_2_1 (or _0_2_0) export: Envoy cannot tell the ABI version");
    }
    if (!exportNames.has("malloc") && !exportNames.has("proxy_on_memory_allocate")) {
      problems.push("no malloc (or proxy_on_memory_allocate) export: Envoy fails the VM");
    }
    if (!exportNames.has("memory")) problems.push("no exported memory");
    const imports = this.buildImports(problems);
    if (problems.length > 0) throw new HostLoadError("Envoy would not load this module:", problems);
    this.instance = new WebAssembly.Instance(this.module, imports);
    this.exportsObj = this.instance.exports as Record<string, unknown>;
    this.memory = this.exportsObj.memory as WebAssembly.Memory;
    if (typeof this.exportsObj._initialize === "function") {
      this.invokeRaw("_initialize", 0, [], ALLOWED_DURING_START, "_initialize");
      if (typeof this.exportsObj.main === "function") this.invokeRaw("main", 0, [0, 0], ALLOWED_DURING_START, "_initialize");
      else if (typeof this.exportsObj.__main_void === "function") this.invokeRaw("__main_void", 0, [], ALLOWED_DURING_START, "_initialize");
    } else if (typeof this.exportsObj._start === "function") {
      this.invokeRaw("_start", 0, [], ALLOWED_DURING_START, "_start");
    }
    this.runAfterVmCall();
  }

  private mallocName(): string {
    return typeof this.exportsObj.malloc === "function" ? "malloc" : "proxy_on_memory_allocate";
  }

  /** Runs `fn` as one host event; work Envoy posts to the dispatcher (queue-ready) runs at its end. */
  private operation<T>(fn: () => T): T {
    this.operationDepth++;
    let result: T;
    try {
      result = fn();
    } finally {
      this.operationDepth--;
    }
    if (this.operationDepth === 0) {
      while (this.posted.length > 0 && this.failure === null) {
        const task = this.posted.shift()!;
        this.operationDepth++;
        try {
          task();
        } finally {
          this.operationDepth--;
        }
      }
    }
    return result;
  }

  /** Calls a proxy-wasm callback (skipped if not exported), then runs the deferred after-call actions. */
  private invoke(callback: string, contextId: number, args: number[]): number | undefined {
    const fn = this.exportsObj[callback];
    if (typeof fn !== "function") return undefined;
    const result = this.invokeRaw(callback, contextId, args, null);
    return result === undefined ? undefined : Number(result);
  }

  private invokeRaw(
    name: string,
    contextId: number,
    args: Array<number | bigint>,
    restrict: Set<string> | null,
    phase = name,
  ): number | bigint | undefined {
    this.assertAlive();
    const fn = this.exportsObj[name] as AnyFn;
    const saved = { current: this.currentContextId, effective: this.effectiveContextId, restriction: this.restriction };
    this.currentContextId = contextId;
    this.effectiveContextId = 0;
    this.restriction = restrict ? { allowed: restrict, phase } : null;
    if (this.depth === 0) this.callOutput = [];
    this.depth++;
    let result: unknown;
    try {
      result = fn(...args);
    } catch (e) {
      this.depth--;
      const output = this.callOutput;
      this.currentContextId = saved.current;
      this.effectiveContextId = saved.effective;
      this.restriction = saved.restriction;
      throw this.recordTrap(name, contextId, e, output);
    }
    this.depth--;
    this.currentContextId = saved.current;
    this.effectiveContextId = saved.effective;
    this.restriction = saved.restriction;
    if (this.memory !== undefined && this.memory.buffer.byteLength > this.maxMemoryBytes) {
      // Envoy's VM cannot grow past its limit: the module's allocation fails and it aborts.
      const over = new Error(`linear memory grew to ${this.memory.buffer.byteLength} bytes, over the VM limit of ${this.maxMemoryBytes}`);
      throw this.recordTrap(name, contextId, over, this.callOutput);
    }
    if (this.depth === 0) {
      const output = this.callOutput;
      this.runAfterVmCall();
      this.lastCallOutput = output;
    }
    if (typeof result === "number" || typeof result === "bigint") return result;
    return undefined;
  }

  private recordTrap(callback: string, contextId: number, e: unknown, output: LogEntry[]): Error {
    if (e instanceof VmTrap || e instanceof VmFailed) return e;
    const record: TrapRecord = { callback, contextId, error: e, message: describeError(e), logs: [...output] };
    this.traps.push(record);
    this.failure = record;
    this.afterVmCall = [];
    this.posted = [];
    return new VmTrap(`VM trapped in ${callback} (context ${contextId}): ${record.message}${formatLogs(output)}`, callback, contextId, record.logs, e);
  }

  private runAfterVmCall(): void {
    while (this.afterVmCall.length > 0 && this.failure === null) {
      const action = this.afterVmCall.shift()!;
      action();
    }
  }

  private assertAlive(): void {
    if (this.failure !== null) {
      throw new VmFailed(`VM trapped earlier: in ${this.failure.callback} (context ${this.failure.contextId}): ${this.failure.message}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Connection data path
  // -------------------------------------------------------------------------------------------

  private assertOpen(state: ConnState): void {
    this.assertAlive();
    if (state.closedBy !== null) throw new Error(`connection ${state.id} is closed (by ${state.closedBy})`);
  }

  private feed(state: ConnState, direction: "downstream" | "upstream", bytes: Uint8Array, eos: boolean): DataResult {
    this.assertOpen(state);
    return this.operation(() => {
      const sink = direction === "downstream" ? state.upstreamChunks : state.clientChunks;
      const mark = sink.length;
      let raw: number | undefined;
      if (direction === "downstream") {
        state.readBuffer = concat([state.readBuffer, bytes]);
        // Envoy's filter manager only calls onData with bytes or end of stream.
        if (state.readBuffer.length === 0 && !eos) return { status: FilterStatus.Continue, forwarded: EMPTY, buffered: 0 };
        state.readAttached = true;
        raw = this.invoke("proxy_on_downstream_data", state.id, [state.id, state.readBuffer.length, eos ? 1 : 0]);
      } else {
        state.writeBuffer = concat([state.writeBuffer, bytes]);
        // tcp_proxy only writes toward the client with bytes or end of stream.
        if (state.writeBuffer.length === 0 && !eos) return { status: FilterStatus.Continue, forwarded: EMPTY, buffered: 0 };
        state.writeAttached = true;
        raw = this.invoke("proxy_on_upstream_data", state.id, [state.id, state.writeBuffer.length, eos ? 1 : 0]);
      }
      const status = raw === undefined || raw === 0 ? FilterStatus.Continue : FilterStatus.Pause;
      // A close requested by the filter already ran (deferred after the VM call, as in Envoy):
      // the connection is gone and this callback's bytes go nowhere.
      if (state.closedBy === null && status === FilterStatus.Continue) {
        if (direction === "downstream") {
          state.forwardRead();
          state.readAttached = false;
        } else {
          state.forwardWrite();
          state.writeAttached = false;
        }
      }
      if (direction === "upstream" && eos && state.closedBy === null) this.notifyUpstreamClose(state);
      const forwarded = concat(sink.slice(mark));
      const buffered = direction === "downstream" ? state.readBuffer.length : state.writeBuffer.length;
      return { status, forwarded, buffered };
    });
  }

  private closeConnection(state: ConnState, side: "downstream" | "upstream"): void {
    this.assertOpen(state);
    this.operation(() => {
      if (side === "upstream") {
        this.notifyUpstreamClose(state);
        this.finish(state, "upstream", 1);
      } else {
        this.finish(state, "downstream", 2);
      }
    });
  }

  private notifyUpstreamClose(state: ConnState): void {
    if (state.upstreamCloseNotified) return;
    state.upstreamCloseNotified = true;
    this.invoke("proxy_on_upstream_connection_close", state.id, [state.id, 0]);
  }

  /** Envoy's downstream close event then onCloseTCP: close(type 1 local / 2 remote), done, log, delete. Once. */
  private finish(state: ConnState, by: NonNullable<ConnState["closedBy"]>, closeType: number): void {
    if (state.closedBy !== null) return;
    state.closedBy = by;
    state.readBuffer = EMPTY;
    state.writeBuffer = EMPTY;
    if (state.contextCreated) {
      this.invoke("proxy_on_downstream_connection_close", state.id, [state.id, closeType]);
      this.invoke("proxy_on_done", state.id, [state.id]);
      this.invoke("proxy_on_log", state.id, [state.id]);
      this.invoke("proxy_on_delete", state.id, [state.id]);
    }
    this.connections.delete(state.id);
  }

  private deleteRoot(): void {
    this.invoke("proxy_on_delete", ROOT_CONTEXT_ID, [ROOT_CONTEXT_ID]);
    this.rootDeleted = true;
  }

  private setClock(ns: bigint): void {
    if (ns > this.nowNs) this.monotonicNs += ns - this.nowNs;
    this.nowNs = ns;
  }

  // -------------------------------------------------------------------------------------------
  // Guest memory
  // -------------------------------------------------------------------------------------------

  private bounds(ptr: number, len: number): void {
    if (ptr < 0 || len < 0 || ptr + len > this.memory.buffer.byteLength) throw new OutOfBounds(ptr, len);
  }

  private readBytes(ptr: number, len: number): Uint8Array {
    ptr >>>= 0;
    len >>>= 0;
    this.bounds(ptr, len);
    return new Uint8Array(this.memory.buffer, ptr, len).slice();
  }

  private readString(ptr: number, len: number): string {
    return utf8Decoder.decode(this.readBytes(ptr, len));
  }

  private writeBytes(ptr: number, bytes: Uint8Array): void {
    ptr >>>= 0;
    this.bounds(ptr, bytes.length);
    new Uint8Array(this.memory.buffer).set(bytes, ptr);
  }

  private writeU32(ptr: number, value: number): void {
    ptr >>>= 0;
    this.bounds(ptr, 4);
    new DataView(this.memory.buffer).setUint32(ptr, value >>> 0, true);
  }

  private writeU64(ptr: number, value: bigint): void {
    ptr >>>= 0;
    this.bounds(ptr, 8);
    new DataView(this.memory.buffer).setBigUint64(ptr, BigInt.asUintN(64, value), true);
  }

  private readU32(ptr: number): number {
    ptr >>>= 0;
    this.bounds(ptr, 4);
    return new DataView(this.memory.buffer).getUint32(ptr, true);
  }

  /** Envoy's copyToPointerSize: malloc in the guest (not for empty data), copy, write pointer and size. */
  private copyOut(bytes: Uint8Array, ptrPtr: number, sizePtr: number): void {
    let ptr = 0;
    if (bytes.length > 0) {
      ptr = this.guestAlloc(bytes.length);
      this.writeBytes(ptr, bytes);
    }
    this.writeU32(ptrPtr, ptr);
    this.writeU32(sizePtr, bytes.length);
  }

  /** Calls the guest allocator from inside a host call (restricted like proxy-wasm-cpp-host's allocMemory). */
  private guestAlloc(size: number): number {
    const malloc = this.exportsObj[this.mallocName()] as AnyFn;
    const saved = this.restriction;
    this.restriction = { allowed: ALLOWED_DURING_MALLOC, phase: "malloc" };
    let ptr: number;
    try {
      ptr = Number(malloc(size)) >>> 0;
    } finally {
      this.restriction = saved;
    }
    if (ptr === 0) throw new OutOfBounds(0, size);
    this.bounds(ptr, size);
    return ptr;
  }

  // -------------------------------------------------------------------------------------------
  // Context helpers
  // -------------------------------------------------------------------------------------------

  /** contextOrEffectiveContext(): the connection it designates, or null for the root context. */
  private activeConnection(): ConnState | null {
    const id = this.effectiveContextId !== 0 && this.contextExists(this.effectiveContextId) ? this.effectiveContextId : this.currentContextId;
    return this.connections.get(id)?.state ?? null;
  }

  private activeContextId(): number {
    return this.effectiveContextId !== 0 && this.contextExists(this.effectiveContextId) ? this.effectiveContextId : this.currentContextId;
  }

  private contextExists(id: number): boolean {
    return (id === ROOT_CONTEXT_ID && !this.rootDeleted) || this.extraRoots.has(id) || this.connections.has(id);
  }

  private static propertyMap(props: Record<string, string | Uint8Array> | undefined): Map<string, Uint8Array> {
    const map = new Map<string, Uint8Array>();
    for (const [k, v] of Object.entries(props ?? {})) map.set(k, toBytes(v).slice());
    return map;
  }

  private lookupProperty(path: string): Uint8Array | undefined {
    const dotted = path.split("\0").join(".");
    const conn = this.activeConnection();
    const maps: Array<Map<string, Uint8Array>> = [];
    if (conn) maps.push(conn.moduleProperties, conn.properties);
    maps.push(this.hostProperties);
    for (const m of maps) {
      const v = m.get(path) ?? m.get(dotted);
      if (v !== undefined) return v;
    }
    switch (path) {
      case "plugin_root_id":
        return utf8.encode(this.options.rootId ?? "");
      case "plugin_name":
        return utf8.encode(this.options.pluginName ?? "proxytest");
      case "plugin_vm_id":
        return utf8.encode(this.options.vmId ?? "");
    }
    return undefined;
  }

  private buffer(type: number): BufferView | null {
    const conn = this.activeConnection();
    switch (type) {
      case 2: // NetworkDownstreamData
        if (conn && conn.readAttached) return { data: conn.readBuffer, replace: (b) => (conn.readBuffer = b) };
        return { data: EMPTY };
      case 3: // NetworkUpstreamData
        if (conn && conn.writeAttached) return { data: conn.writeBuffer, replace: (b) => (conn.writeBuffer = b) };
        return { data: EMPTY };
      case 6: // VmConfiguration
        return { data: this.vmConfig };
      case 7: // PluginConfiguration: only while Envoy holds the plugin (context create / configure)
        return this.pluginConfigAvailable ? { data: this.pluginConfig } : null;
      case 4: // HttpCallResponseBody: only inside an HTTP callout response
        return null;
      case 8: // GrpcReceiveBuffer: the response, inside proxy_on_grpc_receive
        return { data: this.grpcReceiveBuffer ?? EMPTY };
      default: // HTTP bodies, call data: empty for a network filter
        return { data: EMPTY };
    }
  }

  private log(level: number, message: string, source: LogEntry["source"]): void {
    const entry: LogEntry = { level: LOG_LEVELS[level], message, source, contextId: this.activeContextId() };
    this.callOutput.push(entry);
    if (level < this.logLevel) return;
    this.logs.push(entry);
    if (this.echo) console.log(`[proxytest ${entry.level}] (${entry.contextId}) ${message}`);
  }

  private unimplemented(module: string, name: string, args: Array<number | bigint>): void {
    this.unimplementedCalls.push({ module, name, args, contextId: this.activeContextId() });
  }

  // -------------------------------------------------------------------------------------------
  // Imports
  // -------------------------------------------------------------------------------------------

  private buildImports(problems: string[]): WebAssembly.Imports {
    const env = this.envFunctions();
    const wasi = this.wasiFunctions();
    const imports: Record<string, Record<string, AnyFn>> = {};
    for (const imp of WebAssembly.Module.imports(this.module)) {
      const label = `${imp.module}.${imp.name}`;
      if (imp.kind !== "function") {
        problems.push(`${label}: a ${imp.kind} import (the host provides none)`);
        continue;
      }
      let impl: AnyFn | undefined;
      let key: string;
      let fault: number;
      if (imp.module === "env") {
        key = "env." + imp.name;
        fault = WasmResult.InvalidMemoryAccess;
        impl = env[imp.name];
        if (!impl && UNIMPLEMENTED_ENV.has(imp.name)) {
          const name = imp.name;
          impl = (...args: Array<number | bigint>) => {
            this.unimplemented("env", name, args);
            return WasmResult.Unimplemented;
          };
        }
      } else if (imp.module === "wasi_snapshot_preview1" || imp.module === "wasi_unstable") {
        key = "wasi." + imp.name;
        fault = 21; // EFAULT
        impl = wasi[imp.name];
        if (!impl && UNIMPLEMENTED_WASI.has(imp.name)) {
          const name = imp.name;
          const mod = imp.module;
          impl = (...args: Array<number | bigint>) => {
            this.unimplemented(mod, name, args);
            return 52; // ENOSYS
          };
        }
      } else {
        problems.push(`${label}: unknown import module "${imp.module}" (Envoy provides "env" and WASI only)`);
        continue;
      }
      if (!impl) {
        problems.push(`${label}: Envoy 1.40 (proxy-wasm ABI 0.2.1) provides no such function`);
        continue;
      }
      (imports[imp.module] ??= {})[imp.name] = this.guard(label, key, fault, impl);
    }
    return imports as WebAssembly.Imports;
  }

  /** Wraps a host function: start-up/malloc restrictions, and out-of-bounds pointers → InvalidMemoryAccess / EFAULT. */
  private guard(label: string, key: string, faultResult: number, impl: AnyFn): AnyFn {
    return (...args: unknown[]) => {
      if (this.restriction && !this.restriction.allowed.has(key)) throw new RestrictedCallback(label, this.restriction.phase);
      try {
        return impl(...args);
      } catch (e) {
        if (e instanceof OutOfBounds) {
          this.memoryFaults.push({ function: label, ptr: e.ptr, length: e.length, contextId: this.activeContextId() });
          return faultResult;
        }
        throw e;
      }
    };
  }

  private envFunctions(): Record<string, AnyFn> {
    const R = WasmResult;
    return {
      proxy_log: (level: number, ptr: number, size: number) => {
        if (level >>> 0 > 5) return R.BadArgument;
        this.log(level, this.readString(ptr, size), "proxy_log");
        return R.Ok;
      },
      proxy_get_log_level: (ptr: number) => {
        this.writeU32(ptr, this.logLevel);
        return R.Ok;
      },
      proxy_get_current_time_nanoseconds: (ptr: number) => {
        this.writeU64(ptr, this.nowNs);
        return R.Ok;
      },
      proxy_set_tick_period_milliseconds: (ms: number) => {
        this.tickPeriodMs = ms >>> 0;
        this.nextTickAtNs = this.tickPeriodMs > 0 ? this.nowNs + BigInt(this.tickPeriodMs) * 1_000_000n : null;
        return R.Ok;
      },
      proxy_get_status: (codePtr: number, msgPtrPtr: number, msgSizePtr: number) => {
        this.writeU32(codePtr, 0);
        this.copyOut(EMPTY, msgPtrPtr, msgSizePtr);
        return R.Ok;
      },
      proxy_get_property: (pathPtr: number, pathSize: number, valuePtrPtr: number, valueSizePtr: number) => {
        const value = this.lookupProperty(this.readString(pathPtr, pathSize));
        if (value === undefined) return R.NotFound;
        this.copyOut(value, valuePtrPtr, valueSizePtr);
        return R.Ok;
      },
      proxy_set_property: (pathPtr: number, pathSize: number, valuePtr: number, valueSize: number) => {
        const path = this.readString(pathPtr, pathSize);
        const value = this.readBytes(valuePtr, valueSize);
        const conn = this.activeConnection();
        if (!conn) return R.NotFound; // no stream info on a root context
        conn.moduleProperties.set(path, value);
        return R.Ok;
      },
      proxy_grpc_call: (
        servicePtr: number, serviceSize: number, serviceNamePtr: number, serviceNameSize: number,
        methodPtr: number, methodSize: number, metadataPtr: number, metadataSize: number,
        requestPtr: number, requestSize: number, timeoutMs: number, tokenPtr: number,
      ) => {
        const service = this.readBytes(servicePtr, serviceSize);
        const cluster = grpcServiceCluster(service);
        const known = this.options.grpcClusters;
        // Envoy refuses a call to a cluster it does not have; the emulator knows only those listed.
        if (cluster === null || (known !== undefined && !known.includes(cluster))) return R.BadArgument;
        const token = this.nextGrpcToken++;
        this.grpcCalls.push({
          token,
          contextId: this.activeContextId(),
          cluster,
          serviceName: this.readString(serviceNamePtr, serviceNameSize),
          method: this.readString(methodPtr, methodSize),
          initialMetadata: this.readBytes(metadataPtr, metadataSize),
          request: this.readBytes(requestPtr, requestSize),
          timeoutMs: timeoutMs >>> 0,
          outcome: null,
        });
        this.writeU32(tokenPtr, token);
        return R.Ok;
      },
      proxy_get_buffer_bytes: (type: number, start: number, length: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buf = this.buffer(type);
        if (!buf) return R.NotFound;
        start >>>= 0;
        length >>>= 0;
        const size = buf.data.length;
        if (start > size) length = 0;
        else if (start + length > size) length = size - start;
        if (length === 0) {
          this.writeU32(ptrPtr, 0);
          this.writeU32(sizePtr, 0);
          return R.Ok;
        }
        this.copyOut(buf.data.subarray(start, start + length), ptrPtr, sizePtr);
        return R.Ok;
      },
      proxy_get_buffer_status: (type: number, lengthPtr: number, flagsPtr: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buf = this.buffer(type);
        if (!buf) return R.NotFound;
        this.writeU32(lengthPtr, buf.data.length);
        this.writeU32(flagsPtr, 0);
        return R.Ok;
      },
      proxy_set_buffer_bytes: (type: number, start: number, length: number, dataPtr: number, dataSize: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buf = this.buffer(type);
        if (!buf) return R.NotFound;
        const data = this.readBytes(dataPtr, dataSize);
        if (!buf.replace) return R.BadArgument; // immutable (or not currently held) buffer
        start >>>= 0;
        length >>>= 0;
        const current = buf.data;
        if (start === 0) {
          buf.replace(concat([data, current.subarray(Math.min(length, current.length))]));
        } else if (start >= current.length) {
          buf.replace(concat([current, data]));
        } else {
          return R.BadArgument;
        }
        return R.Ok;
      },
      proxy_continue_stream: (type: number) => {
        type >>>= 0;
        if (type > 3) return R.BadArgument;
        if (type === 3) return R.Unimplemented;
        if (type === 2) {
          const conn = this.activeConnection();
          if (conn) {
            this.afterVmCall.push(() => {
              if (conn.closedBy === null) conn.forwardRead();
            });
          }
        }
        return R.Ok; // Request/Response: no HTTP stream on a network filter, nothing to do
      },
      proxy_close_stream: (type: number) => {
        type >>>= 0;
        if (type > 3) return R.BadArgument;
        const conn = this.activeConnection();
        if (conn && (type === 2 || type === 3)) {
          this.afterVmCall.push(() => this.finish(conn, "filter", 1));
        }
        return R.Ok;
      },
      proxy_get_shared_data: (keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number, casPtr: number) => {
        const entry = this.sharedData.get(this.readString(keyPtr, keySize));
        if (!entry) return R.NotFound;
        this.copyOut(entry.value, valuePtrPtr, valueSizePtr);
        this.writeU32(casPtr, entry.cas);
        return R.Ok;
      },
      proxy_set_shared_data: (keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number) => {
        const key = this.readString(keyPtr, keySize);
        const value = this.readBytes(valuePtr, valueSize);
        return this.sharedData.set(key, value, cas >>> 0);
      },
      proxy_register_shared_queue: (namePtr: number, nameSize: number, tokenPtr: number) => {
        const key = (this.options.vmId ?? "") + "\0" + this.readString(namePtr, nameSize);
        let token = this.queueTokens.get(key);
        if (token === undefined) {
          token = this.nextQueueToken++;
          this.queueTokens.set(key, token);
          this.queues.set(token, { rootContextId: ROOT_CONTEXT_ID, items: [] });
        }
        this.writeU32(tokenPtr, token);
        return R.Ok;
      },
      proxy_resolve_shared_queue: (vmPtr: number, vmSize: number, namePtr: number, nameSize: number, tokenPtr: number) => {
        const vmId = this.readString(vmPtr, vmSize) || (this.options.vmId ?? "");
        const token = this.queueTokens.get(vmId + "\0" + this.readString(namePtr, nameSize));
        if (token === undefined) return R.NotFound;
        this.writeU32(tokenPtr, token);
        return R.Ok;
      },
      proxy_enqueue_shared_queue: (token: number, dataPtr: number, dataSize: number) => {
        const data = this.readBytes(dataPtr, dataSize);
        const q = this.queues.get(token >>> 0);
        if (!q) return R.NotFound;
        q.items.push(data);
        const t = token >>> 0;
        this.posted.push(() => {
          this.invoke("proxy_on_queue_ready", q.rootContextId, [q.rootContextId, t]);
        });
        return R.Ok;
      },
      proxy_dequeue_shared_queue: (token: number, ptrPtr: number, sizePtr: number) => {
        const q = this.queues.get(token >>> 0);
        if (!q) return R.NotFound;
        if (q.items.length === 0) return R.Empty;
        const item = q.items[0];
        this.copyOut(item, ptrPtr, sizePtr);
        q.items.shift();
        return R.Ok;
      },
      proxy_define_metric: (type: number, namePtr: number, nameSize: number, idPtr: number) => {
        type >>>= 0;
        const name = this.readString(namePtr, nameSize);
        if (type > 2) return R.BadArgument;
        const key = `${type}:${name}`;
        let id = this.metricIds.get(key);
        if (id === undefined) {
          this.nextMetricId[type] += 4;
          id = this.nextMetricId[type];
          this.metricIds.set(key, id);
          this.metricsById.set(id, { name, type: type as 0 | 1 | 2, value: 0, samples: [] });
        }
        this.writeU32(idPtr, id);
        return R.Ok;
      },
      proxy_increment_metric: (id: number, offset: bigint) => {
        const m = this.metricsById.get(id >>> 0);
        const type = (id >>> 0) & 3;
        if (type === 0) {
          if (!m) return R.NotFound;
          if (offset <= 0n) return R.BadArgument; // Envoy: counters only go up, and not by 0
          m.value += Number(offset);
          return R.Ok;
        }
        if (type === 1) {
          if (!m) return R.NotFound;
          m.value += Number(offset);
          return R.Ok;
        }
        return R.BadArgument;
      },
      proxy_record_metric: (id: number, value: bigint) => {
        const m = this.metricsById.get(id >>> 0);
        if (!m) return R.NotFound;
        const v = Number(BigInt.asUintN(64, value));
        if (m.type === 0) m.value += v;
        else if (m.type === 1) m.value = v;
        else m.samples.push(v);
        return R.Ok;
      },
      proxy_get_metric: (id: number, resultPtr: number) => {
        const type = (id >>> 0) & 3;
        if (type === 2 || type === 3) return R.BadArgument;
        const m = this.metricsById.get(id >>> 0);
        if (!m) return R.NotFound;
        this.writeU64(resultPtr, BigInt(Math.trunc(m.value)));
        return R.Ok;
      },
      proxy_set_effective_context: (id: number) => {
        id >>>= 0;
        if (!this.contextExists(id)) return R.BadArgument;
        this.effectiveContextId = id;
        return R.Ok;
      },
      proxy_done: () => {
        if (!this.rootDonePending) return R.NotFound;
        this.rootDonePending = false;
        this.afterVmCall.push(() => this.deleteRoot());
        return R.Ok;
      },
      proxy_call_foreign_function: (namePtr: number, nameSize: number, argPtr: number, argSize: number, resultsPtr: number, resultsSizePtr: number) =>
        this.foreignFunction(this.readString(namePtr, nameSize), this.readBytes(argPtr, argSize), resultsPtr >>> 0, resultsSizePtr >>> 0),
      pthread_equal: (a: number, b: number) => (a === b ? 1 : 0),
      emscripten_notify_memory_growth: () => undefined,
    };
  }

  private foreignFunction(name: string, argument: Uint8Array, resultsPtr: number, resultsSizePtr: number): number {
    const R = WasmResult;
    const contextId = this.activeContextId();
    let result: WasmResult;
    let out: Uint8Array | null = null;
    let known = true;
    switch (name) {
      case "set_envoy_filter_state": {
        const args = decodeSetEnvoyFilterStateArguments(argument);
        const conn = this.activeConnection();
        if (!args) result = R.BadArgument;
        else if (!conn) result = R.NotFound; // a root context has no stream info
        else {
          conn.filterState.set(args.path, args.value);
          result = R.Ok;
        }
        break;
      }
      case "clear_route_cache":
        result = R.Ok;
        break;
      case "compress":
        out = new Uint8Array(deflateSync(argument));
        result = R.Ok;
        break;
      case "uncompress":
        try {
          out = new Uint8Array(inflateSync(argument));
          result = R.Ok;
        } catch {
          result = R.SerializationFailure;
        }
        break;
      case "declare_property":
      case "verify_signature":
      case "sign":
      case "expr_create":
      case "expr_evaluate":
      case "expr_delete":
        this.unimplemented("env", `proxy_call_foreign_function(${name})`, []);
        result = R.Unimplemented;
        break;
      default:
        known = false;
        result = R.NotFound;
    }
    this.foreignCalls.push({ name, argument, contextId, result });
    if (!known) return result;
    let address = 0;
    if (out && resultsPtr !== 0) {
      address = this.guestAlloc(Math.max(out.length, 1));
      this.writeBytes(address, out);
    }
    if (resultsPtr !== 0) this.writeU32(resultsPtr, address);
    if (resultsSizePtr !== 0) this.writeU32(resultsSizePtr, out ? out.length : 0);
    return result;
  }

  private wasiFunctions(): Record<string, AnyFn> {
    const env = Object.entries(this.options.env ?? {}).map(([k, v]) => utf8.encode(`${k}=${v}\0`));
    const stdFd = (fd: number) => fd === 1 || fd === 2;
    return {
      fd_write: (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number) => {
        if (!stdFd(fd)) return 8; // EBADF
        const chunks: Uint8Array[] = [];
        for (let i = 0; i < iovsLen >>> 0; i++) {
          const base = (iovs >>> 0) + i * 8;
          const ptr = this.readU32(base);
          const len = this.readU32(base + 4);
          if (len !== 0) chunks.push(this.readBytes(ptr, len));
        }
        const data = concat(chunks);
        if (data.length > 0) {
          let text = utf8Decoder.decode(data);
          if (text.endsWith("\n")) text = text.slice(0, -1);
          this.log(fd === 1 ? 2 : 4, text, fd === 1 ? "stdout" : "stderr");
        }
        this.writeU32(nwrittenPtr, data.length);
        return 0;
      },
      fd_read: () => 52, // ENOSYS
      fd_seek: () => 0, // Envoy logs and answers success without writing an offset
      fd_close: () => 0,
      fd_fdstat_get: (fd: number, statPtr: number) => {
        if (!stdFd(fd)) return 8;
        this.bounds(statPtr >>> 0, 24);
        const dv = new DataView(this.memory.buffer);
        dv.setBigUint64(statPtr >>> 0, 0n, true);
        dv.setBigUint64((statPtr >>> 0) + 8, 64n, true); // fs_rights_base = FD_WRITE
        dv.setBigUint64((statPtr >>> 0) + 16, 0n, true);
        return 0;
      },
      fd_fdstat_set_flags: () => 52,
      fd_fdstat_set_rights: (fd: number) => (stdFd(fd) ? 0 : 8),
      fd_advise: () => 0,
      fd_allocate: (fd: number) => (stdFd(fd) ? 0 : 8),
      fd_datasync: (fd: number) => (stdFd(fd) ? 0 : 8),
      fd_filestat_set_size: (fd: number) => (stdFd(fd) ? 0 : 8),
      fd_filestat_set_times: (fd: number) => (stdFd(fd) ? 0 : 8),
      fd_filestat_get: () => 8,
      fd_prestat_get: () => 8,
      fd_prestat_dir_name: () => 52,
      path_open: () => 44, // ENOENT
      path_filestat_get: () => 58, // ENOTSUP
      environ_sizes_get: (countPtr: number, sizePtr: number) => {
        this.writeU32(countPtr, env.length);
        this.writeU32(sizePtr, env.reduce((n, e) => n + e.length, 0));
        return 0;
      },
      environ_get: (arrayPtr: number, bufPtr: number) => {
        let p = arrayPtr >>> 0;
        let b = bufPtr >>> 0;
        for (const e of env) {
          this.writeU32(p, b);
          this.writeBytes(b, e);
          p += 4;
          b += e.length;
        }
        return 0;
      },
      args_sizes_get: (argcPtr: number, bufSizePtr: number) => {
        this.writeU32(argcPtr, 0);
        this.writeU32(bufSizePtr, 0);
        return 0;
      },
      args_get: () => 0,
      clock_time_get: (clockId: number, _precision: bigint, resultPtr: number) => {
        if (clockId === 0) this.writeU64(resultPtr, this.nowNs);
        else if (clockId === 1) this.writeU64(resultPtr, this.monotonicNs);
        else return 58;
        return 0;
      },
      clock_res_get: (clockId: number, resultPtr: number) => {
        if (clockId !== 0 && clockId !== 1) return 58;
        this.writeU64(resultPtr, 1n);
        return 0;
      },
      random_get: (ptr: number, len: number) => {
        len >>>= 0;
        if (len > 64 * 1024) return 28; // EINVAL
        if (len === 0) return 0;
        const bytes = new Uint8Array(len);
        randomFillSync(bytes);
        this.writeBytes(ptr, bytes);
        return 0;
      },
      sched_yield: () => 0,
      poll_oneoff: (_in: number, _out: number, _n: number, neventsPtr: number) => {
        this.writeU32(neventsPtr, 0);
        return 0;
      },
      proc_exit: (code: number) => {
        throw new ProcExit(code);
      },
    };
  }
}
