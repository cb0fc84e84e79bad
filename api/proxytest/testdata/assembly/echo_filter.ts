// AssemblyScript test module for the proxytest host emulator (not a real filter).
// Built with the SDK's own RootContext/Context classes so the emulator is exercised the way
// codec modules will exercise it. Behaviour, by input:
//   plugin config  "pause_until=N"  downstream data is paused until N bytes have accumulated
//                  "reject"         on_configure returns false
//   downstream     "ROUTE <name>\n"  set_envoy_filter_state(envoy.tcp_proxy.cluster, <name>)
//                  "NOFN"           calls an unknown foreign function, logs the result code
//                  "HOLD"           pauses; the next tick releases it with proxy_continue_stream
//                  "ENQ <text>"     enqueues <text> on the shared queue "echo_q"
//                  "CLOSE"          proxy_close_stream(downstream)
//                  any 0xFF byte    traps (throw -> abort -> unreachable)
//   close/done/log/delete callbacks are logged at info through proxy_log
//   upstream       first byte 'P' prepends "<<", 'R' replaces the first byte with "r!",
//                  'A' appends ">>", 'X' appends "@@" with start far past the end,
//                  'M' tries a middle write and appends "[<result code>]", 'C' closes.
export * from "@gcoredev/proxy-wasm-sdk-as/assembly/proxy";
import {
  RootContext,
  Context,
  registerRootContext,
  FilterStatusValues,
  BufferTypeValues,
  LogLevelValues,
  log,
  get_buffer_bytes,
  set_buffer_bytes,
  get_property,
  set_shared_data,
  set_tick_period_milliseconds,
  register_shared_queue,
  enqueue_shared_queue,
  dequeue_shared_queue,
  WasmResultValues,
  Counter,
  Histogram,
  Gauge,
} from "@gcoredev/proxy-wasm-sdk-as/assembly";
import { PeerTypeValues } from "@gcoredev/proxy-wasm-sdk-as/assembly/runtime";
import * as imports from "@gcoredev/proxy-wasm-sdk-as/assembly/imports";

let pauseUntil: i32 = 0;
let bytesCounter: Counter | null = null;
let chunkHistogram: Histogram | null = null;
let tickGauge: Gauge | null = null;
let queueToken: u32 = 0;
const held: Array<u32> = [];
const retained: Array<ArrayBuffer> = [];

const outPtr = memory.data(8);
const outSize = memory.data(8);

function directLog(level: i32, message: string): void {
  const bytes = String.UTF8.encode(message);
  imports.proxy_log(level, changetype<usize>(bytes), bytes.byteLength);
}

function startsWith(data: Uint8Array, prefix: string): bool {
  const p = String.UTF8.encode(prefix);
  const pv = Uint8Array.wrap(p);
  if (data.length < pv.length) return false;
  for (let i = 0; i < pv.length; i++) {
    if (data[i] != pv[i]) return false;
  }
  return true;
}

function pushVarint(out: Array<u8>, value: u32): void {
  while (value >= 0x80) {
    out.push(<u8>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push(<u8>value);
}

function pushBytesField(out: Array<u8>, tag: u8, bytes: Uint8Array): void {
  out.push(tag);
  pushVarint(out, bytes.length);
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
}

/** Hand-encoded envoy.source.extensions.common.wasm.SetEnvoyFilterStateArguments. */
function setFilterState(path: string, value: string): u32 {
  const msg = new Array<u8>();
  pushBytesField(msg, 0x0a, Uint8Array.wrap(String.UTF8.encode(path)));
  pushBytesField(msg, 0x12, Uint8Array.wrap(String.UTF8.encode(value)));
  msg.push(0x18); // span = DownstreamConnection (2)
  msg.push(2);
  const arg = new Uint8Array(msg.length);
  for (let i = 0; i < msg.length; i++) arg[i] = msg[i];
  return callForeign("set_envoy_filter_state", arg);
}

function callForeign(name: string, arg: Uint8Array): u32 {
  const nameBytes = String.UTF8.encode(name);
  store<u32>(outPtr, 0);
  store<u32>(outSize, 0);
  return imports.proxy_call_foreign_function(
    changetype<usize>(nameBytes), nameBytes.byteLength, arg.dataStart, arg.byteLength, outPtr, outSize);
}

class EchoRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new EchoConnection(context_id, this);
  }

  onConfigure(configuration_size: u32): bool {
    super.onConfigure(configuration_size);
    const cfg = this.getConfiguration();
    if (cfg.includes("reject")) {
      log(LogLevelValues.error, "rejecting configuration: " + cfg);
      return false;
    }
    const key = "pause_until=";
    const at = cfg.indexOf(key);
    if (at >= 0) pauseUntil = <i32>parseInt(cfg.substring(at + key.length));
    bytesCounter = new Counter("echo_downstream_bytes_total");
    chunkHistogram = new Histogram("echo_chunk_size");
    tickGauge = new Gauge("echo_ticks");
    set_tick_period_milliseconds(1000);
    set_shared_data("echo.config", String.UTF8.encode(cfg));
    queueToken = register_shared_queue("echo_q").token;
    log(LogLevelValues.info, "configured: " + cfg);
    return true;
  }

  onTick(): void {
    tickGauge!.increment(1);
    for (let i = 0; i < held.length; i++) {
      imports.proxy_set_effective_context(held[i]);
      const r = imports.proxy_continue_stream(2);
      directLog(LogLevelValues.info, "released " + held[i].toString() + " result=" + r.toString());
    }
    held.length = 0;
  }

  onQueueReady(token: u32): void {
    const item = dequeue_shared_queue(token);
    if (item.result == WasmResultValues.Ok) {
      directLog(LogLevelValues.info, "dequeued: " + String.UTF8.decode(item.data!));
    }
  }
}

class EchoConnection extends Context {
  pausedSize: i32 = 0;
  stash: Array<ArrayBuffer> = [];

  constructor(context_id: u32, root_context: EchoRoot) {
    super(context_id, root_context);
  }

  onNewConnection(): FilterStatusValues {
    const addr = get_property("source\0address");
    directLog(LogLevelValues.debug, "new connection " + this.context_id.toString() + " from " + String.UTF8.decode(addr));
    return FilterStatusValues.Continue;
  }

  onDownstreamData(size: usize, end: bool): FilterStatusValues {
    const buf = get_buffer_bytes(BufferTypeValues.NetworkDownstreamData, 0, <u32>size);
    const data = Uint8Array.wrap(buf);
    for (let i = 0; i < data.length; i++) {
      if (data[i] == 0xff) throw new Error("trap byte in downstream data");
    }
    this.stash.push(buf);
    const fresh = <i32>size - this.pausedSize;
    if (fresh > 0) bytesCounter!.increment(<u32>fresh);
    chunkHistogram!.record(chunkHistogram!.metric_id, <u64>size);

    if (startsWith(data, "ROUTE ")) {
      let stop = data.indexOf(0x0a);
      if (stop < 0) stop = data.length;
      const name = String.UTF8.decode(buf.slice(6, stop));
      const r = setFilterState("envoy.tcp_proxy.cluster", name);
      directLog(LogLevelValues.info, "route " + name + " result=" + r.toString());
    } else if (startsWith(data, "NOFN")) {
      const r = callForeign("no_such_function", new Uint8Array(0));
      directLog(LogLevelValues.warn, "no_such_function result=" + r.toString());
    } else if (startsWith(data, "HOLD")) {
      held.push(this.context_id);
      this.pausedSize = <i32>size;
      return FilterStatusValues.StopIteration;
    } else if (startsWith(data, "ENQ ")) {
      enqueue_shared_queue(queueToken, buf.slice(4));
    } else if (startsWith(data, "CLOSE")) {
      imports.proxy_close_stream(2);
    }

    if (<i32>size < pauseUntil && !end) {
      this.pausedSize = <i32>size;
      return FilterStatusValues.StopIteration;
    }
    this.pausedSize = 0;
    return FilterStatusValues.Continue;
  }

  onDownstreamConnectionClose(t: PeerTypeValues): void {
    directLog(LogLevelValues.info, "downstream close " + this.context_id.toString() + " peer=" + (<i32>t).toString());
  }

  onUpstreamConnectionClose(t: PeerTypeValues): void {
    directLog(LogLevelValues.info, "upstream close " + this.context_id.toString() + " peer=" + (<i32>t).toString());
  }

  onDone(): bool {
    directLog(LogLevelValues.info, "done " + this.context_id.toString());
    return true;
  }

  onLog(): void {
    directLog(LogLevelValues.info, "log " + this.context_id.toString());
  }

  onDelete(): void {
    directLog(LogLevelValues.info, "delete " + this.context_id.toString());
  }

  onUpstreamData(size: usize, end: bool): FilterStatusValues {
    if (size == 0) return FilterStatusValues.Continue;
    const first = Uint8Array.wrap(get_buffer_bytes(BufferTypeValues.NetworkUpstreamData, 0, 1))[0];
    const up = BufferTypeValues.NetworkUpstreamData;
    if (first == 0x50 /* P */) {
      set_buffer_bytes(up, 0, 0, String.UTF8.encode("<<"));
    } else if (first == 0x52 /* R */) {
      set_buffer_bytes(up, 0, 1, String.UTF8.encode("r!"));
    } else if (first == 0x41 /* A */) {
      set_buffer_bytes(up, <u32>size, 0, String.UTF8.encode(">>"));
    } else if (first == 0x58 /* X */) {
      set_buffer_bytes(up, <u32>size + 1000, 0, String.UTF8.encode("@@"));
    } else if (first == 0x4d /* M */) {
      const r = set_buffer_bytes(up, 1, 1, String.UTF8.encode("??"));
      set_buffer_bytes(up, <u32>size, 0, String.UTF8.encode("[" + (<u32>r).toString() + "]"));
    } else if (first == 0x43 /* C */) {
      imports.proxy_close_stream(2);
    }
    return FilterStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => {
  return new EchoRoot(context_id);
}, "echo");

/** Traps (unreachable) if `byte` occurs in [ptr, ptr+len); otherwise returns len. */
export function echo_trap_if(ptr: usize, len: i32, byte: i32): i32 {
  for (let i = 0; i < len; i++) {
    if (<i32>load<u8>(ptr + <usize>i) == byte) unreachable();
  }
  return len;
}

/** Sums the bytes in [ptr, ptr+len): used to check host.writeGuestBytes. */
export function echo_sum(ptr: usize, len: i32): u32 {
  let sum: u32 = 0;
  for (let i = 0; i < len; i++) sum += <u32>load<u8>(ptr + <usize>i);
  return sum;
}

/** Retains `n` more bytes of guest heap until the VM dies; returns the number of retained blocks. */
export function echo_retain(n: i32): i32 {
  retained.push(new ArrayBuffer(n));
  return retained.length;
}
