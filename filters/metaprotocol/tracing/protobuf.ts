// A minimal protobuf writer for the few OTLP messages the filter sends (tracing/otlp.ts). No
// AssemblyScript protobuf library fits: as-proto generates code from .proto files through protoc
// and a plugin the build does not have, and the filter needs only to write, never to read.
//
// Wire format (protobuf encoding spec): a field is a varint key `(number << 3) | wire type`, then
// a varint (type 0), 8 little-endian bytes (type 1), or a varint length and that many bytes
// (type 2: strings, bytes, nested messages). A nested message's length is not known before it is
// written: begin() reserves the longest varint a length may take (5 bytes) and end() writes the
// length there, moving the message back over the bytes it did not need, so every length is
// minimal as protobuf's own encoders write it.

const WIRE_VARINT: u32 = 0;
const WIRE_FIXED64: u32 = 1;
const WIRE_LENGTH: u32 = 2;
const WIRE_FIXED32: u32 = 5;
const LENGTH_RESERVE: i32 = 5;

export class ProtoWriter {
  private buffer: Uint8Array;
  length: i32 = 0;
  /** Where each open nested message's reserved length starts. */
  private open: Array<i32> = [];

  constructor(capacity: i32 = 1024) {
    this.buffer = new Uint8Array(max(capacity, 16));
  }

  reset(): ProtoWriter {
    this.length = 0;
    this.open.length = 0;
    return this;
  }

  /** The bytes written so far (a copy: the writer is reused). */
  toBytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private ensure(more: i32): void {
    const needed = this.length + more;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  private byte(b: u32): void {
    unchecked(this.buffer[this.length++] = <u8>b);
  }

  varint(n: u64): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.byte(<u32>(n & 0x7f) | 0x80);
      n >>= 7;
    }
    this.byte(<u32>n);
  }

  private key(field: u32, wireType: u32): void {
    this.varint(<u64>((field << 3) | wireType));
  }

  /** A varint field (int32/int64/uint32/uint64/bool/enum); protobuf leaves zero values out. */
  uint64Field(field: u32, value: u64): void {
    if (value == 0) return;
    this.key(field, WIRE_VARINT);
    this.varint(value);
  }

  /** An int64 field: negative values take ten bytes, two's complement. */
  int64Field(field: u32, value: i64): void {
    this.uint64Field(field, <u64>value);
  }

  boolField(field: u32, value: bool): void {
    this.uint64Field(field, value ? 1 : 0);
  }

  fixed64Field(field: u32, value: u64): void {
    if (value == 0) return;
    this.key(field, WIRE_FIXED64);
    this.ensure(8);
    for (let i = 0; i < 8; i++) this.byte(<u32>((value >> (<u64>i * 8)) & 0xff));
  }

  fixed32Field(field: u32, value: u32): void {
    if (value == 0) return;
    this.key(field, WIRE_FIXED32);
    this.ensure(4);
    for (let i: u32 = 0; i < 4; i++) this.byte((value >> (i * 8)) & 0xff);
  }

  bytesField(field: u32, bytes: Uint8Array): void {
    if (bytes.length == 0) return;
    this.key(field, WIRE_LENGTH);
    this.varint(<u64>bytes.length);
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Bytes already encoded as a protobuf message, written as field `field`. */
  messageBytesField(field: u32, message: Uint8Array): void {
    this.key(field, WIRE_LENGTH);
    this.varint(<u64>message.length);
    this.ensure(message.length);
    this.buffer.set(message, this.length);
    this.length += message.length;
  }

  stringField(field: u32, value: string): void {
    if (value.length == 0) return;
    this.requiredStringField(field, value);
  }

  /**
   * A string field written even when empty (a KeyValue's key, an AnyValue's string). The UTF-8 is
   * written straight into the buffer: a span has a few dozen strings, none worth an allocation.
   */
  requiredStringField(field: u32, value: string): void {
    const length = String.UTF8.byteLength(value);
    this.key(field, WIRE_LENGTH);
    this.varint(<u64>length);
    this.ensure(length);
    String.UTF8.encodeUnsafe(changetype<usize>(value), value.length, this.buffer.dataStart + <usize>this.length);
    this.length += length;
  }

  /** Opens nested message field `field`; end() closes it. */
  begin(field: u32): void {
    this.key(field, WIRE_LENGTH);
    this.ensure(LENGTH_RESERVE);
    this.open.push(this.length);
    this.length += LENGTH_RESERVE;
  }

  end(): void {
    const at = this.open.pop();
    const bodyStart = at + LENGTH_RESERVE;
    const bodyLength = this.length - bodyStart;
    let lengthBytes = 1;
    for (let n = bodyLength; n >= 0x80; n >>>= 7) lengthBytes++;
    let p = at;
    let n = <u32>bodyLength;
    while (n >= 0x80) {
      unchecked(this.buffer[p++] = <u8>((n & 0x7f) | 0x80));
      n >>>= 7;
    }
    unchecked(this.buffer[p++] = <u8>n);
    if (lengthBytes < LENGTH_RESERVE) {
      this.buffer.copyWithin(at + lengthBytes, bodyStart, this.length);
      this.length -= LENGTH_RESERVE - lengthBytes;
    }
  }
}
