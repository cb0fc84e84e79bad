// Reads the OTLP Export requests a module sends (see ProxyTestHost.grpcCalls) with protobufjs and
// the OTLP .proto files themselves (the ones the telemetry receiver loads: `./build.sh setup` unpacks
// opentelemetry-proto into build/), so tests check the module's protobuf writer against the real
// schema rather than against itself.
import * as protobuf from "protobufjs";
import { otlpTypes } from "../../control-plane/telemetry/otlp";

function otlpRoot(): protobuf.Root {
  return otlpTypes().root;
}

/** An attribute value as a plain JS value (int64 as number). */
export type OtlpValue = string | number | boolean | null;

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  flags: number;
  attributes: Record<string, OtlpValue>;
  status: { code: number; message: string };
  resource: Record<string, OtlpValue>;
}

export interface OtlpLogRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  body: OtlpValue;
  attributes: Record<string, OtlpValue>;
  traceId: string;
  spanId: string;
  eventName: string;
  resource: Record<string, OtlpValue>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Plain = any;

function anyValue(v: Plain): OtlpValue {
  if (!v) return null;
  if (v.string_value !== undefined) return v.string_value;
  if (v.int_value !== undefined) return Number(v.int_value);
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.double_value !== undefined) return v.double_value;
  return null;
}

function attributes(list: Plain[] | undefined): Record<string, OtlpValue> {
  const out: Record<string, OtlpValue> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString("hex") : "");
const nanos = (v: Plain) => (v === undefined ? 0n : BigInt(v.toString()));

function decode(type: string, bytes: Uint8Array): Plain {
  const t = otlpRoot().lookupType(type);
  const message = t.decode(bytes);
  return t.toObject(message, { longs: String, bytes: Buffer, defaults: false, oneofs: false });
}

/** The spans of an ExportTraceServiceRequest, each with its resource's attributes. */
export function decodeTraceExport(bytes: Uint8Array): OtlpSpan[] {
  const request = decode("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest", bytes);
  const spans: OtlpSpan[] = [];
  for (const rs of request.resource_spans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scope_spans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: hex(s.trace_id),
          spanId: hex(s.span_id),
          parentSpanId: hex(s.parent_span_id),
          traceState: s.trace_state ?? "",
          name: s.name ?? "",
          kind: s.kind ?? 0,
          startTimeUnixNano: nanos(s.start_time_unix_nano),
          endTimeUnixNano: nanos(s.end_time_unix_nano),
          flags: s.flags ?? 0,
          attributes: attributes(s.attributes),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
          resource,
        });
      }
    }
  }
  return spans;
}

/** The log records of an ExportLogsServiceRequest, each with its resource's attributes. */
export function decodeLogsExport(bytes: Uint8Array): OtlpLogRecord[] {
  const request = decode("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest", bytes);
  const records: OtlpLogRecord[] = [];
  for (const rl of request.resource_logs ?? []) {
    const resource = attributes(rl.resource?.attributes);
    for (const sl of rl.scope_logs ?? []) {
      for (const r of sl.log_records ?? []) {
        records.push({
          timeUnixNano: nanos(r.time_unix_nano),
          observedTimeUnixNano: nanos(r.observed_time_unix_nano),
          severityNumber: r.severity_number ?? 0,
          severityText: r.severity_text ?? "",
          body: anyValue(r.body),
          attributes: attributes(r.attributes),
          traceId: hex(r.trace_id),
          spanId: hex(r.span_id),
          eventName: r.event_name ?? "",
          resource,
        });
      }
    }
  }
  return records;
}
