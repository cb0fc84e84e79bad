// The OTLP messages (traces and logs, opentelemetry-proto 1.11.0), loaded with protobufjs from the
// .proto files `./build.sh setup` unpacks from the opentelemetry-proto artifact into build/.
import * as fs from "fs";
import * as path from "path";
import * as protobuf from "protobufjs";
import { repoRoot } from "../xds/api";

export const OTLP_PROTO_VERSION = "1.11.0";

export const TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService";
export const LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService";

const SERVICE_FILES = [
  "opentelemetry/proto/collector/trace/v1/trace_service.proto",
  "opentelemetry/proto/collector/logs/v1/logs_service.proto",
];

export function otlpProtoDir(): string {
  return process.env.METAPROTO_OTLP_PROTOS ?? path.join(repoRoot(), "build", `otlp-protos-${OTLP_PROTO_VERSION}`);
}

export interface OtlpTypes {
  root: protobuf.Root;
  exportTraceRequest: protobuf.Type;
  exportTraceResponse: protobuf.Type;
  exportLogsRequest: protobuf.Type;
  exportLogsResponse: protobuf.Type;
}

let loaded: OtlpTypes | undefined;

/** The OTLP message types (loaded once). */
export function otlpTypes(): OtlpTypes {
  if (loaded) return loaded;
  const dir = otlpProtoDir();
  if (!fs.existsSync(path.join(dir, SERVICE_FILES[0]))) {
    throw new Error(`OTLP .proto files not found in ${dir}: run ./build.sh setup (it unpacks opentelemetry-proto ` +
      `${OTLP_PROTO_VERSION} there), or set METAPROTO_OTLP_PROTOS`);
  }
  const root = new protobuf.Root();
  // Imports name files from the folder that holds opentelemetry/.
  root.resolvePath = (_origin, target) => path.join(dir, target);
  root.loadSync(SERVICE_FILES, { keepCase: true });
  root.resolveAll();
  loaded = {
    root,
    exportTraceRequest: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
    exportTraceResponse: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse"),
    exportLogsRequest: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest"),
    exportLogsResponse: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse"),
  };
  return loaded;
}

// Plain shapes of the decoded messages (snake_case, as in the .proto files; bytes as Buffers; 64-bit
// integers as decimal strings, since nanosecond times do not fit a double). Only what the receiver reads is typed.
export interface AnyValue {
  string_value?: string;
  bool_value?: boolean;
  int_value?: string;
  double_value?: number;
  array_value?: { values?: AnyValue[] };
  kvlist_value?: { values?: KeyValue[] };
  bytes_value?: Uint8Array;
}
export interface KeyValue { key: string; value?: AnyValue }
export interface Resource { attributes?: KeyValue[]; dropped_attributes_count?: number }
export interface Scope { name?: string; version?: string; attributes?: KeyValue[] }
export interface Span {
  trace_id?: Uint8Array; span_id?: Uint8Array; parent_span_id?: Uint8Array; name?: string; kind?: number;
  start_time_unix_nano?: string; end_time_unix_nano?: string;
  attributes?: KeyValue[]; status?: { code?: number; message?: string };
  [field: string]: unknown;
}
export interface LogRecord {
  time_unix_nano?: string; observed_time_unix_nano?: string;
  severity_number?: number; severity_text?: string; body?: AnyValue; attributes?: KeyValue[];
  trace_id?: Uint8Array; span_id?: Uint8Array; event_name?: string;
  [field: string]: unknown;
}
export interface ExportTraceRequest {
  resource_spans?: { resource?: Resource; schema_url?: string; scope_spans?: { scope?: Scope; schema_url?: string; spans?: Span[] }[] }[];
}
export interface ExportLogsRequest {
  resource_logs?: { resource?: Resource; schema_url?: string; scope_logs?: { scope?: Scope; schema_url?: string; log_records?: LogRecord[] }[] }[];
}

/** Decodes a request's bytes; throws on bytes that are not that message. */
export function decodeTraces(bytes: Uint8Array): ExportTraceRequest {
  const { exportTraceRequest } = otlpTypes();
  return exportTraceRequest.toObject(exportTraceRequest.decode(bytes), { defaults: false, arrays: true, longs: String }) as ExportTraceRequest;
}

export function decodeLogs(bytes: Uint8Array): ExportLogsRequest {
  const { exportLogsRequest } = otlpTypes();
  return exportLogsRequest.toObject(exportLogsRequest.decode(bytes), { defaults: false, arrays: true, longs: String }) as ExportLogsRequest;
}

export function encodeTraces(request: ExportTraceRequest): Uint8Array {
  const { exportTraceRequest } = otlpTypes();
  return exportTraceRequest.encode(exportTraceRequest.fromObject(request)).finish();
}

export function encodeLogs(request: ExportLogsRequest): Uint8Array {
  const { exportLogsRequest } = otlpTypes();
  return exportLogsRequest.encode(exportLogsRequest.fromObject(request)).finish();
}

/** An attribute value as plain JSON (ints beyond 2^53 as strings, bytes as hex). */
export function plainValue(value: AnyValue | undefined): unknown {
  if (!value) return null;
  if (value.string_value !== undefined) return value.string_value;
  if (value.bool_value !== undefined) return value.bool_value;
  if (value.int_value !== undefined) return longToJson(value.int_value);
  if (value.double_value !== undefined) return value.double_value;
  if (value.array_value) return (value.array_value.values ?? []).map(plainValue);
  if (value.kvlist_value) return plainAttributes(value.kvlist_value.values);
  if (value.bytes_value) return Buffer.from(value.bytes_value).toString("hex");
  return null;
}

export function plainAttributes(attributes: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) out[key] = plainValue(value);
  return out;
}

/** A 64-bit integer as a JSON number when it fits one exactly, else as its decimal string. */
export function longToJson(value: string | number): number | string {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : String(value);
}

export function hex(bytes: Uint8Array | undefined): string {
  return bytes ? Buffer.from(bytes).toString("hex") : "";
}
