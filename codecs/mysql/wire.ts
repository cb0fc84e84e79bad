// MySQL/MariaDB wire constants and a bounds-checked reader for packet payloads.

/** Every packet starts with a 3-byte little-endian payload length and a 1-byte sequence id. */
export const HEADER_LENGTH: i32 = 4;
/** A payload of exactly this length continues in the next packet (payloads >= 16 MiB). */
export const MAX_PAYLOAD: u32 = 0xffffff;

// Capability flags (the low 32 bits are MySQL's; MariaDB's extended flags are kept as bits 32-63).
export const CLIENT_MYSQL: u64 = 1; // MariaDB: clear means "extended capabilities in the filler"
export const CLIENT_CONNECT_WITH_DB: u64 = 1 << 3;
export const CLIENT_COMPRESS: u64 = 1 << 5;
export const CLIENT_PROTOCOL_41: u64 = 1 << 9;
export const CLIENT_SSL: u64 = 1 << 11;
export const CLIENT_SECURE_CONNECTION: u64 = 1 << 15;
export const CLIENT_PLUGIN_AUTH: u64 = 1 << 19;
export const CLIENT_CONNECT_ATTRS: u64 = 1 << 20;
export const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u64 = 1 << 21;
export const CLIENT_SESSION_TRACK: u64 = 1 << 23;
export const CLIENT_DEPRECATE_EOF: u64 = 1 << 24;
/** MySQL 8: a metadata-follows byte after every column count. */
export const CLIENT_OPTIONAL_RESULTSET_METADATA: u64 = 1 << 25;
/** MySQL 8.0.23+: COM_QUERY starts with a parameter count and parameter set count. */
export const CLIENT_QUERY_ATTRIBUTES: u64 = 1 << 27;
/** MariaDB: a metadata-follows byte after the column count of binary (execute) result sets. */
export const MARIADB_CLIENT_CACHE_METADATA: u64 = (<u64>1) << 36;

// Server status flags (OK and EOF packets).
export const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;
export const SERVER_STATUS_CURSOR_EXISTS: u16 = 0x0040;
export const SERVER_SESSION_STATE_CHANGED: u16 = 0x4000;

// Session state change types in an OK packet.
export const SESSION_TRACK_SCHEMA: u8 = 0x01;

// First payload byte of server replies.
export const OK_HEADER: u8 = 0x00;
export const AUTH_MORE_DATA: u8 = 0x01;
export const LOCAL_INFILE_HEADER: u8 = 0xfb;
export const EOF_HEADER: u8 = 0xfe;
export const ERR_HEADER: u8 = 0xff;
/** An EOF packet is 0xFE with a payload under 9 bytes; longer 0xFE payloads are OK packets or rows. */
export const EOF_MAX_PAYLOAD: u32 = 9;
/** MariaDB progress reports are ERR packets with this code; more of the reply follows. */
export const PROGRESS_REPORT_CODE: u16 = 0xffff;

export const PROTOCOL_VERSION_10: u8 = 10;

// Command bytes (first payload byte of a client command).
export const COM_SLEEP: u8 = 0x00;
export const COM_QUIT: u8 = 0x01;
export const COM_INIT_DB: u8 = 0x02;
export const COM_QUERY: u8 = 0x03;
export const COM_FIELD_LIST: u8 = 0x04;
export const COM_CREATE_DB: u8 = 0x05;
export const COM_DROP_DB: u8 = 0x06;
export const COM_REFRESH: u8 = 0x07;
export const COM_SHUTDOWN: u8 = 0x08;
export const COM_STATISTICS: u8 = 0x09;
export const COM_PROCESS_INFO: u8 = 0x0a;
export const COM_CONNECT: u8 = 0x0b;
export const COM_PROCESS_KILL: u8 = 0x0c;
export const COM_DEBUG: u8 = 0x0d;
export const COM_PING: u8 = 0x0e;
export const COM_TIME: u8 = 0x0f;
export const COM_DELAYED_INSERT: u8 = 0x10;
export const COM_CHANGE_USER: u8 = 0x11;
export const COM_BINLOG_DUMP: u8 = 0x12;
export const COM_TABLE_DUMP: u8 = 0x13;
export const COM_CONNECT_OUT: u8 = 0x14;
export const COM_REGISTER_SLAVE: u8 = 0x15;
export const COM_STMT_PREPARE: u8 = 0x16;
export const COM_STMT_EXECUTE: u8 = 0x17;
export const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
export const COM_STMT_CLOSE: u8 = 0x19;
export const COM_STMT_RESET: u8 = 0x1a;
export const COM_SET_OPTION: u8 = 0x1b;
export const COM_STMT_FETCH: u8 = 0x1c;
export const COM_DAEMON: u8 = 0x1d;
export const COM_BINLOG_DUMP_GTID: u8 = 0x1e;
export const COM_RESET_CONNECTION: u8 = 0x1f;
/** MariaDB 10.2+: array binding (executemany). */
export const COM_STMT_BULK_EXECUTE: u8 = 0xfa;

/** Statement id MariaDB accepts in COM_STMT_EXECUTE for "the statement prepared last" (pipelined prepare+execute). */
export const LAST_PREPARED_STATEMENT: u32 = 0xffffffff;

/** Command names as in the MySQL sources; "" for bytes no client sends. */
export function commandName(command: u8): string {
  switch (command) {
    case COM_QUIT: return "COM_QUIT";
    case COM_INIT_DB: return "COM_INIT_DB";
    case COM_QUERY: return "COM_QUERY";
    case COM_FIELD_LIST: return "COM_FIELD_LIST";
    case COM_CREATE_DB: return "COM_CREATE_DB";
    case COM_DROP_DB: return "COM_DROP_DB";
    case COM_REFRESH: return "COM_REFRESH";
    case COM_SHUTDOWN: return "COM_SHUTDOWN";
    case COM_STATISTICS: return "COM_STATISTICS";
    case COM_PROCESS_INFO: return "COM_PROCESS_INFO";
    case COM_PROCESS_KILL: return "COM_PROCESS_KILL";
    case COM_DEBUG: return "COM_DEBUG";
    case COM_PING: return "COM_PING";
    case COM_CHANGE_USER: return "COM_CHANGE_USER";
    case COM_BINLOG_DUMP: return "COM_BINLOG_DUMP";
    case COM_TABLE_DUMP: return "COM_TABLE_DUMP";
    case COM_REGISTER_SLAVE: return "COM_REGISTER_SLAVE";
    case COM_STMT_PREPARE: return "COM_STMT_PREPARE";
    case COM_STMT_EXECUTE: return "COM_STMT_EXECUTE";
    case COM_STMT_SEND_LONG_DATA: return "COM_STMT_SEND_LONG_DATA";
    case COM_STMT_CLOSE: return "COM_STMT_CLOSE";
    case COM_STMT_RESET: return "COM_STMT_RESET";
    case COM_SET_OPTION: return "COM_SET_OPTION";
    case COM_STMT_FETCH: return "COM_STMT_FETCH";
    case COM_BINLOG_DUMP_GTID: return "COM_BINLOG_DUMP_GTID";
    case COM_RESET_CONNECTION: return "COM_RESET_CONNECTION";
    case COM_STMT_BULK_EXECUTE: return "COM_STMT_BULK_EXECUTE";
    // COM_SLEEP, COM_CONNECT, COM_TIME, COM_DELAYED_INSERT, COM_CONNECT_OUT, COM_DAEMON and
    // MariaDB's replica-internal commands exist only inside the server.
    default: return "";
  }
}

/** Reads little-endian integers and strings from a payload without ever leaving it. */
export class PayloadReader {
  /** False once a read ran past the end; every later read returns zero/empty. */
  ok: bool = true;

  constructor(public bytes: Uint8Array, public pos: i32, public end: i32) {}

  get remaining(): i32 {
    return this.end > this.pos ? this.end - this.pos : 0;
  }

  private has(n: i32): bool {
    if (this.ok && n >= 0 && this.pos <= this.end - n) return true;
    this.ok = false;
    return false;
  }

  u8(): u8 {
    if (!this.has(1)) return 0;
    return unchecked(this.bytes[this.pos++]);
  }

  u16(): u16 {
    if (!this.has(2)) return 0;
    const v = <u16>unchecked(this.bytes[this.pos]) | (<u16>unchecked(this.bytes[this.pos + 1]) << 8);
    this.pos += 2;
    return v;
  }

  u24(): u32 {
    if (!this.has(3)) return 0;
    const v = readU24(this.bytes, this.pos);
    this.pos += 3;
    return v;
  }

  u32(): u32 {
    if (!this.has(4)) return 0;
    const v = readU24(this.bytes, this.pos) | (<u32>unchecked(this.bytes[this.pos + 3]) << 24);
    this.pos += 4;
    return v;
  }

  skip(n: i32): void {
    if (this.has(n)) this.pos += n;
  }

  /** A length-encoded integer. 0xFB (NULL) and 0xFF are not integers: they fail the read. */
  lenenc(): u64 {
    const first = this.u8();
    if (!this.ok) return 0;
    if (first < 0xfb) return first;
    if (first == 0xfc) return this.u16();
    if (first == 0xfd) return this.u24();
    if (first == 0xfe) {
      const low = this.u32();
      const high = this.u32();
      return (<u64>high << 32) | <u64>low;
    }
    this.ok = false;
    return 0;
  }

  /** A NUL-terminated string (or the rest of the payload when the NUL is missing), at most `maxBytes` kept. */
  nulString(maxBytes: i32): string {
    if (!this.ok) return "";
    let end = this.pos;
    while (end < this.end && unchecked(this.bytes[end]) != 0) end++;
    const s = utf8(this.bytes, this.pos, min(end, this.pos + maxBytes));
    this.pos = end < this.end ? end + 1 : this.end;
    return s;
  }

  /** `n` bytes as text, at most `maxBytes` kept; fails when fewer than `n` are left. */
  fixedString(n: u64, maxBytes: i32): string {
    if (n > <u64>i32.MAX_VALUE || !this.has(<i32>n)) return "";
    const s = utf8(this.bytes, this.pos, this.pos + min(<i32>n, maxBytes));
    this.pos += <i32>n;
    return s;
  }

  lenencString(maxBytes: i32): string {
    const n = this.lenenc();
    return this.ok ? this.fixedString(n, maxBytes) : "";
  }

  /** Everything left, at most `maxBytes` kept. */
  restString(maxBytes: i32): string {
    const s = utf8(this.bytes, this.pos, min(this.end, this.pos + maxBytes));
    this.pos = this.end;
    return s;
  }
}

export function readU24(bytes: Uint8Array, at: i32): u32 {
  return <u32>unchecked(bytes[at]) | (<u32>unchecked(bytes[at + 1]) << 8) | (<u32>unchecked(bytes[at + 2]) << 16);
}

/** Text of bytes[start..end) (invalid UTF-8 becomes U+FFFD); callers keep start <= end <= length. */
export function utf8(bytes: Uint8Array, start: i32, end: i32): string {
  if (end <= start) return "";
  return String.UTF8.decodeUnsafe(bytes.dataStart + <usize>start, <usize>(end - start));
}
