#!/usr/bin/env node
'use strict';
/*
 * A byte-exact TCP relay that records sessions between real peers, for codec fixtures.
 *
 *   node test/lib/capture.js --listen PORT --target HOST:PORT --prefix PATH [--turns] [--once [--linger MS] | --connections N]
 *
 * - listens on 127.0.0.1:PORT and prints "CAPTURE READY <port>";
 * - per accepted connection opens one to the target and relays both ways;
 * - writes PATH.request.bin (client->server bytes) and PATH.response.bin (server->client),
 *   each concatenated in arrival order; the 2nd, 3rd... connection go to PATH.connN.*;
 * - --turns also writes PATH.turns, one line per chunk in arrival order ("c <bytes>" from the
 *   client, "s <bytes>" from the server), for protocols whose replay needs the interleaving
 *   (server-first protocols, client turns that answer the server);
 * - prints "CAPTURE CLOSED conn=N c2s=<bytes> s2c=<bytes>" when a connection ends;
 * - --once records one client, however many connections it makes one after the other: it exits
 *   once its connections are all closed and no new one came for --linger MS (default 1000), so a
 *   client that reconnects is recorded whole (PATH.*, then PATH.conn2.*, ...);
 * - --connections N exits after N connections closed; SIGTERM stops accepting and exits once the
 *   open connections have closed (status 1 if some are still open 2 s later).
 */
const fs = require('fs');
const net = require('net');

const USAGE = 'usage: capture.js --listen PORT --target HOST:PORT --prefix PATH [--turns] [--once [--linger MS] | --connections N]';

function parseArgs(argv) {
  const o = { connections: 0, once: false, lingerMs: 1000, turns: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--listen') o.listen = Number(argv[++i]);
    else if (a === '--target') o.target = argv[++i];
    else if (a === '--prefix') o.prefix = argv[++i];
    else if (a === '--turns') o.turns = true;
    else if (a === '--once') o.once = true;
    else if (a === '--linger') o.lingerMs = Number(argv[++i]);
    else if (a === '--connections') o.connections = Number(argv[++i]);
    else if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0); }
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return o;
}

function relay(o) {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(o.target || '');
  if (!o.listen || !m || !o.prefix) throw new Error(USAGE);
  const [, host, port] = m;
  let accepted = 0;
  let closed = 0;
  let open = 0;
  let lingering = null;
  const finish = () => server.close(() => process.exit(0));
  const server = net.createServer((client) => {
    const n = ++accepted;
    open++;
    if (lingering !== null) clearTimeout(lingering);
    lingering = null;
    const base = n === 1 ? o.prefix : `${o.prefix}.conn${n}`;
    const files = { c: fs.openSync(`${base}.request.bin`, 'w'), s: fs.openSync(`${base}.response.bin`, 'w') };
    const turns = o.turns ? fs.openSync(`${base}.turns`, 'w') : null;
    const count = { c: 0, s: 0 };
    const upstream = net.connect({ host, port: Number(port) });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Record synchronously before forwarding, so the files keep the order the relay saw.
    const record = (side, data) => {
      fs.writeSync(files[side], data);
      if (turns !== null) fs.writeSync(turns, `${side} ${data.length}\n`);
      count[side] += data.length;
    };
    client.on('data', (d) => { record('c', d); upstream.write(d); });
    upstream.on('data', (d) => { record('s', d); client.write(d); });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', (e) => { console.error(`capture conn=${n} client error: ${e.message}`); upstream.destroy(); });
    upstream.on('error', (e) => { console.error(`capture conn=${n} upstream error: ${e.message}`); client.destroy(); });
    let ended = 0;
    const done = () => {
      if (++ended < 2) return;
      fs.closeSync(files.c);
      fs.closeSync(files.s);
      if (turns !== null) fs.closeSync(turns);
      open--;
      console.log(`CAPTURE CLOSED conn=${n} c2s=${count.c} s2c=${count.s}`);
      closed++;
      if (o.connections && closed >= o.connections) finish();
      else if (o.once && open === 0) lingering = setTimeout(finish, o.lingerMs);
      else if (stopping && open === 0) process.exit(0);
    };
    client.on('close', done);
    upstream.on('close', done);
  });
  server.listen(o.listen, '127.0.0.1', () => console.log(`CAPTURE READY ${server.address().port}`));
  let stopping = false;
  const stop = () => {
    stopping = true;
    server.close();
    if (open === 0) process.exit(0);
    // A connection still open after its client went away gets 2 s to finish writing what it relayed.
    setTimeout(() => process.exit(1), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** The chunks of a recording made with --turns, in arrival order: [{side: "c"|"s", bytes}]. */
function readSession(prefix) {
  const streams = { c: fs.readFileSync(`${prefix}.request.bin`), s: fs.readFileSync(`${prefix}.response.bin`) };
  const at = { c: 0, s: 0 };
  const chunks = [];
  for (const line of fs.readFileSync(`${prefix}.turns`, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const [side, length] = line.split(' ');
    chunks.push({ side, bytes: streams[side].subarray(at[side], at[side] + Number(length)) });
    at[side] += Number(length);
  }
  return chunks;
}

if (require.main === module) relay(parseArgs(process.argv.slice(2)));

module.exports = { readSession };
