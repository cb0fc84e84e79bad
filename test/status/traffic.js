#!/usr/bin/env node
'use strict';
/*
 * Steady Redis traffic through Envoy with ioredis, for the status rig: known rates and error ratios.
 *
 *   node test/status/traffic.js HOST PORT SECONDS OUT.json
 *
 * Every 25 ms (40 ticks/s), on one connection: a GET, of a string key on three ticks in four and of
 * a hash key on the fourth (WRONGTYPE: an error, 25% of GETs); a SET every other tick; a FLUSHDB every
 * 40th tick (the rig's policy denies FLUSH*: a local reply, NOPERM). Writes what the client saw: per
 * command the calls sent and the error replies received, the first and last call's times (ms since
 * the epoch), which commands went at a steady rate. Exits nonzero on a reply other than those.
 */
const fs = require('fs');
const Redis = require('ioredis');

const [host, portText, secondsText, out] = process.argv.slice(2);
if (!host || !portText || !secondsText || !out) {
  console.error('usage: traffic.js HOST PORT SECONDS OUT.json');
  process.exit(2);
}
const TICK_MS = 25;
const client = new Redis({ host, port: Number(portText), maxRetriesPerRequest: 0, retryStrategy: () => null });
const seen = {};
const count = (command, error) => {
  seen[command] = seen[command] || { calls: 0, errors: 0, errorCodes: {} };
  seen[command].calls++;
  if (error) {
    seen[command].errors++;
    const code = error.message.split(' ')[0];
    seen[command].errorCodes[code] = (seen[command].errorCodes[code] || 0) + 1;
  }
};
const expectError = (code) => (err) => {
  if (!err.message.startsWith(code)) throw new Error(`expected ${code}, got ${err.message}`);
  return err;
};

async function main() {
  // Set-up calls are counted too: Envoy counts every call.
  await client.set('status:string', 'v').then(() => count('SET'));
  await client.del('status:hash').then(() => count('DEL'));
  await client.hset('status:hash', 'f', 'v').then(() => count('HSET'));
  const durationMs = Number(secondsText) * 1000;
  const start = Date.now();
  let tick = 0;
  const pending = [];
  while (Date.now() - start < durationMs) {
    if (tick % 4 === 3) pending.push(client.get('status:hash').then(() => { throw new Error('GET of a hash succeeded'); }, expectError('WRONGTYPE')).then((e) => count('GET', e)));
    else pending.push(client.get('status:string').then(() => count('GET')));
    if (tick % 2 === 0) pending.push(client.set('status:string', String(tick)).then(() => count('SET')));
    if (tick % 40 === 39) pending.push(client.flushdb().then(() => { throw new Error('FLUSHDB was not denied'); }, expectError('NOPERM')).then((e) => count('FLUSHDB', e)));
    tick++;
    // Paced against the clock, not the previous call: a slow tick does not lower the rate after it.
    const next = start + tick * TICK_MS;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  }
  const end = Date.now();
  await Promise.all(pending);
  // paced: the commands sent at a steady rate between start and end.
  fs.writeFileSync(out, JSON.stringify({ start, end, paced: ['GET', 'SET', 'FLUSHDB'], commands: seen }, null, 2));
  console.log(`TRAFFIC ${JSON.stringify(seen)} in ${((end - start) / 1000).toFixed(1)} s`);
  client.disconnect();
}

main().catch((err) => {
  console.error(`traffic: ${err.stack || err.message}`);
  client.disconnect();
  process.exit(1);
});
