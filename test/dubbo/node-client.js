#!/usr/bin/env node
'use strict';
/*
 * npm dubbo2.js (2.3.9) client for the real Java provider (test/dubbo/java),
 * direct connection (DirectlyDubbo, no ZooKeeper), hessian2.
 *
 *   node test/dubbo/node-client.js [host=127.0.0.1] [port=20880] [count=3] [denied]
 *
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

const host = process.argv[2] || '127.0.0.1';
const port = Number(process.argv[3] || 20880);
const count = Number(process.argv[4] || 3);
const expectDenied = process.argv[5] === 'denied';
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

main().catch((e) => fatal(e && e.stack ? e.stack : String(e)));
