#!/usr/bin/env node
'use strict';
/*
 * npm ioredis 6 against a Redis server (directly, through Envoy, or through the capture relay).
 *
 *   node test/redis/ioredis-client.js HOST PORT SCENARIO [--protocol 2|3]
 *
 * Scenarios (one or more connections each; keys are prefixed "mp:"):
 *   commands  HELLO (ioredis's handshake), CLIENT INFO, SET/GET, a null GET, a pipeline, MULTI/EXEC
 *             with a runtime error inside, WRONGTYPE and unknown-command errors, SELECT 2 and
 *             back, CLIENT SETNAME, CONFIG GET, XADD/XINFO STREAM, map/set/double replies
 *   pubsub    a subscriber (SUBSCRIBE two channels, PSUBSCRIBE a pattern, PING, a GET in RESP3)
 *             and a publisher on a second connection; UNSUBSCRIBE of both channels, then
 *             PUNSUBSCRIBE without arguments (ioredis 6 hangs on an UNSUBSCRIBE without arguments
 *             while patterns remain)
 *   blocking  BLPOP on one connection, answered by LPUSH from another 300 ms later
 *   policy    against a listener whose policy denies FLUSH*, rate-limits INCR (5 tokens) and
 *             delays ECHO: a pipeline SET, FLUSHALL, GET (the FLUSHALL refused in its place, the
 *             others intact), 20 INCRs over 8 connections, an ECHO timed against a GET on another
 *             connection, and a pipeline around a TOUCH the policy aborts; prints DENIED, ALLOWED,
 *             RATE_LIMITED, DELAYED_MS, UNDELAYED_MS, ABORTED
 *   window    against a listener that refills DECR's bucket (3 tokens) by one every 200 ms: 8
 *             connections DECR as fast as they can for 2 s; prints WINDOW_MS, WINDOW_ALLOWED,
 *             WINDOW_LIMITED
 *
 * Prints what the client saw, one fact per line (the rig asserts on them), then
 *   IOREDIS <scenario> OK
 * and exits nonzero on anything unexpected.
 */
const Redis = require('ioredis');

const [host, portText, scenario] = process.argv.slice(2);
const protocolFlag = process.argv.indexOf('--protocol');
const protocol = protocolFlag > 0 ? Number(process.argv[protocolFlag + 1]) : undefined;
if (!host || !portText || !scenario) {
  console.error('usage: ioredis-client.js HOST PORT commands|pubsub|blocking|policy|window [--protocol 2|3]');
  process.exit(2);
}

function connect(name) {
  const options = { host, port: Number(portText), maxRetriesPerRequest: 0, retryStrategy: () => null, connectionName: undefined };
  if (protocol) options.protocol = protocol;
  const client = new Redis(options);
  client.on('error', (e) => console.error(`${name}: ${e.message}`));
  return client;
}

function check(condition, what) {
  if (!condition) throw new Error(`unexpected: ${what}`);
}

async function expectError(promise, prefix) {
  try {
    await promise;
  } catch (e) {
    check(e.message.startsWith(prefix), `error "${e.message}" should start with ${prefix}`);
    console.log(`ERROR REPLY ${prefix}`);
    if (/unknown command/.test(e.message)) console.log('UNKNOWN_COMMAND_REFUSED');
    return;
  }
  throw new Error(`expected a ${prefix} error`);
}

async function commands() {
  const r = connect('commands');
  const info = await r.client('INFO');
  const resp = /\bresp=(\d)/.exec(info);
  console.log(`RESP=${resp ? resp[1] : '?'}`);
  await r.set('mp:a', '1');
  check((await r.get('mp:a')) === '1', 'GET mp:a');
  check((await r.get('mp:missing')) === null, 'GET of a missing key is null');

  const pipeline = r.pipeline();
  for (let i = 0; i < 5; i++) pipeline.set(`mp:p${i}`, String(i));
  for (let i = 0; i < 5; i++) pipeline.get(`mp:p${i}`);
  pipeline.incr('mp:counter');
  const piped = await pipeline.exec();
  check(piped.length === 11 && piped.every(([e]) => e === null), 'pipeline results');
  console.log(`PIPELINE ${piped.length}`);

  // A transaction whose second command fails at run time: EXEC still answers with an array.
  const tx = await r.multi().set('mp:t', 'x').incr('mp:t').get('mp:t').exec();
  const txErrors = tx.filter(([e]) => e !== null).length;
  check(tx.length === 3 && txErrors === 1, 'MULTI/EXEC results');
  console.log(`EXEC_RESULTS ${tx.length} EXEC_ERRORS ${txErrors}`);

  await expectError(r.lpush('mp:a', 'x'), 'WRONGTYPE');
  await expectError(r.call('NOSUCHCOMMAND', 'mp:a'), 'ERR');

  await r.select(2);
  const inDb2 = [
    () => r.set('mp:db2', 'y'),
    async () => check((await r.get('mp:db2')) === 'y', 'GET in db 2'),
    () => r.del('mp:db2'),
    () => r.select(0), // sent from db 2 too
  ];
  for (const step of inDb2) await step();
  console.log(`DB2_COMMANDS ${inDb2.length}`);

  await r.client('SETNAME', 'metaproto-ioredis');
  const maxmemory = await r.config('GET', 'maxmemory');
  check(Array.isArray(maxmemory) || typeof maxmemory === 'object', 'CONFIG GET reply');
  await r.xadd('mp:stream', '*', 'field', 'value');
  await r.xinfo('STREAM', 'mp:stream');
  await r.hset('mp:h', 'f1', 'v1', 'f2', 'v2');
  await r.hgetall('mp:h');
  await r.sadd('mp:s', 'm1', 'm2');
  await r.smembers('mp:s');
  await r.zadd('mp:z', '1.5', 'm');
  await r.zscore('mp:z', 'm');
  await r.del('mp:a', 'mp:t', 'mp:counter', 'mp:stream', 'mp:h', 'mp:s', 'mp:z', 'mp:p0', 'mp:p1', 'mp:p2', 'mp:p3', 'mp:p4');
  await r.quit();
}

async function pubsub() {
  const subscriber = connect('subscriber');
  const publisher = connect('publisher');
  await subscriber.ping(); // connected and handshaken before SUBSCRIBE
  let received = 0;
  const allReceived = new Promise((resolve) => {
    const onMessage = () => { if (++received === 6) resolve(); };
    subscriber.on('message', onMessage);
    subscriber.on('pmessage', onMessage);
  });
  await subscriber.subscribe('mp:ch1', 'mp:ch2');
  await subscriber.psubscribe('mp:pat*');
  const pong = await subscriber.ping();
  console.log(`SUBSCRIBED PING ${Array.isArray(pong) ? pong[0] : pong}`);
  if ((protocol || 3) === 3) {
    // RESP3 has no subscribed mode: ordinary commands interleave with pushed messages.
    check((await subscriber.get('mp:missing')) === null, 'GET while subscribed (RESP3)');
    console.log('SUBSCRIBED GET');
  }
  let receivers = 0;
  for (const channel of ['mp:ch1', 'mp:ch2', 'mp:pattern']) {
    receivers += await publisher.publish(channel, `hello ${channel}`);
    receivers += await publisher.publish(channel, `again ${channel}`);
  }
  await Promise.race([allReceived, new Promise((_, reject) => setTimeout(() => reject(new Error('messages missing')), 5000))]);
  console.log(`PUBSUB published=6 receivers=${receivers} received=${received}`);
  check(receivers === 6 && received === 6, 'every message delivered once');
  await subscriber.unsubscribe('mp:ch1', 'mp:ch2');
  await subscriber.punsubscribe();
  await subscriber.quit();
  await publisher.quit();
}

async function blocking() {
  const waiter = connect('waiter');
  const pusher = connect('pusher');
  await Promise.all([waiter.ping(), pusher.ping()]);
  const popped = waiter.blpop('mp:queue', 5);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await pusher.lpush('mp:queue', 'job-1');
  const [key, value] = await popped;
  check(key === 'mp:queue' && value === 'job-1', 'BLPOP result');
  console.log(`BLPOP ${value}`);
  await waiter.quit();
  await pusher.quit();
}

async function policy() {
  const client = connect('policy');
  const results = await client.pipeline().set('mp:policy', 'kept').flushall().get('mp:policy').exec();
  check(results[0][1] === 'OK', 'SET before the refused command answered');
  check(results[1][0] && results[1][0].message.startsWith('NOPERM '), `FLUSHALL refused with NOPERM, got ${results[1][0] && results[1][0].message}`);
  check(results[2][1] === 'kept', 'GET after the refused command answered, the data still there');
  console.log(`DENIED ${results[1][0].message}`);

  // One bucket for every worker: 8 connections (the kernel spreads them over Envoy's workers, so
  // all 8 on one worker is a 1-in-128 chance; the rig checks) share 5 tokens.
  const clients = [client, ...[2, 3, 4, 5, 6, 7, 8].map((i) => connect(`policy-${i}`))];
  let allowed = 0;
  let limited = 0;
  await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    try {
      await clients[i % clients.length].incr('mp:policy:counter');
      allowed++;
    } catch (e) {
      check(e.message.startsWith('ERR rate limited'), `INCR refused with ERR rate limited, got ${e.message}`);
      limited++;
    }
  }));
  console.log(`ALLOWED ${allowed}`);
  console.log(`RATE_LIMITED ${limited}`);

  // A delayed ECHO; a GET on another connection meanwhile is not held up.
  const started = Date.now();
  const delayed = client.echo('late').then(() => Date.now() - started);
  const quick = await clients[1].get('mp:policy').then(() => Date.now() - started);
  const slow = await delayed;
  console.log(`DELAYED_MS ${slow}`);
  console.log(`UNDELAYED_MS ${quick}`);

  // An aborted TOUCH in a pipeline: the fault's error in its place, the GETs around it answered.
  const aborted = await client.pipeline().get('mp:policy').touch('mp:policy').get('mp:policy').exec();
  check(aborted[0][1] === 'kept' && aborted[2][1] === 'kept', 'GETs around the aborted TOUCH answered');
  check(aborted[1][0] && aborted[1][0].message.startsWith('ERR '), `TOUCH aborted with ERR, got ${aborted[1][0] && aborted[1][0].message}`);
  console.log(`ABORTED ${aborted[1][0].message}`);

  // The connections still work after all of it.
  for (const c of clients) check((await c.ping()) === 'PONG', 'PING after the local replies');
  await Promise.all(clients.map((c) => c.quit()));
}

async function window() {
  const WINDOW_MS = 2000;
  const clients = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => connect(`window-${i}`));
  await Promise.all(clients.map((c) => c.ping()));
  let allowed = 0;
  let limited = 0;
  const started = process.hrtime.bigint();
  const elapsedMs = () => Number((process.hrtime.bigint() - started) / 1000000n);
  // One call alone first: it creates the shared bucket, so no two workers race to create it.
  await clients[0].decr('mp:window');
  allowed++;
  await Promise.all(clients.map(async (c) => {
    while (elapsedMs() < WINDOW_MS) {
      try {
        await c.decr('mp:window');
        allowed++;
      } catch (e) {
        check(e.message.startsWith('ERR rate limited'), `DECR refused with ERR rate limited, got ${e.message}`);
        limited++;
      }
    }
  }));
  console.log(`WINDOW_MS ${elapsedMs()}`);
  console.log(`WINDOW_ALLOWED ${allowed}`);
  console.log(`WINDOW_LIMITED ${limited}`);
  await Promise.all(clients.map((c) => c.quit()));
}

const scenarios = { commands, pubsub, blocking, policy, window };
if (!scenarios[scenario]) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
scenarios[scenario]().then(
  () => { console.log(`IOREDIS ${scenario} OK`); process.exit(0); },
  (e) => { console.error(`IOREDIS ${scenario} FAILED: ${e.stack || e.message}`); process.exit(1); },
);
