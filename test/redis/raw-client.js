#!/usr/bin/env node
'use strict';
/*
 * A scripted plain-socket Redis client for what libraries do not send: inline commands
 * (telnet-style lines), CLIENT REPLY OFF/SKIP/ON, RESP2 subscribed mode driven by hand,
 * HELLO 3 with DEBUG PROTOCOL (every RESP3 type the server emits), client tracking pushes,
 * RESET, MONITOR. Commands go one at a time, 40 ms apart; the script ends with QUIT and
 * waits for the server to close.
 *
 *   node test/redis/raw-client.js HOST PORT telnet|special|monitor [--monitor-feed PORT]
 *
 * `monitor` sends MONITOR, then feeds a few commands through a second connection to
 * --monitor-feed (default: PORT) so the monitor stream carries lines, then closes.
 * Prints the server's replies as JSON strings and `RAW <scenario> OK`.
 */
const net = require('net');

const [host, portText, scenario] = process.argv.slice(2);
const feedFlag = process.argv.indexOf('--monitor-feed');
const feedPort = Number(feedFlag > 0 ? process.argv[feedFlag + 1] : portText);

/** A command as a RESP array of bulk strings. */
function resp(...args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return parts.join('');
}

const SCRIPTS = {
  telnet: [
    'PING\r\n',
    'SET mp:inline "two words"\r\n',
    'get mp:inline\n', // bare LF, lowercase
    '\r\n', // an empty line: Redis runs nothing
    '   client   setname   telnet\r\n',
    'EXISTS mp:inline mp:nothing\r\n',
    'DEL mp:inline\r\n',
    'QUIT\r\n',
  ],
  special: [
    // CLIENT REPLY: SKIP hides one reply, OFF all until ON.
    resp('CLIENT', 'REPLY', 'SKIP'), resp('SET', 'mp:x', '1'), resp('GET', 'mp:x'),
    resp('CLIENT', 'REPLY', 'OFF'), resp('INCR', 'mp:x'), resp('NOSUCHCOMMAND'), resp('CLIENT', 'REPLY', 'ON'),
    resp('GET', 'mp:x'),
    // SELECT: a good one, a refused one, one inside a discarded transaction.
    resp('SELECT', '3'), resp('SET', 'mp:y', '1'), resp('SELECT', '99'), resp('GET', 'mp:y'),
    resp('MULTI'), resp('SELECT', '4'), resp('GET', 'mp:y'), resp('DISCARD'), resp('DEL', 'mp:y'),
    resp('SELECT', '0'),
    // Transactions: a runtime error inside EXEC, a queue-time error (EXECABORT).
    resp('MULTI'), resp('SET', 'mp:t', 'x'), resp('INCR', 'mp:t'), resp('EXEC'),
    resp('MULTI'), resp('GET'), resp('EXEC'),
    // RESP2 subscribed mode: 3 confirmations for 3 channels, PING as an array, a refused GET.
    resp('SUBSCRIBE', 'mp:a', 'mp:b', 'mp:a'), resp('PSUBSCRIBE', 'mp:p*'), resp('PING'), resp('GET', 'mp:x'),
    resp('UNSUBSCRIBE'), resp('PUNSUBSCRIBE'), resp('UNSUBSCRIBE'),
    // RESP3: every type DEBUG PROTOCOL emits (attribute and push included).
    resp('HELLO', '3'),
    ...['string', 'integer', 'double', 'bignum', 'null', 'array', 'set', 'map', 'attrib', 'push', 'verbatim', 'true', 'false']
      .map((t) => resp('DEBUG', 'PROTOCOL', t)),
    // RESP3 pushes interleaved with replies: tracking invalidation, a message to ourselves.
    resp('CLIENT', 'TRACKING', 'ON'), resp('GET', 'mp:x'), resp('SET', 'mp:x', '2'),
    resp('SUBSCRIBE', 'mp:self'), resp('PUBLISH', 'mp:self', 'hi'), resp('GET', 'mp:x'),
    // RESET: back to RESP2, database 0, no subscriptions.
    resp('SELECT', '5'), resp('RESET'), resp('DEL', 'mp:x', 'mp:t'), resp('PING'),
    resp('QUIT'),
  ],
  monitor: [resp('MONITOR')],
};

function send(socket, steps) {
  return steps.reduce((p, step) => p.then(() => new Promise((resolve) => {
    socket.write(step);
    setTimeout(resolve, 40);
  })), Promise.resolve());
}

async function feedMonitor() {
  const feeder = net.connect(feedPort, host);
  feeder.resume(); // read (and drop) its replies, or its close never comes
  const closed = new Promise((resolve) => feeder.on('close', resolve));
  await new Promise((resolve) => feeder.on('connect', resolve));
  await send(feeder, [resp('SET', 'mp:m', 'watched'), resp('GET', 'mp:m'), resp('DEL', 'mp:m'), resp('QUIT')]);
  await closed;
}

const steps = SCRIPTS[scenario];
if (!host || !portText || !steps) {
  console.error('usage: raw-client.js HOST PORT telnet|special|monitor [--monitor-feed PORT]');
  process.exit(2);
}
const socket = net.connect(Number(portText), host);
const received = [];
socket.on('data', (d) => received.push(d));
socket.on('error', (e) => { console.error(`RAW ${scenario} FAILED: ${e.message}`); process.exit(1); });
socket.on('close', () => {
  const text = Buffer.concat(received).toString('latin1');
  for (const line of text.split('\r\n').slice(0, 400)) if (line) console.log(JSON.stringify(line));
  console.log(`RAW ${scenario} OK`);
  process.exit(0);
});
socket.on('connect', async () => {
  // What INFO commandstats will not show of what this client sends: commands Redis does not
  // define (under CLIENT REPLY OFF their refusal is not even seen), and commands queued in a
  // transaction that is then discarded (never run).
  const names = steps.map((step) => (/^\*\d+\r\n\$\d+\r\n([^\r]*)\r\n/.exec(step) || [])[1]);
  console.log(`UNKNOWN_COMMAND_SENT ${names.filter((name) => name === 'NOSUCHCOMMAND').length}`);
  let queued = null;
  for (const name of names) {
    if (name === 'MULTI') queued = [];
    else if (name === 'EXEC') queued = null;
    else if (name === 'DISCARD' && queued) {
      for (const q of queued) console.log(`DISCARDED_COMMAND ${q}`);
      queued = null;
    } else if (queued && name) queued.push(name);
  }
  await send(socket, steps);
  if (scenario === 'monitor') {
    await feedMonitor();
    setTimeout(() => socket.end(), 200);
  }
});
setTimeout(() => { console.error(`RAW ${scenario} FAILED: the server did not close`); process.exit(1); }, 15000);
