// Test helpers: the compiled thrift.wasm in the proxytest host emulator, the captured fixtures
// with python3-thrift's description of them (fixtures/README.md), and Thrift messages written
// by an independent encoder (npm thrift 0.17's own protocol and transport classes).
import { readFileSync } from "fs";
import * as path from "path";
import { ProxyTestHost, compiledCodec, metricName, repoRoot } from "../../api/proxytest";
export { bytewise, decodedMessages, feed, split, startedHost } from "../../api/proxytest";
export type { Decoded } from "../../api/proxytest";
// npm thrift ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const thrift = require("thrift");

/** Builds dist/wasm/thrift.wasm if stale and returns the compiled module. */
export const compiledThrift = () => compiledCodec("thrift");

// ------------------------------------------------------------------------------------------
// Fixtures

/** One message as python3-thrift read it from a fixture (test/thrift/describe.py). */
export interface OracleMessage {
  offset: number;
  length: number;
  name: string;
  type: "call" | "oneway" | "reply" | "exception";
  seqid: number;
  headers?: Record<string, string>;
  transforms?: number[];
  result_field?: number | null;
  app_exception_type?: number;
}

export interface Fixture {
  name: string;
  variant: "buffered" | "framed" | "header";
  request: Buffer;
  response: Buffer;
  /** What the client saw, one line per call: "OBSERVED service=S method=M outcome=O". */
  clientObserved: string[];
  requestMessages: OracleMessage[];
  responseMessages: OracleMessage[];
}

export function fixture(name: string): Fixture {
  const dir = path.join(repoRoot(), "codecs/thrift/fixtures");
  const described = JSON.parse(readFileSync(path.join(dir, `${name}.json`), "utf8"));
  return {
    name,
    variant: described.variant,
    request: readFileSync(path.join(dir, `${name}.request.bin`)),
    response: readFileSync(path.join(dir, `${name}.response.bin`)),
    clientObserved: described.client_observed,
    requestMessages: described.request,
    responseMessages: described.response,
  };
}

/** Declared exceptions by name → their field id in the result struct, from the IDL's throws clause. */
export function declaredExceptionFields(): Record<string, number> {
  const idl = readFileSync(path.join(repoRoot(), "test/thrift/demo.thrift"), "utf8");
  const out: Record<string, number> = {};
  for (const clause of idl.matchAll(/throws\s*\(([^)]*)\)/g)) {
    for (const m of clause[1].matchAll(/(\d+)\s*:\s*(\w+)\s+\w+/g)) out[m[2]] = Number(m[1]);
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// The codec's documented mapping (codecs/thrift/README.md), written out independently.

const CLIENT_ERROR_APP_EXCEPTIONS = new Set([1, 2, 3, 4, 7, 8, 9, 10]);

export function appExceptionStatus(type: number): string {
  return CLIENT_ERROR_APP_EXCEPTIONS.has(type) ? "client_error" : "server_error";
}

/** status and code of a response as python3-thrift describes it. */
export function expectedOutcome(m: OracleMessage): { status: string; code: string } {
  if (m.type === "exception") return { status: appExceptionStatus(m.app_exception_type ?? 0), code: `app_exception:${m.app_exception_type ?? 0}` };
  if (m.result_field === null || m.result_field === undefined || m.result_field === 0) return { status: "ok", code: "0" };
  return { status: "server_error", code: `exception:${m.result_field}` };
}

/** The metric labels a call should be counted under, from what the client observed. */
export function observedCall(line: string, declared: Record<string, number>): { service: string; method: string; status: string; code: string } {
  const m = /^OBSERVED service=(\S*) method=(\S+) outcome=(\S+)$/.exec(line);
  if (!m) throw new Error(`not an OBSERVED line: ${line}`);
  const [, service, method, outcome] = m;
  if (outcome === "ok") return { service, method, status: "ok", code: "0" };
  if (outcome === "oneway") return { service, method, status: "no_response", code: "oneway" };
  const app = /^TApplicationException:(\d+)$/.exec(outcome);
  if (app) return { service, method, status: appExceptionStatus(Number(app[1])), code: `app_exception:${app[1]}` };
  if (!(outcome in declared)) throw new Error(`outcome ${outcome} is neither a result nor a declared exception`);
  return { service, method, status: "server_error", code: `exception:${declared[outcome]}` };
}

export function requestsTotal(service: string, method: string, status: string, code: string): string {
  return metricName("metaproto_requests_total", { protocol: "thrift", service, method, response_status: status, response_code: code });
}

export function decodeError(direction: string, reason: string): string {
  return metricName("metaproto_decode_errors_total", { protocol: "thrift", direction, reason });
}

// ------------------------------------------------------------------------------------------
// Driving the module

/** Every metaproto_* counter by name (histograms left out). */
export function counters(host: ProxyTestHost, prefix = "metaproto_"): Record<string, number> {
  return Object.fromEntries(host.metrics().filter((m) => m.name.startsWith(prefix) && !m.samples).map((m) => [m.name, m.value]));
}

// ------------------------------------------------------------------------------------------
// Messages written by npm thrift's encoder

export const Type = thrift.Thrift.Type;
export const MessageType = thrift.Thrift.MessageType;

export type ProtocolName = "binary" | "binary-nonstrict" | "compact" | "json";
export type TransportName = "buffered" | "framed";

/** Writes one message with npm thrift: `body` writes the message's struct through the protocol. */
export function encodeMessage(
  protocol: ProtocolName, transport: TransportName, name: string, type: number, seqid: number,
  body: (p: any) => void, // eslint-disable-line @typescript-eslint/no-explicit-any
): Buffer {
  const out: Buffer[] = [];
  const Transport = transport === "framed" ? thrift.TFramedTransport : thrift.TBufferedTransport;
  const trans = new Transport(undefined, (buf: Buffer) => out.push(Buffer.from(buf)));
  const p = protocol === "compact" ? new thrift.TCompactProtocol(trans)
    : protocol === "json" ? new thrift.TJSONProtocol(trans)
      : new thrift.TBinaryProtocol(trans, false, protocol === "binary");
  p.writeMessageBegin(name, type, seqid);
  body(p);
  p.writeMessageEnd();
  trans.flush();
  return Buffer.concat(out);
}

/** A struct with the given fields written in order; each writes its own value. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function struct(p: any, fields: Array<[number, number, (p: any) => void]>): void {
  p.writeStructBegin("s");
  for (const [id, type, write] of fields) {
    p.writeFieldBegin("f", type, id);
    write(p);
    p.writeFieldEnd();
  }
  p.writeFieldStop();
  p.writeStructEnd();
}

export function call(protocol: ProtocolName, transport: TransportName, name: string, seqid = 1, oneway = false): Buffer {
  return encodeMessage(protocol, transport, name, oneway ? MessageType.ONEWAY : MessageType.CALL, seqid,
    (p) => struct(p, [[1, Type.STRING, (q) => q.writeString("MetaProto")]]));
}

/** A REPLY whose result struct sets `field` (0: the return value; 1+: a declared exception; null: void). */
export function reply(protocol: ProtocolName, transport: TransportName, name: string, field: number | null, seqid = 1): Buffer {
  return encodeMessage(protocol, transport, name, MessageType.REPLY, seqid, (p) => {
    if (field === null) struct(p, []);
    else if (field === 0) struct(p, [[0, Type.STRING, (q) => q.writeString("Hello")]]);
    else struct(p, [[field, Type.STRUCT, (q) => struct(q, [[1, Type.STRING, (r) => r.writeString("no such key")]])]]);
  });
}

/**
 * An EXCEPTION message with a TApplicationException of `type`, written field by field (npm
 * thrift 0.17's TApplicationException.write never writes its type: it reads `this.code`).
 */
export function appException(protocol: ProtocolName, transport: TransportName, name: string, type: number | null, seqid = 1): Buffer {
  return encodeMessage(protocol, transport, name, MessageType.EXCEPTION, seqid, (p) => {
    const fields: Array<[number, number, (q: any) => void]> = [[1, Type.STRING, (q) => q.writeString("it failed")]]; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (type !== null) fields.push([2, Type.I32, (q) => q.writeI32(type)]);
    struct(p, fields);
  });
}

export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

export function varintString(s: string): Buffer {
  const bytes = Buffer.from(s);
  return Buffer.concat([varint(bytes.length), bytes]);
}

export interface THeaderOptions {
  headers?: Record<string, string>;
  protocolId?: number;
  transforms?: number[];
  /** Info header type of the key/value block (1 = key/value, 2 = persistent key/value). */
  infoType?: number;
  seqid?: number;
}

/**
 * A THeader frame around `payload` (an unframed message), laid out as python3-thrift's
 * THeaderTransport writes it (fixtures/python-header-*.request.bin are the real thing).
 */
export function theaderFrame(payload: Buffer, opts: THeaderOptions = {}): Buffer {
  const transforms = opts.transforms ?? [];
  const parts = [varint(opts.protocolId ?? 0), varint(transforms.length), ...transforms.map(varint)];
  const headers = Object.entries(opts.headers ?? {});
  if (headers.length > 0) {
    parts.push(varint(opts.infoType ?? 1), varint(headers.length));
    for (const [k, v] of headers) parts.push(varintString(k), varintString(v));
  }
  let block = Buffer.concat(parts);
  block = Buffer.concat([block, Buffer.alloc((4 - (block.length % 4)) % 4)]);
  const fixed = Buffer.alloc(14);
  fixed.writeUInt32BE(10 + block.length + payload.length, 0);
  fixed.writeUInt16BE(0x0fff, 4);
  fixed.writeUInt16BE(0, 6);
  fixed.writeUInt32BE(opts.seqid ?? 0, 8);
  fixed.writeUInt16BE(block.length / 4, 12);
  return Buffer.concat([fixed, block, payload]);
}
