#!/usr/bin/env node
'use strict';
/*
 * COUNT oneway Dubbo calls on one connection: the captured Java sayHello frame
 * (codecs/dubbo/fixtures/java-consumer.request.bin) with its two-way flag cleared, ids 1..COUNT, sent
 * one at a time SPACING_MS apart; then the connection stays open SETTLE_MS (Envoy finishes the
 * streams) and closes. A oneway has no answer: the rig counts what the providers served.
 *   node test/router/oneway_client.js HOST PORT COUNT [SPACING_MS=100] [SETTLE_MS=1000]
 */
const fs = require('fs');
const net = require('net');
const path = require('path');

const [host, portText, countText, spacingText, settleText] = process.argv.slice(2);
const count = Number(countText);
const captured = fs.readFileSync(path.join(__dirname, '../../codecs/dubbo/fixtures/java-consumer.request.bin'));
const frame = Buffer.from(captured.subarray(0, 16 + captured.readUInt32BE(12)));
frame[2] &= ~0x40; // not two-way: oneway

const socket = net.connect(Number(portText), host, () => {
  let sent = 0;
  const next = () => {
    if (sent === count) { setTimeout(() => socket.end(), Number(settleText || 1000)); return; }
    frame.writeBigUInt64BE(BigInt(++sent), 4);
    socket.write(frame);
    setTimeout(next, Number(spacingText || 100));
  };
  next();
});
socket.on('data', () => {}); // heartbeats or nothing: a oneway has no reply
socket.on('error', (err) => { console.error(`oneway client: ${err.message}`); process.exit(1); });
socket.on('close', () => console.log(JSON.stringify({ oneways: count })));
