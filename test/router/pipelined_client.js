#!/usr/bin/env node
'use strict';
/*
 * Many Dubbo calls in flight at once on ONE connection: the captured Java sayHello frame
 * (codecs/dubbo/fixtures/java-consumer.request.bin) sent COUNT times with ids 1..COUNT, WINDOW at a
 * time, without waiting. Replies are paired by id, so replies that overtake each other are fine.
 *   node test/router/pipelined_client.js HOST PORT COUNT [WINDOW=COUNT] [TIMEOUT_MS=15000]
 * Prints one JSON line: replies, unmatched ids, replies out of request order, Dubbo statuses,
 * replies per provider port (from "response from ...:PORT"), first error text, elapsed ms.
 * Exits 1 unless every call got exactly one reply.
 */
const fs = require('fs');
const net = require('net');
const path = require('path');
const { onDubboReplies } = require('./dubbo_replies');

const [host, portText, countText, windowText, timeoutText] = process.argv.slice(2);
const count = Number(countText);
const windowSize = Number(windowText || count);
const timeoutMs = Number(timeoutText || 15000);
const captured = fs.readFileSync(path.join(__dirname, '../../codecs/dubbo/fixtures/java-consumer.request.bin'));
const template = captured.subarray(0, 16 + captured.readUInt32BE(12));

const socket = net.connect(Number(portText), host);
const started = Date.now();
let sent = 0;
const replies = new Map();
let outOfOrder = 0;
let lastId = 0;
const statuses = {};
const perProvider = {};
let firstError = null;
let unmatched = 0;

function sendUpTo(limit) {
  const frames = [];
  while (sent < limit && sent < count) {
    const frame = Buffer.from(template);
    frame.writeBigUInt64BE(BigInt(++sent), 4);
    frames.push(frame);
  }
  if (frames.length > 0) socket.write(Buffer.concat(frames));
}

function finish(code) {
  const report = {
    calls: count, window: windowSize, replies: replies.size, unmatched, out_of_order: outOfOrder, statuses,
    per_provider: perProvider, first_error: firstError, elapsed_ms: Date.now() - started,
  };
  console.log(JSON.stringify(report));
  socket.destroy();
  process.exit(code);
}

socket.on('connect', () => sendUpTo(windowSize));
onDubboReplies(socket, (frame, id) => {
  if (id < 1 || id > count || replies.has(id)) { unmatched++; return; }
  if (id < lastId) outOfOrder++;
  lastId = Math.max(lastId, id);
  const text = frame.subarray(16).toString('latin1');
  replies.set(id, frame[3]);
  statuses[frame[3]] = (statuses[frame[3]] || 0) + 1;
  const provider = /response from .*:(\d+)/.exec(text);
  if (provider) perProvider[provider[1]] = (perProvider[provider[1]] || 0) + 1;
  else if (firstError === null) firstError = text.replace(/[^\x20-\x7e]/g, '');
  sendUpTo(sent + 1);
}, () => {
  if (replies.size === count) finish(unmatched === 0 ? 0 : 1);
});
socket.on('error', (e) => { firstError = firstError || String(e); finish(1); });
socket.on('close', () => finish(1));
setTimeout(() => finish(1), timeoutMs);
