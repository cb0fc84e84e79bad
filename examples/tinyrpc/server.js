#!/usr/bin/env node
'use strict';
// A tinyrpc server: node server.js [--port PORT] [--log-calls] (port 0 or none: any free port).
// Prints "TINYRPC READY <port>" once listening on 127.0.0.1, and with --log-calls a line
// "CALL <service> <method>" per call it serves. Service "Greeter":
//   hello <name>  -> ok "hello, <name>"
//   slow <ms>     -> ok "slept <ms>", answered <ms> later (later calls may be answered first)
//   fail          -> server error "boom"
//   log (oneway)  -> no reply
//   anything else -> client error "no such method"; pings get a pong with their id.
const net = require('net');
const wire = require('./wire');

const args = process.argv.slice(2);
const port = args.includes('--port') ? Number(args[args.indexOf('--port') + 1]) : 0;
const logCalls = args.includes('--log-calls');

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const reader = new wire.FrameReader();
  let service = ''; // a request may leave it out: the connection's previous one
  socket.on('data', (chunk) => {
    let frames;
    try { frames = reader.push(chunk); } catch (err) { socket.destroy(); return; }
    const out = [];
    for (const f of frames) {
      if (f.kind === wire.Kind.ping) { out.push(wire.pong(f.id)); continue; }
      if (f.kind !== wire.Kind.request && f.kind !== wire.Kind.oneway) { socket.destroy(); return; }
      service = f.service || service;
      if (logCalls) console.log(`CALL ${service} ${f.method}`);
      if (f.kind === wire.Kind.oneway) continue;
      const arg = f.payload.toString();
      if (service !== 'Greeter') out.push(wire.response(f.id, wire.Status.clientError, `no such service ${service}`));
      else if (f.method === 'hello') out.push(wire.response(f.id, wire.Status.ok, `hello, ${arg}`));
      else if (f.method === 'fail') out.push(wire.response(f.id, wire.Status.serverError, 'boom'));
      else if (f.method === 'slow') {
        const reply = wire.response(f.id, wire.Status.ok, `slept ${Number(arg)}`);
        setTimeout(() => socket.writable && socket.write(reply), Number(arg) || 0);
      } else out.push(wire.response(f.id, wire.Status.clientError, 'no such method'));
    }
    if (out.length) socket.write(Buffer.concat(out));
  });
  socket.on('error', () => socket.destroy());
});

server.listen(port, '127.0.0.1', () => console.log(`TINYRPC READY ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
