#!/usr/bin/env node
'use strict';
/*
 * Records MySQL sessions byte-exactly, keeping the order in which the two directions
 * interleaved (MySQL is server-first and has client turns that depend on what the server
 * said: auth switch, LOCAL INFILE), and lists the packets of a recording.
 *
 * Relay:
 *   node test/mysql/capture.js --listen 21000 --target 127.0.0.1:3306 \
 *        --prefix codecs/mysql/fixtures/mysql2 [--once] [--connections N]
 *   - listens on 127.0.0.1:<listen>, prints "CAPTURE READY <port>";
 *   - per accepted connection opens one to <target> and relays both ways;
 *   - writes <prefix>.request.bin (client->server bytes), <prefix>.response.bin
 *     (server->client bytes) and <prefix>.turns (one line per chunk in arrival order:
 *     "c <bytes>" from the client, "s <bytes>" from the server); the 2nd, 3rd...
 *     connection go to <prefix>.connN.*;
 *   - prints "CAPTURE CLOSED conn=N c2s=<bytes> s2c=<bytes>" when a connection ends;
 *   - --once: exit after the first connection closed; --connections N: after N.
 *
 * Describe:
 *   node test/mysql/capture.js --describe PREFIX...
 *   lists the packets of each direction (offset, payload length, sequence id, first
 *   payload bytes) in the order of the turns.
 */
const fs = require('fs');
const net = require('net');

function parseArgs(argv) {
  const o = { prefixes: [], once: false, connections: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--listen') o.listen = Number(argv[++i]);
    else if (a === '--target') o.target = argv[++i];
    else if (a === '--prefix') o.prefix = argv[++i];
    else if (a === '--once') o.connections = 1;
    else if (a === '--connections') o.connections = Number(argv[++i]);
    else if (a === '--describe') o.describe = true;
    else if (!a.startsWith('--') && o.describe) o.prefixes.push(a);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function relay(o) {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(o.target || '');
  if (!o.listen || !m || !o.prefix) {
    throw new Error('usage: capture.js --listen PORT --target HOST:PORT --prefix PATH [--once|--connections N]');
  }
  const [, host, port] = m;
  let accepted = 0;
  let closed = 0;
  const server = net.createServer((client) => {
    const n = ++accepted;
    const base = n === 1 ? o.prefix : `${o.prefix}.conn${n}`;
    const files = {
      c: fs.openSync(`${base}.request.bin`, 'w'),
      s: fs.openSync(`${base}.response.bin`, 'w'),
      turns: fs.openSync(`${base}.turns`, 'w'),
    };
    const count = { c: 0, s: 0 };
    const upstream = net.connect({ host, port: Number(port) });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Record synchronously before forwarding: the turns file is the order the relay saw.
    const record = (side, data) => {
      fs.writeSync(files[side], data);
      fs.writeSync(files.turns, `${side} ${data.length}\n`);
      count[side] += data.length;
    };
    client.on('data', (d) => { record('c', d); upstream.write(d); });
    upstream.on('data', (d) => { record('s', d); client.write(d); });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    let ended = 0;
    const done = () => {
      if (++ended < 2) return;
      for (const fd of Object.values(files)) fs.closeSync(fd);
      console.log(`CAPTURE CLOSED conn=${n} c2s=${count.c} s2c=${count.s}`);
      if (o.connections && ++closed >= o.connections) server.close(() => process.exit(0));
    };
    client.on('close', done);
    upstream.on('close', done);
  });
  server.listen(o.listen, '127.0.0.1', () => console.log(`CAPTURE READY ${o.listen}`));
}

/** The chunks of a recording in arrival order: [{side: "c"|"s", bytes}]. */
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

function describe(prefix) {
  console.log(`## ${prefix}`);
  const offset = { c: 0, s: 0 };
  const pending = { c: Buffer.alloc(0), s: Buffer.alloc(0) };
  for (const { side, bytes } of readSession(prefix)) {
    let buf = Buffer.concat([pending[side], bytes]);
    while (buf.length >= 4) {
      const length = buf.readUIntLE(0, 3);
      if (buf.length < 4 + length) break;
      const head = buf.subarray(4, 4 + Math.min(length, 12));
      const text = buf.subarray(4, 4 + Math.min(length, 48)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
      console.log(`${side === 'c' ? 'client' : 'server'} @${String(offset[side]).padStart(8)} len=${String(length).padStart(8)} seq=${String(buf[3]).padStart(3)}  ${head.toString('hex').padEnd(24)} ${text}`);
      offset[side] += 4 + length;
      buf = buf.subarray(4 + length);
    }
    pending[side] = buf;
  }
}

if (require.main === module) {
  const o = parseArgs(process.argv.slice(2));
  if (o.describe) o.prefixes.forEach(describe);
  else relay(o);
}

module.exports = { readSession };
