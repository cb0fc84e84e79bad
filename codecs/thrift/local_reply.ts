// Replies the proxy sends in a refused call's place, and the probe that makes room for them: both
// written in the connection's variant (binary, compact or JSON; buffered, framed or THeader).
//   local reply: EXCEPTION message, the call's method (as multiplexed servers name it) and seqid, a TApplicationException
//                {1: message, 2: type}
//   probe:       CALL of a method no service defines, with an empty args struct; servers answer
//                it with one EXCEPTION (UNKNOWN_METHOD) and run nothing
import { Attribute, LocalReplyKind } from "../../api/assembly/codec";
import { CALL, COMPACT_PROTOCOL_ID, EXCEPTION, T_I32, T_STRING } from "./protocol_reader";
import { INFO_KEY_VALUE, PROTOCOL_COMPACT, encodeTHeaderFrame } from "./theader";
import { ByteWriter } from "./byte_writer";

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
 * frame carrying `header`'s flags and seqid, the protocol id and `infoHeaders` (none: no info
 * section). Null when the THeader block would outgrow its size field (info headers whose invalid
 * UTF-8 was decoded to longer replacement characters).
 */
function envelop(
  payload: Uint8Array, envelope: Envelope, protocol: WireProtocol, header: HeaderFields, infoHeaders: Array<Attribute> | null,
): Uint8Array | null {
  if (envelope == Envelope.Unframed) return payload;
  if (envelope == Envelope.Framed) {
    const out = new ByteWriter();
    out.u32(<u32>payload.length);
    out.raw(payload);
    return out.view();
  }
  const block = new ByteWriter();
  block.varint(protocol == WireProtocol.Compact ? <u32>PROTOCOL_COMPACT : 0);
  block.varint(0); // no transforms
  if (infoHeaders != null && infoHeaders.length > 0) {
    block.varint(<u32>INFO_KEY_VALUE);
    block.varint(<u32>infoHeaders.length);
    for (let i = 0; i < infoHeaders.length; i++) {
      block.varintString(unchecked(infoHeaders[i]).key);
      block.varintString(unchecked(infoHeaders[i]).value);
    }
  }
  return encodeTHeaderFrame(header.flags, header.seqid, block, payload);
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
  return envelop(message.view(), envelope, wire, header, null)!; // no info headers: always fits
}

/**
 * The probe standing in for call `name`/`seqid`: the same service prefix, variant, seqid and
 * THeader fields (info headers included: a server may want them on every call).
 */
export function probeCall(
  envelope: Envelope, protocol: WireProtocol, header: HeaderFields, infoHeaders: Array<Attribute> | null, name: string, seqid: i32,
): Uint8Array | null {
  const colon = name.indexOf(":");
  const probeName = colon < 0 ? PROBE_METHOD : name.substring(0, colon + 1) + PROBE_METHOD;
  const message = new ByteWriter();
  writeMessageBegin(message, protocol, probeName, CALL, seqid);
  writeEmptyArgs(message, protocol);
  return envelop(message.view(), envelope, protocol, header, infoHeaders);
}
