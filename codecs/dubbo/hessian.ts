// A Hessian 2.0 reader that walks values without building them, as Dubbo's codec needs:
// the request's arguments are skipped to reach the attachments behind them. Only class
// definitions are remembered, because an object's field count depends on them.
// Never throws: running past the end or meeting a reserved byte sets `failure`.

import { recentString } from "../../api/assembly/recent_strings";

export enum HessianFailure { None = 0, EndOfInput = 1, Malformed = 2, TooDeep = 3 }

const MAX_DEPTH: i32 = 256;

export class HessianReader {
  pos: i32;
  failure: HessianFailure = HessianFailure.None;
  /** Field counts of the class definitions seen so far, by definition index. */
  private classFieldCounts: Array<i32> | null = null;
  /** Reading stops here: the end of the frame (or of the prefix we hold). */
  end: i32;

  constructor(public bytes: Uint8Array, start: i32 = 0, end: i32 = -1) {
    this.end = end < 0 ? bytes.length : min(end, bytes.length);
    this.pos = start;
  }

  get ok(): bool {
    return this.failure == HessianFailure.None;
  }

  get remaining(): i32 {
    return this.end - this.pos;
  }

  fail(failure: HessianFailure): void {
    if (this.failure == HessianFailure.None) this.failure = failure;
    this.pos = this.end;
  }

  private take(n: i32): bool {
    if (n < 0 || this.pos + n > this.end) {
      this.fail(HessianFailure.EndOfInput);
      return false;
    }
    this.pos += n;
    return true;
  }

  private next(): i32 {
    if (this.pos >= this.end) {
      this.fail(HessianFailure.EndOfInput);
      return -1;
    }
    return unchecked(this.bytes[this.pos++]);
  }

  peek(): i32 {
    return this.pos < this.end ? <i32>unchecked(this.bytes[this.pos]) : -1;
  }

  private bigEndian(n: i32): i64 {
    if (!this.take(n)) return 0;
    let v: i64 = 0;
    for (let i = this.pos - n; i < this.pos; i++) v = (v << 8) | <i64>unchecked(this.bytes[i]);
    return v;
  }

  /** Reads any Hessian int encoding. */
  readInt(): i32 {
    const b = this.next();
    if (b < 0) return 0;
    if (b >= 0x80 && b <= 0xbf) return b - 0x90;
    if (b >= 0xc0 && b <= 0xcf) return ((b - 0xc8) << 8) | this.next();
    if (b >= 0xd0 && b <= 0xd7) return ((b - 0xd4) << 16) | (<i32>this.bigEndian(2));
    if (b == 0x49) return <i32>this.bigEndian(4);
    this.fail(HessianFailure.Malformed);
    return 0;
  }

  /** Reads a string value (any chunking) or null; UTF-8 and Java's CESU-8 surrogates both decode. */
  readString(): string | null {
    const b = this.peek();
    if (b == 0x4e) {
      this.pos++;
      return null;
    }
    const ascii = this.readShortAsciiString(b);
    if (ascii != null) return ascii;
    const units = new Array<u16>();
    let final = false;
    while (!final && this.ok) {
      const tag = this.next();
      let length: i32 = 0;
      if (tag >= 0x00 && tag <= 0x1f) {
        length = tag;
        final = true;
      } else if (tag >= 0x30 && tag <= 0x33) {
        length = ((tag - 0x30) << 8) | this.next();
        final = true;
      } else if (tag == 0x52 || tag == 0x53) {
        length = <i32>this.bigEndian(2);
        final = tag == 0x53;
      } else {
        this.fail(HessianFailure.Malformed);
        return null;
      }
      this.readUtf16Units(length, units);
    }
    if (!this.ok) return null;
    return String.UTF16.decodeUnsafe(units.dataStart, <usize>units.length << 1);
  }

  /**
   * Service paths, method names and most attachments are short ASCII strings in one chunk:
   * decode those straight from the bytes. Returns null (reading nothing) for anything else.
   */
  private readShortAsciiString(tag: i32): string | null {
    let length: i32;
    let start: i32;
    if (tag >= 0x00 && tag <= 0x1f) {
      length = tag;
      start = this.pos + 1;
    } else if (tag >= 0x30 && tag <= 0x33 && this.pos + 1 < this.end) {
      length = ((tag - 0x30) << 8) | <i32>unchecked(this.bytes[this.pos + 1]);
      start = this.pos + 2;
    } else {
      return null;
    }
    if (start + length > this.end) return null;
    const data = this.bytes.dataStart + <usize>start;
    for (let i = 0; i < length; i++) {
      if (load<u8>(data + <usize>i) >= 0x80) return null;
    }
    this.pos = start + length;
    return recentString(data, length);
  }

  /** Decodes `count` UTF-16 code units of UTF-8 input into `out`. */
  private readUtf16Units(count: i32, out: Array<u16>): void {
    let n = 0;
    while (n < count) {
      const b0 = this.next();
      if (b0 < 0) return;
      if (b0 < 0x80) {
        out.push(<u16>b0);
        n++;
      } else if ((b0 & 0xe0) == 0xc0) {
        const b1 = this.next();
        out.push(<u16>(((b0 & 0x1f) << 6) | (b1 & 0x3f)));
        n++;
      } else if ((b0 & 0xf0) == 0xe0) {
        const b1 = this.next();
        const b2 = this.next();
        out.push(<u16>(((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f)));
        n++;
      } else if ((b0 & 0xf8) == 0xf0) {
        // A 4-byte sequence is one code point outside the BMP: two UTF-16 units.
        const b1 = this.next();
        const b2 = this.next();
        const b3 = this.next();
        const cp = (((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f)) - 0x10000;
        out.push(<u16>(0xd800 + (cp >> 10)));
        out.push(<u16>(0xdc00 + (cp & 0x3ff)));
        n += 2;
      } else {
        this.fail(HessianFailure.Malformed);
        return;
      }
    }
  }

  /** Skips `count` UTF-16 code units of UTF-8 input without decoding them. */
  private skipUtf16Units(count: i32): void {
    let n = 0;
    const bytes = this.bytes;
    while (n < count) {
      if (this.pos >= this.end) {
        this.fail(HessianFailure.EndOfInput);
        return;
      }
      const b0 = <i32>unchecked(bytes[this.pos]);
      if (b0 < 0x80) {
        this.pos += 1;
        n += 1;
      } else if ((b0 & 0xe0) == 0xc0) {
        this.pos += 2;
        n += 1;
      } else if ((b0 & 0xf0) == 0xe0) {
        this.pos += 3;
        n += 1;
      } else if ((b0 & 0xf8) == 0xf0) {
        this.pos += 4;
        n += 2;
      } else {
        this.fail(HessianFailure.Malformed);
        return;
      }
    }
    if (this.pos > this.end) this.fail(HessianFailure.EndOfInput);
  }

  /** Renders a scalar value as text (attachment values); skips containers and returns "". */
  readScalarAsString(): string {
    const b = this.peek();
    if (b < 0) {
      this.fail(HessianFailure.EndOfInput);
      return "";
    }
    if (b <= 0x1f || (b >= 0x30 && b <= 0x33) || b == 0x52 || b == 0x53) {
      const s = this.readString();
      return s == null ? "" : s;
    }
    if ((b >= 0x80 && b <= 0xd7) || b == 0x49) return this.readInt().toString();
    if (b == 0x54) { this.pos++; return "true"; }
    if (b == 0x46) { this.pos++; return "false"; }
    if (b == 0x4e) { this.pos++; return ""; }
    if (b >= 0xd8 && b <= 0xef) { this.pos++; return (b - 0xe0).toString(); }
    if (b >= 0xf0) { this.pos++; return (((b - 0xf8) << 8) | this.next()).toString(); }
    if (b >= 0x38 && b <= 0x3f) { this.pos++; return (((b - 0x3c) << 16) | <i32>this.bigEndian(2)).toString(); }
    if (b == 0x59) { this.pos++; return (<i32>this.bigEndian(4)).toString(); }
    if (b == 0x4c) { this.pos++; return this.bigEndian(8).toString(); }
    this.skipValue();
    return "";
  }

  /** Skips one value of any type. */
  skipValue(): void {
    this.skipAt(0);
  }

  private skipType(): void {
    // A type is a string (first use) or an int (reference to an earlier type).
    const b = this.peek();
    if (b <= 0x1f || (b >= 0x30 && b <= 0x33) || b == 0x52 || b == 0x53) this.skipStringOrBinary(b, true);
    else this.readInt();
  }

  private skipStringOrBinary(tag: i32, isString: bool): void {
    let final = false;
    while (!final && this.ok) {
      const b = this.next();
      if (b < 0) return;
      let length: i32;
      if (isString && b <= 0x1f) { length = b; final = true; }
      else if (isString && b >= 0x30 && b <= 0x33) { length = ((b - 0x30) << 8) | this.next(); final = true; }
      else if (isString && (b == 0x52 || b == 0x53)) { length = <i32>this.bigEndian(2); final = b == 0x53; }
      else if (!isString && b >= 0x20 && b <= 0x2f) { length = b - 0x20; final = true; }
      else if (!isString && b >= 0x34 && b <= 0x37) { length = ((b - 0x34) << 8) | this.next(); final = true; }
      else if (!isString && (b == 0x41 || b == 0x42)) { length = <i32>this.bigEndian(2); final = b == 0x42; }
      else { this.fail(HessianFailure.Malformed); return; }
      if (!this.ok) return;
      if (isString) this.skipUtf16Units(length);
      else this.take(length);
    }
  }

  private skipUntilEnd(depth: i32, pairs: bool): void {
    while (this.ok) {
      const b = this.peek();
      if (b < 0) { this.fail(HessianFailure.EndOfInput); return; }
      if (b == 0x5a) { this.pos++; return; }
      this.skipAt(depth + 1);
      if (pairs) this.skipAt(depth + 1);
    }
  }

  private skipCount(count: i32, depth: i32): void {
    if (count < 0) { this.fail(HessianFailure.Malformed); return; }
    for (let i = 0; i < count && this.ok; i++) this.skipAt(depth + 1);
  }

  private skipObjectFields(classIndex: i32, depth: i32): void {
    const counts = this.classFieldCounts;
    if (counts == null || classIndex < 0 || classIndex >= counts.length) {
      this.fail(HessianFailure.Malformed);
      return;
    }
    this.skipCount(unchecked(counts[classIndex]), depth);
  }

  private skipAt(depth: i32): void {
    if (depth > MAX_DEPTH) { this.fail(HessianFailure.TooDeep); return; }
    const b = this.peek();
    if (b < 0) { this.fail(HessianFailure.EndOfInput); return; }
    // Strings and binaries, all chunkings.
    if (b <= 0x1f || (b >= 0x30 && b <= 0x33) || b == 0x52 || b == 0x53) { this.skipStringOrBinary(b, true); return; }
    if ((b >= 0x20 && b <= 0x2f) || (b >= 0x34 && b <= 0x37) || b == 0x41 || b == 0x42) { this.skipStringOrBinary(b, false); return; }
    this.pos++;
    // Ints and longs in their compact forms.
    if (b >= 0x80 && b <= 0xbf) return;
    if (b >= 0xc0 && b <= 0xcf) { this.take(1); return; }
    if (b >= 0xd0 && b <= 0xd7) { this.take(2); return; }
    if (b >= 0xd8 && b <= 0xef) return;
    if (b >= 0xf0) { this.take(1); return; }
    if (b >= 0x38 && b <= 0x3f) { this.take(2); return; }
    switch (b) {
      case 0x4e: case 0x54: case 0x46: case 0x5b: case 0x5c: return; // null, true, false, 0.0, 1.0
      case 0x5d: this.take(1); return; // double as byte
      case 0x5e: this.take(2); return; // double as short
      case 0x5f: case 0x49: case 0x59: case 0x4b: this.take(4); return; // double as float-int, int, long as int, date in minutes
      case 0x44: case 0x4c: case 0x4a: this.take(8); return; // double, long, date in millis
      case 0x51: this.readInt(); return; // reference to an earlier value
      case 0x43: { // class definition, then the value that follows it
        this.skipType();
        const fields = this.readInt();
        if (fields < 0) { this.fail(HessianFailure.Malformed); return; }
        for (let i = 0; i < fields && this.ok; i++) this.skipStringOrBinary(this.peek(), true);
        let counts = this.classFieldCounts;
        if (counts == null) {
          counts = new Array<i32>();
          this.classFieldCounts = counts;
        }
        counts.push(fields);
        // A definition is not a value by itself: the object that uses it follows.
        if (this.ok) this.skipAt(depth);
        return;
      }
      case 0x4f: this.skipObjectFields(this.readInt(), depth); return;
      case 0x48: this.skipUntilEnd(depth, true); return; // untyped map
      case 0x4d: this.skipType(); this.skipUntilEnd(depth, true); return; // typed map
      case 0x55: this.skipType(); this.skipUntilEnd(depth, false); return; // typed variable list
      case 0x57: this.skipUntilEnd(depth, false); return; // untyped variable list
      case 0x56: { this.skipType(); const n = this.readInt(); this.skipCount(n, depth); return; } // typed fixed list
      case 0x58: { const n = this.readInt(); this.skipCount(n, depth); return; } // untyped fixed list
    }
    if (b >= 0x60 && b <= 0x6f) { this.skipObjectFields(b - 0x60, depth); return; }
    if (b >= 0x70 && b <= 0x77) { this.skipType(); this.skipCount(b - 0x70, depth); return; }
    if (b >= 0x78 && b <= 0x7f) { this.skipCount(b - 0x78, depth); return; }
    // 0x40, 0x45, 0x47, 0x50 and 0x5a out of place are reserved or malformed here.
    this.fail(HessianFailure.Malformed);
  }
}
