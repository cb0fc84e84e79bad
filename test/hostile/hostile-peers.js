#!/usr/bin/env node
'use strict';
/*
 * Peers that try to grow MetaProto's label dimensions without bound (README "Label bounds").
 *
 *   node test/hostile/hostile-peers.js sink PORT
 *       accepts connections and discards what they send (the upstream of the hostile client)
 *   node test/hostile/hostile-peers.js dubbo-client HOST PORT N
 *       sends N Dubbo requests, each with a distinct 2 KB service path; prints `SENT N`
 *   node test/hostile/hostile-peers.js thrift-server PORT
 *       answers every framed binary Thrift call with a TApplicationException of a new type
 *   node test/hostile/hostile-peers.js thrift-client HOST PORT N
 *       sends N framed binary calls of `ping` (pipelined in batches of 100), reads N replies;
 *       prints `EXCEPTIONS <count> TYPES <distinct types>`
 */
const net = require('net');
const hessian = require('hessian.js');

const [mode, ...args] = process.argv.slice(2);

function hessianBytes(...values) {
  const encoder = new hessian.EncoderV2();
  for (const v of values) encoder.write(v);
  return encoder.get();
}

function dubboRequest(id, service) {
  const body = Buffer.concat([
    hessianBytes('2.0.2', service, '0.0.0', 'call', 'Ljava/lang/String;', 'x', {}),
  ]);
  const header = Buffer.alloc(16);
  header.writeUInt16BE(0xdabb, 0);
  header[2] = 0xc2; // request, two-way, hessian2
  header.writeBigUInt64BE(BigInt(id), 4);
  header.writeUInt32BE(body.length, 12);
  return Buffer.concat([header, body]);
}

function thriftString(s) {
  const b = Buffer.from(s);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function framed(payload) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(payload.length);
  return Buffer.concat([len, payload]);
}

function thriftMessage(type, name, seqid, body) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE((0x80010000 | type) >>> 0);
  const seq = Buffer.alloc(4);
  seq.writeInt32BE(seqid);
  return framed(Buffer.concat([head, thriftString(name), seq, body]));
}

const CALL = 1;
const EXCEPTION = 3;
const STOP = Buffer.from([0]);

function appException(name, seqid, type) {
  const message = Buffer.concat([Buffer.from([11, 0, 1]), thriftString(`hostile ${type}`)]);
  const typeField = Buffer.from([8, 0, 2, 0, 0, 0, 0]);
  typeField.writeInt32BE(type, 3);
  return thriftMessage(EXCEPTION, name, seqid, Buffer.concat([message, typeField, STOP]));
}

/** Calls `onFrame(payload)` for each length-prefixed frame arriving on `socket`. */
function readFrames(socket, onFrame) {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const length = pending.readUInt32BE(0);
      onFrame(pending.subarray(4, 4 + length));
      pending = pending.subarray(4 + length);
    }
  });
}

function parseMessage(payload) {
  const nameLength = payload.readUInt32BE(4);
  const name = payload.subarray(8, 8 + nameLength).toString();
  const seqid = payload.readInt32BE(8 + nameLength);
  return { type: payload.readUInt32BE(0) & 0xff, name, seqid, body: payload.subarray(12 + nameLength) };
}

function fail(message) {
  console.error(`hostile-peers: ${message}`);
  process.exit(1);
}

switch (mode) {
  case 'sink': {
    net.createServer((s) => s.on('data', () => {}).on('error', () => {})).listen(Number(args[0]), '127.0.0.1');
    break;
  }
  case 'thrift-server': {
    let nextType = 1000;
    net.createServer((socket) => {
      socket.on('error', () => {});
      readFrames(socket, (payload) => {
        const { name, seqid } = parseMessage(payload);
        socket.write(appException(name, seqid, nextType++));
      });
    }).listen(Number(args[0]), '127.0.0.1');
    break;
  }
  case 'dubbo-client': {
    const [host, port, n] = [args[0], Number(args[1]), Number(args[2])];
    const padding = 's'.repeat(2000);
    const socket = net.connect(port, host, () => {
      for (let i = 0; i < n; i++) socket.write(dubboRequest(i + 1, `hostile.Service${i}.${padding}`));
      socket.end(() => console.log(`SENT ${n}`));
    });
    socket.on('error', (e) => fail(e.message));
    break;
  }
  case 'thrift-client': {
    const [host, port, n] = [args[0], Number(args[1]), Number(args[2])];
    let sent = 0;
    let received = 0;
    const types = new Set();
    const socket = net.connect(port, host, () => sendBatch());
    const sendBatch = () => {
      const batch = [];
      for (let i = 0; i < 100 && sent < n; i++, sent++) batch.push(thriftMessage(CALL, 'ping', sent, STOP));
      socket.write(Buffer.concat(batch));
    };
    readFrames(socket, (payload) => {
      const { type, body } = parseMessage(payload);
      if (type !== EXCEPTION) fail(`reply ${received} is message type ${type}, not an exception`);
      types.add(body.readInt32BE(body.length - 5));
      received++;
      if (received === n) {
        console.log(`EXCEPTIONS ${received} TYPES ${types.size}`);
        socket.end();
      } else if (received === sent) sendBatch();
    });
    socket.on('error', (e) => fail(e.message));
    setTimeout(() => fail(`timed out after ${received} of ${n} replies`), 60_000).unref();
    break;
  }
  default:
    fail('usage: hostile-peers.js sink PORT | dubbo-client HOST PORT N | thrift-server PORT | thrift-client HOST PORT N');
}
