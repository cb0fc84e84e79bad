// Reads Thrift's binary and compact protocols without building values: message headers,
// field headers, and a skip-parser that walks any value to find where it ends (the buffered
// transport has no length prefix, so the end of a message is where its struct ends).
// Never throws: running past the end or meeting an impossible byte sets `failure`.

import { recentString } from "../../api/assembly/recent_strings";

export enum ReadFailure { None = 0, EndOfInput = 1, Malformed = 2, TooDeep = 3 }

// Value types as the binary protocol numbers them (TType); compact types are mapped to these.
export const T_STOP: i32 = 0;
export const T_BOOL: i32 = 2;
export const T_BYTE: i32 = 3;
export const T_DOUBLE: i32 = 4;
export const T_I16: i32 = 6;
export const T_I32: i32 = 8;
export const T_I64: i32 = 10;
export const T_STRING: i32 = 11;
export const T_STRUCT: i32 = 12;
export const T_MAP: i32 = 13;
export const T_SET: i32 = 14;
export const T_LIST: i32 = 15;
export const T_UUID: i32 = 16;

// Message types (TMessageType).
export const CALL: i32 = 1;
export const REPLY: i32 = 2;
export const EXCEPTION: i32 = 3;
export const ONEWAY: i32 = 4;

/** Nesting of structs and containers a message may have (Thrift's own default recursion limit). */
export const MAX_DEPTH: i32 = 64;
/**
 * Longest method name accepted. Names are identifiers ("Service:method" when multiplexed); the
 * cap is also what tells a non-strict binary message (which starts with the name's length)
 * from bytes that are not Thrift.
 */
export const MAX_NAME_LENGTH: i32 = 4096;

const STRICT_VERSION_HIGH: u8 = 0x80;
const STRICT_VERSION_LOW: u8 = 0x01;
export const COMPACT_PROTOCOL_ID: u8 = 0x82;
const COMPACT_VERSION: i32 = 1;
const COMPACT_VERSION_MASK: i32 = 0x1f;

/** Compact type ids (1..13) to TType; 0 where the id is not a type. */
const COMPACT_TO_TTYPE: StaticArray<i32> = [
  T_STOP, T_BOOL, T_BOOL, T_BYTE, T_I16, T_I32, T_I64, T_DOUBLE, T_STRING, T_LIST, T_SET, T_MAP, T_STRUCT, T_UUID,
];

export class ThriftReader {
  pos: i32;
  failure: ReadFailure = ReadFailure.None;
  /** Why a Malformed failure happened: a short fixed word for the decode-error metric. */
  reason: string = "";
  /** Id of the field whose header was read last. */
  fieldId: i32 = 0;
  /** Compact protocol: the last field header carried a bool's value itself (no value bytes follow). */
  private boolInFieldHeader: bool = false;

  // Message header, after readMessageHeader().
  headerRead: bool = false;
  name: string = "";
  messageType: i32 = 0;
  seqid: i32 = 0;

  constructor(public bytes: Uint8Array, start: i32, public end: i32, public compact: bool) {
    this.pos = start;
  }

  get ok(): bool {
    return this.failure == ReadFailure.None;
  }

  fail(failure: ReadFailure, reason: string = "bad_body"): void {
    if (this.failure == ReadFailure.None) {
      this.failure = failure;
      this.reason = reason;
    }
    this.pos = this.end;
  }

  private take(n: i64): bool {
    if (n < 0) {
      this.fail(ReadFailure.Malformed);
      return false;
    }
    if (n > <i64>(this.end - this.pos)) {
      this.fail(ReadFailure.EndOfInput);
      return false;
    }
    this.pos += <i32>n;
    return true;
  }

  private u8(): i32 {
    if (this.pos >= this.end) {
      this.fail(ReadFailure.EndOfInput);
      return -1;
    }
    return unchecked(this.bytes[this.pos++]);
  }

  private bigEndian32(): i32 {
    if (!this.take(4)) return 0;
    const at = this.pos - 4;
    return (<i32>unchecked(this.bytes[at]) << 24) | (<i32>unchecked(this.bytes[at + 1]) << 16) |
      (<i32>unchecked(this.bytes[at + 2]) << 8) | <i32>unchecked(this.bytes[at + 3]);
  }

  private bigEndian16(): i32 {
    if (!this.take(2)) return 0;
    const at = this.pos - 2;
    return <i32><i16>((<i32>unchecked(this.bytes[at]) << 8) | <i32>unchecked(this.bytes[at + 1]));
  }

  /** An unsigned LEB128 varint of at most `maxBytes` bytes (5 for 32-bit values, 10 for 64-bit). */
  private varint(maxBytes: i32): u64 {
    let value: u64 = 0;
    for (let i = 0; i < maxBytes; i++) {
      const b = this.u8();
      if (b < 0) return 0;
      value |= (<u64>(b & 0x7f)) << (<u64>(7 * i));
      if ((b & 0x80) == 0) return value;
    }
    this.fail(ReadFailure.Malformed);
    return 0;
  }

  private zigzag32(): i32 {
    const n = <u32>this.varint(5);
    return <i32>(n >>> 1) ^ -(<i32>(n & 1));
  }

  /** An i32 value (binary: 4 bytes big-endian; compact: zigzag varint). */
  readI32(): i32 {
    return this.compact ? this.zigzag32() : this.bigEndian32();
  }

  /** A length prefix of a string or container; negative or absurd lengths are malformed. */
  private length(): i64 {
    if (this.compact) {
      const n = this.varint(5);
      if (n > <u64>i32.MAX_VALUE) {
        this.fail(ReadFailure.Malformed);
        return 0;
      }
      return <i64>n;
    }
    const n = this.bigEndian32();
    if (n < 0) this.fail(ReadFailure.Malformed);
    return <i64>n;
  }

  /** A string (or binary) value decoded as UTF-8, at most `maxLength` bytes long. */
  readString(maxLength: i32, reason: string = "bad_body"): string {
    const n = this.stringBytes(maxLength, reason);
    return n < 0 ? "" : String.UTF8.decodeUnsafe(this.bytes.dataStart + <usize>(this.pos - n), <usize>n);
  }

  /** A message name: the same few recur on a connection, so they come from the recent strings. */
  private readName(): string {
    const n = this.stringBytes(MAX_NAME_LENGTH, "bad_name");
    return n < 0 ? "" : recentString(this.bytes.dataStart + <usize>(this.pos - n), n);
  }

  /** Reads a string's length and steps over its bytes; returns the length, or -1 on failure. */
  private stringBytes(maxLength: i32, reason: string): i32 {
    const n = this.length();
    if (!this.ok) return -1;
    if (n > <i64>maxLength) {
      this.fail(ReadFailure.Malformed, reason);
      return -1;
    }
    return this.take(n) ? <i32>n : -1;
  }

  /**
   * Reads a message header into name/messageType/seqid: strict binary (0x8001 version word),
   * non-strict binary (the name first) or compact (0x82). Reasons: bad_magic when the bytes are
   * not a Thrift message header, bad_name, bad_message_type.
   */
  readMessageHeader(): void {
    if (this.compact) {
      if (this.u8() != <i32>COMPACT_PROTOCOL_ID) return this.fail(ReadFailure.Malformed, "bad_magic");
      const versionAndType = this.u8();
      if (versionAndType < 0) return;
      if ((versionAndType & COMPACT_VERSION_MASK) != COMPACT_VERSION) return this.fail(ReadFailure.Malformed, "bad_magic");
      this.messageType = (versionAndType >> 5) & 0x07;
      this.seqid = <i32><u32>this.varint(5);
      if (!this.checkMessageType()) return;
      this.name = this.readName();
      this.headerRead = this.ok;
      return;
    }
    if (this.pos < this.end && unchecked(this.bytes[this.pos]) == STRICT_VERSION_HIGH) {
      this.pos++;
      const low = this.u8();
      if (low < 0) return;
      if (low != <i32>STRICT_VERSION_LOW) return this.fail(ReadFailure.Malformed, "bad_magic");
      if (!this.take(1)) return; // unused byte of the version word
      this.messageType = this.u8();
      if (!this.checkMessageType()) return;
      this.name = this.readName();
      this.seqid = this.bigEndian32();
      this.headerRead = this.ok;
      return;
    }
    // Non-strict (old) binary: the name's length, the name, a type byte, the seqid. A length
    // that no method name has means these bytes are not Thrift at all.
    const nameLength = this.bigEndian32();
    if (!this.ok) return;
    if (nameLength < 0 || nameLength > MAX_NAME_LENGTH) return this.fail(ReadFailure.Malformed, "bad_magic");
    const start = this.pos;
    if (!this.take(nameLength)) return;
    this.name = recentString(this.bytes.dataStart + <usize>start, nameLength);
    this.messageType = this.u8();
    if (!this.checkMessageType()) return;
    this.seqid = this.bigEndian32();
    this.headerRead = this.ok;
  }

  private checkMessageType(): bool {
    if (!this.ok) return false;
    if (this.messageType < CALL || this.messageType > ONEWAY) {
      this.fail(ReadFailure.Malformed, "bad_message_type");
      return false;
    }
    return true;
  }

  /**
   * Reads a field header of a struct whose previous field id was `lastFieldId` (the compact
   * protocol encodes ids as deltas). Returns the field's TType, T_STOP at the struct's end, or
   * -1 on failure; the id is in `fieldId`.
   */
  readFieldBegin(lastFieldId: i32): i32 {
    const b = this.u8();
    if (b < 0) return -1;
    if (b == T_STOP) return T_STOP;
    if (!this.compact) {
      if (!isBinaryType(b)) {
        this.fail(ReadFailure.Malformed);
        return -1;
      }
      this.fieldId = this.bigEndian16();
      return this.ok ? b : -1;
    }
    const type = compactToTType(b & 0x0f);
    if (type == T_STOP) {
      this.fail(ReadFailure.Malformed);
      return -1;
    }
    const delta = b >> 4;
    this.fieldId = delta != 0 ? lastFieldId + delta : <i32><i16>this.zigzag32();
    this.boolInFieldHeader = type == T_BOOL;
    return this.ok ? type : -1;
  }

  /** Skips the value of the field whose header was read last. */
  skipFieldValue(type: i32, depth: i32): void {
    if (this.compact && type == T_BOOL && this.boolInFieldHeader) return;
    this.skipValue(type, depth);
  }

  /** Skips fields up to and including the struct's stop byte. */
  skipStructFields(lastFieldId: i32, depth: i32): void {
    if (depth > MAX_DEPTH) return this.fail(ReadFailure.TooDeep, "too_deep");
    let last = lastFieldId;
    while (this.ok) {
      const type = this.readFieldBegin(last);
      if (type <= T_STOP) return;
      last = this.fieldId;
      this.skipFieldValue(type, depth + 1);
    }
  }

  /** Skips one value of TType `type` (as a container element or a non-bool compact field). */
  skipValue(type: i32, depth: i32): void {
    switch (type) {
      case T_BOOL: case T_BYTE: this.take(1); return;
      case T_DOUBLE: this.take(8); return;
      case T_UUID: this.take(16); return;
      case T_I16: if (this.compact) this.varint(3); else this.take(2); return;
      case T_I32: if (this.compact) this.varint(5); else this.take(4); return;
      case T_I64: if (this.compact) this.varint(10); else this.take(8); return;
      case T_STRING: this.take(this.length()); return;
      case T_STRUCT: this.skipStructFields(0, depth); return;
      case T_LIST: case T_SET: this.skipList(depth); return;
      case T_MAP: this.skipMap(depth); return;
      default: this.fail(ReadFailure.Malformed);
    }
  }

  private skipList(depth: i32): void {
    if (depth > MAX_DEPTH) return this.fail(ReadFailure.TooDeep, "too_deep");
    let elementType: i32;
    let size: i64;
    if (this.compact) {
      const b = this.u8();
      if (b < 0) return;
      elementType = compactToTType(b & 0x0f);
      size = b >> 4;
      if (size == 15) size = this.length();
    } else {
      elementType = this.u8();
      size = this.length();
    }
    this.skipElements(elementType, size, depth);
  }

  private skipMap(depth: i32): void {
    if (depth > MAX_DEPTH) return this.fail(ReadFailure.TooDeep, "too_deep");
    let keyType: i32 = T_STOP;
    let valueType: i32 = T_STOP;
    let size: i64;
    if (this.compact) {
      size = this.length();
      if (!this.ok || size == 0) return; // an empty compact map has no type byte
      const b = this.u8();
      keyType = compactToTType(b >> 4);
      valueType = compactToTType(b & 0x0f);
    } else {
      keyType = this.u8();
      valueType = this.u8();
      size = this.length();
    }
    if (!this.ok || size == 0) return;
    const keyWidth = this.fixedWidth(keyType);
    const valueWidth = this.fixedWidth(valueType);
    if (keyWidth > 0 && valueWidth > 0) {
      this.take(size * <i64>(keyWidth + valueWidth));
      return;
    }
    if (!this.validElement(keyType) || !this.validElement(valueType)) return;
    // Every key and value takes at least one byte: the loop ends with the input.
    for (let i: i64 = 0; i < size && this.ok; i++) {
      this.skipValue(keyType, depth + 1);
      this.skipValue(valueType, depth + 1);
    }
  }

  private skipElements(elementType: i32, size: i64, depth: i32): void {
    if (!this.ok || size == 0) return;
    const width = this.fixedWidth(elementType);
    if (width > 0) {
      this.take(size * <i64>width);
      return;
    }
    if (!this.validElement(elementType)) return;
    // Every element takes at least one byte: the loop ends with the input.
    for (let i: i64 = 0; i < size && this.ok; i++) this.skipValue(elementType, depth + 1);
  }

  private validElement(type: i32): bool {
    if (type == T_STOP || !isBinaryType(type)) {
      this.fail(ReadFailure.Malformed);
      return false;
    }
    return true;
  }

  /** Bytes one value of `type` takes when that is fixed, else 0. */
  private fixedWidth(type: i32): i32 {
    switch (type) {
      case T_BOOL: case T_BYTE: return 1;
      case T_DOUBLE: return 8;
      case T_UUID: return 16;
      case T_I16: return this.compact ? 0 : 2;
      case T_I32: return this.compact ? 0 : 4;
      case T_I64: return this.compact ? 0 : 8;
      default: return 0;
    }
  }
}

function isBinaryType(type: i32): bool {
  switch (type) {
    case T_BOOL: case T_BYTE: case T_DOUBLE: case T_I16: case T_I32: case T_I64:
    case T_STRING: case T_STRUCT: case T_MAP: case T_SET: case T_LIST: case T_UUID:
      return true;
    default:
      return false;
  }
}

function compactToTType(compactType: i32): i32 {
  return compactType >= 0 && compactType < COMPACT_TO_TTYPE.length ? unchecked(COMPACT_TO_TTYPE[compactType]) : T_STOP;
}
