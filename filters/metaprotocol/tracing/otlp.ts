// The OTLP messages the filter writes: a Span or a LogRecord per call, and the Export requests that
// carry them.
// Field numbers are the .proto files'; tracing/otlp.test.ts decodes the output with protobufjs
// against those files.
import { ProtoWriter } from "./protobuf";

export const TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService";
export const LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService";
export const EXPORT_METHOD = "Export";
export const SCOPE_NAME = "metaproto";

export enum SpanKind { Unspecified = 0, Internal = 1, Server = 2, Client = 3 }
export enum StatusCode { Unset = 0, Ok = 1, Error = 2 }
export const SEVERITY_INFO: u32 = 9;
export const SEVERITY_ERROR: u32 = 17;

/** Writes KeyValue attributes (common.v1.KeyValue { key = 1; AnyValue value = 2 }) as field `field`. */
export class AttributeWriter {
  constructor(public w: ProtoWriter, public field: u32) {}

  string(key: string, value: string): void {
    this.w.begin(this.field);
    this.w.requiredStringField(1, key);
    this.w.begin(2);
    this.w.requiredStringField(1, value); // AnyValue.string_value
    this.w.end();
    this.w.end();
  }

  int(key: string, value: i64): void {
    this.w.begin(this.field);
    this.w.requiredStringField(1, key);
    this.w.begin(2);
    // AnyValue.int_value (3): written even when 0, the oneof must say which value it holds.
    this.w.varint(<u64>((3 << 3) | 0));
    this.w.varint(<u64>value);
    this.w.end();
    this.w.end();
  }
}

function idBytes(high: u64, low: u64, length: i32): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  if (length == 16) for (let i = 7; i >= 0; i--) out[at++] = <u8>((high >> (<u64>i * 8)) & 0xff);
  for (let i = 7; i >= 0; i--) out[at++] = <u8>((low >> (<u64>i * 8)) & 0xff);
  return out;
}

export function traceIdBytes(high: u64, low: u64): Uint8Array {
  return idBytes(high, low, 16);
}

export function spanIdBytes(id: u64): Uint8Array {
  return idBytes(0, id, 8);
}

/** Starts a Span (trace.v1.Span) in `w`; the caller adds attributes (field 9) and calls endSpan. */
export function beginSpan(w: ProtoWriter, traceHigh: u64, traceLow: u64, spanId: u64, parentSpanId: u64, traceState: string,
  name: string, kind: SpanKind, startNanos: u64, endNanos: u64, sampled: bool): void {
  w.bytesField(1, traceIdBytes(traceHigh, traceLow));
  w.bytesField(2, spanIdBytes(spanId));
  w.stringField(3, traceState);
  if (parentSpanId != 0) w.bytesField(4, spanIdBytes(parentSpanId));
  w.stringField(5, name);
  w.uint64Field(6, <u64>kind);
  w.fixed64Field(7, startNanos);
  w.fixed64Field(8, endNanos);
  // flags (16): W3C trace flags in the low byte (sampled), and that the parent is remote or not known.
  w.fixed32Field(16, (sampled ? 0x01 : 0) | 0x100 | (parentSpanId != 0 ? 0x200 : 0));
}

export function writeStatus(w: ProtoWriter, code: StatusCode, message: string): void {
  if (code == StatusCode.Unset && message.length == 0) return;
  w.begin(15);
  w.stringField(2, message);
  w.uint64Field(3, <u64>code);
  w.end();
}

function writeResource(w: ProtoWriter, serviceName: string): void {
  w.begin(1); // Resource
  const attributes = new AttributeWriter(w, 1);
  attributes.string("service.name", serviceName);
  attributes.string("telemetry.sdk.name", SCOPE_NAME);
  w.end();
}

/**
 * ExportTraceServiceRequest { ResourceSpans resource_spans = 1 { resource = 1; ScopeSpans scope_spans = 2 { scope = 1; spans = 2 } } }
 * and ExportLogsServiceRequest { ResourceLogs resource_logs = 1 { resource = 1; ScopeLogs scope_logs = 2 { scope = 1; log_records = 2 } } }
 * share every field number: one encoder serves both.
 */
function exportRequest(items: Array<Uint8Array>, serviceName: string): Uint8Array {
  const w = new ProtoWriter(256 + items.length * 512);
  w.begin(1);
  writeResource(w, serviceName);
  w.begin(2);
  w.begin(1);
  w.stringField(1, SCOPE_NAME);
  w.end();
  for (let i = 0; i < items.length; i++) w.messageBytesField(2, unchecked(items[i]));
  w.end();
  w.end();
  return w.toBytes();
}

export function traceRequest(spans: Array<Uint8Array>, serviceName: string): Uint8Array {
  return exportRequest(spans, serviceName);
}

export function logsRequest(records: Array<Uint8Array>, serviceName: string): Uint8Array {
  return exportRequest(records, serviceName);
}
