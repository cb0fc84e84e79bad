// Replies the proxy sends in a refused call's place, and the probe that makes room for them: both
// written in the connection's variant (binary, compact or JSON; buffered, framed or THeader).
//   local reply: EXCEPTION message, the call's method (as multiplexed servers name it) and seqid, a TApplicationException
//                {1: message, 2: type}
//   probe:       CALL of a method no service defines, with an empty args struct; servers answer
//                it with one EXCEPTION (UNKNOWN_METHOD) and run nothing
import { Attribute, LocalReplyKind } from "../../api/assembly/codec";
import { CALL, COMPACT_PROTOCOL_ID, EXCEPTION, T_I32, T_STRING } from "./protocol_reader";
import { PROTOCOL_COMPACT } from "./theader";

/** The method the probe calls (after the service prefix of a multiplexed call). */
export const PROBE_METHOD = "__metaproto_probe";

// TApplicationException types. LOADSHEDDING and INJECTED_FAILURE are fbthrift's (Apache Thrift's
// clients carry any type through as a number).
export const APP_EXCEPTION_UNKNOWN: i32 = 0;
export const APP_EXCEPTION_LOADSHEDDING: i32 = 11;
export const APP_EXCEPTION_INJECTED_FAILURE: i32 = 13;

/** A denial is UNKNOWN (no type says "refused"), a rate limit LOADSHEDDING, a fault INJECTED_FAILURE. */
export function appExceptionTypeFor(kind: LocalReplyKind): i32 {
  if (kind == LocalReplyKind.RateLimited || kind == LocalReplyKind.Overloaded) return APP_EXCEPTION_LOADSHEDDING;
  if (kind == LocalReplyKind.Fault) return APP_EXCEPTION_INJECTED_FAILURE;
  return APP_EXCEPTION_UNKNOWN;
}

export enum WireProtocol { Binary = 0, BinaryNonStrict = 1, Compact = 2, Json = 3 }
export enum Envelope { Unframed = 0, Framed = 1, Header = 2 }

/** The THeader fields of the refused call's frame that its answer and its probe repeat. */
export class HeaderFields {
  flags: u16 = 0;
  seqid: u32 = 0;
}

const COMPACT_VERSION: u8 = 1;
const COMPACT_TYPE_BINARY: u8 = 8;
const COMPACT_TYPE_I32: u8 = 5;
const JSON_VERSION = "1";

/** Appends bytes to a buffer that grows as needed. */
class ByteWriter {
  private bytes: Uint8Array = new Uint8Array(64);
  length: i32 = 0;

  private room(n: i32): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  u8(b: u8): void {
    this.room(1);
    unchecked(this.bytes[this.length++] = b);
  }

  u16(v: u32): void {
    this.u8(<u8>(v >>> 8));
    this.u8(<u8>v);
  }

  u32(v: u32): void {
    this.u8(<u8>(v >>> 24));
    this.u8(<u8>(v >>> 16));
    this.u8(<u8>(v >>> 8));
    this.u8(<u8>v);
  }

  varint(v: u32): void {
    while (v >= 0x80) {
      this.u8(<u8>((v & 0x7f) | 0x80));
      v >>>= 7;
    }
    this.u8(<u8>v);
  }

  raw(data: Uint8Array): void {
    this.room(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.u8(<u8>s.charCodeAt(i));
  }

  /** A compact or THeader string: varint length, UTF-8 bytes. */
  varintString(s: string): void {
    const utf8 = Uint8Array.wrap(String.UTF8.encode(s));
    this.varint(<u32>utf8.length);
    this.raw(utf8);
  }

  /** A binary-protocol string: 4-byte length, UTF-8 bytes. */
  binaryString(s: string): void {
    const utf8 = Uint8Array.wrap(String.UTF8.encode(s));
    this.u32(<u32>utf8.length);
    this.raw(utf8);
  }

  /** A JSON string as TJSONProtocol reads it: quotes, backslashes and control characters escaped. */
  jsonString(s: string): void {
    this.u8(0x22);
    const utf8 = Uint8Array.wrap(String.UTF8.encode(s));
    for (let i = 0; i < utf8.length; i++) {
      const c = unchecked(utf8[i]);
      if (c == 0x22 || c == 0x5c) {
        this.u8(0x5c);
        this.u8(c);
      } else if (c < 0x20) {
        this.ascii("\\u00");
        this.u8(hexDigit(c >> 4));
        this.u8(hexDigit(c & 0x0f));
      } else {
        this.u8(c);
      }
    }
    this.u8(0x22);
  }

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

function hexDigit(n: u8): u8 {
  return n < 10 ? 0x30 + n : 0x61 + n - 10;
}

function zigzag32(n: i32): u32 {
  return <u32>((n << 1) ^ (n >> 31));
}

/** A message header: the strict binary version word, compact's id byte, or JSON's array start. */
function writeMessageBegin(out: ByteWriter, protocol: WireProtocol, name: string, type: i32, seqid: i32): void {
  switch (protocol) {
    case WireProtocol.Binary:
      out.u32(0x80010000 | <u32>type);
      out.binaryString(name);
      out.u32(<u32>seqid);
      break;
    case WireProtocol.BinaryNonStrict:
      out.binaryString(name);
      out.u8(<u8>type);
      out.u32(<u32>seqid);
      break;
    case WireProtocol.Compact:
      out.u8(COMPACT_PROTOCOL_ID);
      out.u8(<u8>((type << 5) | COMPACT_VERSION));
      out.varint(<u32>seqid);
      out.varintString(name);
      break;
    default:
      out.ascii("[" + JSON_VERSION + ",");
      out.jsonString(name);
      out.ascii("," + type.toString() + "," + seqid.toString() + ",");
      break;
  }
}

/** A TApplicationException struct: message (1: string), type (2: i32), then the message's end. */
function writeApplicationException(out: ByteWriter, protocol: WireProtocol, text: string, type: i32): void {
  switch (protocol) {
    case WireProtocol.Compact:
      out.u8((1 << 4) | COMPACT_TYPE_BINARY);
      out.varintString(text);
      out.u8((1 << 4) | COMPACT_TYPE_I32);
      out.varint(zigzag32(type));
      out.u8(0);
      break;
    case WireProtocol.Json:
      out.ascii("{\"1\":{\"str\":");
      out.jsonString(text);
      out.ascii("},\"2\":{\"i32\":" + type.toString() + "}}]");
      break;
    default:
      out.u8(<u8>T_STRING);
      out.u16(1);
      out.binaryString(text);
      out.u8(<u8>T_I32);
      out.u16(2);
      out.u32(<u32>type);
      out.u8(0);
      break;
  }
}

/** An empty struct, then the message's end. */
function writeEmptyArgs(out: ByteWriter, protocol: WireProtocol): void {
  if (protocol == WireProtocol.Json) out.ascii("{}]");
  else out.u8(0);
}

/**
 * The message in `payload` inside the envelope: as is, after a 4-byte length, or in a THeader
 * frame carrying `header`'s flags and seqid, the protocol id and `infoHeaders` (none: no block).
 */
function envelop(
  payload: Uint8Array, envelope: Envelope, protocol: WireProtocol, header: HeaderFields, infoHeaders: Array<Attribute> | null,
): Uint8Array {
  if (envelope == Envelope.Unframed) return payload;
  const out = new ByteWriter();
  if (envelope == Envelope.Framed) {
    out.u32(<u32>payload.length);
    out.raw(payload);
    return out.view();
  }
  const block = new ByteWriter();
  block.varint(protocol == WireProtocol.Compact ? <u32>PROTOCOL_COMPACT : 0);
  block.varint(0); // no transforms
  if (infoHeaders != null && infoHeaders.length > 0) {
    block.varint(1); // key/value
    block.varint(<u32>infoHeaders.length);
    for (let i = 0; i < infoHeaders.length; i++) {
      block.varintString(unchecked(infoHeaders[i]).key);
      block.varintString(unchecked(infoHeaders[i]).value);
    }
  }
  while (block.length % 4 != 0) block.u8(0);
  // Length of what follows it: magic, flags, seqid, block size (10 bytes), block, payload.
  out.u32(<u32>(10 + block.length + payload.length));
  out.u16(0x0fff);
  out.u16(<u32>header.flags);
  out.u32(header.seqid);
  out.u16(<u32>(block.length / 4));
  out.raw(block.view());
  out.raw(payload);
  return out.view();
}

/**
 * The EXCEPTION message answering a call of `method` (no service prefix) with `seqid`. Binary replies are strict whatever the
 * call was: servers write them so (python3-thrift's and npm thrift's TBinaryProtocol, C++'s by
 * default), and every binary reader accepts strict messages.
 */
export function applicationException(
  envelope: Envelope, protocol: WireProtocol, header: HeaderFields, method: string, seqid: i32, text: string, type: i32,
): Uint8Array {
  const wire = protocol == WireProtocol.BinaryNonStrict ? WireProtocol.Binary : protocol;
  const message = new ByteWriter();
  writeMessageBegin(message, wire, method, EXCEPTION, seqid);
  writeApplicationException(message, wire, text, type);
  return envelop(message.view(), envelope, wire, header, null);
}

/**
 * The probe standing in for call `name`/`seqid`: the same service prefix, variant, seqid and
 * THeader fields (info headers included: a server may want them on every call).
 */
export function probeCall(
  envelope: Envelope, protocol: WireProtocol, header: HeaderFields, infoHeaders: Array<Attribute> | null, name: string, seqid: i32,
): Uint8Array {
  const colon = name.indexOf(":");
  const probeName = colon < 0 ? PROBE_METHOD : name.substring(0, colon + 1) + PROBE_METHOD;
  const message = new ByteWriter();
  writeMessageBegin(message, protocol, probeName, CALL, seqid);
  writeEmptyArgs(message, protocol);
  return envelop(message.view(), envelope, protocol, header, infoHeaders);
}
