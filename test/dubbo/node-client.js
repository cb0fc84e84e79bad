#!/usr/bin/env node
'use strict';
/*
 * npm dubbo2.js (2.3.9) client for the real Java provider (test/dubbo/java),
 * direct connection (DirectlyDubbo, no ZooKeeper), hessian2.
 *
 *   node test/dubbo/node-client.js [host=127.0.0.1] [port=20880] [count=3] [denied|limits]
 *
 * With `limits`, against the rig's limits listener (calls tagged with attachments): 5 sayHello
 * with plan=free against a bucket of 2 (prints RATE_ALLOWED, RATE_LIMITED), fail("boom") with
 * chaos=abort answered by the proxy's fault instead of the provider (ABORTED <message>), a
 * sayHello with chaos=delay and one without on the same connection (DELAYED_MS, UNDELAYED_MS).
 * With `denied`, fail("boom") must be refused by a MetaProto policy (an error response the proxy
 * wrote, status 40), printed as `DENIED: <message>`, and one more sayHello must then succeed on
 * the same connection.
 * Calls sayHello(count times) and fail("boom") once; prints
 *   Hello MetaProto, response from <addr>      (one per call)
 *   EXPECTED FAILURE: boom
 *   NODE CLIENT OK calls=<count + 1>
 * Exits nonzero on any unexpected result. DEBUG=dubbo* shows the library's trace.
 */
const { default: DirectlyDubbo } = require('dubbo2.js/es7/directly-dubbo');
const { default: Context } = require('dubbo2.js/es7/context');

// DirectlyDubbo has no per-call attachments: every call context it creates gets these.
let nextAttachments = {};
const createContext = Context.create.bind(Context);
Context.create = () => {
  const ctx = createContext();
  ctx.attachments = nextAttachments;
  return ctx;
};

const host = process.argv[2] || '127.0.0.1';
const port = Number(process.argv[3] || 20880);
const count = Number(process.argv[4] || 3);
const mode = process.argv[5];
const expectDenied = mode === 'denied';
const INTERFACE = 'io.metaproto.demo.GreetingService';

function jstr(s) {
  return { $class: 'java.lang.String', $: s };
}

function fatal(msg) {
  console.error(`NODE CLIENT FAILED: ${msg}`);
  process.exit(1);
}

async function main() {
  const dubbo = DirectlyDubbo.from({
    dubboAddress: `${host}:${port}`,
    dubboVersion: '2.0.2',
    dubboInvokeTimeout: 5, // seconds
  });
  const svc = dubbo.proxyService({
    dubboInterface: INTERFACE,
    methods: {
      sayHello(name) { return [jstr(name)]; },
      fail(why) { return [jstr(why)]; },
    },
  });

  if (mode === 'limits') {
    await limits(svc);
    process.exit(0);
  }

  let calls = 0;
  for (let i = 0; i < count; i++) {
    // dubbo2.js's go() resolves to {res, err} instead of rejecting.
    const { res, err } = await svc.sayHello('MetaProto');
    if (err) fatal(`sayHello: ${err.stack || err}`);
    if (typeof res !== 'string' || !res.startsWith('Hello MetaProto, response from ')) {
      fatal(`sayHello returned ${JSON.stringify(res)}`);
    }
    console.log(res);
    calls++;
  }

  const { res, err } = await svc.fail('boom');
  if (!err) fatal(`fail("boom") returned ${JSON.stringify(res)}`);
  const msg = err.message || String(err);
  if (expectDenied) {
    if (!/denied by MetaProto/.test(msg)) fatal(`fail("boom") should be denied by the proxy: ${err.name}: ${msg}`);
    console.log(`DENIED: ${msg}`);
    const after = await svc.sayHello('MetaProto');
    if (after.err) fatal(`sayHello after the denied call: ${after.err}`);
    console.log(after.res);
    console.log(`NODE CLIENT OK calls=${count + 2}`);
    process.exit(0);
  }
  if (err.name !== 'java.lang.IllegalStateException' || msg !== 'boom') {
    fatal(`fail("boom") raised an unexpected error: ${err.name}: ${err.stack || err}`);
  }
  console.log(`EXPECTED FAILURE: ${msg}`);
  calls++;

  console.log(`NODE CLIENT OK calls=${calls}`);
  // DirectlyDubbo has no close(): its socket worker would keep reconnecting.
  process.exit(0);
}

/** Calls `fn` with `attachments` on the request; returns dubbo2.js's {res, err} and the time taken. */
async function tagged(attachments, fn) {
  nextAttachments = attachments;
  const started = process.hrtime.bigint();
  const result = await fn();
  nextAttachments = {};
  return { ...result, ms: Number((process.hrtime.bigint() - started) / 1000000n) };
}

async function limits(svc) {
  let allowed = 0;
  let limited = 0;
  for (let i = 0; i < 5; i++) {
    const { err } = await tagged({ plan: 'free' }, () => svc.sayHello('MetaProto'));
    if (!err) allowed++;
    else if (/rate limited by MetaProto/.test(err.message)) limited++;
    else fatal(`sayHello with plan=free: ${err.stack || err}`);
  }
  console.log(`RATE_ALLOWED ${allowed}`);
  console.log(`RATE_LIMITED ${limited}`);

  const aborted = await tagged({ chaos: 'abort' }, () => svc.fail('boom'));
  if (!aborted.err || !/fault injected by MetaProto/.test(aborted.err.message)) {
    fatal(`fail("boom") with chaos=abort should get the proxy's fault: ${aborted.err ? aborted.err.message : JSON.stringify(aborted.res)}`);
  }
  console.log(`ABORTED ${aborted.err.message.replace(/[^ -~]/g, '')}`);

  const slow = await tagged({ chaos: 'delay' }, () => svc.sayHello('MetaProto'));
  if (slow.err) fatal(`delayed sayHello: ${slow.err}`);
  const quick = await tagged({}, () => svc.sayHello('MetaProto'));
  if (quick.err) fatal(`sayHello after the delayed one: ${quick.err}`);
  console.log(`DELAYED_MS ${slow.ms}`);
  console.log(`UNDELAYED_MS ${quick.ms}`);
  console.log('NODE CLIENT OK limits');
}

main().catch((e) => fatal(e && e.stack ? e.stack : String(e)));
