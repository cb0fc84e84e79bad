#!/usr/bin/env node
'use strict';
/*
 * A minimal MySQL client that sends the commands the npm drivers never send, so the codec's
 * fixtures hold the real server's answers to them: COM_INIT_DB, COM_FIELD_LIST,
 * COM_STATISTICS, COM_SET_OPTION, COM_STMT_SEND_LONG_DATA, COM_STMT_RESET, a cursor
 * (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH), COM_PROCESS_INFO,
 * COM_REFRESH, COM_DEBUG, and with --progress a MariaDB progress report (ALTER TABLE with
 * progress_report_time=1). It does not parse replies: after each command it waits until the
 * server has been quiet for a while (or, for the ALTER, until an OK packet arrives).
 *   node test/mysql/raw_client.js --port P [--deprecate-eof] [--progress] [--user U --password W --database D]
 */
const crypto = require('crypto');
const net = require('net');

const CAP = {
  CONNECT_WITH_DB: 1 << 3, PROTOCOL_41: 1 << 9, TRANSACTIONS: 1 << 13, SECURE_CONNECTION: 1 << 15,
  MULTI_RESULTS: 1 << 17, PS_MULTI_RESULTS: 1 << 18, PLUGIN_AUTH: 1 << 19, DEPRECATE_EOF: 1 << 24,
};
const MARIADB_CLIENT_PROGRESS = 1;

function parseArgs(argv) {
  const o = { host: '127.0.0.1', user: 'mp', password: 'mp-secret', database: 'metaproto', deprecateEof: false, progress: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--deprecate-eof') o.deprecateEof = true;
    else if (a === '--progress') o.progress = true;
    else o[a.replace(/^--/, '')] = argv[++i];
  }
  o.port = Number(o.port);
  return o;
}

function packet(seq, payload) {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

function u32(n) { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; }
function u16(n) { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; }

function nativePassword(password, salt) {
  const sha1 = (b) => crypto.createHash('sha1').update(b).digest();
  const stage1 = sha1(Buffer.from(password));
  const stage2 = sha1(stage1);
  const mix = sha1(Buffer.concat([salt, stage2]));
  return Buffer.from(stage1.map((b, i) => b ^ mix[i]));
}

class Wire {
  constructor(socket) {
    this.socket = socket;
    this.received = Buffer.alloc(0);
    this.lastData = Date.now();
    socket.on('data', (d) => { this.received = Buffer.concat([this.received, d]); this.lastData = Date.now(); });
  }

  /** Waits until the server has been silent for `quietMs` after sending something. */
  async quiet(quietMs = 250) {
    const start = this.received.length;
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      if (this.received.length > start && Date.now() - this.lastData >= quietMs) return this.received.subarray(start);
      if (Date.now() - this.lastData > 10000) throw new Error('no reply');
    }
  }

  /** Waits for a packet whose payload starts with 0x00 (an OK) after `start`. */
  async okAfter(start) {
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      let at = start;
      while (at + 4 <= this.received.length) {
        const length = this.received.readUIntLE(at, 3);
        if (at + 4 + length > this.received.length) break;
        if (length > 0 && this.received[at + 4] === 0x00) return;
        if (length > 0 && this.received[at + 4] === 0xff && this.received.readUInt16LE(at + 5) !== 0xffff) throw new Error('ERR');
        at += 4 + length;
      }
    }
  }

  send(bytes) { this.socket.write(bytes); }

  async command(code, args = Buffer.alloc(0), { oneway = false } = {}) {
    this.send(packet(0, Buffer.concat([Buffer.from([code]), typeof args === 'string' ? Buffer.from(args) : args])));
    if (oneway) { await new Promise((r) => setTimeout(r, 50)); return null; }
    return this.quiet();
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const socket = net.connect(o.port, o.host);
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.setNoDelay(true);
  const wire = new Wire(socket);

  const greeting = await wire.quiet(100);
  const payload = greeting.subarray(4);
  const versionEnd = payload.indexOf(0, 1);
  const salt1 = payload.subarray(versionEnd + 5, versionEnd + 13);
  const salt2 = payload.subarray(versionEnd + 32, versionEnd + 44);
  const salt = Buffer.concat([salt1, salt2]);

  let caps = CAP.CONNECT_WITH_DB | CAP.PROTOCOL_41 | CAP.TRANSACTIONS | CAP.SECURE_CONNECTION | CAP.MULTI_RESULTS |
    CAP.PS_MULTI_RESULTS | CAP.PLUGIN_AUTH;
  if (o.deprecateEof) caps |= CAP.DEPRECATE_EOF;
  const filler = Buffer.alloc(23);
  if (o.progress) filler.writeUInt32LE(MARIADB_CLIENT_PROGRESS, 19); // CLIENT_MYSQL clear: extended caps here
  const auth = nativePassword(o.password, salt);
  wire.send(packet(1, Buffer.concat([
    u32(caps), u32(1 << 24), Buffer.from([45]), filler, Buffer.from(o.user + '\0'),
    Buffer.from([auth.length]), auth, Buffer.from(o.database + '\0'), Buffer.from('mysql_native_password\0'),
  ])));
  const loginReply = await wire.quiet();
  if (loginReply[4] !== 0) throw new Error('login failed');

  await wire.command(0x02, o.database); // COM_INIT_DB
  await wire.command(0x03, 'CREATE TABLE IF NOT EXISTS raw_t (id INT PRIMARY KEY, doc TEXT)');
  await wire.command(0x03, "REPLACE INTO raw_t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')");
  await wire.command(0x04, 'raw_t\0'); // COM_FIELD_LIST
  await wire.command(0x09); // COM_STATISTICS
  await wire.command(0x1b, u16(0)); // COM_SET_OPTION MYSQL_OPTION_MULTI_STATEMENTS_ON

  // Long data for parameter 0, then execute the UPDATE, then reset the statement.
  const prepared = await wire.command(0x16, 'UPDATE raw_t SET doc = ? WHERE id = ?');
  const update = prepared.readUInt32LE(5);
  await wire.command(0x18, Buffer.concat([u32(update), u16(0), Buffer.from('hello, long data')]), { oneway: true });
  await wire.command(0x17, Buffer.concat([
    u32(update), Buffer.from([0]), u32(1), Buffer.from([0x00]), Buffer.from([1]),
    Buffer.from([0xfc, 0x00, 0x03, 0x00]), u32(1),
  ]));
  await wire.command(0x1a, u32(update)); // COM_STMT_RESET

  // A read-only cursor: metadata now, rows through COM_STMT_FETCH.
  const cursorPrepared = await wire.command(0x16, 'SELECT id, doc FROM raw_t WHERE id >= ?');
  const select = cursorPrepared.readUInt32LE(5);
  await wire.command(0x17, Buffer.concat([
    u32(select), Buffer.from([1]), u32(1), Buffer.from([0x00]), Buffer.from([1]), Buffer.from([0x03, 0x00]), u32(2),
  ]));
  await wire.command(0x1c, Buffer.concat([u32(select), u32(2)])); // COM_STMT_FETCH 2 rows
  await wire.command(0x1c, Buffer.concat([u32(select), u32(10)])); // the rest
  await wire.command(0x19, u32(select), { oneway: true }); // COM_STMT_CLOSE
  await wire.command(0x19, u32(update), { oneway: true });

  await wire.command(0x0a); // COM_PROCESS_INFO
  await wire.command(0x07, Buffer.from([0x10])); // COM_REFRESH REFRESH_STATUS
  await wire.command(0x0d); // COM_DEBUG
  await wire.command(0x03, 'SELECT 1; SELECT * FROM no_such_table; SELECT 2'); // chained, ends in ERR

  if (o.progress) {
    await wire.command(0x03, 'SET SESSION progress_report_time = 1');
    await wire.command(0x03, 'DROP TABLE IF EXISTS big');
    await wire.command(0x03, "CREATE TABLE big (id INT PRIMARY KEY, pad CHAR(200)) SELECT seq AS id, REPEAT('x', 200) AS pad FROM seq_1_to_1500000");
    const start = wire.received.length;
    wire.send(packet(0, Buffer.from('\x03ALTER TABLE big FORCE, ALGORITHM=COPY')));
    await wire.okAfter(start);
    await wire.command(0x03, 'DROP TABLE big');
  }
  await wire.command(0x01, Buffer.alloc(0), { oneway: true }); // COM_QUIT
  socket.end();
  console.log('RAW CLIENT DONE');
}

main().catch((e) => { console.error(`FAILED: ${e.stack || e.message}`); process.exit(1); });
