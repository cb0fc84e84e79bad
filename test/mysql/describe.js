#!/usr/bin/env node
'use strict';
/*
 * Lists the packets of MySQL recordings made by test/lib/capture.js --turns (offset, payload
 * length, sequence id, first payload bytes) in the order the two directions interleaved.
 *
 *   node test/mysql/describe.js PREFIX...
 */
const { readSession } = require('../lib/capture.js');

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

const prefixes = process.argv.slice(2);
if (prefixes.length === 0 || prefixes[0].startsWith('-')) {
  console.log('usage: describe.js PREFIX...   (PREFIX.request.bin, PREFIX.response.bin, PREFIX.turns)');
  process.exit(prefixes.length === 0 ? 2 : 0);
}
prefixes.forEach(describe);
