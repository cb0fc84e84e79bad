// THeader transport: a framed message whose frame starts with magic 0x0FFF, followed by flags,
// a sequence id, a header block (sub-protocol id, payload transforms, key/value info headers)
// and the payload, a binary or compact message. Layout (offsets from the frame's first byte):
//   0 u32 length of what follows | 4 u16 0x0FFF | 6 u16 flags | 8 u32 seqid |
//   12 u16 header size in 4-byte words | 14 header block | payload
// The header block: varint protocol id, varint transform count and ids, then info sections
// (varint type, varint count, count × (varint-length key, varint-length value)), zero-padded to
// a whole number of words.
import { Attribute } from "../../api/assembly/codec";
import { ByteWriter } from "./byte_writer";

export const HEADER_MAGIC_HIGH: u8 = 0x0f;
export const HEADER_MAGIC_LOW: u8 = 0xff;
export const HEADER_BLOCK_START: i32 = 14;
/** Largest frame length THeader allows; longer ones are not Thrift. */
export const MAX_FRAME_LENGTH: i32 = 0x3fffffff;
/** The header block's size field is a u16 count of 4-byte words. */
const MAX_HEADER_WORDS: i32 = 0xffff;

export const PROTOCOL_BINARY: i32 = 0;
export const PROTOCOL_COMPACT: i32 = 2;

// Info header types: key/value pairs, and (in fbthrift) persistent key/value pairs. Anything
// else ends the info headers, as Apache Thrift's own readers do (padding is zeros).
export const INFO_KEY_VALUE: u64 = 1;
export const INFO_PERSISTENT_KEY_VALUE: u64 = 2;

export enum HeaderOutcome {
  Ok = 0,
  /** The bytes end before the header block does (a prefix of the frame). */
  EndOfInput = 1,
  /** Not a THeader frame, or a header block that contradicts itself. */
  Malformed = 2,
  /** Valid, but the payload is transformed (zlib...): nothing readable follows. */
  Transformed = 3,
  /** Valid, but the payload is in a protocol this codec does not read (JSON). */
  OtherProtocol = 4,
}

export class THeader {
  outcome: HeaderOutcome = HeaderOutcome.Ok;
  protocolId: i32 = PROTOCOL_BINARY;
  /** Where the payload (the Thrift message) starts. */
  payloadStart: i32 = 0;
  attributes: Array<Attribute> = [];
}

/** Reads varints and strings inside the header block, never past `end`. */
export class HeaderBlock {
  failed: bool = false;
  constructor(private bytes: Uint8Array, public pos: i32, private end: i32) {}

  get atEnd(): bool {
    return this.pos >= this.end;
  }

  varint(): u64 {
    let value: u64 = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) break;
      const b = <u64>unchecked(this.bytes[this.pos++]);
      value |= (b & 0x7f) << (<u64>(7 * i));
      if ((b & 0x80) == 0) return value;
    }
    this.failed = true;
    return 0;
  }

  string(): string {
    const n = this.varint();
    if (this.failed || n > <u64>(this.end - this.pos)) {
      this.failed = true;
      return "";
    }
    const start = this.pos;
    this.pos += <i32>n;
    return String.UTF8.decodeUnsafe(this.bytes.dataStart + <usize>start, <usize>n);
  }

  /** Steps over a string without decoding it. */
  skipString(): void {
    const n = this.varint();
    if (this.failed || n > <u64>(this.end - this.pos)) {
      this.failed = true;
      return;
    }
    this.pos += <i32>n;
  }
}

/** The number of 4-byte words of the frame's header block (big-endian u16 at offset 12). */
export function headerWords(bytes: Uint8Array): i32 {
  return (<i32>unchecked(bytes[12]) << 8) | <i32>unchecked(bytes[13]);
}

/**
 * A THeader frame with `flags`, `seqid`, the header `block` (zero-padded here to whole words) and
 * `payload`; null when the block or the frame is longer than THeader's size fields allow.
 */
export function encodeTHeaderFrame(flags: u16, seqid: u32, block: ByteWriter, payload: Uint8Array): Uint8Array | null {
  while (block.length % 4 != 0) block.u8(0);
  // The length field counts what follows it: magic, flags, seqid, block size (10 bytes), block, payload.
  const length = <i64>(HEADER_BLOCK_START - 4) + <i64>block.length + <i64>payload.length;
  if (block.length / 4 > MAX_HEADER_WORDS || length > <i64>MAX_FRAME_LENGTH) return null;
  const out = new ByteWriter();
  out.u32(<u32>length);
  out.u16(0x0fff);
  out.u16(<u32>flags);
  out.u32(seqid);
  out.u16(<u32>(block.length / 4));
  out.raw(block.view());
  out.raw(payload);
  return out.view();
}

/**
 * Parses the THeader fields of the frame at the start of `bytes`, of which `available` bytes
 * are present and `frameEnd` is where the frame ends (4 + its length field).
 */
export function readTHeader(bytes: Uint8Array, available: i32, frameEnd: i32): THeader {
  const header = new THeader();
  if (available < HEADER_BLOCK_START) {
    header.outcome = HeaderOutcome.EndOfInput;
    if ((available > 4 && unchecked(bytes[4]) != HEADER_MAGIC_HIGH) || (available > 5 && unchecked(bytes[5]) != HEADER_MAGIC_LOW)) {
      header.outcome = HeaderOutcome.Malformed;
    }
    return header;
  }
  if (unchecked(bytes[4]) != HEADER_MAGIC_HIGH || unchecked(bytes[5]) != HEADER_MAGIC_LOW) {
    header.outcome = HeaderOutcome.Malformed;
    return header;
  }
  const words = headerWords(bytes);
  const blockEnd = HEADER_BLOCK_START + words * 4;
  if (words == 0 || blockEnd > frameEnd) {
    header.outcome = HeaderOutcome.Malformed;
    return header;
  }
  header.payloadStart = blockEnd;
  const readable = min(available, blockEnd);
  const block = new HeaderBlock(bytes, HEADER_BLOCK_START, readable);

  const protocolId = block.varint();
  const transforms = block.varint();
  if (block.failed) {
    header.outcome = readable < blockEnd ? HeaderOutcome.EndOfInput : HeaderOutcome.Malformed;
    return header;
  }
  if (transforms > 0) {
    header.outcome = HeaderOutcome.Transformed;
    return header;
  }
  if (protocolId != <u64>PROTOCOL_BINARY && protocolId != <u64>PROTOCOL_COMPACT) {
    header.outcome = HeaderOutcome.OtherProtocol;
    return header;
  }
  header.protocolId = <i32>protocolId;

  while (!block.atEnd && !block.failed) {
    const infoType = block.varint();
    if (infoType != INFO_KEY_VALUE && infoType != INFO_PERSISTENT_KEY_VALUE) break;
    const count = block.varint();
    // Each pair takes at least two bytes: the loop ends with the block.
    for (let i: u64 = 0; i < count && !block.failed; i++) {
      const key = block.string();
      const value = block.string();
      if (!block.failed) header.attributes.push(new Attribute(key, value));
    }
  }
  if (block.failed) header.outcome = readable < blockEnd ? HeaderOutcome.EndOfInput : HeaderOutcome.Malformed;
  return header;
}
