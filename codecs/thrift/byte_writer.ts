// A byte buffer that grows as Thrift messages and THeader frames are written into it: the
// integer, varint and string encodings the binary, compact and JSON protocols and THeader use.

/** Appends bytes to a buffer that grows as needed. */
export class ByteWriter {
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
