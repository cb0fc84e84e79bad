// HPACK (RFC 7541) for the bridge. Encoding: only what the bridge sends, as indexed or literal
// fields without indexing and without Huffman, so our encoder keeps no state. Decoding: the full
// format (static and dynamic table, Huffman strings, table size updates), since the peer is
// Envoy's own HTTP/2 codec and chooses its representations.
import { ByteWriter } from "./byte_buffers";
import { huffmanDecode } from "./huffman";

export class HeaderField {
  constructor(public name: string, public value: string) {}
}

const STATIC_NAMES: Array<string> = [
  "", ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status",
  ":status", ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
  "accept", "access-control-allow-origin", "age", "allow", "authorization", "cache-control", "content-disposition",
  "content-encoding", "content-language", "content-length", "content-location", "content-range", "content-type",
  "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
  "if-range", "if-unmodified-since", "last-modified", "link", "location", "max-forwards", "proxy-authenticate",
  "proxy-authorization", "range", "referer", "refresh", "retry-after", "server", "set-cookie",
  "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via", "www-authenticate",
];
const STATIC_VALUES: Array<string> = [
  "", "", "GET", "POST", "/", "/index.html", "http", "https", "200", "204", "206", "304", "400", "404", "500", "",
  "gzip, deflate",
];
const STATIC_COUNT: i32 = 61;
/** Size an entry counts for in the dynamic table (RFC 7541 4.1). */
const ENTRY_OVERHEAD: i32 = 32;

function staticValue(index: i32): string {
  return index < STATIC_VALUES.length ? STATIC_VALUES[index] : "";
}

/** Statistics that say how the peer's encoder behaves (the spike reports them). */
export class HpackStats {
  blocks: i32 = 0;
  huffmanStrings: i32 = 0;
  plainStrings: i32 = 0;
  dynamicInserts: i32 = 0;
  dynamicHits: i32 = 0;
  sizeUpdates: i32 = 0;
}

export class HpackDecoder {
  // Newest entry first, as HPACK indexes them (62 = newest).
  private names: Array<string> = [];
  private values: Array<string> = [];
  private size: i32 = 0;
  private maxSize: i32;
  readonly stats: HpackStats = new HpackStats();
  /** Why the last decode failed. */
  error: string = "";

  /** `limit`: the largest table size the peer may choose (our SETTINGS_HEADER_TABLE_SIZE, or 4096 before it is acknowledged). */
  constructor(private limit: i32) {
    this.maxSize = limit;
  }

  /** Decodes one complete header block; null on a decoding error (a connection error in HTTP/2). */
  decode(block: Uint8Array): Array<HeaderField> | null {
    this.stats.blocks++;
    const fields = new Array<HeaderField>();
    let at = 0;
    const end = block.length;
    while (at < end) {
      const b = <u32>block[at];
      if ((b & 0x80) != 0) {
        // Indexed header field.
        const index = this.readInteger(block, at, 7);
        if (index < 0) return null;
        at = this.next;
        const field = this.entry(<i32>index);
        if (field == null) return null;
        fields.push(field);
      } else if ((b & 0xe0) == 0x20) {
        // Dynamic table size update.
        const newSize = this.readInteger(block, at, 5);
        if (newSize < 0) return null;
        at = this.next;
        if (newSize > <i64>this.limit) { this.error = "table size update above the limit"; return null; }
        this.maxSize = <i32>newSize;
        this.stats.sizeUpdates++;
        this.evict(0);
      } else {
        // Literal: with incremental indexing (01), without indexing (0000) or never indexed (0001).
        const incremental = (b & 0xc0) == 0x40;
        const prefix = incremental ? 6 : 4;
        const nameIndex = this.readInteger(block, at, prefix);
        if (nameIndex < 0) return null;
        at = this.next;
        let name: string;
        if (nameIndex == 0) {
          const literal = this.readString(block, at);
          if (literal == null) return null;
          name = literal;
          at = this.next;
        } else {
          const field = this.entry(<i32>nameIndex);
          if (field == null) return null;
          name = field.name;
        }
        const value = this.readString(block, at);
        if (value == null) return null;
        at = this.next;
        fields.push(new HeaderField(name, value));
        if (incremental) this.insert(name, value);
      }
    }
    return fields;
  }

  /** Table size (RFC 7541 4.1) now held, for tests. */
  get tableSize(): i32 { return this.size; }

  private next: i32 = 0;

  private entry(index: i32): HeaderField | null {
    if (index <= 0) { this.error = "index 0"; return null; }
    if (index <= STATIC_COUNT) return new HeaderField(STATIC_NAMES[index], staticValue(index));
    const dynamic = index - STATIC_COUNT - 1;
    if (dynamic >= this.names.length) { this.error = "index " + index.toString() + " beyond the tables"; return null; }
    this.stats.dynamicHits++;
    return new HeaderField(this.names[dynamic], this.values[dynamic]);
  }

  private insert(name: string, value: string): void {
    this.stats.dynamicInserts++;
    const entrySize = String.UTF8.byteLength(name) + String.UTF8.byteLength(value) + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (RFC 7541 4.4).
    this.evict(entrySize);
    if (entrySize > this.maxSize) return;
    this.names.unshift(name);
    this.values.unshift(value);
    this.size += entrySize;
  }

  /** Drops the oldest entries until `incoming` more bytes fit under the current maximum. */
  private evict(incoming: i32): void {
    while (this.names.length > 0 && this.size + incoming > this.maxSize) {
      const name = this.names.pop();
      const value = this.values.pop();
      this.size -= String.UTF8.byteLength(name) + String.UTF8.byteLength(value) + ENTRY_OVERHEAD;
    }
  }

  /** An HPACK integer with an N-bit prefix starting at `at`; sets `next`; -1 if truncated or too large. */
  private readInteger(bytes: Uint8Array, at: i32, prefixBits: i32): i64 {
    const mask: i64 = (1 << prefixBits) - 1;
    let value: i64 = <i64>bytes[at] & mask;
    at++;
    if (value == mask) {
      let shift: i64 = 0;
      for (;;) {
        if (at >= bytes.length) { this.error = "truncated integer"; return -1; }
        const b = <i64>bytes[at++];
        value += (b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) == 0) break;
        if (shift > 28) { this.error = "integer too large"; return -1; }
      }
    }
    this.next = at;
    return value;
  }

  /** A string literal at `at` (H bit, length, bytes); sets `next`. */
  private readString(bytes: Uint8Array, at: i32): string | null {
    if (at >= bytes.length) { this.error = "truncated string"; return null; }
    const huffman = (bytes[at] & 0x80) != 0;
    const length = this.readInteger(bytes, at, 7);
    if (length < 0) return null;
    const start = this.next;
    if (<i64>start + length > <i64>bytes.length) { this.error = "string beyond the block"; return null; }
    const end = start + <i32>length;
    this.next = end;
    if (huffman) {
      this.stats.huffmanStrings++;
      const decoded = huffmanDecode(bytes, start, end);
      if (decoded == null) { this.error = "bad huffman string"; return null; }
      return String.UTF8.decode(decoded.buffer);
    }
    this.stats.plainStrings++;
    return String.UTF8.decode(bytes.slice(start, end).buffer);
  }
}

/** Writes an HPACK integer with an N-bit prefix; `firstBits` fills the bits above the prefix. */
export function writeInteger(out: ByteWriter, firstBits: u32, prefixBits: i32, value: u32): void {
  const max: u32 = (1 << prefixBits) - 1;
  if (value < max) {
    out.u8(firstBits | value);
    return;
  }
  out.u8(firstBits | max);
  value -= max;
  while (value >= 0x80) {
    out.u8((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.u8(value);
}

function writeString(out: ByteWriter, text: string): void {
  const bytes = Uint8Array.wrap(String.UTF8.encode(text));
  writeInteger(out, 0, 7, <u32>bytes.length);
  out.bytes(bytes);
}

/** The static index of a field whose name and value both match, else 0. */
function fullStaticIndex(name: string, value: string): i32 {
  for (let i = 1; i < STATIC_VALUES.length; i++) {
    if (STATIC_NAMES[i] == name && STATIC_VALUES[i] == value) return i;
  }
  return 0;
}

function staticNameIndex(name: string): i32 {
  for (let i = 1; i <= STATIC_COUNT; i++) if (STATIC_NAMES[i] == name) return i;
  return 0;
}

/**
 * A header block with every field indexed (when the static table has name and value) or a
 * literal without indexing, strings not Huffman-coded: no dynamic table on our side, so the
 * peer's decoder state never depends on what we sent before.
 */
export function encodeHeaderBlock(fields: Array<HeaderField>): Uint8Array {
  const out = new ByteWriter();
  // A dynamic table size update to 0 opens every block: a peer that advertised a
  // SETTINGS_HEADER_TABLE_SIZE below 4096 (Envoy with hpack_table_size: 0) requires the encoder to
  // signal it (RFC 7541 4.2) and fails the connection with COMPRESSION_ERROR otherwise; 0 is
  // within any limit and says what is true, that we keep no table.
  writeInteger(out, 0x20, 5, 0);
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const full = fullStaticIndex(field.name, field.value);
    if (full > 0) {
      writeInteger(out, 0x80, 7, <u32>full);
      continue;
    }
    const nameIndex = staticNameIndex(field.name);
    writeInteger(out, 0x00, 4, <u32>nameIndex);
    if (nameIndex == 0) writeString(out, field.name);
    writeString(out, field.value);
  }
  return out.take();
}
