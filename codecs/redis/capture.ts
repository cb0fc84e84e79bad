// The first bytes of one protocol element, kept while the element streams past: enough to
// name a command ("CLIENT", "SETNAME"), read a database index or an error prefix, without
// ever holding a whole value.
import { byteAt, putByte } from "../../api/assembly/bytes";

export const CAPTURE_BYTES: i32 = 32;

const wordUnits = new StaticArray<u16>(CAPTURE_BYTES);

export class Capture {
  readonly bytes: Uint8Array = new Uint8Array(CAPTURE_BYTES);
  length: i32 = 0;
  /** More bytes came than were kept. */
  overflow: bool = false;
  /** The element was a string (bulk, simple or verbatim), so `bytes` hold its text. */
  isString: bool = false;
  /** The element was an integer; its value is `intValue`. */
  isInteger: bool = false;
  intValue: i64 = 0;

  reset(): void {
    this.length = 0;
    this.overflow = false;
    this.isString = false;
    this.isInteger = false;
    this.intValue = 0;
  }

  append(source: Uint8Array, from: i32, to: i32): void {
    let i = from;
    while (i < to && this.length < CAPTURE_BYTES) {
      putByte(this.bytes, this.length, byteAt(source, i));
      this.length++;
      i++;
    }
    if (i < to) this.overflow = true;
  }

  appendByte(b: u8): void {
    if (this.length < CAPTURE_BYTES) {
      putByte(this.bytes, this.length, b);
      this.length++;
    } else {
      this.overflow = true;
    }
  }

  /** The text uppercased (ASCII), or "" when it is not a short printable ASCII word. */
  /** The kept bytes as text (at most CAPTURE_BYTES of the element). */
  asText(): string {
    return String.UTF8.decode(this.bytes.buffer.slice(0, this.length));
  }

  upperWord(): string {
    if (!this.isString || this.overflow || this.length == 0) return "";
    // Built in a scratch buffer and made a string once: this runs for every command.
    for (let i = 0; i < this.length; i++) {
      let c = <i32>byteAt(this.bytes, i);
      if (c <= 0x20 || c >= 0x7f) return "";
      if (c >= 0x61 && c <= 0x7a) c -= 0x20;
      unchecked(wordUnits[i] = <u16>c);
    }
    return String.UTF16.decodeUnsafe(changetype<usize>(wordUnits), <usize>this.length << 1);
  }

  /** True when the text is exactly `word` (ASCII, compared case-sensitively). */
  equals(word: string): bool {
    if (!this.isString || this.overflow || this.length != word.length) return false;
    for (let i = 0; i < this.length; i++) {
      if (<i32>byteAt(this.bytes, i) != word.charCodeAt(i)) return false;
    }
    return true;
  }

  /** True when the text is `upper` (uppercase ASCII) compared ignoring ASCII case. */
  equalsIgnoringCase(upper: string): bool {
    if (!this.isString || this.overflow || this.length != upper.length) return false;
    for (let i = 0; i < this.length; i++) {
      let c = <i32>byteAt(this.bytes, i);
      if (c >= 0x61 && c <= 0x7a) c -= 0x20;
      if (c != upper.charCodeAt(i)) return false;
    }
    return true;
  }

  /** The leading run of [A-Z] (an error code such as "WRONGTYPE"), at most 16 letters; "" if none. */
  leadingCapitals(): string {
    let out = "";
    for (let i = 0; i < this.length; i++) {
      const c = <i32>byteAt(this.bytes, i);
      if (c < 0x41 || c > 0x5a) break;
      if (out.length == 16) return "";
      out += String.fromCharCode(c);
    }
    // The code is a whole word: followed by a space or the end of the text.
    if (out.length < this.length && byteAt(this.bytes, out.length) != 0x20) return "";
    return out;
  }

  /**
   * A canonical non-negative decimal (no sign, no leading zero) below 2^31, as Redis parses a
   * database index; -1 otherwise.
   */
  canonicalIndex(): i64 {
    if (!this.isString || this.overflow || this.length == 0 || this.length > 10) return -1;
    if (this.length > 1 && byteAt(this.bytes, 0) == 0x30) return -1;
    let v: i64 = 0;
    for (let i = 0; i < this.length; i++) {
      const c = <i32>byteAt(this.bytes, i);
      if (c < 0x30 || c > 0x39) return -1;
      v = v * 10 + <i64>(c - 0x30);
    }
    return v <= <i64>i32.MAX_VALUE ? v : -1;
  }
}
