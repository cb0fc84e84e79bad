#!/usr/bin/env node
'use strict';
/*
 * The status page in headless Chromium (playwright-core driving the system's browser), against what
 * Envoy and Prometheus say.
 *
 *   node test/status/page_check.js live   PAGE_URL PROMETHEUS_URL NODE_ID SHOT.png
 *       during traffic: the page lists calls with charts drawn, shows a NACK for NODE_ID with
 *       Envoy's error and the YAML document behind it, and its GET rate is within 25% of
 *       Prometheus' rate over the same 10 s; saves a screenshot of the whole page
 *   node test/status/page_check.js settled PAGE_URL ENVOY_ADMIN PROMETHEUS_URL TRAFFIC.json
 *       after traffic: every call total and count by response_status, and every local reply count,
 *       equals Envoy's /stats/prometheus; p50/p99 of the commands the traffic sent equal
 *       Prometheus' histogram_quantile over Envoy's cumulative buckets
 *
 * CHROMIUM_BIN names the browser. Prints what it compared; exits nonzero on a difference.
 */
const fs = require('fs');
const { chromium } = require('playwright-core');

const [mode, pageUrl, ...rest] = process.argv.slice(2);
const WAIT_MS = 30000;

async function prometheusQuery(base, query) {
  const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = await response.json();
  if (body.status !== 'success') throw new Error(`${query}: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** metaproto_* samples of an Envoy scrape: [{name, labels, value}]. */
async function envoySamples(admin) {
  const text = await (await fetch(`http://${admin}/stats/prometheus`)).text();
  const samples = [];
  for (const line of text.split('\n')) {
    const match = /^(metaproto_[a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, key, value] of match[2].matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The page's calls table: call id → {field: text}. */
async function pageCalls(page) {
  return page.$$eval('#calls tbody tr[data-call]', (rows) => Object.fromEntries(rows.map((row) => [row.dataset.call,
    Object.fromEntries([...row.querySelectorAll('[data-field]')].map((cell) => [cell.dataset.field, cell.textContent]))])));
}

async function pageCounters(page, table) {
  return page.$$eval(`${table} tbody tr[data-counter]`, (rows) => Object.fromEntries(rows.map((row) => [row.dataset.counter,
    row.querySelector('[data-field=total]').textContent])));
}

async function until(what, check) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  for (;;) {
    last = await check();
    if (last === true) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function live(page, [prometheus, nodeId, shot]) {
  await page.waitForSelector(`[data-node="${nodeId}"] [data-nack]`, { timeout: WAIT_MS });
  const nack = await page.$eval(`[data-node="${nodeId}"] [data-nack]`, (el) => ({
    type: el.dataset.nack, message: el.querySelector('[data-field=message]').textContent,
    documents: [...el.querySelectorAll('[data-field=document]')].map((pre) => pre.textContent),
  }));
  console.log(`page NACK of ${nack.type}: ${nack.message}`);
  if (!/address already in use/i.test(nack.message)) throw new Error(`the NACK on the page lacks Envoy's error: ${nack.message}`);
  if (!nack.documents.some((d) => /kind: Service/.test(d) && /name: squatter/.test(d))) throw new Error(`the NACK on the page lacks the squatter's YAML document: ${JSON.stringify(nack.documents)}`);
  await page.waitForSelector('[data-chart] canvas', { timeout: WAIT_MS });
  // The page's current GET rate against Prometheus' over the same 10 s (both from Envoy's counters).
  await until('the page rate of GET matches Prometheus', async () => {
    const rows = await pageCalls(page);
    const get = Object.entries(rows).find(([id]) => JSON.parse(id)[2] === 'GET');
    if (!get) return 'no GET row';
    const [result] = await prometheusQuery(prometheus, 'sum(rate(metaproto_requests_total{method="GET"}[10s]))');
    const promRate = result ? Number(result.value[1]) : NaN;
    const pageRate = Number(get[1].rate);
    console.log(`GET calls/s: page ${pageRate}, Prometheus ${promRate.toFixed(2)}`);
    return Math.abs(pageRate - promRate) <= 0.25 * promRate || `page ${pageRate} vs Prometheus ${promRate}`;
  });
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot ${shot}`);
}

async function settled(page, [admin, prometheus, trafficFile]) {
  const traffic = JSON.parse(fs.readFileSync(trafficFile, 'utf8'));
  let compared = 0;
  await until('the page equals Envoy', async () => {
    const samples = await envoySamples(admin);
    const rows = await pageCalls(page);
    const expected = {};
    for (const s of samples.filter((x) => x.name === 'metaproto_requests_total')) {
      const id = JSON.stringify([s.labels.protocol, s.labels.service, s.labels.method]);
      expected[id] = expected[id] || { total: 0 };
      expected[id].total += s.value;
      expected[id][s.labels.response_status] = (expected[id][s.labels.response_status] || 0) + s.value;
    }
    for (const [id, want] of Object.entries(expected)) {
      const got = rows[id];
      if (!got) return `no row ${id} on the page`;
      for (const field of ['total', 'ok', 'client_error', 'server_error', 'no_response']) {
        if (Number(got[field]) !== (want[field] || 0)) return `${id} ${field}: page ${got[field]}, Envoy ${want[field] || 0}`;
      }
    }
    if (Object.keys(rows).length !== Object.keys(expected).length) return `the page has ${Object.keys(rows).length} rows, Envoy ${Object.keys(expected).length} calls`;
    const counters = await pageCounters(page, '#local-replies');
    const replies = samples.filter((x) => x.name === 'metaproto_local_replies_total');
    for (const s of replies) {
      const id = JSON.stringify([s.labels.protocol, s.labels.reason]);
      if (Number(counters[id]) !== s.value) return `local replies ${id}: page ${counters[id]}, Envoy ${s.value}`;
    }
    compared = Object.keys(expected).length;
    for (const [id, want] of Object.entries(expected)) console.log(`page = Envoy: ${id} ${JSON.stringify(want)}`);
    for (const s of replies) console.log(`page = Envoy: local replies ${s.labels.reason} ${s.value}`);
    return true;
  });
  const rows = await pageCalls(page);
  for (const method of Object.keys(traffic.commands)) {
    const [id, row] = Object.entries(rows).find(([key]) => JSON.parse(key)[2] === method) || [];
    if (!row) throw new Error(`no row for ${method}`);
    const [protocol, service] = JSON.parse(id);
    for (const [q, field] of [[0.5, 'p50'], [0.99, 'p99']]) {
      const [result] = await prometheusQuery(prometheus,
        `histogram_quantile(${q}, sum by (le) (metaproto_request_duration_microseconds_bucket{protocol="${protocol}",service="${service}",method="${method}"}))`);
      const want = Number(Number(result.value[1]).toFixed(1));
      console.log(`${method} ${field}: page ${row[field]} µs, Prometheus ${want} µs`);
      if (Number(row[field]) !== want) throw new Error(`${method} ${field}: page ${row[field]}, Prometheus histogram_quantile ${want}`);
    }
  }
  console.log(`PAGE OK: ${compared} calls rows equal Envoy's counters`);
}

async function main() {
  const executablePath = process.env.CHROMIUM_BIN;
  if (!executablePath || !mode || !pageUrl) {
    console.error('usage: CHROMIUM_BIN=... page_check.js live|settled PAGE_URL ...');
    process.exit(2);
  }
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1480, height: 900 } });
    page.on('pageerror', (err) => { console.error(`page error: ${err.message}`); process.exitCode = 1; });
    await page.goto(pageUrl);
    await page.waitForSelector('#calls tbody tr[data-call]', { timeout: WAIT_MS });
    if (mode === 'live') await live(page, rest);
    else if (mode === 'settled') await settled(page, rest);
    else throw new Error(`unknown mode ${mode}`);
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(`page_check: ${err.message}`);
  process.exit(1);
});
