// A resumable RESP2/RESP3 scanner for one direction of a connection. It walks one message
// (a command, or a reply with everything nested in it) and keeps only what naming and pairing
// need: the message's top-level type, the first bytes of its first three elements, the
// element count. Values stream past: a 100 MB bulk string is consumed as it arrives, so a
// connection never buffers more than one short header line. The nesting stack is explicit
// and capped (no recursion).
import { Capture } from "./capture";
import { InlineCommand, isSpace } from "./inline_command";
import { byteAt } from "../../api/assembly/bytes";

/** Deepest aggregate nesting accepted; deeper input is a decode error, not a trap. */
export const MAX_DEPTH: i32 = 128;
/** Largest bulk string Redis accepts (proto-max-bulk-len's default and the usual ceiling). */
export const MAX_BULK_LENGTH: i64 = 512 * 1024 * 1024;
/** Most elements of a client's command (Redis refuses more than INT_MAX). */
const MAX_COMMAND_ELEMENTS: i64 = i32.MAX_VALUE;
/** Longest type+length line (`$536870912\r\n`, `:-9223372036854775808\r\n`) with room to spare. */
export const MAX_HEADER_LINE: i32 = 32;
/** A simple line (status, error, double, big number) shorter than this waits to be whole. */
export const LINE_HOLD: i32 = 128;
/** Redis closes a client whose inline command has no newline within 64 KB. */
export const MAX_INLINE_LENGTH: u64 = 64 * 1024;

export enum ScanResult {
  /** Nothing consumed: the next token is not complete yet. */
  NeedMore = 0,
  /** `consumed` bytes belong to a message still in progress. */
  Partial = 1,
  /** The message ended; `consumed` bytes of this call were its last. */
  Complete = 2,
  /** Not RESP, or corrupt; `failure` names why. */
  Failed = 3,
}

enum Phase { Value = 0, Bulk = 1, Line = 2, StreamedString = 3, Inline = 4 }

// RESP type bytes.
export const T_SIMPLE: u8 = 0x2b;      // +
export const T_ERROR: u8 = 0x2d;       // -
export const T_INTEGER: u8 = 0x3a;     // :
export const T_BULK: u8 = 0x24;        // $
export const T_ARRAY: u8 = 0x2a;       // *
export const T_NULL: u8 = 0x5f;        // _
export const T_DOUBLE: u8 = 0x2c;      // ,
export const T_BOOLEAN: u8 = 0x23;     // #
export const T_BLOB_ERROR: u8 = 0x21;  // !
export const T_VERBATIM: u8 = 0x3d;    // =
export const T_BIG_NUMBER: u8 = 0x28;  // (
export const T_MAP: u8 = 0x25;         // %
export const T_SET: u8 = 0x7e;         // ~
export const T_ATTRIBUTE: u8 = 0x7c;   // |
export const T_PUSH: u8 = 0x3e;        // >
const T_CHUNK: u8 = 0x3b;              // ; (a part of a streamed string)
const T_END: u8 = 0x2e;                // . (end of a streamed aggregate)
/** Pseudo type of an inline command. */
export const T_INLINE: u8 = 0;

const CR: u8 = 0x0d;
const LF: u8 = 0x0a;
const STREAMED: i64 = -2;

export class RespScanner {
  // ---- what the current (or just completed) message holds
  /** Type byte of the message's value (attributes before it are skipped); 0 until known. */
  topType: u8 = 0xff;
  /** The value is a null (`$-1`, `*-1`, `_`). */
  topNull: bool = false;
  /** Elements of a top-level aggregate (maps count keys and values); -1 if streamed. */
  topCount: i64 = 0;
  /** Text of a top-level simple string, error or blob error (first bytes). */
  readonly text: Capture = new Capture();
  /** The first three elements of a top-level aggregate (a command's name and first arguments). */
  readonly elements: StaticArray<Capture> = [new Capture(), new Capture(), new Capture()];
  /** Bytes of the message so far, headers included. */
  messageBytes: u64 = 0;
  // ---- the last scan call
  consumed: i32 = 0;
  failure: string = "";

  // ---- where the scan stands inside the message
  private phase: Phase = Phase.Value;
  private remaining: StaticArray<i64> = new StaticArray<i64>(MAX_DEPTH);
  private isAttribute: StaticArray<bool> = new StaticArray<bool>(MAX_DEPTH);
  private depth: i32 = 0;
  /** Elements of the top-level aggregate completed so far. */
  private topIndex: i64 = 0;
  /** Bytes left of the bulk payload being consumed, its CRLF included. */
  private bulkLeft: u64 = 0;
  private bulkIsChunk: bool = false;
  private lineLength: u64 = 0;
  private lastLineByte: u8 = 0;
  private target: Capture | null = null;
  /** Set by value() when the token it read completed a value, and whether that ended the message. */
  private justEnded: bool = false;
  private messageEnded: bool = false;
  private inline: InlineCommand = new InlineCommand(this.elements);

  /** `commands`: the client side, where Redis accepts only arrays of bulk strings or inline lines. */
  constructor(private commands: bool) {
    this.reset();
  }

  /** Forgets the message just completed; the next scan starts a new one. */
  reset(): void {
    this.topType = 0xff;
    this.topNull = false;
    this.topCount = 0;
    this.text.reset();
    for (let i = 0; i < 3; i++) unchecked(this.elements[i]).reset();
    this.messageBytes = 0;
    this.phase = Phase.Value;
    this.depth = 0;
    this.topIndex = 0;
    this.bulkLeft = 0;
    this.bulkIsChunk = false;
    this.lineLength = 0;
    this.target = null;
    this.inline.reset();
  }

  /** Elements of the command (inline words included); valid once the message completed. */
  get commandLength(): i64 {
    return this.topType == T_INLINE ? this.inline.words : this.topCount;
  }

  /** Scans `bytes`, which start where the previous call stopped. */
  scan(bytes: Uint8Array): ScanResult {
    const end = bytes.byteLength;
    let pos = 0;
    this.consumed = 0;
    while (pos < end) {
      if (this.phase == Phase.Bulk) {
        const available = <u64>(end - pos);
        const take = <i32>min<u64>(this.bulkLeft, available);
        const target = this.target;
        if (target != null && this.bulkLeft > 2) {
          // Payload bytes only, never the CRLF behind them.
          const payload = <i32>min<u64>(<u64>take, this.bulkLeft - 2);
          target.append(bytes, pos, pos + payload);
        }
        pos += take;
        this.bulkLeft -= <u64>take;
        this.messageBytes += <u64>take;
        if (this.bulkLeft > 0) break;
        this.target = null;
        if (this.bulkIsChunk) {
          this.bulkIsChunk = false;
          this.phase = Phase.StreamedString;
          continue;
        }
        this.phase = Phase.Value;
        if (this.valueEnded(false)) return this.complete(pos);
        continue;
      }
      if (this.phase == Phase.Line || this.phase == Phase.Inline) {
        // A long line streaming past: find its end.
        let newline = -1;
        for (let i = pos; i < end; i++) {
          if (byteAt(bytes, i) == LF) { newline = i; break; }
        }
        const stop = newline < 0 ? end : newline;
        if (this.phase == Phase.Inline) {
          this.inline.feed(bytes, pos, stop);
        } else if (newline >= 0) {
          // RESP lines end in CRLF (inline commands may end in a bare LF).
          const before = newline > pos ? byteAt(bytes, newline - 1) : this.lastLineByte;
          if (before != CR) return this.fail("bad_line");
        } else if (stop > pos) {
          this.lastLineByte = byteAt(bytes, stop - 1);
        }
        this.lineLength += <u64>(stop - pos);
        if (this.phase == Phase.Inline && this.lineLength > MAX_INLINE_LENGTH) return this.fail("inline_too_long");
        const next = newline < 0 ? end : newline + 1;
        this.messageBytes += <u64>(next - pos);
        pos = next;
        if (newline < 0) break;
        const wasInline = this.phase == Phase.Inline;
        this.phase = Phase.Value;
        this.target = null;
        if (wasInline || this.valueEnded(false)) return this.complete(pos);
        continue;
      }
      if (this.phase == Phase.StreamedString) {
        const step = this.streamedStringPart(bytes, pos);
        if (step < 0) return this.failed();
        if (step == 0) break;
        pos += step;
        if (this.phase == Phase.Value && this.valueEnded(false)) return this.complete(pos);
        continue;
      }
      // Phase.Value: a type byte starts the next value.
      const type = byteAt(bytes, pos);
      if (this.commands && this.depth == 0 && this.topType == 0xff && type != T_ARRAY) {
        const step = this.startInline(bytes, pos);
        if (step < 0) return this.failed();
        pos += step;
        continue;
      }
      if (this.commands && this.depth > 0 && type != T_BULK) return this.fail("bad_command");
      const step = this.value(bytes, pos, type);
      if (step < 0) return this.failed();
      if (step == 0) break;
      pos += step;
      if (this.phase == Phase.Value && this.justEnded) {
        this.justEnded = false;
        if (this.messageEnded) return this.complete(pos);
      }
    }
    this.consumed = pos;
    return pos == 0 ? ScanResult.NeedMore : ScanResult.Partial;
  }

  private complete(pos: i32): ScanResult {
    this.consumed = pos;
    return ScanResult.Complete;
  }

  private fail(reason: string): ScanResult {
    this.failure = reason;
    return ScanResult.Failed;
  }

  private failed(): ScanResult {
    return ScanResult.Failed;
  }

  private startInline(bytes: Uint8Array, pos: i32): i32 {
    // The first visible byte of a command line must be printable text: TLS records and
    // other binary protocols are not Redis, even though the server would try them as inline.
    for (let i = pos; i < bytes.byteLength; i++) {
      const c = byteAt(bytes, i);
      if (c == LF) break; // an empty line: nothing to judge
      if (isSpace(c)) continue;
      if (c < 0x21 || c > 0x7e) {
        this.failure = "not_redis";
        return -1;
      }
      break;
    }
    this.topType = T_INLINE;
    this.phase = Phase.Inline;
    return 0;
  }

  /**
   * Reads the token at `pos` (a whole line, or a bulk header and whatever of its payload is
   * here). Returns the bytes consumed, 0 when the token is incomplete, -1 on failure.
   */
  private value(bytes: Uint8Array, pos: i32, type: u8): i32 {
    this.justEnded = false;
    switch (type) {
      case T_SIMPLE: case T_ERROR: case T_DOUBLE: case T_BIG_NUMBER:
        return this.simpleLine(bytes, pos, type);
      case T_INTEGER: case T_BOOLEAN: case T_NULL:
      case T_BULK: case T_VERBATIM: case T_BLOB_ERROR:
      case T_ARRAY: case T_MAP: case T_SET: case T_PUSH: case T_ATTRIBUTE:
      case T_END:
        break;
      default:
        this.failure = "bad_type";
        return -1;
    }
    if (this.commands && type != T_ARRAY && type != T_BULK) {
      this.failure = "bad_command";
      return -1;
    }
    const lineEnd = this.headerLineEnd(bytes, pos);
    if (lineEnd < 0) return lineEnd == -1 ? 0 : -1;
    const consumed = lineEnd + 2 - pos;
    this.messageBytes += <u64>consumed;
    const from = pos + 1;
    switch (type) {
      case T_NULL:
        if (lineEnd != from) return this.bad("bad_null");
        this.begin(type);
        if (this.depth == 0) this.topNull = true;
        this.ended(false);
        return consumed;
      case T_BOOLEAN: {
        const c = lineEnd == from + 1 ? byteAt(bytes, from) : 0;
        if (c != 0x74 && c != 0x66) return this.bad("bad_boolean");
        this.begin(type);
        this.ended(false);
        return consumed;
      }
      case T_INTEGER: {
        const target = this.begin(type);
        if (!parseInteger(bytes, from, lineEnd)) return this.bad("bad_integer");
        if (target != null) {
          target.isInteger = true;
          target.intValue = parsedInteger;
        }
        this.ended(false);
        return consumed;
      }
      case T_END: {
        if (lineEnd != from || this.depth == 0 || unchecked(this.remaining[this.depth - 1]) != STREAMED) return this.bad("bad_end");
        this.depth--;
        this.ended(unchecked(this.isAttribute[this.depth]));
        return consumed;
      }
      default:
        break;
    }
    // A length follows: bulk, verbatim and blob error strings, aggregates.
    const streamed = lineEnd == from + 1 && byteAt(bytes, from) == 0x3f; // ?
    if (!streamed && !parseInteger(bytes, from, lineEnd)) return this.bad("bad_length");
    const length = streamed ? STREAMED : parsedInteger;
    if (type == T_BULK || type == T_VERBATIM || type == T_BLOB_ERROR) {
      const target = this.begin(type);
      if (streamed) {
        if (type != T_BULK || this.commands) return this.bad("bad_length");
        this.target = target;
        this.phase = Phase.StreamedString;
        return consumed;
      }
      if (length == -1 && type == T_BULK && !this.commands) {
        if (this.depth == 0) this.topNull = true;
        this.ended(false);
        return consumed;
      }
      if (length < 0 || length > MAX_BULK_LENGTH) return this.bad("bad_length");
      this.target = target;
      this.bulkLeft = <u64>length + 2;
      this.phase = Phase.Bulk;
      return consumed;
    }
    // Aggregates.
    const isAttribute = type == T_ATTRIBUTE;
    if (this.commands) {
      if (streamed || length > MAX_COMMAND_ELEMENTS) return this.bad("bad_length");
    } else if (!streamed && (length < -1 || length > <i64>i32.MAX_VALUE || (length == -1 && type != T_ARRAY))) {
      return this.bad("bad_length");
    }
    this.begin(type);
    const elements: i64 = streamed ? STREAMED : ((type == T_MAP || isAttribute) ? length * 2 : length);
    if (this.depth == 0 && !isAttribute) this.topCount = streamed ? -1 : max<i64>(elements, 0);
    if (this.commands && length <= 0) {
      // Redis ignores `*0` and `*-1` from a client: no command, no reply.
      this.topType = 0xff;
      this.justEnded = true;
      this.messageEnded = true;
      return consumed;
    }
    if (length == -1) {
      if (this.depth == 0) this.topNull = true;
      this.ended(false);
      return consumed;
    }
    if (elements == 0) {
      this.ended(isAttribute);
      return consumed;
    }
    if (this.depth >= MAX_DEPTH) return this.bad("too_deep");
    unchecked(this.remaining[this.depth] = elements);
    unchecked(this.isAttribute[this.depth] = isAttribute);
    this.depth++;
    return consumed;
  }

  /** +status, -error, ,double and (big number: short ones whole, long ones streamed. */
  private simpleLine(bytes: Uint8Array, pos: i32, type: u8): i32 {
    const end = bytes.byteLength;
    const limit = min(end, pos + LINE_HOLD);
    let newline = -1;
    for (let i = pos + 1; i < limit; i++) {
      if (byteAt(bytes, i) == LF) { newline = i; break; }
    }
    const target = newline >= 0 || limit - pos >= LINE_HOLD ? this.begin(type) : null;
    if (newline >= 0) {
      if (newline == pos + 1 || byteAt(bytes, newline - 1) != CR) return this.bad("bad_line");
      if (target != null) target.append(bytes, pos + 1, newline - 1);
      this.messageBytes += <u64>(newline + 1 - pos);
      this.ended(false);
      return newline + 1 - pos;
    }
    if (limit - pos < LINE_HOLD) return 0;
    // Long line: keep its first bytes; the Line phase finds its end as the rest streams by.
    if (target != null) target.append(bytes, pos + 1, limit);
    this.target = target;
    this.lineLength = <u64>(limit - pos);
    this.lastLineByte = byteAt(bytes, limit - 1);
    this.messageBytes += <u64>(limit - pos);
    this.phase = Phase.Line;
    return limit - pos;
  }

  /** One `;N` part of a streamed string; `;0` ends it. */
  private streamedStringPart(bytes: Uint8Array, pos: i32): i32 {
    if (byteAt(bytes, pos) != T_CHUNK) {
      this.failure = "bad_chunk";
      return -1;
    }
    const lineEnd = this.headerLineEnd(bytes, pos);
    if (lineEnd < 0) return lineEnd == -1 ? 0 : -1;
    if (!parseInteger(bytes, pos + 1, lineEnd) || parsedInteger < 0 || parsedInteger > MAX_BULK_LENGTH) {
      this.failure = "bad_length";
      return -1;
    }
    const consumed = lineEnd + 2 - pos;
    this.messageBytes += <u64>consumed;
    if (parsedInteger == 0) {
      this.target = null;
      this.phase = Phase.Value;
    } else {
      this.bulkLeft = <u64>parsedInteger + 2;
      this.bulkIsChunk = true;
      this.phase = Phase.Bulk;
    }
    return consumed;
  }

  /**
   * Index of the CR of the CRLF ending a header line at `pos`; -1 if it is not here yet,
   * -2 (failure set) if no short header line ends there.
   */
  private headerLineEnd(bytes: Uint8Array, pos: i32): i32 {
    const limit = min(bytes.byteLength, pos + MAX_HEADER_LINE);
    for (let i = pos + 1; i < limit; i++) {
      if (byteAt(bytes, i) == CR) {
        if (i + 1 >= bytes.byteLength) return -1;
        if (byteAt(bytes, i + 1) == LF) return i;
        this.failure = "bad_line";
        return -2;
      }
    }
    if (bytes.byteLength < pos + MAX_HEADER_LINE) return -1;
    this.failure = "bad_line";
    return -2;
  }

  private bad(reason: string): i32 {
    this.failure = reason;
    return -1;
  }

  /** A value of `type` starts here; returns where its first bytes should be kept, if anywhere. */
  private begin(type: u8): Capture | null {
    if (type == T_ATTRIBUTE) return null;
    if (this.depth == 0) {
      this.topType = type;
      if (type == T_SIMPLE || type == T_ERROR || type == T_BLOB_ERROR) {
        this.text.isString = true;
        return this.text;
      }
      return null;
    }
    if (this.depth == 1 && !unchecked(this.isAttribute[0]) && this.topIndex < 3) {
      const element = unchecked(this.elements[<i32>this.topIndex]);
      element.isString = type == T_BULK || type == T_SIMPLE || type == T_VERBATIM;
      return element;
    }
    return null;
  }

  private ended(isAttribute: bool): void {
    this.justEnded = true;
    this.messageEnded = this.valueEnded(isAttribute);
  }

  /**
   * A value (or, with `isAttribute`, an attribute) just ended at the current depth. Closes
   * every aggregate it completes; returns true when that ends the message.
   */
  private valueEnded(isAttribute: bool): bool {
    let attribute = isAttribute;
    while (true) {
      // An attribute describes the value after it and is not an element itself.
      if (attribute) return false;
      if (this.depth == 0) return true;
      const top = this.depth - 1;
      if (top == 0 && !unchecked(this.isAttribute[0])) this.topIndex++;
      const left = unchecked(this.remaining[top]);
      if (left == STREAMED) return false;
      if (left > 1) {
        unchecked(this.remaining[top] = left - 1);
        return false;
      }
      attribute = unchecked(this.isAttribute[top]);
      this.depth = top;
    }
  }
}

/** Set by parseInteger. */
let parsedInteger: i64 = 0;

/** Parses a signed decimal in bytes[from, to) into `parsedInteger`; false if it is not one. */
function parseInteger(bytes: Uint8Array, from: i32, to: i32): bool {
  let i = from;
  let negative = false;
  if (i < to && byteAt(bytes, i) == 0x2d) {
    negative = true;
    i++;
  }
  if (i >= to || to - i > 19) return false;
  // 19 digits always fit a u64; the sign decides how much of it an i64 can take.
  let v: u64 = 0;
  for (; i < to; i++) {
    const c = <i32>byteAt(bytes, i);
    if (c < 0x30 || c > 0x39) return false;
    v = v * 10 + <u64>(c - 0x30);
  }
  if (v > (negative ? <u64>i64.MAX_VALUE + 1 : <u64>i64.MAX_VALUE)) return false;
  parsedInteger = negative ? <i64>(0 - v) : <i64>v;
  return true;
}
