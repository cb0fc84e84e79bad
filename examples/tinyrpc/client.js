#!/usr/bin/env node
'use strict';
// A tinyrpc client: node client.js --port PORT [--connections N]. On each connection it pipelines
// a fixed script (a slow call first, so the server answers later calls before it; requests after
// the first leave the service out), pings, then checks every reply against its request by id.
// Prints one line per call: "CALL <service> <method> <status>" (status as the metrics name it:
// ok, client_error, server_error; "oneway" for calls without a reply), and "PONG <id>". Exits 1
// on a reply it did not expect or a call left unanswered.
const net = require('net');
const wire = require('./wire');

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const port = Number(option('--port'));
const connections = Number(option('--connections', 1));
if (!port) { console.error('usage: client.js --port PORT [--connections N]'); process.exit(2); }

const STATUS_NAMES = ['ok', 'client_error', 'server_error'];
// [method, argument, expected status, expected payload]: `admin` is refused by the example's policy.
const SCRIPT = [
  ['slow', '300', 'ok', 'slept 300'],
  ['hello', 'ada', 'ok', 'hello, ada'],
  ['hello', 'bob', 'ok', 'hello, bob'],
  ['fail', '', 'server_error', 'boom'],
  ['nope', '', 'client_error', 'no such method'],
];
const EXTRA = option('--also', '').split(',').filter(Boolean); // e.g. --also admin

function runConnection(index) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const reader = new wire.FrameReader();
    const waiting = new Map();
    let id = index * 1000;
    const out = [];
    SCRIPT.forEach(([method, arg, status, payload], i) => {
      waiting.set(++id, { method, status, payload });
      out.push(wire.request(id, i === 0 ? 'Greeter' : '', method, Buffer.from(arg)));
    });
    for (const method of EXTRA) {
      waiting.set(++id, { method, status: null, payload: null });
      out.push(wire.request(id, '', method));
    }
    out.push(wire.request(++id, '', 'log', Buffer.from('fire and forget'), true));
    console.log('CALL Greeter log oneway');
    const pingId = ++id;
    waiting.set(pingId, { method: null });
    out.push(wire.ping(pingId));
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(Buffer.concat(out)));
    socket.on('data', (chunk) => {
      for (const f of reader.push(chunk)) {
        const call = waiting.get(f.id);
        if (!call) return reject(new Error(`reply with unknown id ${f.id}`));
        waiting.delete(f.id);
        if (f.kind === wire.Kind.pong) { console.log(`PONG ${f.id}`); continue; }
        const status = STATUS_NAMES[f.status];
        const payload = f.body.toString();
        if (call.status !== null && (status !== call.status || payload !== call.payload)) {
          return reject(new Error(`${call.method}: got ${status} "${payload}", expected ${call.status} "${call.payload}"`));
        }
        console.log(`CALL Greeter ${call.method} ${status}${call.status === null ? ` ${JSON.stringify(payload)}` : ''}`);
      }
      if (waiting.size === 0) { socket.end(); resolve(); }
    });
    socket.on('error', reject);
    socket.on('close', () => waiting.size && reject(new Error(`${waiting.size} calls unanswered at close`)));
  });
}

(async () => {
  // One connection after the other: a client that reconnects.
  for (let i = 0; i < connections; i++) await runConnection(i);
})().catch((err) => { console.error(`client: ${err.message}`); process.exit(1); });
