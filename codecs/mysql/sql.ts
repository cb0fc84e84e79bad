// The bits of SQL text the codec reads: the statement's first keyword (for the bounded
// `COM_QUERY:<KEYWORD>` method label) and the schema named by `USE`.
import { recentString } from "../../api/assembly/recent_strings";

/** Keyword for statements that start with something that is not a known SQL keyword. */
export const OTHER_KEYWORD = "OTHER";

/**
 * Statement-leading keywords of MySQL and MariaDB. A closed list keeps the method label
 * bounded whatever clients send: anything else is OTHER.
 */
const KEYWORDS: Set<string> = new Set<string>();
const LONGEST_KEYWORD: i32 = 12;
const KEYWORD_LIST = [
  "ALTER", "ANALYZE", "BACKUP", "BEGIN", "BINLOG", "CACHE", "CALL", "CHANGE", "CHECK", "CHECKSUM", "COMMIT",
  "CREATE", "DEALLOCATE", "DELETE", "DESC", "DESCRIBE", "DO", "DROP", "EXECUTE", "EXPLAIN", "FLUSH", "GET",
  "GRANT", "HANDLER", "HELP", "IMPORT", "INSERT", "INSTALL", "KILL", "LOAD", "LOCK", "OPTIMIZE", "PREPARE",
  "PURGE", "RELEASE", "RENAME", "REPAIR", "REPLACE", "RESET", "RESIGNAL", "REVOKE", "ROLLBACK", "SAVEPOINT",
  "SELECT", "SET", "SHOW", "SHUTDOWN", "SIGNAL", "START", "STOP", "TABLE", "TRUNCATE", "UNINSTALL", "UNLOCK",
  "UPDATE", "USE", "VALUES", "WITH", "XA",
];

function keywords(): Set<string> {
  if (KEYWORDS.size == 0) for (let i = 0; i < KEYWORD_LIST.length; i++) KEYWORDS.add(KEYWORD_LIST[i]);
  return KEYWORDS;
}

@inline function isSpace(c: u8): bool {
  return c == 0x20 || (c >= 0x09 && c <= 0x0d);
}

@inline function isLetter(c: u8): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

@inline function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

/** An identifier character of an unquoted name (ASCII letters, digits, `_`, `$`, any non-ASCII byte). */
@inline function isNameByte(c: u8): bool {
  return isLetter(c) || isDigit(c) || c == 0x5f || c == 0x24 || c >= 0x80;
}

/**
 * Skips whitespace, comments (`/* *\/`, `-- `, `#`) and opening parentheses from `pos`; returns
 * where the SQL proper starts (or `end`). Executable comments (`/*!50100 ...`, MariaDB's
 * `/*M!100100 ...`) hold SQL the server runs: their body is not skipped.
 */
export function skipNoise(bytes: Uint8Array, pos: i32, end: i32): i32 {
  // Each turn consumes at least one byte, so the loop ends; no recursion.
  while (pos < end) {
    const c = unchecked(bytes[pos]);
    if (isSpace(c) || c == 0x28 /* ( */) {
      pos++;
    } else if (c == 0x23 /* # */) {
      pos = skipLine(bytes, pos + 1, end);
    } else if (c == 0x2d && pos + 1 < end && unchecked(bytes[pos + 1]) == 0x2d &&
      (pos + 2 == end || isSpace(unchecked(bytes[pos + 2])))) {
      pos = skipLine(bytes, pos + 2, end);
    } else if (c == 0x2f && pos + 1 < end && unchecked(bytes[pos + 1]) == 0x2a /* * */) {
      let body = pos + 2;
      if (body < end && unchecked(bytes[body]) == 0x4d /* M */ && body + 1 < end && unchecked(bytes[body + 1]) == 0x21) body++;
      if (body < end && unchecked(bytes[body]) == 0x21 /* ! */) {
        // Executable comment: continue with its body, after the optional version number.
        body++;
        while (body < end && isDigit(unchecked(bytes[body]))) body++;
        pos = body;
      } else {
        pos = skipBlockComment(bytes, pos + 2, end);
      }
    } else if (c == 0x2a && pos + 1 < end && unchecked(bytes[pos + 1]) == 0x2f) {
      pos += 2; // the end of an executable comment whose body we walked into
    } else {
      break;
    }
  }
  return pos;
}

function skipLine(bytes: Uint8Array, pos: i32, end: i32): i32 {
  while (pos < end && unchecked(bytes[pos]) != 0x0a) pos++;
  return pos;
}

function skipBlockComment(bytes: Uint8Array, pos: i32, end: i32): i32 {
  while (pos + 1 < end) {
    if (unchecked(bytes[pos]) == 0x2a && unchecked(bytes[pos + 1]) == 0x2f) return pos + 2;
    pos++;
  }
  return end;
}

/** The statement's first keyword, upper-cased, if it is a known one; OTHER otherwise. */
export function firstKeyword(bytes: Uint8Array, pos: i32, end: i32): string {
  const start = skipNoise(bytes, pos, end);
  let wordEnd = start;
  while (wordEnd < end && isNameByte(unchecked(bytes[wordEnd]))) {
    if (!isLetter(unchecked(bytes[wordEnd])) || wordEnd - start >= LONGEST_KEYWORD) return OTHER_KEYWORD;
    wordEnd++;
  }
  if (wordEnd == start) return OTHER_KEYWORD;
  // Uppercased in a scratch buffer; the recent strings hand back the same few keywords.
  const length = wordEnd - start;
  for (let i = 0; i < length; i++) {
    let c = unchecked(bytes[start + i]);
    if (c >= 0x61) c -= 0x20;
    unchecked(keywordScratch[i] = c);
  }
  const word = recentString(changetype<usize>(keywordScratch), length);
  return keywords().has(word) ? word : OTHER_KEYWORD;
}

const keywordScratch = new StaticArray<u8>(LONGEST_KEYWORD);

/** Schema names are at most 64 characters of up to 4 bytes; longer input is cut. */
const MAX_SCHEMA_BYTES: i32 = 256;

/**
 * The schema of a `USE <name>` statement starting at `pos` (comments allowed): a
 * backquoted or plain identifier. Null when the statement is not USE or names nothing.
 */
export function useTarget(bytes: Uint8Array, pos: i32, end: i32): string | null {
  pos = skipNoise(bytes, pos, end);
  if (pos + 3 > end || (unchecked(bytes[pos]) | 0x20) != 0x75 || (unchecked(bytes[pos + 1]) | 0x20) != 0x73 ||
    (unchecked(bytes[pos + 2]) | 0x20) != 0x65) return null;
  pos += 3;
  if (pos < end && isNameByte(unchecked(bytes[pos]))) return null; // USER..., USES...
  pos = skipNoise(bytes, pos, end);
  if (pos >= end) return null;
  if (unchecked(bytes[pos]) == 0x60 /* ` */) {
    // Inside backquotes a doubled backquote stands for one.
    const name = new Array<u8>();
    pos++;
    while (pos < end && name.length < MAX_SCHEMA_BYTES) {
      const c = unchecked(bytes[pos]);
      if (c == 0x60) {
        if (pos + 1 < end && unchecked(bytes[pos + 1]) == 0x60) pos++;
        else return utf8Bytes(name);
      }
      name.push(c);
      pos++;
    }
    return null;
  }
  const start = pos;
  while (pos < end && pos - start < MAX_SCHEMA_BYTES && isNameByte(unchecked(bytes[pos]))) pos++;
  if (pos == start) return null;
  const name = new Array<u8>();
  for (let i = start; i < pos; i++) name.push(unchecked(bytes[i]));
  return utf8Bytes(name);
}

function utf8Bytes(bytes: Array<u8>): string {
  const buffer = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) unchecked(buffer[i] = bytes[i]);
  return String.UTF8.decode(buffer.buffer);
}
