// What the bridge needs to know about Thrift messages: where one ends (framed and THeader: the
// 4-byte length; buffered: the end of its struct, walked), its name, type and seqid and where the
// seqid lies (to put another in its place), its THeader info headers. Read with codecs/thrift's
// transport detection, THeader parser and protocol reader; JSON and transformed (zlib...) THeader
// payloads are not bridged.
import { Attribute } from "../../../api/assembly/codec";
import { Transport, detectTransport } from "../../../codecs/thrift/thrift_codec";
import { COMPACT_PROTOCOL_ID, ReadFailure, ThriftReader } from "../../../codecs/thrift/protocol_reader";
import { HeaderOutcome, PROTOCOL_COMPACT, readTHeader } from "../../../codecs/thrift/theader";
import { Envelope, HeaderFields, WireProtocol } from "../../../codecs/thrift/local_reply";
import { ByteQueue, ByteWriter } from "../byte_buffers";

const LENGTH_PREFIX: i32 = 4;
/** Smallest framed message: a compact header with an empty name and a stop byte. */
const MIN_FRAME_LENGTH: u32 = 5;
const JSON_START: u8 = 0x5b; // '['

/** One Thrift message, as it lies in its frame. */
export class ThriftMessage {
  envelope: Envelope = Envelope.Unframed;
  protocol: WireProtocol = WireProtocol.Binary;
  /** THeader's flags and seqid (the frame's own, beside the message's). */
  readonly header: HeaderFields = new HeaderFields();
  attributes: Array<Attribute> = [];
  name: string = "";
  type: i32 = 0;
  seqid: i32 = 0;
  seqidStart: i32 = 0;
  seqidEnd: i32 = 0;
}

/**
 * Length of the complete message at the front of `queue`: 0 while incomplete, -1 when the bytes
 * are not Thrift the bridge carries (JSON included) or the message is longer than `maxFrameBytes`.
 * The transport is told per message: the router's connection to a provider carries the calls of
 * every consumer, each in its own variant.
 */
export function thriftFrameLength(queue: ByteQueue, maxFrameBytes: i32): i32 {
  const available = queue.length;
  if (available == 0) return 0;
  const bytes = queue.view(0, available);
  const detected = detectTransport(bytes);
  if (detected.notThrift) return -1;
  if (detected.transport == Transport.Unknown) return available > maxFrameBytes ? -1 : 0;
  if (detected.transport == Transport.Unframed) {
    if (bytes[0] == JSON_START) return -1;
    const reader = new ThriftReader(bytes, 0, available, bytes[0] == COMPACT_PROTOCOL_ID);
    reader.readMessageHeader();
    if (reader.ok) reader.skipStructFields(0, 0);
    if (reader.failure == ReadFailure.EndOfInput) return available > maxFrameBytes ? -1 : 0;
    return reader.ok ? reader.pos : -1;
  }
  const length = queue.u32At(0);
  if (length < MIN_FRAME_LENGTH || length > <u32>(maxFrameBytes - LENGTH_PREFIX)) return -1;
  const total = LENGTH_PREFIX + <i32>length;
  return available >= total ? total : 0;
}

/** The message that is all of `frame`; null when it is not one the bridge carries. */
export function parseMessage(frame: Uint8Array): ThriftMessage | null {
  const message = new ThriftMessage();
  const detected = detectTransport(frame);
  if (detected.notThrift || detected.transport == Transport.Unknown) return null;
  let start = 0;
  if (detected.transport != Transport.Unframed) {
    if (readU32(frame, 0) != <u32>(frame.length - LENGTH_PREFIX)) return null;
    start = LENGTH_PREFIX;
    message.envelope = Envelope.Framed;
  }
  let compact = frame[start] == COMPACT_PROTOCOL_ID;
  if (detected.transport == Transport.Header) {
    const header = readTHeader(frame, frame.length, frame.length);
    if (header.outcome != HeaderOutcome.Ok) return null;
    message.envelope = Envelope.Header;
    message.header.flags = <u16>((<u32>frame[6] << 8) | <u32>frame[7]);
    message.header.seqid = readU32(frame, 8);
    message.attributes = header.attributes;
    start = header.payloadStart;
    if (start >= frame.length) return null;
    compact = header.protocolId == PROTOCOL_COMPACT;
    if (compact != (frame[start] == COMPACT_PROTOCOL_ID)) return null;
  }
  if (frame[start] == JSON_START) return null;
  const reader = new ThriftReader(frame, start, frame.length, compact);
  reader.readMessageHeader();
  if (!reader.ok) return null;
  message.protocol = compact ? WireProtocol.Compact : frame[start] == 0x80 ? WireProtocol.Binary : WireProtocol.BinaryNonStrict;
  message.name = reader.name;
  message.type = reader.messageType;
  message.seqid = reader.seqid;
  if (compact) {
    // 0x82, version and type, then the seqid as a varint (at most 5 bytes: the reader checked it).
    message.seqidStart = start + 2;
    let end = message.seqidStart;
    while ((frame[end] & 0x80) != 0) end++;
    message.seqidEnd = end + 1;
  } else {
    // Strict and non-strict binary both end their header with the 4-byte seqid.
    message.seqidEnd = reader.pos;
    message.seqidStart = reader.pos - 4;
  }
  if (message.envelope == Envelope.Unframed) {
    // No length says where it ends: the struct must end exactly with the bytes.
    reader.skipStructFields(0, 0);
    if (!reader.ok || reader.pos != frame.length) return null;
  }
  return message;
}

/** `frame` with the message's seqid (and THeader's) replaced, the frame length rewritten (a compact varint may change size). */
export function withSeqids(frame: Uint8Array, message: ThriftMessage, seqid: i32, headerSeqid: u32): Uint8Array {
  const out = new ByteWriter();
  out.bytes(frame.subarray(0, message.seqidStart));
  if (message.protocol == WireProtocol.Compact) {
    let v = <u32>seqid;
    while (v >= 0x80) {
      out.u8((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.u8(v);
  } else {
    out.u32(<u32>seqid);
  }
  out.bytes(frame.subarray(message.seqidEnd));
  const bytes = out.take();
  if (message.envelope != Envelope.Unframed) writeU32(bytes, 0, <u32>(bytes.length - LENGTH_PREFIX));
  if (message.envelope == Envelope.Header) writeU32(bytes, 8, headerSeqid);
  return bytes;
}

function readU32(bytes: Uint8Array, at: i32): u32 {
  return (<u32>bytes[at] << 24) | (<u32>bytes[at + 1] << 16) | (<u32>bytes[at + 2] << 8) | <u32>bytes[at + 3];
}

function writeU32(bytes: Uint8Array, at: i32, value: u32): void {
  bytes[at] = <u8>(value >>> 24);
  bytes[at + 1] = <u8>(value >>> 16);
  bytes[at + 2] = <u8>(value >>> 8);
  bytes[at + 3] = <u8>value;
}
