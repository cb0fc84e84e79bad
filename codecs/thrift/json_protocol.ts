// Thrift's JSON protocol (TJSONProtocol). A message is one JSON array, a struct an object keyed
// by field id whose values name their type, containers are arrays:
//   [1,"sayHello",1,7,{"1":{"str":"MetaProto"},"2":{"lst":["i32",2,5,6]}}]
// Unframed ("buffered"), a message ends where its array closes; JsonMessageScanner finds that
// point incrementally (each read scans only the new bytes) with bounded nesting. JsonReader
// reads what the metadata needs from the front: the header, a reply's first field id, a
// TApplicationException's type. Neither throws: bad input sets `failure`.
import { recentString } from "../../api/assembly/recent_strings";
import { CALL, MAX_DEPTH, MAX_NAME_LENGTH, ONEWAY, ReadFailure } from "./protocol_reader";

export const JSON_MESSAGE_START: u8 = 0x5b; // '['
const JSON_VERSION: i64 = 1;

/**
 * JSON nesting a message may have. Each Thrift struct or container level takes two JSON levels
 * at most (a field's `{"type": ...}` object and the value inside it), plus the message array and
 * its struct: the same 64 levels as the binary protocols' cap.
 */
export const MAX_JSON_DEPTH: i32 = 2 * MAX_DEPTH + 2;
const DEPTH_WORDS: i32 = (MAX_JSON_DEPTH + 63) / 64;

// Bytes the scanner and reader care about.
const QUOTE: u8 = 0x22;
const BACKSLASH: u8 = 0x5c;
const OPEN_ARRAY: u8 = 0x5b;
const CLOSE_ARRAY: u8 = 0x5d;
const OPEN_OBJECT: u8 = 0x7b;
const CLOSE_OBJECT: u8 = 0x7d;
const COMMA: u8 = 0x2c;
const COLON: u8 = 0x3a;
const MINUS: u8 = 0x2d;

function isWhitespace(c: u8): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

/**
 * What may stand outside strings besides brackets and quotes: separators, whitespace and the
 * characters of numbers, plus letters: peers write non-finite doubles bare (`nan`, `Infinity`)
 * and npm thrift writes a null string as nothing at all.
 */
function isBareValueByte(c: u8): bool {
  if (isDigit(c) || isWhitespace(c)) return true;
  if (c == COMMA || c == COLON || c == MINUS || c == 0x2b || c == 0x2e) return true; // , : - + .
  const letter = c | 0x20;
  return letter >= 0x61 && letter <= 0x7a;
}

/**
 * Finds where an unframed JSON message ends, across reads: the framework hands over the same
 * message start with more bytes appended each time, and only the new bytes are scanned.
 */
export class JsonMessageScanner {
  private scanned: i32 = 0;
  private depth: i32 = 0;
  private inString: bool = false;
  private escaped: bool = false;
  /** Bit `level` is set when that open level is an object, clear for an array. */
  private readonly objects: StaticArray<u64> = new StaticArray<u64>(DEPTH_WORDS);
  /** The current message's header was read and found sound while its end was still to come. */
  headerChecked: bool = false;
  reason: string = "";

  reset(): void {
    this.scanned = 0;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.headerChecked = false;
  }

  /**
   * Scans `bytes` (a message start, with what was scanned before as its prefix). Returns the
   * message's length once its closing bracket is there, 0 while it is incomplete, -1 when the
   * bytes are not a JSON message (reason in `reason`). Ready for the next message after a
   * nonzero result.
   */
  scan(bytes: Uint8Array): i32 {
    const n = bytes.length;
    if (n < this.scanned) this.reset(); // not the buffer scanned before: start over
    const data = bytes.dataStart;
    let pos = this.scanned;
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    while (pos < n) {
      const c = load<u8>(data + <usize>pos);
      pos++;
      if (inString) {
        if (escaped) escaped = false;
        else if (c == BACKSLASH) escaped = true;
        else if (c == QUOTE) inString = false;
        continue;
      }
      if (c == QUOTE) {
        inString = true;
      } else if (c == OPEN_ARRAY || c == OPEN_OBJECT) {
        if (depth >= MAX_JSON_DEPTH) return this.fail("too_deep");
        this.setLevel(depth, c == OPEN_OBJECT);
        depth++;
      } else if (c == CLOSE_ARRAY || c == CLOSE_OBJECT) {
        if (depth == 0 || this.isObject(depth - 1) != (c == CLOSE_OBJECT)) return this.fail("bad_body");
        depth--;
        if (depth == 0) {
          this.reset();
          return pos;
        }
      } else if (depth == 0 || !isBareValueByte(c)) {
        return this.fail(depth == 0 ? "bad_magic" : "bad_body");
      }
    }
    this.scanned = pos;
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return 0;
  }

  private fail(reason: string): i32 {
    this.reset();
    this.reason = reason;
    return -1;
  }

  private setLevel(level: i32, isObject: bool): void {
    const word = level >> 6;
    const bit = (<u64>1) << (<u64>(level & 63));
    const old = unchecked(this.objects[word]);
    unchecked(this.objects[word] = isObject ? old | bit : old & ~bit);
  }

  private isObject(level: i32): bool {
    return (unchecked(this.objects[level >> 6]) & ((<u64>1) << (<u64>(level & 63)))) != 0;
  }
}

/** Reads a JSON message's metadata from bytes [start, end), never past `end`. */
export class JsonReader {
  pos: i32;
  failure: ReadFailure = ReadFailure.None;
  reason: string = "";
  headerRead: bool = false;
  name: string = "";
  messageType: i32 = 0;
  seqid: i32 = 0;

  constructor(private bytes: Uint8Array, start: i32, private end: i32) {
    this.pos = start;
  }

  get ok(): bool {
    return this.failure == ReadFailure.None;
  }

  private fail(failure: ReadFailure, reason: string = "bad_body"): void {
    if (this.failure == ReadFailure.None) {
      this.failure = failure;
      this.reason = reason;
    }
    this.pos = this.end;
  }

  /** The next byte that is not whitespace, not consumed; -1 at the end (EndOfInput set). */
  private peek(): i32 {
    while (this.pos < this.end) {
      const c = unchecked(this.bytes[this.pos]);
      if (!isWhitespace(c)) return c;
      this.pos++;
    }
    this.fail(ReadFailure.EndOfInput);
    return -1;
  }

  private expect(c: u8, reason: string = "bad_body"): bool {
    const next = this.peek();
    if (next < 0) return false;
    if (next != <i32>c) {
      this.fail(ReadFailure.Malformed, reason);
      return false;
    }
    this.pos++;
    return true;
  }

  /** An integer, quoted when `quoted` (field ids are object keys); more than 18 digits is malformed. */
  private integer(quoted: bool, reason: string = "bad_body"): i64 {
    if (quoted && !this.expect(QUOTE, reason)) return 0;
    if (this.peek() < 0) return 0;
    let negative = false;
    if (unchecked(this.bytes[this.pos]) == MINUS) {
      negative = true;
      this.pos++;
    }
    let value: i64 = 0;
    let digits = 0;
    while (this.pos < this.end && isDigit(unchecked(this.bytes[this.pos]))) {
      if (++digits > 18) {
        this.fail(ReadFailure.Malformed, reason);
        return 0;
      }
      value = value * 10 + <i64>(unchecked(this.bytes[this.pos]) - 0x30);
      this.pos++;
    }
    if (this.pos >= this.end) {
      this.fail(ReadFailure.EndOfInput);
      return 0;
    }
    if (digits == 0) {
      this.fail(ReadFailure.Malformed, reason);
      return 0;
    }
    if (quoted && !this.expect(QUOTE, reason)) return 0;
    return negative ? -value : value;
  }

  /**
   * A string of at most `maxLength` bytes on the wire. Unescaped names (all that npm thrift
   * writes) come from the recent strings; escapes are decoded as JSON defines them.
   */
  private string(maxLength: i32, reason: string): string {
    if (!this.expect(QUOTE, reason)) return "";
    const start = this.pos;
    let escapes = false;
    while (true) {
      if (this.pos >= this.end) {
        this.fail(ReadFailure.EndOfInput);
        return "";
      }
      if (this.pos - start > maxLength) {
        this.fail(ReadFailure.Malformed, reason);
        return "";
      }
      const c = unchecked(this.bytes[this.pos]);
      if (c == QUOTE) break;
      if (c == BACKSLASH) {
        escapes = true;
        this.pos++;
      }
      this.pos++;
    }
    const length = this.pos - start;
    this.pos++; // the closing quote
    const data = this.bytes.dataStart + <usize>start;
    return escapes ? unescape(data, length) : recentString(data, length);
  }

  /**
   * `[1,"name",type,seqid,{`: the message header, up to the opening of its struct. Reasons:
   * bad_magic (not a TJSON message), bad_name, bad_message_type.
   */
  readMessageHeader(): void {
    if (!this.expect(OPEN_ARRAY, "bad_magic")) return;
    const version = this.integer(false, "bad_magic");
    if (!this.ok) return;
    if (version != JSON_VERSION) return this.fail(ReadFailure.Malformed, "bad_magic");
    if (!this.expect(COMMA, "bad_magic")) return;
    this.name = this.string(MAX_NAME_LENGTH, "bad_name");
    if (!this.expect(COMMA)) return;
    const type = this.integer(false, "bad_message_type");
    if (!this.ok) return;
    if (type < <i64>CALL || type > <i64>ONEWAY) return this.fail(ReadFailure.Malformed, "bad_message_type");
    this.messageType = <i32>type;
    if (!this.expect(COMMA)) return;
    this.seqid = <i32>this.integer(false);
    if (!this.expect(COMMA)) return;
    if (!this.expect(OPEN_OBJECT)) return;
    this.headerRead = true;
  }

  /** The id of the struct's first field, or -1 when the struct is empty (a void reply). */
  readFirstFieldId(): i32 {
    const next = this.peek();
    if (next < 0) return -1;
    if (next == <i32>CLOSE_OBJECT) return -1;
    return this.fieldId();
  }

  private fieldId(): i32 {
    const id = this.integer(true);
    if (!this.ok) return -1;
    if (id < -32768 || id > 32767) {
      this.fail(ReadFailure.Malformed);
      return -1;
    }
    return <i32>id;
  }

  /**
   * The value of the struct's i32 field `wanted` (a TApplicationException's type): walks the
   * fields `"id":{"type":value}` until it is found; 0 (UNKNOWN) when absent.
   */
  readI32Field(wanted: i32): i32 {
    let first = true;
    while (this.ok) {
      const next = this.peek();
      if (next < 0) break;
      if (next == <i32>CLOSE_OBJECT) break;
      if (!first && !this.expect(COMMA)) break;
      first = false;
      const id = this.fieldId();
      if (!this.expect(COLON) || !this.expect(OPEN_OBJECT)) break;
      const type = this.string(8, "bad_body");
      if (!this.expect(COLON)) break;
      if (id == wanted && type == "i32") {
        const value = this.integer(false);
        if (!this.ok) break;
        if (value < <i64>i32.MIN_VALUE || value > <i64>i32.MAX_VALUE) {
          this.fail(ReadFailure.Malformed);
          break;
        }
        return <i32>value;
      }
      this.skipValue();
      this.expect(CLOSE_OBJECT);
    }
    return 0;
  }

  /** Steps over one value: a string, a bare scalar, or a bracketed value (matched iteratively). */
  private skipValue(): void {
    const c = this.peek();
    if (c < 0) return;
    if (c == <i32>QUOTE) {
      this.string(i32.MAX_VALUE, "bad_body");
      return;
    }
    if (c != <i32>OPEN_ARRAY && c != <i32>OPEN_OBJECT) {
      while (this.pos < this.end && isBareValueByte(unchecked(this.bytes[this.pos])) && unchecked(this.bytes[this.pos]) != COMMA) this.pos++;
      if (this.pos >= this.end) this.fail(ReadFailure.EndOfInput);
      return;
    }
    let depth = 0;
    let inString = false;
    while (this.pos < this.end) {
      const b = unchecked(this.bytes[this.pos++]);
      if (inString) {
        if (b == BACKSLASH) this.pos++;
        else if (b == QUOTE) inString = false;
      } else if (b == QUOTE) {
        inString = true;
      } else if (b == OPEN_ARRAY || b == OPEN_OBJECT) {
        depth++;
      } else if (b == CLOSE_ARRAY || b == CLOSE_OBJECT) {
        if (--depth == 0) return;
      }
    }
    this.fail(ReadFailure.EndOfInput);
  }
}

function hexDigit(c: u8): i32 {
  if (isDigit(c)) return <i32>c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? <i32>lower - 0x61 + 10 : -1;
}

/**
 * The JSON string body [data, data + length) with its escapes decoded; a malformed escape is
 * kept as written (a name is a label, not something to refuse a message for).
 */
function unescape(data: usize, length: i32): string {
  let out = "";
  let runStart = 0;
  let i = 0;
  while (i < length) {
    if (load<u8>(data + <usize>i) != BACKSLASH || i + 1 >= length) {
      i++;
      continue;
    }
    out += String.UTF8.decodeUnsafe(data + <usize>runStart, <usize>(i - runStart));
    const c = load<u8>(data + <usize>(i + 1));
    let unit: i32 = -1;
    let width = 2;
    switch (c) {
      case 0x22: case 0x5c: case 0x2f: unit = c; break;
      case 0x62: unit = 0x08; break; // b
      case 0x66: unit = 0x0c; break; // f
      case 0x6e: unit = 0x0a; break; // n
      case 0x72: unit = 0x0d; break; // r
      case 0x74: unit = 0x09; break; // t
      case 0x75: // u + 4 hex digits: one UTF-16 code unit (a surrogate pair is two escapes)
        if (i + 6 <= length) {
          unit = 0;
          for (let k = 2; k < 6 && unit >= 0; k++) {
            const d = hexDigit(load<u8>(data + <usize>(i + k)));
            unit = d < 0 ? -1 : (unit << 4) | d;
          }
          width = 6;
        }
        break;
    }
    if (unit < 0) {
      runStart = i;
      i += 2;
      continue;
    }
    out += String.fromCharCode(unit);
    i += width;
    runStart = i;
  }
  return out + String.UTF8.decodeUnsafe(data + <usize>runStart, <usize>(length - runStart));
}
