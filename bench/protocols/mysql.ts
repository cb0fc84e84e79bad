// MySQL: a Debian mariadbd 10.11 as backend (a child process in a temp datadir, as test/mysql/server.sh
// starts it); load from sysbench oltp_read_only (the real client the design names) at 1/8/32 threads,
// plus the TypeScript driver for a fixed-rate `SELECT 1` (sysbench's --rate is Poisson and its
// latency excludes queueing): it logs in with mysql_native_password (Wire.handshake) and pairs the
// text result sets in order. Envoy 1.40's release binary has no mysql_proxy: no native target.
import { createHash } from "crypto";
import { mkdirSync, readFileSync } from "fs";
import type * as net from "net";
import * as path from "path";
import { openConnection } from "../lib/connections";
import { openLoopShape } from "../lib/driver_shapes";
import { log } from "../lib/log";
import type { Pinning } from "../lib/pinning";
import { CpuWindow, ticksPerSecond } from "../lib/proc_stats";
import { freePort, portOpen, runToCompletion, startChild, stopChild, tail, waitFor } from "../lib/processes";
import type { Backend, BenchOptions, CodecCall, CodecSample, LatencySummary, ProtocolBench, RunContext, RunResult, Shape, Wire } from "../lib/protocol";
import { repoRoot } from "../../api/proxytest";

// The account test/mysql/server.sh creates too.
const USER = "mp";
const PASSWORD = "mp-secret";
const DATABASE = "metaproto";
const TABLE_SIZE = 10_000;

const CAP = {
  LONG_PASSWORD: 1, CONNECT_WITH_DB: 1 << 3, PROTOCOL_41: 1 << 9, TRANSACTIONS: 1 << 13,
  SECURE_CONNECTION: 1 << 15, PLUGIN_AUTH: 1 << 19,
};
/** What the driver asks for: no TLS, no CLIENT_DEPRECATE_EOF (result sets end with EOF packets), no multi-results. */
const CLIENT_CAPS = CAP.LONG_PASSWORD | CAP.CONNECT_WITH_DB | CAP.PROTOCOL_41 | CAP.TRANSACTIONS | CAP.SECURE_CONNECTION | CAP.PLUGIN_AUTH;
const COM_QUERY = 0x03;
const SERVER_MORE_RESULTS_EXIST = 0x0008;

function packet(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, payload]);
}

function nativePassword(password: string, scramble: Buffer): Buffer {
  const sha1 = (b: Buffer) => createHash("sha1").update(b).digest();
  const stage1 = sha1(Buffer.from(password));
  const mix = sha1(Buffer.concat([scramble, sha1(stage1)]));
  return Buffer.from(stage1.map((b, i) => b ^ mix[i]));
}

const cstring = (s: string) => Buffer.concat([Buffer.from(s), Buffer.alloc(1)]);

/** The 20-byte scramble of a protocol-10 greeting (two parts around the capability fields). */
function greetingScramble(p: Buffer): Buffer {
  if (p[0] !== 10) throw new Error(`unexpected MySQL greeting (protocol ${p[0]})`);
  let at = p.indexOf(0, 1) + 1; // server version
  at += 4; // connection id
  const part1 = p.subarray(at, at + 8);
  at += 8 + 1 + 2 + 1 + 2 + 2; // filler, caps low, charset, status, caps high
  const authLength = p[at];
  at += 1 + 10;
  const part2 = p.subarray(at, at + Math.max(12, authLength - 9));
  return Buffer.concat([part1, part2]).subarray(0, 20);
}

/** Reads whole packets from a socket until the caller is done; removes its listeners afterwards. */
class PacketReader {
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly onData = (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); };
  private readonly onEnd = () => { this.failure = new Error("the server closed the connection during the login"); this.wake(); };

  constructor(private readonly socket: net.Socket) {
    socket.on("data", this.onData);
    socket.on("close", this.onEnd);
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  async next(): Promise<{ seq: number; payload: Buffer }> {
    for (;;) {
      if (this.buf.length >= 4) {
        const n = this.buf.readUIntLE(0, 3);
        if (this.buf.length >= 4 + n) {
          const out = { seq: this.buf[3], payload: Buffer.from(this.buf.subarray(4, 4 + n)) };
          this.buf = this.buf.subarray(4 + n);
          return out;
        }
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => (this.waiting = r));
    }
  }

  close(): void {
    this.socket.removeListener("data", this.onData);
    this.socket.removeListener("close", this.onEnd);
    if (this.buf.length > 0) throw new Error("the server sent more than the login answer");
  }
}

/** Logs in as USER with mysql_native_password (following one auth switch if the server asks). */
async function login(socket: net.Socket): Promise<void> {
  const reader = new PacketReader(socket);
  try {
    const greeting = await reader.next();
    if (greeting.payload[0] === 0xff) throw new Error(`the server refused the connection: ${greeting.payload.toString("latin1", 9)}`);
    const fixed = Buffer.alloc(32);
    fixed.writeUInt32LE(CLIENT_CAPS >>> 0, 0);
    fixed.writeUInt32LE(16 * 1024 * 1024, 4);
    fixed[8] = 45; // utf8mb4_general_ci
    const auth = nativePassword(PASSWORD, greetingScramble(greeting.payload));
    socket.write(packet(greeting.seq + 1, Buffer.concat([
      fixed, cstring(USER), Buffer.from([auth.length]), auth, cstring(DATABASE), cstring("mysql_native_password"),
    ])));
    for (let switches = 0; ; switches++) {
      const reply = await reader.next();
      if (reply.payload[0] === 0x00) return;
      if (reply.payload[0] === 0xff) throw new Error(`login failed: ${reply.payload.toString("latin1", 9)}`);
      if (reply.payload[0] === 0xfe && switches === 0) {
        // Auth switch request: plugin name, then the new scramble.
        const nameEnd = reply.payload.indexOf(0, 1);
        const plugin = reply.payload.toString("latin1", 1, nameEnd);
        if (plugin !== "mysql_native_password") throw new Error(`the server wants auth plugin ${plugin}`);
        const scramble = reply.payload.subarray(nameEnd + 1, nameEnd + 21);
        socket.write(packet(reply.seq + 1, nativePassword(PASSWORD, scramble)));
        continue;
      }
      throw new Error(`unexpected login reply 0x${reply.payload[0].toString(16)}`);
    }
  } finally {
    reader.close();
  }
}

/** Whole packets from buf[at..]: their start offsets, or null when one is incomplete. */
function packetAt(buf: Buffer, at: number): { payloadAt: number; length: number; next: number } | null {
  if (buf.length - at < 4) return null;
  const length = buf.readUIntLE(at, 3);
  if (buf.length - at - 4 < length) return null;
  return { payloadAt: at + 4, length, next: at + 4 + length };
}

const isEof = (buf: Buffer, p: { payloadAt: number; length: number }) => buf[p.payloadAt] === 0xfe && p.length < 9;

/**
 * Length of one whole reply to a COM_QUERY at buf[at..] (without CLIENT_DEPRECATE_EOF): OK, ERR, or
 * result sets (column count, column definitions, EOF, rows, EOF; another one while the last EOF says
 * more results exist). 0 if incomplete.
 */
function queryReplyLength(buf: Buffer, start: number, result: { ok: boolean }): number {
  let at = start;
  for (;;) {
    const first = packetAt(buf, at);
    if (!first) return 0;
    const kind = buf[first.payloadAt];
    if (kind === 0x00 || kind === 0xff) {
      result.ok = kind === 0x00;
      return first.next - start;
    }
    if (kind >= 0xfb) throw new Error(`unexpected first reply byte 0x${kind.toString(16)}: the stream is out of sync`);
    at = first.next;
    for (let i = 0; i < kind; i++) { // column definitions (the count fits one byte here)
      const p = packetAt(buf, at);
      if (!p) return 0;
      at = p.next;
    }
    const columnsEnd = packetAt(buf, at);
    if (!columnsEnd) return 0;
    at = columnsEnd.next;
    for (;;) { // rows until EOF or ERR
      const p = packetAt(buf, at);
      if (!p) return 0;
      at = p.next;
      if (buf[p.payloadAt] === 0xff) {
        result.ok = false;
        return at - start;
      }
      if (isEof(buf, p)) {
        const status = p.length >= 5 ? buf.readUInt16LE(p.payloadAt + 3) : 0;
        if ((status & SERVER_MORE_RESULTS_EXIST) === 0) {
          result.ok = true;
          return at - start;
        }
        break;
      }
    }
  }
}

const SELECT_ONE = packet(0, Buffer.concat([Buffer.from([COM_QUERY]), Buffer.from("SELECT 1")]));

class MysqlSelectWire implements Wire {
  readonly pairing = "fifo" as const;
  private readonly request = SELECT_ONE;
  readonly requestLength = SELECT_ONE.length;

  writeRequest(_seq: number, out: Buffer, at: number): void {
    this.request.copy(out, at);
  }

  parse(buf: Buffer, onReply: (seq: number, ok: boolean) => void): number {
    let at = 0;
    const result = { ok: false };
    for (;;) {
      const n = queryReplyLength(buf, at, result);
      if (n === 0) return at;
      onReply(-1, result.ok);
      at += n;
    }
  }

  handshake(socket: net.Socket, timeoutMs: number): Promise<void> {
    return Promise.race([
      login(socket),
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`no MySQL login within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  }
}

// ---- sysbench ----

function sysbenchArgs(host: string, port: number): string[] {
  return [
    "oltp_read_only", "--db-driver=mysql", `--mysql-host=${host}`, `--mysql-port=${port}`, `--mysql-user=${USER}`,
    `--mysql-password=${PASSWORD}`, `--mysql-db=${DATABASE}`, "--mysql-ssl=off", "--tables=1", `--table-size=${TABLE_SIZE}`,
  ];
}

/** Percentile from sysbench's --histogram lines (`value |***  count`, value = bucket in ms). */
function histogramPercentiles(text: string): ((p: number) => number) | null {
  const start = text.indexOf("Latency histogram");
  if (start < 0) return null;
  const buckets = [...text.slice(start).matchAll(/^\s*([\d.]+)\s+\|\**\s+(\d+)\s*$/gm)].map((m) => ({ ms: Number(m[1]), count: Number(m[2]) }));
  const total = buckets.reduce((s, b) => s + b.count, 0);
  if (total === 0) return null;
  return (p: number) => {
    let seen = 0;
    for (const b of buckets) {
      seen += b.count;
      if (seen >= (p / 100) * total) return b.ms * 1000;
    }
    return buckets[buckets.length - 1].ms * 1000;
  };
}

/** Parses a sysbench 1.0 `run` report: queries (one call each), transactions, latency in ms. */
export function parseSysbench(text: string): { queries: number; transactions: number; seconds: number; errors: number; latencyUs: LatencySummary } {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    if (!m) throw new Error(`cannot parse sysbench output (${re.source}):\n${text.slice(-1500)}`);
    return Number(m[1]);
  };
  const queries = num(/^\s*queries:\s+(\d+)/m);
  const transactions = num(/^\s*transactions:\s+(\d+)/m);
  const seconds = num(/^\s*total time:\s+([\d.]+)s/m);
  const errors = num(/^\s*ignored errors:\s+(\d+)/m);
  const avg = num(/^\s*avg:\s+([\d.]+)/m) * 1000;
  const max = num(/^\s*max:\s+([\d.]+)/m) * 1000;
  const at = histogramPercentiles(text);
  const p = (q: number) => (at ? at(q) : NaN);
  return { queries, transactions, seconds, errors, latencyUs: { mean: avg, p50: p(50), p90: p(90), p99: p(99), p999: p(99.9), max } };
}

/**
 * sysbench oltp_read_only with `threads` client threads (one connection each), for the run's
 * duration. Throughput is counted in queries (each one call through the proxy: BEGIN, 10 point
 * selects, 4 range selects, COMMIT per transaction, as prepared statements); latency is sysbench's,
 * per transaction of 16 queries.
 */
function sysbenchShape(threads: number): Shape {
  return {
    id: `sb-ro-t${threads}`,
    label: `sysbench oltp_read_only --threads ${threads} (req = one query; latency per 16-query transaction)`,
    kind: "closed",
    async run(ctx: RunContext): Promise<RunResult> {
      const seconds = Math.max(1, Math.round(ctx.durationSec));
      const args = [...sysbenchArgs(ctx.host, ctx.port), `--threads=${threads}`, `--time=${seconds}`, "--histogram=on", "--report-interval=0", "run"];
      // The shell reports its waited child's CPU time (cutime/cstime) when sysbench ends.
      const script = 'sysbench "$@"; rc=$?; echo "CHILD_CPU $(cut -d" " -f16,17 /proc/$$/stat)" >&2; exit $rc';
      const cpu = new CpuWindow({ ...ctx.pids });
      const done = await runToCompletion(ctx.pin.load, "sh", ["-c", script, "sh", ...args], (seconds * 5 + 60) * 1000);
      const cpuSec = cpu.stop();
      if (done.code !== 0) throw new Error(`sysbench exited ${done.code}: ${(done.stderr + done.stdout).slice(-1500)}`);
      const r = parseSysbench(done.stdout);
      const ticks = /CHILD_CPU (\d+) (\d+)/.exec(done.stderr);
      if (ticks) cpuSec.load = (Number(ticks[1]) + Number(ticks[2])) / ticksPerSecond();
      return {
        requests: r.queries, seconds: r.seconds, throughput: r.queries / r.seconds, latencyUs: r.latencyUs, errors: r.errors, cpuSec,
        totalCalls: r.queries, note: `${(r.transactions / r.seconds).toFixed(0)} transactions/s`,
      };
    },
  };
}

// ---- the codec micro-benchmark: real bytes from codecs/mysql/fixtures/raw-eof ----

function rawEof(repo: string): { client: Buffer; server: Buffer } {
  const dir = path.join(repo, "codecs/mysql/fixtures");
  return { client: readFileSync(path.join(dir, "raw-eof.request.bin")), server: readFileSync(path.join(dir, "raw-eof.response.bin")) };
}

/** The SELECT 1 exchange as MariaDB 10.11 answers the driver (text protocol, EOF packets). */
function selectOneExchange(): CodecCall {
  const column = Buffer.concat([
    Buffer.from([3]), Buffer.from("def"), Buffer.from([0, 0, 0, 1]), Buffer.from("1"), Buffer.from([0]),
    Buffer.from([0x0c, 0x3f, 0x00, 0x01, 0, 0, 0, 0x03, 0x81, 0x00, 0x00, 0x00, 0x00]),
  ]);
  const eof = Buffer.from([0xfe, 0, 0, 0x02, 0]);
  return {
    name: "COM_QUERY SELECT 1 (1 column, 1 row)",
    request: SELECT_ONE,
    response: Buffer.concat([packet(1, Buffer.from([1])), packet(2, column), packet(3, eof), packet(4, Buffer.from([1, 0x31])), packet(5, eof)]),
  };
}

/** The bytes the server answers the driver's SELECT 1 with, on a fresh logged-in connection. */
async function selectOneFromServer(port: number): Promise<Buffer> {
  const socket = await openConnection(port);
  try {
    const wire = new MysqlSelectWire();
    await wire.handshake(socket, 5000);
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => (buf = Buffer.concat([buf, chunk])));
    socket.write(SELECT_ONE);
    const ok = await waitFor(() => queryReplyLength(buf, 0, { ok: false }) > 0, 5000);
    if (!ok) throw new Error("no reply to SELECT 1 from the server");
    return buf;
  } finally {
    socket.destroy();
  }
}

export const protocol: ProtocolBench = {
  name: "mysql",
  pluginConfig: "{}",
  nativeFilters: [],
  unavailableNative: { name: "mysql_proxy", note: "envoy.filters.network.mysql_proxy is a contrib extension, not in the release binary" },

  async startBackend(workDir: string, pin: Pinning): Promise<Backend> {
    const dir = path.join(workDir, "mariadb");
    mkdirSync(dir, { recursive: true });
    const socket = path.join(dir, "mysqld.sock");
    const user = (await runToCompletion(null, "id", ["-un"], 5000)).stdout.trim();
    const install = await runToCompletion(null, "mariadb-install-db", ["--no-defaults", `--datadir=${dir}/data`, `--user=${user}`,
      "--auth-root-authentication-method=socket", "--skip-test-db"], 120_000);
    if (install.code !== 0) throw new Error(`mariadb-install-db failed: ${(install.stdout + install.stderr).slice(-1500)}`);
    const port = await freePort();
    // As test/mysql/server.sh, without TLS; --skip-name-resolve and a high --max-connect-errors so
    // aborted handshakes never block 127.0.0.1; room for the idle-connection measurement (which opens
    // connections that stay in the login phase, hence the long connect timeout).
    const child = startChild("mariadbd", pin.backend, "mariadbd", ["--no-defaults", `--user=${user}`, `--datadir=${dir}/data`,
      `--socket=${socket}`, `--pid-file=${dir}/mysqld.pid`, `--port=${port}`, "--bind-address=127.0.0.1", "--skip-name-resolve",
      "--max-connect-errors=100000", "--max-connections=2000", "--connect-timeout=300", "--innodb-buffer-pool-size=128M",
      "--skip-log-bin", "--performance-schema=off"], path.join(dir, "server.log"));
    const root = (sql: string) => runToCompletion(null, "mariadb", ["--no-defaults", `--socket=${socket}`, "-u", "root", "-N", "-B", "-e", sql], 30_000);
    const up = await waitFor(async () => (await portOpen(port)) && (await root("SELECT 1")).code === 0, 60_000);
    if (!up) {
      await stopChild(child);
      throw new Error(`mariadbd did not start:\n${tail(child.logFile)}`);
    }
    const created = await root(`CREATE DATABASE ${DATABASE}; CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'; GRANT ALL ON *.* TO '${USER}'@'%';`);
    if (created.code !== 0) {
      await stopChild(child);
      throw new Error(`creating the benchmark user failed: ${created.stderr}`);
    }
    const version = (await root("SELECT VERSION()")).stdout.trim();
    return { port, child, description: `MariaDB ${version} (Debian mariadbd, temp datadir, no TLS, InnoDB buffer pool 128 MiB)` };
  },

  async prepare(port: number): Promise<void> {
    // One table of TABLE_SIZE rows for sysbench, created through the direct port.
    const done = await runToCompletion(null, "sysbench", [...sysbenchArgs("127.0.0.1", port), "prepare"], 120_000);
    if (done.code !== 0) throw new Error(`sysbench prepare failed: ${(done.stdout + done.stderr).slice(-1500)}`);
    // The codec micro-benchmark's SELECT 1 reply is written by hand: check it against the server's.
    const real = await selectOneFromServer(port);
    if (!real.equals(selectOneExchange().response)) {
      log(`[mysql] WARNING the server answers SELECT 1 with ${real.toString("hex")}, the codec micro-benchmark feeds ${selectOneExchange().response.toString("hex")}`);
    }
  },

  shapes(options: BenchOptions): Shape[] {
    const rate = options.rate ?? 2000;
    const warmup = options.smoke ? 0.3 : 1;
    if (options.smoke) return [sysbenchShape(8), openLoopShape(rate, 8, warmup)];
    return [sysbenchShape(1), sysbenchShape(8), sysbenchShape(32), openLoopShape(rate, 8, warmup)];
  },

  wire(): Wire {
    return new MysqlSelectWire();
  },

  codecPreamble(repo: string): CodecSample[] {
    // raw_client.js's login without TLS or CLIENT_DEPRECATE_EOF: greeting (104 bytes), handshake
    // response (92), OK (11); see codecs/mysql/fixtures/README.md.
    const { client, server } = rawEof(repo);
    if (server[4] !== 10 || client[3] !== 1 || server[104 + 4] !== 0) throw new Error("codecs/mysql/fixtures/raw-eof no longer starts with greeting, login, OK");
    return [
      { name: "greeting", direction: "upstream", bytes: server.subarray(0, 104) },
      { name: "login", direction: "downstream", bytes: client.subarray(0, 92) },
      { name: "OK", direction: "upstream", bytes: server.subarray(104, 115) },
    ];
  },

  codecCalls(repo: string): CodecCall[] {
    const { client, server } = rawEof(repo);
    // Offsets as `node test/mysql/describe.js codecs/mysql/fixtures/raw-eof` lists them.
    const initDb = { name: "COM_INIT_DB (OK)", request: client.subarray(92, 106), response: server.subarray(115, 126) };
    const replace = { name: "REPLACE 5 rows (OK with info)", request: client.subarray(174, 253), response: server.subarray(137, 187) };
    const fieldList = { name: "COM_FIELD_LIST (2 column definitions + EOF)", request: client.subarray(253, 264), response: server.subarray(187, 299) };
    if (initDb.request[4] !== 0x02 || replace.request[4] !== 0x03 || fieldList.request[4] !== 0x04 || server[290 + 4] !== 0xfe) {
      throw new Error("codecs/mysql/fixtures/raw-eof changed: the benchmark's offsets no longer fit");
    }
    return [selectOneExchange(), initDb, replace, fieldList];
  },
};
