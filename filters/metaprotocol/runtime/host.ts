// Thin layer over the proxy-wasm host imports. Every call returns or swallows the host
// result instead of throwing: on the per-byte and per-call paths a trap would close every
// connection of the VM (the SDK's checked helpers throw on any result but Ok/NotFound).
import * as imports from "@gcoredev/proxy-wasm-sdk-as/assembly/imports";
import { repoint } from "../../../api/assembly/bytes";
import { countInput } from "./collector";

export enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }
export enum HostResult { Ok = 0, NotFound = 1, BadArgument = 2, Empty = 7, CasMismatch = 8, Unimplemented = 12 }
export enum MetricKind { Counter = 0, Gauge = 1, Histogram = 2 }
export enum BufferKind { Downstream = 2, Upstream = 3, VmConfiguration = 6, PluginConfiguration = 7 }
export enum StreamKind { Request = 0, Response = 1, Downstream = 2, Upstream = 3 }
export enum FilterStatus { Continue = 0, Pause = 1 }

// Out-params the host writes into; one set per VM is enough because calls do not nest.
const outPtr = memory.data(8);
const outSize = memory.data(8);

let cachedLogLevel: i32 = -1;

/**
 * The host's log level, cached so the per-message debug check costs no host call. Envoy's
 * level can change at run time (admin /logging); refreshLogLevel picks that up.
 */
export function hostLogLevel(): LogLevel {
  if (cachedLogLevel < 0) refreshLogLevel();
  return cachedLogLevel as LogLevel;
}

export function refreshLogLevel(): void {
  cachedLogLevel = imports.proxy_get_log_level(outPtr) == HostResult.Ok ? load<i32>(outPtr) : LogLevel.Info;
}

export function logEnabled(level: LogLevel): bool {
  return level >= hostLogLevel();
}

export function log(level: LogLevel, message: string): void {
  if (!logEnabled(level)) return;
  const bytes = String.UTF8.encode(message);
  imports.proxy_log(level, changetype<usize>(bytes), bytes.byteLength);
}

// Connection bytes reach us through malloc on every read. Handing the host one reusable buffer
// for them, instead of a new ArrayBuffer per read, keeps the allocator and the garbage
// collector off the per-byte path. Reads larger than the scratch buffer get their own.
const SCRATCH_BYTES: i32 = 64 * 1024;
const scratch = new ArrayBuffer(SCRATCH_BYTES);
let scratchArmed = false;
const scratchWhole = Uint8Array.wrap(scratch);
const scratchView = Uint8Array.wrap(scratch);

/** The allocator the host calls to return data to us (exported by abi.ts). */
export function malloc(size: i32): usize {
  if (scratchArmed && size <= SCRATCH_BYTES) {
    scratchArmed = false;
    return changetype<usize>(scratch);
  }
  return __pin(changetype<usize>(new ArrayBuffer(size)));
}

/** Takes a buffer the host filled through malloc: the scratch buffer (borrowed) or its own. */
function takeHostBuffer(): Uint8Array {
  const size = load<u32>(outSize);
  const ptr = load<usize>(outPtr);
  if (size == 0 || ptr == 0) return new Uint8Array(0);
  if (ptr == changetype<usize>(scratch)) return repoint(scratchView, scratchWhole, 0, <i32>size);
  // The host wrote into an ArrayBuffer created (and pinned) by malloc; wrap it and unpin
  // so the GC owns it from here on.
  const buffer = changetype<ArrayBuffer>(ptr);
  __unpin(ptr);
  return Uint8Array.wrap(buffer, 0, <i32>size);
}

/** Bytes [start, start+length) of a host buffer, or null if the host has none. */
export function getBufferBytes(kind: BufferKind, start: u32, length: u32): Uint8Array | null {
  store<usize>(outPtr, 0);
  store<u32>(outSize, 0);
  const result = imports.proxy_get_buffer_bytes(kind, start, length, outPtr, outSize);
  if (result != HostResult.Ok) return null;
  countInput(length);
  return takeHostBuffer();
}

/**
 * Like getBufferBytes, but the bytes may sit in a buffer reused by the next read: copy what
 * must outlive the current callback.
 */
export function borrowBufferBytes(kind: BufferKind, start: u32, length: u32): Uint8Array | null {
  scratchArmed = true;
  const bytes = getBufferBytes(kind, start, length);
  scratchArmed = false;
  return bytes;
}

export function nowNanos(): u64 {
  return imports.proxy_get_current_time_nanoseconds(outPtr) == HostResult.Ok ? load<u64>(outPtr) : 0;
}

/** Defines (or finds) a metric; returns 0xffffffff when the host refuses it. */
export function defineMetric(kind: MetricKind, name: string): u32 {
  const bytes = String.UTF8.encode(name);
  const result = imports.proxy_define_metric(kind, changetype<usize>(bytes), bytes.byteLength, outPtr);
  return result == HostResult.Ok ? load<u32>(outPtr) : NO_METRIC;
}
export const NO_METRIC: u32 = 0xffffffff;

/** Envoy refuses increments below 1, so they are not sent. */
export function incrementMetric(id: u32, delta: i64): void {
  if (id != NO_METRIC && delta > 0) imports.proxy_increment_metric(id, delta);
}

export function recordMetric(id: u32, value: u64): void {
  if (id != NO_METRIC) imports.proxy_record_metric(id, value);
}

export function closeDownstream(): u32 {
  return imports.proxy_close_stream(StreamKind.Downstream);
}

/** Runtime aborts (selected with `--use abort=abort_proc_exit`) are logged before the trap. */
// @ts-ignore: decorator
@global
export function abort_proc_exit(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "metaproto abort: " + (message !== null ? message : "");
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  log(LogLevel.Critical, text);
}

/**
 * Replaces bytes [start, start+length) of a connection buffer with `bytes`. Envoy accepts only
 * start 0 (replace the front, any length, including the whole buffer) or an append at the end.
 */
export function setBufferBytes(kind: BufferKind, start: u32, length: u32, bytes: Uint8Array): HostResult {
  return imports.proxy_set_buffer_bytes(kind, start, length, bytes.dataStart, bytes.byteLength) as HostResult;
}

/** The shared-data value for `key` and its CAS, or null (NotFound and any failure). */
export class SharedValue {
  constructor(public bytes: Uint8Array, public cas: u32) {}
}

export function getSharedData(key: string): SharedValue | null {
  const name = String.UTF8.encode(key);
  const casPtr = memory.data(4);
  store<usize>(outPtr, 0);
  store<u32>(outSize, 0);
  const result = imports.proxy_get_shared_data(changetype<usize>(name), name.byteLength, outPtr, outSize, casPtr);
  if (result != HostResult.Ok) return null;
  return new SharedValue(takeHostBuffer(), load<u32>(casPtr));
}

/** Writes `key`; cas 0 writes unconditionally, another value fails with CasMismatch if stale. */
export function setSharedData(key: string, bytes: Uint8Array, cas: u32): HostResult {
  const name = String.UTF8.encode(key);
  return imports.proxy_set_shared_data(changetype<usize>(name), name.byteLength, bytes.dataStart, bytes.byteLength, cas) as HostResult;
}

/** A property of the stream (`["source", "address"]`), or null when the host has none. */
export function getProperty(path: Array<string>): Uint8Array | null {
  let size = 0;
  const encoded = new Array<ArrayBuffer>(path.length);
  for (let i = 0; i < path.length; i++) {
    encoded[i] = String.UTF8.encode(path[i]);
    size += encoded[i].byteLength + 1;
  }
  const joined = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < path.length; i++) {
    joined.set(Uint8Array.wrap(encoded[i]), at);
    at += encoded[i].byteLength + 1; // segments are separated by NUL
  }
  store<usize>(outPtr, 0);
  store<u32>(outSize, 0);
  const result = imports.proxy_get_property(joined.dataStart, max(size - 1, 0), outPtr, outSize);
  if (result != HostResult.Ok) return null;
  return takeHostBuffer();
}

/** Asks for proxy_on_tick every `millis` on the calling context's root (0 stops the timer). */
export function setTickPeriod(millis: u32): HostResult {
  return imports.proxy_set_tick_period_milliseconds(millis) as HostResult;
}

/**
 * Resumes a connection whose downstream data callback returned Pause: its held bytes go on to
 * the next filter. From a timer, the connection must be made the effective context first.
 */
export function resumeDownstream(connectionId: u32): HostResult {
  const made = imports.proxy_set_effective_context(connectionId) as HostResult;
  if (made != HostResult.Ok) return made;
  return imports.proxy_continue_stream(StreamKind.Downstream) as HostResult;
}

/**
 * Sets a filter-state string on the connection through Envoy's `set_envoy_filter_state` foreign
 * function (e.g. `envoy.tcp_proxy.cluster`, which tcp_proxy reads when it connects upstream).
 */
export function setFilterState(path: string, value: string): HostResult {
  const pathBytes = Uint8Array.wrap(String.UTF8.encode(path));
  const valueBytes = Uint8Array.wrap(String.UTF8.encode(value));
  // SetEnvoyFilterStateArguments {string path = 1; string value = 2; LifeSpan span = 3 (FilterChain = 0)}
  const args = new Uint8Array(2 + varintLength(pathBytes.byteLength) + pathBytes.byteLength + varintLength(valueBytes.byteLength) + valueBytes.byteLength);
  let at = 0;
  args[at++] = 0x0a;
  at = writeVarint(args, at, pathBytes.byteLength);
  args.set(pathBytes, at);
  at += pathBytes.byteLength;
  args[at++] = 0x12;
  at = writeVarint(args, at, valueBytes.byteLength);
  args.set(valueBytes, at);
  const name = String.UTF8.encode("set_envoy_filter_state");
  store<usize>(outPtr, 0);
  store<u32>(outSize, 0);
  return imports.proxy_call_foreign_function(changetype<usize>(name), name.byteLength, args.dataStart, args.byteLength, outPtr, outSize) as HostResult;
}

function varintLength(n: i32): i32 {
  let length = 1;
  while (n >= 0x80) {
    n >>>= 7;
    length++;
  }
  return length;
}

function writeVarint(out: Uint8Array, at: i32, n: i32): i32 {
  while (n >= 0x80) {
    out[at++] = <u8>((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out[at++] = <u8>n;
  return at;
}

// proxy_grpc_call as ABI 0.2.1 defines it (the SDK's declaration lacks the initial-metadata pair,
// which Envoy's import signature has).
// @ts-ignore: decorator
@external("env", "proxy_grpc_call")
declare function proxy_grpc_call(
  servicePtr: usize, serviceSize: usize, serviceNamePtr: usize, serviceNameSize: usize,
  methodNamePtr: usize, methodNameSize: usize, initialMetadataPtr: usize, initialMetadataSize: usize,
  requestPtr: usize, requestSize: usize, timeoutMilliseconds: u32, tokenPtr: usize): u32;

/** The token of the last grpcCall that returned Ok. */
export let grpcToken: u32 = 0;

/**
 * Starts a unary gRPC call from the current (root) context. `service` is a serialized
 * envoy.config.core.v3.GrpcService; the answer comes to proxy_on_grpc_receive or
 * proxy_on_grpc_close with grpcToken.
 */
export function grpcCall(service: Uint8Array, serviceName: string, method: string, request: Uint8Array, timeoutMillis: u32): HostResult {
  const name = String.UTF8.encode(serviceName);
  const methodBytes = String.UTF8.encode(method);
  const tokenPtr = memory.data(4);
  const result = proxy_grpc_call(service.dataStart, service.byteLength, changetype<usize>(name), name.byteLength,
    changetype<usize>(methodBytes), methodBytes.byteLength, 0, 0, request.dataStart, request.byteLength, timeoutMillis, tokenPtr);
  if (result == HostResult.Ok) grpcToken = load<u32>(tokenPtr);
  return result as HostResult;
}
