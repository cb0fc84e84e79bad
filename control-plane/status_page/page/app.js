// The status page: polls /api/metrics and /api/status and draws them; charts by uPlot (global `uPlot`).
// Every shown number carries data-field (and its row data-call / data-counter) so tests can read it.
"use strict";

const POLL_MS = 2000;
const STATUSES = ["ok", "client_error", "server_error", "no_response"];
const STATUS_COLORS = { client_error: "#e69500", server_error: "#c62828", no_response: "#7a8290" };
const charts = new Map(); // call id -> { rate: uPlot, duration: uPlot, card }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const whole = (n) => String(Math.round(n));
const fixed = (digits) => (n) => (n === null || n === undefined ? "–" : n.toFixed(digits));
const percent = (n) => (n === null || n === undefined ? "–" : `${(n * 100).toFixed(1)}%`);
const num = (field, value, format) => el("td", { class: "num", "data-field": field, "data-value": value === null ? "" : String(value) }, format(value));
const callId = (c) => JSON.stringify([c.protocol, c.service, c.method]);
const callName = (c) => `${c.protocol} · ${c.service || "(no service)"} · ${c.method}`;

function renderCalls(view) {
  const body = document.querySelector("#calls tbody");
  body.replaceChildren(...view.calls.map((c) => el("tr", { "data-call": callId(c) },
    el("td", {}, c.protocol), el("td", {}, c.service), el("td", {}, c.method),
    num("total", c.total, whole),
    ...STATUSES.map((s) => num(s, c.byStatus[s] ?? 0, whole)),
    num("rate", c.rate, fixed(2)), num("error_ratio", c.errorRatio, percent),
    num("p50", c.p50, fixed(1)), num("p99", c.p99, fixed(1)))));
  document.getElementById("windows").textContent =
    `calls: Envoy's counters; calls/s and errors: last ${view.rateWindowSeconds} s; p50/p99: last ${view.windowSeconds / 60} min`;
}

function chartOptions(title, series, width) {
  return {
    title, width, height: 170,
    scales: { x: { time: true } },
    axes: [{}, { size: 60 }],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, spanGaps: false }))],
  };
}

function renderCharts(view) {
  const container = document.getElementById("charts");
  const width = 330;
  const seen = new Set();
  // The busiest calls first.
  const ordered = [...view.calls].sort((a, b) => b.total - a.total);
  for (const c of ordered) {
    const id = callId(c);
    seen.add(id);
    const statuses = Object.keys(c.series.byStatus).sort();
    const rateData = [c.series.time, c.series.rate, ...statuses.map((s) => c.series.byStatus[s])];
    const durationData = [c.series.time, c.series.p50, c.series.p99];
    let chart = charts.get(id);
    if (chart && chart.statuses.join() !== statuses.join()) {
      chart.card.remove();
      chart.rate.destroy();
      chart.duration.destroy();
      chart = undefined;
    }
    if (!chart) {
      const row = el("div", { class: "chart-row" });
      const card = el("div", { class: "chart-card", "data-chart": id }, el("h3", {}, callName(c)), row);
      const rateSeries = [{ label: "calls/s", color: "#1f5fbf" }, ...statuses.map((s) => ({ label: `${s}/s`, color: STATUS_COLORS[s] || "#555" }))];
      chart = {
        card, statuses,
        rate: new uPlot(chartOptions("calls per second", rateSeries, width), rateData, row),
        duration: new uPlot(chartOptions("duration, µs", [{ label: "p50", color: "#1a7f37" }, { label: "p99", color: "#8e24aa" }], width), durationData, row),
      };
      charts.set(id, chart);
    } else {
      chart.rate.setData(rateData);
      chart.duration.setData(durationData);
    }
    // Appending an element already in place moves it: the cards follow `ordered`.
    container.append(chart.card);
  }
  for (const [id, chart] of charts) {
    if (seen.has(id)) continue;
    chart.card.remove();
    chart.rate.destroy();
    chart.duration.destroy();
    charts.delete(id);
  }
}

function renderCounters(selector, rows, labels) {
  const body = document.querySelector(`${selector} tbody`);
  body.replaceChildren(...(rows.length ? rows.map((r) => el("tr", { "data-counter": JSON.stringify(labels.map((l) => r.labels[l] ?? "")) },
    ...labels.map((l) => el("td", {}, r.labels[l] ?? "")),
    num("total", r.total, whole), num("rate", r.rate, fixed(2))))
    : [el("tr", {}, el("td", { colspan: labels.length + 2, class: "muted" }, "none"))]));
}

function renderEnvoys(view, status) {
  const config = status.config;
  const state = document.getElementById("config-state");
  state.replaceChildren(el("p", {}, `configuration: ${config.applied} load(s) applied, ${config.rejected} rejected`));
  if (config.lastErrors.length) {
    state.append(el("div", { class: "config-errors" }, el("p", {}, "the last change was rejected (Envoys keep the last good one):"),
      el("pre", {}, config.lastErrors.join("\n"))));
  }
  const scrapes = new Map(view.envoys.map((e) => [e.node ?? e.address, e]));
  const cards = status.nodes.map((node) => {
    const scrape = scrapes.get(node.id);
    scrapes.delete(node.id);
    const card = el("div", { class: "envoy", "data-node": node.id },
      el("h3", {}, `node ${node.id}`, " ",
        el("span", { class: node.streams ? "up" : "down" }, node.streams ? "connected" : "disconnected"),
        el("span", { class: "muted" }, node.admin ? ` · admin ${node.admin}` : " · admin address unknown (not scraped)"),
        scrape ? el("span", { class: scrape.up ? "up" : "down" }, scrape.up ? " · scraped" : ` · scrape failed: ${scrape.error}`) : ""),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "type"), el("th", {}, "sent"), el("th", {}, "ACKed"), el("th", { class: "num" }, "responses"))),
        el("tbody", {}, ...node.types.map((t) => el("tr", { "data-type": t.type },
          el("td", {}, t.type), el("td", { "data-field": "sent" }, t.sent ?? "–"), el("td", { "data-field": "acked" }, t.acked ?? "–"),
          el("td", { class: "num" }, t.responses))))));
    for (const t of node.types) {
      if (!t.nack) continue;
      const nack = el("div", { class: "nack", "data-nack": t.type },
        el("strong", {}, `NACK of ${t.type} ${t.nack.version}`), el("span", { class: "muted" }, ` at ${t.nack.at}`),
        el("p", { "data-field": "message" }, t.nack.message),
        el("p", {}, `resources: ${t.nack.resources.join(", ") || "–"}`));
      for (const origin of t.nack.origins) {
        nack.append(el("p", { class: "muted" }, origin));
        if (status.documents[origin]) nack.append(el("pre", { "data-field": "document" }, status.documents[origin]));
      }
      card.append(nack);
    }
    return card;
  });
  // Envoys given with --envoy-admin: scraped, not connected over xDS.
  for (const e of scrapes.values()) {
    cards.push(el("div", { class: "envoy", "data-envoy": e.address }, el("h3", {}, `Envoy ${e.address} `,
      el("span", { class: e.up ? "up" : "down" }, e.up ? "scraped" : `scrape failed: ${e.error}`))));
  }
  document.getElementById("envoys").replaceChildren(...(cards.length ? cards : [el("p", { class: "muted" }, "no Envoy has connected")]));
}

async function refresh() {
  try {
    const [view, status] = await Promise.all(["/api/metrics", "/api/status"].map((url) => fetch(url).then((r) => {
      if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
      return r.json();
    })));
    renderCalls(view);
    renderCharts(view);
    renderCounters("#local-replies", view.localReplies, ["protocol", "reason"]);
    renderCounters("#decode-errors", view.decodeErrors, ["protocol", "direction", "reason"]);
    renderCounters("#passthrough", view.passthrough, ["protocol", "reason"]);
    renderEnvoys(view, status);
    const updated = document.getElementById("updated");
    updated.textContent = `scraped ${new Date(view.at).toLocaleTimeString()}`;
    updated.dataset.at = String(view.at);
  } catch (err) {
    document.getElementById("updated").textContent = `cannot reach metaproto serve: ${err.message}`;
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}

refresh();
