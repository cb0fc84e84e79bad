// THeader transport: a framed message whose frame starts with magic 0x0FFF, followed by flags,
// a sequence id, a header block (sub-protocol id, payload transforms, key/value info headers)
// and the payload, a binary or compact message. Layout (offsets from the frame's first byte):
//   0 u32 length of what follows | 4 u16 0x0FFF | 6 u16 flags | 8 u32 seqid |
//   12 u16 header size in 4-byte words | 14 header block | payload
import { Attribute } from "../../api/assembly/codec";

export const HEADER_MAGIC_HIGH: u8 = 0x0f;
export const HEADER_MAGIC_LOW: u8 = 0xff;
const HEADER_BLOCK_START: i32 = 14;

export const PROTOCOL_BINARY: i32 = 0;
export const PROTOCOL_COMPACT: i32 = 2;

// Info header types: key/value pairs, and (in fbthrift) persistent key/value pairs. Anything
// else ends the info headers, as Apache Thrift's own readers do (padding is zeros).
const INFO_KEY_VALUE: u64 = 1;
const INFO_PERSISTENT_KEY_VALUE: u64 = 2;

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
class HeaderBlock {
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
  const words = (<i32>unchecked(bytes[12]) << 8) | <i32>unchecked(bytes[13]);
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
