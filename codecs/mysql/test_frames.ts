// Test helpers: captured MySQL sessions (with the order the two directions interleaved),
// MySQL packet builders, and access to the compiled mysql.wasm through the host emulator.
import { existsSync, readFileSync } from "fs";
import { gunzipSync } from "zlib";
import * as path from "path";
import { Connection, ProxyTestHost, compiledCodec, metricName, repoRoot } from "../../api/proxytest";
export { decodedMessages, startedHost } from "../../api/proxytest";
export type { Decoded } from "../../api/proxytest";

/** Builds dist/wasm/mysql.wasm if stale and returns the compiled module. */
export const compiledMysql = () => compiledCodec("mysql");

export type { Direction as Side } from "../../api/proxytest";
import type { Direction as Side } from "../../api/proxytest";

/** One chunk as the capture relay saw it arrive. */
export interface Turn {
  side: Side;
  bytes: Buffer;
}

/** A session recorded by test/lib/capture.js --turns: both byte streams and their interleaving. */
export interface Session {
  name: string;
  request: Buffer;
  response: Buffer;
  turns: Turn[];
}

export function fixturePath(name: string): string {
  return path.join(repoRoot(), "codecs/mysql/fixtures", name);
}

/** A recording, gzipped when it is large (`<file>.gz`, see fixtures/README.md). */
function recording(file: string): Buffer {
  const gzipped = fixturePath(`${file}.gz`);
  return existsSync(gzipped) ? gunzipSync(readFileSync(gzipped)) : readFileSync(fixturePath(file));
}

export function session(name: string): Session {
  const request = recording(`${name}.request.bin`);
  const response = recording(`${name}.response.bin`);
  const at = { c: 0, s: 0 };
  const turns: Turn[] = [];
  for (const line of readFileSync(fixturePath(`${name}.turns`), "utf8").split("\n")) {
    if (!line.trim()) continue;
    const [side, text] = line.split(" ");
    const length = Number(text);
    const stream = side === "c" ? request : response;
    const offset = side === "c" ? at.c : at.s;
    turns.push({ side: side === "c" ? "downstream" : "upstream", bytes: stream.subarray(offset, offset + length) });
    if (side === "c") at.c += length;
    else at.s += length;
  }
  if (at.c !== request.length || at.s !== response.length) throw new Error(`${name}: turns do not cover the recording`);
  return { name, request, response, turns };
}

/** Consecutive turns of the same side merged: what a peer that coalesces writes would send. */
export function coalesced(turns: Turn[]): Turn[] {
  const out: Turn[] = [];
  for (const t of turns) {
    const last = out[out.length - 1];
    if (last && last.side === t.side) last.bytes = Buffer.concat([last.bytes, t.bytes]);
    else out.push({ side: t.side, bytes: t.bytes });
  }
  return out;
}

/** Each turn cut at the given offsets into the whole stream of its side (order between sides kept). */
export function rechunked(turns: Turn[], cuts: { downstream: number[]; upstream: number[] }): Turn[] {
  const out: Turn[] = [];
  const offset = { downstream: 0, upstream: 0 };
  for (const t of turns) {
    const start = offset[t.side];
    const inside = cuts[t.side].filter((c) => c > start && c < start + t.bytes.length).sort((a, b) => a - b);
    let from = 0;
    for (const c of [...inside.map((c) => c - start), t.bytes.length]) {
      if (c > from) out.push({ side: t.side, bytes: t.bytes.subarray(from, c) });
      from = c;
    }
    offset[t.side] += t.bytes.length;
  }
  return out;
}

export function bytewise(turns: Turn[]): Turn[] {
  const out: Turn[] = [];
  for (const t of turns) for (let i = 0; i < t.bytes.length; i++) out.push({ side: t.side, bytes: t.bytes.subarray(i, i + 1) });
  return out;
}

/** Plays turns through a connection; returns what the filter forwarded each way. */
export function play(conn: Connection, turns: Turn[]): { downstream: Buffer; upstream: Buffer } {
  const out: { downstream: Buffer[]; upstream: Buffer[] } = { downstream: [], upstream: [] };
  for (const t of turns) out[t.side].push(Buffer.from(conn[t.side](t.bytes).forwarded));
  return { downstream: Buffer.concat(out.downstream), upstream: Buffer.concat(out.upstream) };
}

export function requestsTotal(service: string, method: string, status: string, code: string): string {
  return metricName("metaproto_requests_total", { protocol: "mysql", service, method, response_status: status, response_code: code });
}

/** Sum of every metaproto_requests_total sample, or of those whose name contains `part`. */
export function callsCounted(host: ProxyTestHost, part = ""): number {
  return host.metrics()
    .filter((m) => m.name.startsWith("metaproto_requests_total;") && m.name.includes(part))
    .reduce((n, m) => n + m.value, 0);
}

export function decodeErrors(host: ProxyTestHost): Array<{ name: string; value: number }> {
  return host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total")).map((m) => ({ name: m.name, value: m.value }));
}

// ---------------------------------------------------------------------------------------------
// Packet builders (independent of the codec: straight from the protocol documentation)
// ---------------------------------------------------------------------------------------------

/** One packet: 3-byte little-endian length, sequence id, payload. */
export function packet(seq: number, payload: Buffer | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "latin1") : payload;
  const header = Buffer.alloc(4);
  header.writeUIntLE(body.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, body]);
}

/** A payload of any size as packets: chunks of 0xFFFFFF, then a shorter (possibly empty) last one. */
export function packets(firstSeq: number, payload: Buffer): Buffer {
  const out: Buffer[] = [];
  let seq = firstSeq;
  let at = 0;
  for (;;) {
    const n = Math.min(0xffffff, payload.length - at);
    out.push(packet(seq++, payload.subarray(at, at + n)));
    at += n;
    if (n < 0xffffff) break;
  }
  return Buffer.concat(out);
}

export function lenenc(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.from([0xfc, n & 0xff, n >> 8]);
  if (n < 0x1000000) return Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

export function lenencString(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : s;
  return Buffer.concat([lenenc(b.length), b]);
}

export const CAP = {
  MYSQL: 1, CONNECT_WITH_DB: 1 << 3, COMPRESS: 1 << 5, LOCAL_FILES: 1 << 7, PROTOCOL_41: 1 << 9, SSL: 1 << 11,
  TRANSACTIONS: 1 << 13, SECURE_CONNECTION: 1 << 15, MULTI_STATEMENTS: 1 << 16, MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18, PLUGIN_AUTH: 1 << 19, CONNECT_ATTRS: 1 << 20, PLUGIN_AUTH_LENENC: 1 << 21,
  SESSION_TRACK: 1 << 23, DEPRECATE_EOF: 1 << 24, QUERY_ATTRIBUTES: 1 << 27,
};
/** MariaDB extended capabilities (bit n here is bit 32+n of the 64-bit set). */
export const MARIADB_CAP = { PROGRESS: 1, STMT_BULK_OPERATIONS: 1 << 2, EXTENDED_METADATA: 1 << 3, CACHE_METADATA: 1 << 4 };

const BASE_CAPS = CAP.CONNECT_WITH_DB | CAP.LOCAL_FILES | CAP.PROTOCOL_41 | CAP.TRANSACTIONS | CAP.SECURE_CONNECTION |
  CAP.MULTI_STATEMENTS | CAP.MULTI_RESULTS | CAP.PS_MULTI_RESULTS | CAP.PLUGIN_AUTH | CAP.CONNECT_ATTRS |
  CAP.PLUGIN_AUTH_LENENC | CAP.SESSION_TRACK | CAP.DEPRECATE_EOF | CAP.SSL | CAP.COMPRESS;

/** A Handshake v10 greeting as MariaDB 10.11 sends it (version prefix "5.5.5-", extended caps in the filler). */
export function greeting(opts: { capabilities?: number; extended?: number; version?: string } = {}): Buffer {
  const caps = (opts.capabilities ?? BASE_CAPS) >>> 0;
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from((opts.version ?? "5.5.5-10.11.19-MariaDB") + "\0", "latin1"),
    Buffer.from([7, 0, 0, 0]), // connection id
    Buffer.from("abcdefgh\0", "latin1"),
    Buffer.from([caps & 0xff, (caps >>> 8) & 0xff, 45, 2, 0, (caps >>> 16) & 0xff, (caps >>> 24) & 0xff, 21]),
    Buffer.alloc(6),
    u32le(opts.extended ?? (MARIADB_CAP.PROGRESS | MARIADB_CAP.STMT_BULK_OPERATIONS | MARIADB_CAP.EXTENDED_METADATA | MARIADB_CAP.CACHE_METADATA)),
    Buffer.from("ijklmnopqrst\0mysql_native_password\0", "latin1"),
  ]);
  return packet(0, payload);
}

export function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

export function u16le(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n, 0);
  return b;
}

/** A HandshakeResponse41 (sequence id 1). */
export function login(opts: { capabilities?: number; extended?: number; user?: string; database?: string; attrs?: Record<string, string> } = {}): Buffer {
  let caps = (opts.capabilities ?? (BASE_CAPS & ~CAP.SSL & ~CAP.COMPRESS)) >>> 0;
  if (opts.database === undefined) caps &= ~CAP.CONNECT_WITH_DB;
  const filler = Buffer.alloc(23);
  if (opts.extended !== undefined) filler.writeUInt32LE(opts.extended, 19);
  const attrs = Object.entries(opts.attrs ?? { _client_name: "test" }).map(([k, v]) => Buffer.concat([lenencString(k), lenencString(v)]));
  const attrBytes = Buffer.concat(attrs);
  const parts = [
    u32le(caps), u32le(0x1000000), Buffer.from([45]), filler,
    Buffer.from((opts.user ?? "mp") + "\0", "utf8"),
    lenencString(Buffer.alloc(20, 1)),
  ];
  if (caps & CAP.CONNECT_WITH_DB) parts.push(Buffer.from((opts.database ?? "") + "\0", "utf8"));
  if (caps & CAP.PLUGIN_AUTH) parts.push(Buffer.from("mysql_native_password\0", "latin1"));
  if (caps & CAP.CONNECT_ATTRS) parts.push(lenencString(attrBytes));
  return packet(1, Buffer.concat(parts));
}

export function ok(seq: number, opts: { status?: number; affected?: number; header?: number; schema?: string } = {}): Buffer {
  let status = opts.status ?? 0x0002;
  const tail: Buffer[] = [];
  if (opts.schema !== undefined) {
    status |= 0x4000;
    const change = Buffer.concat([Buffer.from([1]), lenencString(lenencString(opts.schema))]);
    tail.push(lenencString(""), lenencString(change));
  }
  return packet(seq, Buffer.concat([Buffer.from([opts.header ?? 0]), lenenc(opts.affected ?? 0), lenenc(0), u16le(status), u16le(0), ...tail]));
}

export function eof(seq: number, status = 0x0002): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([0xfe]), u16le(0), u16le(status)]));
}

export function err(seq: number, code: number, message = "failed", sqlState = "HY000"): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([0xff]), u16le(code), Buffer.from("#" + sqlState + message, "latin1")]));
}

export function command(code: number, args: Buffer | string = Buffer.alloc(0), seq = 0): Buffer {
  const body = typeof args === "string" ? Buffer.from(args, "utf8") : args;
  return packet(seq, Buffer.concat([Buffer.from([code]), body]));
}

export function columnDef(seq: number, name: string): Buffer {
  return packet(seq, Buffer.concat([
    lenencString("def"), lenencString("metaproto"), lenencString("t"), lenencString("t"), lenencString(name), lenencString(name),
    Buffer.from([0x0c, 45, 0, 0xff, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0]),
  ]));
}

export const COM = {
  QUIT: 0x01, INIT_DB: 0x02, QUERY: 0x03, FIELD_LIST: 0x04, STATISTICS: 0x09, PING: 0x0e, CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12, STMT_PREPARE: 0x16, STMT_EXECUTE: 0x17, STMT_SEND_LONG_DATA: 0x18, STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a, SET_OPTION: 0x1b, STMT_FETCH: 0x1c, RESET_CONNECTION: 0x1f,
};

/**
 * A text result set: column count, definitions, [EOF], rows, terminator (EOF, or an OK with a 0xFE
 * header under DEPRECATE_EOF). Returns the packets and the next sequence id.
 */
export function resultSet(firstSeq: number, columns: string[], rows: Buffer[][], opts: { deprecateEof?: boolean; status?: number } = {}): { bytes: Buffer; seq: number } {
  let seq = firstSeq;
  const out: Buffer[] = [packet(seq++, lenenc(columns.length))];
  for (const c of columns) out.push(columnDef(seq++, c));
  if (!opts.deprecateEof) out.push(eof(seq++));
  for (const row of rows) {
    const payload = Buffer.concat(row.map((v) => lenencString(v)));
    const p = packets(seq, payload);
    out.push(p);
    seq += Math.floor(payload.length / 0xffffff) + 1;
  }
  out.push(opts.deprecateEof ? ok(seq++, { header: 0xfe, status: opts.status }) : eof(seq++, opts.status ?? 0x0002));
  return { bytes: Buffer.concat(out), seq };
}
