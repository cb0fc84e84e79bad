#!/usr/bin/env node
'use strict';
/*
 * ONE Dubbo connection kept open for the whole rig, calls sent in batches on command: each stdin line
 * `METHOD COUNT` (METHOD: sayHello or fail) sends COUNT calls of the captured Java sayHello frame
 * (codecs/dubbo/fixtures/java-consumer.request.bin; for fail, the same frame with the method renamed),
 * up to WINDOW in flight, and prints one JSON line when all are answered: replies, Dubbo statuses,
 * replies per provider port (sayHello's answer names the provider's port), first error text.
 * The rig changes routes between batches: they must reach this connection's next calls.
 *   node test/router/held_client.js HOST PORT [WINDOW=20] [TIMEOUT_MS=20000]
 * Lines read while a batch runs wait for it to end. Exits 1 when the connection closes or a batch is
 * not answered in time; 0 after stdin ends and the last batch is answered.
 */
const fs = require('fs');
const net = require('net');
const path = require('path');
const readline = require('readline');
const { onDubboReplies } = require('./dubbo_replies');

const [host, portText, windowText, timeoutText] = process.argv.slice(2);
const windowSize = Number(windowText || 20);
const timeoutMs = Number(timeoutText || 20000);
const captured = fs.readFileSync(path.join(__dirname, '../../codecs/dubbo/fixtures/java-consumer.request.bin'));
const sayHello = captured.subarray(0, 16 + captured.readUInt32BE(12));

/** The sayHello frame with another method name of the same signature (a hessian short string). */
function frameFor(method) {
  if (method === 'sayHello') return sayHello;
  const old = Buffer.concat([Buffer.from([8]), Buffer.from('sayHello')]);
  const at = sayHello.indexOf(old, 16);
  if (at < 0 || method.length > 31) throw new Error(`cannot write method ${method}`);
  const body = Buffer.concat([sayHello.subarray(16, at), Buffer.from([method.length]), Buffer.from(method), sayHello.subarray(at + old.length)]);
  const header = Buffer.from(sayHello.subarray(0, 16));
  header.writeUInt32BE(body.length, 12);
  return Buffer.concat([header, body]);
}

const socket = net.connect(Number(portText), host);
let nextId = 1;
let batch = null;

function report() {
  const { replies, statuses, perProvider, firstError } = batch;
  console.log(JSON.stringify({ method: batch.method, calls: batch.count, replies, statuses, per_provider: perProvider, first_error: firstError }));
  clearTimeout(batch.timer);
  batch = null;
  startNext();
}

function sendMore() {
  const frames = [];
  while (batch.sent < batch.count && batch.sent - batch.replies < windowSize) {
    const frame = Buffer.from(batch.template);
    const id = nextId++;
    frame.writeBigUInt64BE(BigInt(id), 4);
    batch.awaiting.add(id);
    batch.sent++;
    frames.push(frame);
  }
  if (frames.length) socket.write(Buffer.concat(frames));
}

function fail(why) {
  console.log(JSON.stringify({ error: why, batch: batch && { method: batch.method, calls: batch.count, replies: batch.replies } }));
  socket.destroy();
  process.exit(1);
}

const queued = [];
let stdinEnded = false;
function startNext() {
  if (batch) return;
  if (!queued.length) {
    if (stdinEnded) socket.end();
    return;
  }
  const [method, countText] = queued.shift();
  batch = {
    method, count: Number(countText || 1), template: frameFor(method), sent: 0, replies: 0, awaiting: new Set(),
    statuses: {}, perProvider: {}, firstError: null, timer: setTimeout(() => fail(`batch not answered in ${timeoutMs} ms`), timeoutMs),
  };
  sendMore();
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const words = line.trim().split(/\s+/);
  if (!words[0]) return;
  queued.push(words);
  startNext();
});
lines.on('close', () => { stdinEnded = true; startNext(); });

onDubboReplies(socket, (frame, id) => {
  if (!batch || !batch.awaiting.delete(id)) fail(`a reply with id ${id}, which no call awaits`);
  batch.replies++;
  batch.statuses[frame[3]] = (batch.statuses[frame[3]] || 0) + 1;
  const text = frame.subarray(16).toString('latin1');
  const provider = /response from .*:(\d+)/.exec(text);
  if (provider) batch.perProvider[provider[1]] = (batch.perProvider[provider[1]] || 0) + 1;
  else if (batch.firstError === null) batch.firstError = text.replace(/[^\x20-\x7e]/g, '').slice(0, 200);
  if (batch.replies === batch.count) report();
  else sendMore();
});
socket.on('error', (e) => fail(String(e)));
socket.on('close', () => { if (batch) fail('the connection closed'); process.exit(0); });
