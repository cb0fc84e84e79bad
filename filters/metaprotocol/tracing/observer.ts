// Spans and flow logs of one connection's calls (README "Tracing"). A connection has an observer
// only when its configuration has `tracing` or `flow_logs`: without them no call does any of this.
import { Attribute, Codec, ConnectionState, Message, ResponseStatus } from "../../../api/assembly/codec";
import { CallRecord } from "../call_record";
import { getProperty } from "../runtime/host";
import { Peer } from "../policy/match";
import { FlowLogConfig, SpanKindChoice, TracingConfig } from "./config";
import { OtlpExporter } from "./exporter";
import {
  AttributeWriter, EXPORT_METHOD, LOGS_SERVICE, SEVERITY_ERROR, SEVERITY_INFO, SpanKind, StatusCode, TRACE_SERVICE,
  beginSpan, logsRequest, spanIdBytes, traceIdBytes, traceRequest, writeStatus,
} from "./otlp";
import { ProtoWriter } from "./protobuf";
import { PropagationFormat, SampledFlag, Sw8Peer, TraceContext, attributeIgnoringCase, extractContext, hex64, injectContext, traceIdHex } from "./trace_context";

/** The VM's exporters: every configuration and connection of the worker feeds the same queues. */
export const spanExporter = new OtlpExporter("spans", TRACE_SERVICE, EXPORT_METHOD, traceRequest);
export const flowLogExporter = new OtlpExporter("flow_logs", LOGS_SERVICE, EXPORT_METHOD, logsRequest);

/** Routes a gRPC answer to the exporter whose call it is. */
export function grpcReceived(token: u32): void {
  spanExporter.onReceive(token);
  flowLogExporter.onReceive(token);
}

export function grpcClosed(token: u32, status: u32, now: u64): void {
  spanExporter.onClose(token, status, now);
  flowLogExporter.onClose(token, status, now);
}

// Ids: xorshift64*, seeded per VM at configuration (AssemblyScript's Math.random needs a seed import Envoy lacks).
let idState: u64 = 0x2545f4914f6cdd1d;

export function seedIds(seed: u64): void {
  idState = seed | 1;
}

export function nextId(): u64 {
  let x = idState;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  idState = x;
  const id = x * 0x2545f4914f6cdd1d;
  return id == 0 ? 1 : id;
}

/** A number in [0, 100). */
function percentRoll(): f64 {
  return <f64>(nextId() >> 11) / <f64>(<u64>1 << 53) * 100.0;
}

/** What semantic conventions a protocol's spans follow: an RPC system or a database. */
class ProtocolKind {
  constructor(public database: bool, public system: string, public deepflowId: i64, public deepflowName: string) {}
}

function protocolKind(protocol: string): ProtocolKind {
  if (protocol == "dubbo") return new ProtocolKind(false, "dubbo", 40, "Dubbo");
  if (protocol == "thrift") return new ProtocolKind(false, "apache_thrift", 127, "Thrift");
  if (protocol == "redis") return new ProtocolKind(true, "redis", 80, "Redis");
  if (protocol == "mysql") return new ProtocolKind(true, "mysql", 60, "MySQL");
  // A protocol added through the codec SDK: an RPC system named as its codec, DeepFlow's "custom".
  return new ProtocolKind(false, protocol, 127, protocol);
}

/** An "ip:port" address property split in two ("[v6]:port" too). */
class Endpoint {
  address: string = "";
  port: i64 = 0;
  known: bool = false;
}

function endpointProperty(path: Array<string>): Endpoint {
  const e = new Endpoint();
  const bytes = getProperty(path);
  if (bytes == null || bytes.byteLength == 0) return e;
  const text = String.UTF8.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return e;
  let host = text.substring(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length - 1);
  const port = I64.parseInt(text.substring(colon + 1));
  e.address = host;
  e.port = port > 0 && port < 65536 ? port : 0;
  e.known = true;
  return e;
}

/** Flow logs without tracing keep this much of a statement (request_resource). */
const DEFAULT_STATEMENT_LENGTH: i32 = 256;

const LISTENER_INBOUND: i64 = 1;
const LISTENER_OUTBOUND: i64 = 2;

/**
 * The listener's traffic_direction. A network filter gets it as `xds.listener_direction` (Envoy
 * 1.40 answers the older top-level `listener_direction` only in HTTP filters); an int64, 8 bytes
 * little-endian.
 */
function listenerDirection(): i64 {
  let bytes = getProperty(["xds", "listener_direction"]);
  if (bytes == null) bytes = getProperty(["listener_direction"]);
  if (bytes == null || bytes.byteLength < 8) return 0;
  let n: i64 = 0;
  for (let i = 7; i >= 0; i--) n = (n << 8) | <i64>bytes[i];
  return n;
}

function statusText(status: ResponseStatus, answered: bool): string {
  if (!answered) return "no_response";
  switch (status) {
    case ResponseStatus.Ok: return "ok";
    case ResponseStatus.ClientError: return "client_error";
    case ResponseStatus.ServerError: return "server_error";
    default: return "no_response";
  }
}

export class CallObserver {
  private kind: ProtocolKind;
  private writer: ProtoWriter = new ProtoWriter(1024);
  private spanKind: SpanKind = SpanKind.Unspecified;
  private client: Endpoint | null = null;
  private listener: Endpoint = new Endpoint();
  private upstream: Endpoint = new Endpoint();
  private upstreamLocal: Endpoint = new Endpoint();
  private sw8Peer: Sw8Peer = new Sw8Peer();

  constructor(private tracing: TracingConfig | null, private flowLogs: FlowLogConfig | null, private codec: Codec, private protocol: string) {
    this.kind = protocolKind(protocol);
    if (tracing != null) this.sw8Peer.service = tracing.export.serviceName;
  }

  /**
   * Decides whether a request is observed and, if so, starts its record; for a sampled call whose
   * protocol carries attributes, the record's `injected` holds the context to write into it.
   */
  onRequest(message: Message, now: u64, peer: Peer, oneway: bool, state: ConnectionState | null): CallRecord | null {
    const tracing = this.tracing;
    let ctx: TraceContext | null = null;
    let sampled = false;
    if (tracing != null) {
      if (tracing.extract.length > 0) ctx = extractContext(message, tracing.extract);
      sampled = this.decide(tracing, ctx, message, peer);
    }
    if (!sampled && this.flowLogs == null) return null;
    const record = new CallRecord();
    record.sampled = sampled;
    record.service = message.service;
    record.method = message.method;
    record.version = message.version;
    record.hasRequestId = message.hasRequestId;
    record.requestId = message.requestId;
    record.startNanos = now;
    record.requestBytes = message.frameLength;
    record.oneway = oneway;
    if (message.statement.length > 0) {
      const limit = tracing != null ? tracing.maxQueryTextLength : DEFAULT_STATEMENT_LENGTH;
      record.statement = message.statement.length > limit ? message.statement.substring(0, limit) : message.statement;
    }
    const x = attributeIgnoringCase(message, "x-request-id");
    if (x != null) record.xRequestId = x;
    if (ctx != null) {
      record.traceIdHigh = ctx.traceHigh;
      record.traceIdLow = ctx.traceLow;
      record.parentSpanId = ctx.spanId;
      record.traceState = ctx.traceState;
      record.extractedFrom = ctx.format == PropagationFormat.W3C ? "w3c" : ctx.format == PropagationFormat.B3 ? "b3" : ctx.format == PropagationFormat.B3Multi ? "b3multi" : "sw8";
    }
    if (!sampled) return record;
    if (ctx == null) {
      record.traceIdHigh = nextId();
      record.traceIdLow = nextId();
    }
    record.spanId = nextId();
    if (this.codec.attributesWritable(message, state)) {
      const formats = tracing!.inject.length > 0 ? tracing!.inject : [ctx != null ? ctx.format : PropagationFormat.W3C];
      const injected = new Array<Attribute>();
      this.sw8Peer.endpoint = message.service.length > 0 ? message.service + "/" + message.method : message.method;
      for (let i = 0; i < formats.length; i++) {
        injectContext(unchecked(formats[i]), record.traceIdHigh, record.traceIdLow, record.spanId, record.parentSpanId, true, this.sw8Peer, injected);
      }
      record.injected = injected;
    }
    return record;
  }

  private decide(tracing: TracingConfig, ctx: TraceContext | null, message: Message, peer: Peer): bool {
    if (ctx != null && tracing.parentBased && ctx.sampled != SampledFlag.Unknown) return ctx.sampled == SampledFlag.Yes;
    let percent = tracing.percent;
    for (let i = 0; i < tracing.rules.length; i++) {
      const rule = unchecked(tracing.rules[i]);
      if (rule.match.matches(message, peer)) {
        percent = rule.percent;
        break;
      }
    }
    if (percent >= 100) return true;
    if (percent <= 0) return false;
    return percentRoll() < percent;
  }

  /** The call ended (answered, one-way, given up or closed): its span and flow log are queued. */
  finish(record: CallRecord): void {
    this.readConnection();
    if (record.sampled && this.tracing != null) spanExporter.add(this.encodeSpan(record), record.endNanos);
    if (this.flowLogs != null) flowLogExporter.add(this.encodeFlowLog(record), record.endNanos);
  }

  /** The connection's addresses and the span kind, read once (upstream ones exist once tcp_proxy connected). */
  private readConnection(): void {
    if (this.client != null && this.upstream.known) return;
    if (this.client == null) {
      this.client = endpointProperty(["source", "address"]);
      this.listener = endpointProperty(["destination", "address"]);
      const tracing = this.tracing;
      const choice = tracing != null ? tracing.spanKind : SpanKindChoice.Auto;
      if (choice == SpanKindChoice.Client) this.spanKind = SpanKind.Client;
      else if (choice == SpanKindChoice.Server) this.spanKind = SpanKind.Server;
      else this.spanKind = listenerDirection() == LISTENER_INBOUND ? SpanKind.Server : SpanKind.Client;
    }
    this.upstream = endpointProperty(["upstream", "address"]);
    this.upstreamLocal = endpointProperty(["upstream", "local_address"]);
  }

  private spanName(record: CallRecord): string {
    if (this.kind.database) return record.method;
    return record.service.length > 0 ? record.service + "/" + record.method : record.method;
  }

  private encodeSpan(record: CallRecord): Uint8Array {
    const tracing = this.tracing!;
    const w = this.writer.reset();
    const server = this.spanKind == SpanKind.Server;
    beginSpan(w, record.traceIdHigh, record.traceIdLow, record.spanId, record.parentSpanId, record.traceState,
      this.spanName(record), this.spanKind, record.startNanos, record.endNanos, true);
    const a = new AttributeWriter(w, 9);
    const kind = this.kind;
    if (kind.database) {
      a.string("db.system.name", kind.system);
      a.string("db.system", kind.system);
      a.string("db.operation.name", record.method);
      if (record.service.length > 0) a.string("db.namespace", record.service);
      if (record.statement.length > 0) {
        a.string("db.query.text", record.statement);
        a.string("db.statement", record.statement);
      }
      if (record.code.length > 0) a.string("db.response.status_code", record.code);
    } else {
      a.string("rpc.system.name", kind.system);
      a.string("rpc.system", kind.system);
      // Current conventions: the fully-qualified method; rpc.service keeps the older split.
      a.string("rpc.method", record.service.length > 0 ? record.service + "/" + record.method : record.method);
      a.string("rpc.service", record.service);
    }
    // Client side: the server is the upstream host. Server side: this listener is the server, the peer the client.
    const peer = server ? this.client! : (this.upstream.known ? this.upstream : this.listener);
    const serverEnd = server ? this.listener : peer;
    if (serverEnd.known) {
      a.string("server.address", serverEnd.address);
      a.int("server.port", serverEnd.port);
    }
    if (peer.known) {
      a.string("network.peer.address", peer.address);
      a.int("network.peer.port", peer.port);
      a.string("net.peer.ip", peer.address);
    }
    if (record.hasRequestId) a.string("metaproto.request_id", record.requestId.toString());
    a.string("metaproto.response_code", record.code);
    a.string("metaproto.response_status", statusText(record.status, record.answered));
    if (record.localReply.length > 0) a.string("metaproto.local_reply", record.localReply);
    if (record.extractedFrom.length > 0) a.string("metaproto.propagation", record.extractedFrom);
    let code = StatusCode.Unset;
    let message = "";
    if (!record.answered && !record.oneway) {
      code = StatusCode.Error;
      message = "no response: " + record.code;
    } else if (record.status == ResponseStatus.ServerError || (record.status == ResponseStatus.ClientError && !server)) {
      code = StatusCode.Error;
      message = record.exception.length > 0 ? record.exception : record.code;
    }
    writeStatus(w, code, message);
    return w.toBytes();
  }

  private encodeFlowLog(record: CallRecord): Uint8Array {
    const w = this.writer.reset();
    const failed = record.answered ? record.status != ResponseStatus.Ok : !record.oneway;
    w.fixed64Field(1, record.startNanos);
    w.uint64Field(2, failed ? SEVERITY_ERROR : SEVERITY_INFO);
    w.stringField(3, failed ? "ERROR" : "INFO");
    const kind = this.kind;
    const endpoint = kind.database ? record.method : (record.service.length > 0 ? record.service + "/" + record.method : record.method);
    w.begin(5); // body: AnyValue.string_value
    w.requiredStringField(1, this.protocol + " " + endpoint + " " + statusText(record.status, record.answered) + " " + record.code);
    w.end();
    const a = new AttributeWriter(w, 6);
    a.int("l7_protocol", kind.deepflowId);
    a.string("l7_protocol_str", kind.deepflowName);
    // DeepFlow's type: 0 request (no response seen), 2 session (request and response).
    a.int("type", record.answered ? 2 : 0);
    a.string("request_type", record.method);
    a.string("request_domain", record.service);
    a.string("request_resource", record.statement.length > 0 ? record.statement : endpoint);
    if (record.hasRequestId) a.int("request_id", <i64>record.requestId);
    a.string("endpoint", endpoint);
    a.string("response_status", statusText(record.status, record.answered));
    a.string("response_code", record.code);
    a.string("response_exception", record.exception);
    a.string("response_result", "");
    const duration = record.endNanos > record.startNanos ? (record.endNanos - record.startNanos) / 1000 : 0;
    a.int("response_duration", <i64>duration);
    a.int("request_length", <i64>record.requestBytes);
    a.int("response_length", <i64>record.responseBytes);
    const traced = (record.traceIdHigh | record.traceIdLow) != 0;
    a.string("trace_id", traced ? traceIdHex(record.traceIdHigh, record.traceIdLow) : "");
    a.string("span_id", record.spanId != 0 ? hex64(record.spanId) : "");
    a.string("x_request_id", record.xRequestId);
    a.int("start_time", <i64>(record.startNanos / 1000));
    a.int("end_time", <i64>(record.endNanos / 1000));
    // The 5-tuples as Envoy sees each side: client → listener, and Envoy → upstream host.
    const client = this.client!;
    a.int("protocol", 6); // TCP
    a.string("ip_0", client.address);
    a.int("client_port", client.port);
    a.string("ip_1", this.listener.address);
    a.int("server_port", this.listener.port);
    if (this.upstream.known) {
      a.string("upstream.ip_0", this.upstreamLocal.address);
      a.int("upstream.client_port", this.upstreamLocal.port);
      a.string("upstream.ip_1", this.upstream.address);
      a.int("upstream.server_port", this.upstream.port);
    }
    if (traced) w.bytesField(9, traceIdBytes(record.traceIdHigh, record.traceIdLow));
    if (record.spanId != 0) w.bytesField(10, spanIdBytes(record.spanId));
    w.fixed64Field(11, record.endNanos);
    w.stringField(12, "l7_flow_log");
    return w.toBytes();
  }
}
