// docs/benchmarks.md: ratios first (how far MetaProto is from tcp_proxy and from Envoy's native
// filter), then the targets we aim for, the raw numbers, the measurements of the compiled module,
// and how it was all measured.
import type { MachineFacts } from "./machine";
import type { Pinning } from "./pinning";
import { POLICY_TARGET, TRACING_TARGETS } from "./runner";
import { ROUTER_TARGET } from "./router_target";
import type { ProtocolReport } from "./runner";
import { Aggregate, aggregate } from "./aggregate";
import { BASELINE_FILE, Baseline, ProtocolBaseline } from "./baseline";

export interface RunInfo {
  command: string;
  smoke: boolean;
  durationSec: number;
  rounds: number;
  warmupPassSec: number;
  idleConnections: number;
  wallClockSec: number;
  pin: Pinning;
  machine: MachineFacts;
  /** An earlier run's numbers, shown beside this run's (bench/baseline.json). */
  baseline?: Baseline;
}

const n0 = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
const n1 = (v: number) => (Number.isFinite(v) ? v.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }) : "–");
const n2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "–");
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : "–");
const delta = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? `${a - b >= 0 ? "+" : "−"}${Math.abs(Math.round(a - b)).toLocaleString("en-US")} µs` : "–");
/** Envoy CPU per request difference: ms per 1k requests are µs per request. */
const cpuDelta = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? `${a - b >= 0 ? "+" : "−"}${Math.abs(a - b).toFixed(2)} µs` : "–");
const kib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(2)} KiB` : "–");

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

export function aggregates(p: ProtocolReport): Map<string, Map<string, Aggregate>> {
  const out = new Map<string, Map<string, Aggregate>>();
  for (const s of p.shapes) {
    const row = new Map<string, Aggregate>();
    for (const t of p.targets) {
      const a = aggregate(p, s.id, t.name);
      if (a && a.rounds > a.failedRounds) row.set(t.name, a);
    }
    out.set(s.id, row);
  }
  return out;
}

function targetCell(p: ProtocolReport, name: string): string {
  const t = p.targets.find((x) => x.name === name);
  return t && t.status !== "ok" ? t.status : "–";
}

function ratioTables(p: ProtocolReport, agg: Map<string, Map<string, Aggregate>>, before?: ProtocolBaseline): string {
  const others = p.targets.filter((t) => t.name !== "tcp_proxy");
  const shapeLabel = (id: string) => `${id}`;
  const mk = (f: (a: Aggregate, base: Aggregate) => string) => p.shapes.map((s) => {
    const row = agg.get(s.id)!;
    const base = row.get("tcp_proxy");
    return [shapeLabel(s.id), ...others.map((t) => {
      const a = row.get(t.name);
      return a && base ? f(a, base) : targetCell(p, t.name);
    })];
  });
  const header = ["shape", ...others.map((t) => t.name)];
  const nativeName = p.targets.find((t) => t.kind === "native")?.name;
  const vsNative = nativeName ? p.shapes.map((s) => {
    const row = agg.get(s.id)!;
    const m = row.get("metaproto");
    const n = row.get(nativeName);
    return [s.id, m && n ? ratio(m.throughput, n.throughput) : targetCell(p, m ? nativeName : "metaproto"),
      m && n ? delta(m.p50, n.p50) : "–", m && n ? ratio(m.envoyCpuMsPer1k, n.envoyCpuMsPer1k) : "–"];
  }) : [];
  const hasFloor = p.targets.some((t) => t.kind === "wasm_floor" && t.status === "ok");
  const hasReadFloor = p.targets.some((t) => t.kind === "read_floor" && t.status === "ok");
  const vsFloor = hasFloor ? p.shapes.map((s) => {
    const row = agg.get(s.id)!;
    const m = row.get("metaproto");
    const e = row.get("wasm_floor");
    const t = row.get("tcp_proxy");
    const was = before?.cpuSplit[s.id];
    const r = row.get("read_floor");
    return [s.id, m && e ? ratio(m.throughput, e.throughput) : targetCell(p, m ? "wasm_floor" : "metaproto"),
      e && t ? cpuDelta(e.envoyCpuMsPer1k, t.envoyCpuMsPer1k) : "–", m && e ? cpuDelta(m.envoyCpuMsPer1k, e.envoyCpuMsPer1k) : "–",
      ...(hasReadFloor ? [r && t ? ratio(r.throughput, t.throughput) : targetCell(p, "read_floor"), r && e ? cpuDelta(r.envoyCpuMsPer1k, e.envoyCpuMsPer1k) : "–",
        m && r ? cpuDelta(m.envoyCpuMsPer1k, r.envoyCpuMsPer1k) : "–"] : []),
      ...(before ? [was ? cpuDelta(was.floorMinusTcpUs, 0) : "–", was ? cpuDelta(was.metaprotoMinusFloorUs, 0) : "–"] : [])];
  }) : [];
  const hasPolicy = p.targets.some((t) => t.name === POLICY_TARGET && t.status === "ok");
  const vsPolicy = hasPolicy ? p.shapes.map((s) => {
    const row = agg.get(s.id)!;
    const m = row.get("metaproto");
    const q = row.get(POLICY_TARGET);
    return [s.id, m && q ? ratio(q.throughput, m.throughput) : targetCell(p, q ? "metaproto" : POLICY_TARGET),
      m && q ? cpuDelta(q.envoyCpuMsPer1k, m.envoyCpuMsPer1k) : "–"];
  }) : [];
  const tracing = TRACING_TARGETS.filter((t) => p.targets.some((x) => x.name === t.name && x.status === "ok"));
  const vsTracing = tracing.length > 0 ? p.shapes.map((s) => {
    const row = agg.get(s.id)!;
    const m = row.get("metaproto");
    return [s.id, ...tracing.flatMap((t) => {
      const q = row.get(t.name);
      return [m && q ? ratio(q.throughput, m.throughput) : targetCell(p, q ? "metaproto" : t.name), m && q ? cpuDelta(q.envoyCpuMsPer1k, m.envoyCpuMsPer1k) : "–"];
    })];
  }) : [];
  const natives = p.targets.filter((t) => t.kind === "native" && t.status === "ok");
  const hasRouter = p.targets.some((t) => t.name === ROUTER_TARGET && t.status === "ok") && natives.length > 0;
  const vsRouter = hasRouter ? p.shapes.map((s) => {
    const row = agg.get(s.id)!;
    const r = row.get(ROUTER_TARGET);
    return [s.id, ...natives.flatMap((t) => {
      const n = row.get(t.name);
      return r && n ? [ratio(r.throughput, n.throughput), delta(r.p50, n.p50), delta(r.p99, n.p99), ratio(r.envoyCpuMsPer1k, n.envoyCpuMsPer1k)]
        : [targetCell(p, r ? t.name : ROUTER_TARGET), "–", "–", "–"];
    })];
  }) : [];
  return [
    "Throughput relative to tcp_proxy (median of rounds; closed-loop shapes measure capacity, the open-loop shape runs at a fixed offered rate so ≈1.00× is expected):",
    "",
    table(header, mk((a, b) => ratio(a.throughput, b.throughput))),
    "",
    "p50 latency minus tcp_proxy's:",
    "",
    table(header, mk((a, b) => delta(a.p50, b.p50))),
    "",
    "p99 latency minus tcp_proxy's:",
    "",
    table(header, mk((a, b) => delta(a.p99, b.p99))),
    "",
    "Envoy CPU per request relative to tcp_proxy (utime+stime of the Envoy process over the window / requests):",
    "",
    table(header.filter((h) => h !== "direct"), p.shapes.map((s) => {
      const row = agg.get(s.id)!;
      const base = row.get("tcp_proxy");
      return [s.id, ...others.filter((t) => t.name !== "direct").map((t) => {
        const a = row.get(t.name);
        return a && base ? ratio(a.envoyCpuMsPer1k, base.envoyCpuMsPer1k) : targetCell(p, t.name);
      })];
    })),
    ...(hasFloor ? ["", "Where MetaProto's cost goes: `wasm_floor` is an empty Wasm network filter, so its cost over tcp_proxy is what any Wasm network filter pays in this Envoy (a V8 call per read); MetaProto's cost over `wasm_floor` is its own (reading the bytes into the VM, decoding, metrics)." +
        (hasReadFloor ? " `read_floor` reads every byte into the VM and does nothing else: `read_floor − wasm_floor` is what reading bytes costs through the proxy-wasm ABI (a floor under any filter that looks at them; `read_floor`/tcp_proxy is the most such a filter can reach), `metaproto − read_floor` is MetaProto's decoding, pairing and metrics." : "") +
        " Envoy CPU per request:", "",
      table(["shape", "throughput metaproto/wasm_floor", "wasm_floor − tcp_proxy", "metaproto − wasm_floor",
        ...(hasReadFloor ? ["throughput read_floor/tcp_proxy", "read_floor − wasm_floor", "metaproto − read_floor"] : []),
        ...(before ? ["wasm_floor − tcp_proxy before", "metaproto − wasm_floor before"] : [])], vsFloor)] : []),
    ...(hasPolicy ? ["", "What a policy costs: `metaproto_policy` is the same module with a policy that runs every stage per call and lets it through (an authz rule that never matches, a token bucket in Envoy's shared data that never runs dry). Envoy CPU per request:", "",
      table(["shape", "throughput metaproto_policy/metaproto", "metaproto_policy − metaproto"], vsPolicy)] : []),
    ...(tracing.length > 0 ? ["", "What tracing costs: the same module with `tracing` at 100 % and 1 % sampling (spans built, encoded, queued and exported over gRPC to a `metaproto receiver` collector pinned with the backend; at 100 % under full load the queue overflows and the run logs the spans dropped). Envoy CPU per request:", "",
      table(["shape", ...tracing.flatMap((t) => [`throughput ${t.name}/metaproto`, `${t.name} − metaproto`])], vsTracing)] : []),
    ...(nativeName ? ["", `MetaProto against Envoy's native filter (${nativeName}): throughput ratio, p50 difference, Envoy CPU per request ratio:`, "",
      table(["shape", `throughput metaproto/${nativeName}`, "p50 difference", "Envoy CPU per request"], vsNative)] : []),
    ...(hasRouter ? ["", `Router mode (\`${ROUTER_TARGET}\`: the bridge, HCM's router and an internal listener per call) against Envoy's native filters: throughput ratio, p50 and p99 differences, Envoy CPU per request ratio:`, "",
      table(["shape", ...natives.flatMap((t) => [`throughput router/${t.name}`, `p50 − ${t.name}`, `p99 − ${t.name}`, `CPU/req router/${t.name}`])], vsRouter)] : []),
  ].join("\n");
}

function rawTable(p: ProtocolReport, agg: Map<string, Map<string, Aggregate>>): string {
  const rows: string[][] = [];
  for (const s of p.shapes) {
    for (const t of p.targets) {
      const a = agg.get(s.id)!.get(t.name);
      if (!a) {
        rows.push([s.id, t.name, targetCell(p, t.name), "", "", "", "", "", "", "", "", "", ""]);
        continue;
      }
      const spread = a.rounds > 1 ? ` (${n0(a.throughputMin)}–${n0(a.throughputMax)})` : "";
      const extra = s.kind === "open" ? `lag p99 ${n0(a.sendLagP99)} µs${a.lost ? `, lost ${a.lost}` : ""}` : "";
      rows.push([s.id, t.name, `${n0(a.throughput)}${spread}`, n0(a.p50), n0(a.p99), n0(a.p999),
        t.kind === "direct" ? "–" : n1(a.envoyCpuMsPer1k), n1(a.backendCpuMsPer1k), `${n0(a.loadCpuShare * 100)} %`, `${n2(a.otherCpu)} / ${n2(a.stealCpu)}`,
        t.kind === "direct" ? "–" : n1(a.envoyRssMiB), `${a.errors}${a.failedRounds ? ` (${a.failedRounds} failed rounds)` : ""}`, extra]);
    }
  }
  return table(["shape", "target", "req/s (min–max)", "p50 µs", "p99 µs", "p99.9 µs", "Envoy CPU ms/1k req", "backend CPU ms/1k req",
    "load gen CPU", "other procs / steal (CPUs)", "Envoy RSS MiB", "errors", "notes"], rows);
}

export interface Goal { text: string; value: string; met: boolean | null }

function goals(p: ProtocolReport, agg: Map<string, Map<string, Aggregate>>, before?: ProtocolBaseline): Goal[] {
  const out: Goal[] = [];
  const meta = p.targets.find((t) => t.name === "metaproto");
  if (!meta || meta.status !== "ok") {
    return [{ text: "all MetaProto targets", value: `MetaProto target ${meta?.status ?? "absent"}`, met: null }, ...routerGoal(p, agg)];
  }
  const closed = p.shapes.filter((s) => s.kind === "closed");
  const open = p.shapes.filter((s) => s.kind === "open");
  const thr = closed.map((s) => ({ s: s.id, m: agg.get(s.id)!.get("metaproto"), t: agg.get(s.id)!.get("tcp_proxy") }))
    .filter((x) => x.m && x.t).map((x) => ({ s: x.s, r: x.m!.throughput / x.t!.throughput }));
  if (thr.length) {
    const worst = thr.reduce((a, b) => (b.r < a.r ? b : a));
    const was = before ? thr.map((x) => ({ s: x.s, r: before.throughputVsTcpProxy[x.s] })).filter((x) => x.r !== undefined) : [];
    const wasWorst = was.length ? was.reduce((a, b) => (b.r < a.r ? b : a)) : undefined;
    out.push({ text: "MetaProto ≥ 0.90× tcp_proxy throughput (every closed-loop shape)",
      value: `lowest ${worst.r.toFixed(2)}× (${worst.s})${wasWorst ? `; before: lowest ${wasWorst.r.toFixed(2)}× (${wasWorst.s})` : ""}`, met: worst.r >= 0.9 });
    if (before) {
      const split = closed.map((s) => ({ s: s.id, row: agg.get(s.id)!, was: before.cpuSplit[s.id] }))
        .map((x) => ({ ...x, m: x.row.get("metaproto"), e: x.row.get("wasm_floor"), t: x.row.get("tcp_proxy") }))
        .filter((x) => x.m && x.e && x.t && x.was)
        .map((x) => ({ s: x.s, own: x.m!.envoyCpuMsPer1k - x.e!.envoyCpuMsPer1k, floor: x.e!.envoyCpuMsPer1k - x.t!.envoyCpuMsPer1k, was: x.was! }));
      if (split.length) {
        out.push({ text: "Envoy CPU per request, before → after: what the empty Wasm filter adds to tcp_proxy (wasm_floor − tcp_proxy; not ours) and MetaProto's own share (metaproto − wasm_floor), which must fall on every closed-loop shape",
          value: split.map((x) => `${x.s}: floor ${x.was.floorMinusTcpUs.toFixed(2)} → ${x.floor.toFixed(2)} µs, own ${x.was.metaprotoMinusFloorUs.toFixed(2)} → ${x.own.toFixed(2)} µs`).join("; "),
          met: split.every((x) => x.own < x.was.metaprotoMinusFloorUs) });
      }
    }
  }
  for (const s of open) {
    const m = agg.get(s.id)!.get("metaproto");
    const t = agg.get(s.id)!.get("tcp_proxy");
    if (m && t) out.push({ text: `MetaProto p50 ≤ tcp_proxy + 50 µs at the fixed rate (${s.id})`, value: delta(m.p50, t.p50), met: m.p50 - t.p50 <= 50 });
  }
  const native = p.targets.find((t) => t.kind === "native" && t.status === "ok");
  if (native) {
    const vs = closed.map((s) => ({ s: s.id, m: agg.get(s.id)!.get("metaproto"), n: agg.get(s.id)!.get(native.name) }))
      .filter((x) => x.m && x.n).map((x) => ({ s: x.s, r: x.m!.throughput / x.n!.throughput }));
    if (vs.length) {
      const behind = vs.filter((x) => x.r < 1);
      out.push({ text: `MetaProto ahead of ${native.name} on throughput (closed-loop shapes)`,
        value: vs.map((x) => `${x.s} ${x.r.toFixed(2)}×`).join(", "), met: behind.length === 0 });
    }
  }
  out.push(...routerGoal(p, agg));
  if (p.wasmMemory) {
    out.push({ text: "≤ 8 KiB Wasm memory per idle connection", value: `${kib(p.wasmMemory.heapBytesPerConnection)} idle, ${kib(p.wasmMemory.heapBytesPerConnectionAfterCall)} after one call (host emulator)`,
      met: p.wasmMemory.heapBytesPerConnectionAfterCall <= 8192 });
  }
  return out;
}

/** Router mode ≥ 0.70× every native filter on every closed-loop shape; the lowest ratio against each. */
export function routerGoal(p: ProtocolReport, agg: Map<string, Map<string, Aggregate>>): Goal[] {
  const router = p.targets.find((t) => t.name === ROUTER_TARGET);
  const natives = p.targets.filter((t) => t.kind === "native" && t.status === "ok");
  if (!router || natives.length === 0) return [];
  const text = "router mode ≥ 0.70× the native filter (every closed-loop shape)";
  if (router.status !== "ok") return [{ text, value: `${ROUTER_TARGET} ${router.status}`, met: null }];
  const closed = p.shapes.filter((s) => s.kind === "closed");
  const lowest = natives.map((n) => {
    const vs = closed.map((s) => ({ s: s.id, r: agg.get(s.id)!.get(ROUTER_TARGET), n: agg.get(s.id)!.get(n.name) }))
      .filter((x) => x.r && x.n).map((x) => ({ s: x.s, ratio: x.r!.throughput / x.n!.throughput }));
    return { native: n.name, worst: vs.length ? vs.reduce((a, b) => (b.ratio < a.ratio ? b : a)) : undefined };
  }).filter((x) => x.worst);
  if (lowest.length === 0) return [{ text, value: "no closed-loop shape measured both", met: null }];
  return [{ text, value: lowest.map((x) => `lowest ${x.worst!.ratio.toFixed(2)}× ${x.native} (${x.worst!.s})`).join("; "),
    met: lowest.every((x) => x.worst!.ratio >= 0.7) }];
}

function protocolSection(p: ProtocolReport, info: RunInfo): string {
  const agg = aggregates(p);
  const out: string[] = [`## ${p.protocol}`, ""];
  const moduleFacts = p.wasmSha256 ? `, sha256 ${p.wasmSha256}…, built ${p.wasmModified}` : "";
  out.push(`Backend: ${p.backend}. Module: \`${p.wasm}\` (${p.wasmStatus}${moduleFacts}).`, "");
  out.push("Targets: " + p.targets.map((t) => `**${t.name}**${t.note ? ` (${t.note})` : ""}${t.status !== "ok" ? ` — ${t.status}` : ""}`).join("; ") + ".", "");
  out.push("Shapes: " + p.shapes.map((s) => `\`${s.id}\` = ${s.label}`).join("; ") + ".", "");
  const open = p.shapes.filter((s) => s.kind === "open");
  const bestClosed = p.targets.map((t) => Math.max(...p.shapes.filter((s) => s.kind === "closed").map((s) => agg.get(s.id)!.get(t.name)?.throughput ?? NaN).filter(Number.isFinite)))
    .filter(Number.isFinite);
  if (open.length && bestClosed.length) {
    const slowest = Math.min(...bestClosed);
    out.push(open.map((s) => `The fixed rate of \`${s.id}\` is ${n0(agg.get(s.id)!.get("direct")?.throughput ?? NaN)} req/s, ` +
      `${n0(((agg.get(s.id)!.get("direct")?.throughput ?? NaN) / slowest) * 100)} % of the slowest target's best closed-loop throughput (${n0(slowest)} req/s).`).join(" "), "");
  }
  const withMachine = p.measurements.filter((m) => m.result?.cpuSec.machine_tasks !== undefined).map((m) => m.result!);
  if (withMachine.length) {
    const stat = (f: (r: (typeof withMachine)[number]) => number) => {
      const v = withMachine.map(f).sort((a, b) => a - b);
      return { median: v[Math.floor(v.length / 2)], max: v[v.length - 1] };
    };
    const other = stat((r) => Math.max(0, r.cpuSec.machine_tasks - (r.cpuSec.envoy ?? 0) - (r.cpuSec.backend ?? 0) - (r.cpuSec.load ?? 0)) / r.seconds);
    const steal = stat((r) => r.cpuSec.machine_steal / r.seconds);
    const noisy = other.median > 0.2 || steal.median > 0.1;
    out.push(`Machine noise during these runs (CPUs' worth, median / max over runs): other processes ${n2(other.median)} / ${n2(other.max)}; ` +
      `hypervisor steal ${n2(steal.median)} / ${n2(steal.max)}${noisy ? " — **the machine was shared; treat small differences as noise**" : ""}.`, "");
  }
  const before = info.baseline?.protocols[p.protocol];
  const g = goals(p, agg, before);
  out.push("### Targets we aim for", "", table(["aim", "measured", "met?"], g.map((x) => [x.text, x.value, x.met === null ? "n/a" : x.met ? "yes" : "**no**"])), "");
  if (before) out.push(`"Before" values and columns: ${info.baseline!.label} (\`${BASELINE_FILE}\`).`, "");
  out.push("### Ratios", "", ratioTables(p, agg, before), "");
  out.push("### Raw numbers", "", `Medians over ${info.rounds} round(s) of ${info.durationSec} s each; latency in µs. ` +
    "CPU columns are milliseconds of CPU time per 1 000 requests (= µs per request); load gen CPU is the share of one CPU the load generator used; " +
    "\"other procs / steal\" is how many CPUs' worth of work processes outside the benchmark did during the window (user+system time from /proc/stat minus Envoy, backend and load generator) " +
    "and how much CPU time the hypervisor stole from this VM: anything well above 0 means the run shared the machine and its numbers are noisier.", "",
    rawTable(p, agg), "");
  if (p.metaprotoCheck) {
    const c = p.metaprotoCheck;
    out.push(`MetaProto sanity check: Envoy's \`metaproto_requests_total{protocol="${p.protocol}",response_status="ok"}\` counted ${n0(c.counted)} calls; ` +
      `the load generators received ${n0(c.replies)} successful replies through that listener (ratio ${n2(c.counted / c.replies)}); ` +
      `decode errors ${c.decodeErrors}, passed-through connections ${c.passThrough}.`, "");
  }
  if (p.decodeRates.length) {
    out.push("### Codec decode rate (compiled module in Node's V8, host emulator)", "",
      "Each call = request fed downstream + response fed upstream through `api/proxytest` on one connection (rotated every 256 calls); " +
      "the rate includes the emulator's own work (copying bytes into guest memory, host calls), so it is a lower bound for the module itself. " +
      "`counted` = calls the module counted in `metaproto_requests_total` / calls fed.", "",
      table(["messages", "bytes per call", "messages/s", "MB/s", "counted", ...(before ? ["messages/s before"] : [])],
        p.decodeRates.map((r) => [r.name, n0(r.callBytes), n0(r.messagesPerSec), n1(r.megabytesPerSec), n2(r.countedRatio),
          ...(before ? [n0(before.decodeRate[r.name] ?? NaN)] : [])])), "");
  }
  out.push("### Memory per connection", "");
  if (p.wasmMemory) {
    const w = p.wasmMemory;
    out.push(`Wasm heap (host emulator, ${w.connections} connections, live heap found by filling the guest allocator until linear memory grows): ` +
      `**${n0(w.heapBytesPerConnection)} B per idle connection**, ${n0(w.heapBytesPerConnectionAfterCall)} B after one call on each. ` +
      `\`host.guestMemoryBytes()\` went from ${n0(w.linearMemoryBefore / 1024)} KiB to ${n0(w.linearMemoryAfter / 1024)} KiB ` +
      `(linear memory grows in doubling steps, so this is an upper bound: ${n0((w.linearMemoryAfter - w.linearMemoryBefore) / w.connections)} B per connection).`, "");
  } else {
    out.push(`Wasm heap: ${p.wasmStatus}.`, "");
  }
  if (p.envoyIdle.length) {
    out.push(`Envoy RSS, a fresh Envoy with only that target's listener, ${info.idleConnections} client connections:`, "",
      table(["target", "RSS at start MiB", "per idle connection", "per connection after one call", "upstream connections held"],
        p.envoyIdle.map((m) => [m.target, n1(m.rssStart / 2 ** 20), `${n0(m.bytesPerIdleConnection)} B`, `${n0(m.bytesPerConnectionAfterCall)} B`, n0(m.upstreamConnections)])), "");
    const tcp = p.envoyIdle.find((m) => m.target === "tcp_proxy");
    const meta = p.envoyIdle.find((m) => m.target === "metaproto");
    if (tcp && meta) {
      out.push(`MetaProto over tcp_proxy: ${delta(meta.bytesPerIdleConnection, tcp.bytesPerIdleConnection).replace(" µs", " B")} per idle connection, ` +
        `${delta(meta.bytesPerConnectionAfterCall, tcp.bytesPerConnectionAfterCall).replace(" µs", " B")} after one call; ` +
        `${n1((meta.rssStart - tcp.rssStart) / 2 ** 20)} MiB more at start (the V8 VM and module).`, "");
    }
  }
  for (const e of p.envoyIdleErrors) out.push(`- idle-connection measurement failed: ${e}`);
  if (p.driverCeiling) {
    const d = p.driverCeiling;
    out.push("### Can the load driver keep up?", "",
      `Against a canned-reply server (Node, on the Envoy CPU) instead of the backend, the TypeScript driver reached **${n0(d.throughput)} req/s** ` +
      `(${d.shape}, p50 ${n0(d.p50Us)} µs) using ${n0((d.loadCpuSec / d.seconds) * 100)} % of its CPU. ` +
      "Compare with the best throughput above and the load gen CPU column: where those stay well below this ceiling, the driver is not what limits the numbers.", "");
  }
  if (p.problems.length) out.push("### Problems during the run", "", ...p.problems.map((x) => `- ${x}`), "");
  return out.join("\n");
}

export function renderMarkdown(reports: ProtocolReport[], info: RunInfo): string {
  const m = info.machine;
  const head = [
    "# MetaProto benchmarks",
    "",
    `Regenerated by \`${info.command}\` (${info.smoke ? "**smoke run: tiny durations, not for conclusions**" : "full run"}) on ${m.date}, ` +
    `git ${m.gitCommit}${m.gitDirty ? " (with uncommitted changes)" : ""}; took ${Math.round(info.wallClockSec / 60)} min. Harness: \`bench/\` (see bench/README.md).`,
    "",
    "Per protocol, the same load goes to each target, interleaved (every target once per shape, then the next shape, then the next round) so drift hits all alike:",
    "**direct** to the backend; **tcp_proxy** (Envoy, tcp_proxy only); **wasm_floor** (tcp_proxy behind an empty Wasm network filter: what any Wasm filter costs); **read_floor** (the same, but the filter reads every byte into the VM: what looking at the bytes costs); **metaproto_router** (Dubbo and Thrift: router mode, the protocol's bridge before HCM, each call an HTTP/2 stream to an internal listener [bridge + tcp_proxy] to the backend, configured by the control plane's translation of a one-route model); **metaproto** (same listener shape plus `envoy.filters.network.wasm` with the protocol's compiled module, " +
    "metrics on, the Wasm filter and stats_tags of control-plane/resources/pieces.ts, as the rigs and the control plane configure it); and Envoy's **native** L7 filter for the protocol. One Envoy process serves all proxied targets " +
    "(a listener and a cluster each, `--concurrency 1`).",
    "",
    "![latency against throughput per target](benchmarks.png)",
    "",
    "## Machine",
    "",
    table(["", ""], [
      ["CPU", `${m.cpuModel}, ${m.cpus} CPUs`],
      ["memory", `${m.memoryGiB} GiB`],
      ["kernel", m.kernel],
      ["Envoy", `${m.envoyVersion} (official release binary, \`envoy_bin\` of test/lib/envoy.sh)`],
      ["Node", m.node],
      ["pinning", info.pin.description],
      ["run", `${info.rounds} round(s) × ${info.durationSec} s per shape and target, after a ${info.warmupPassSec} s warm-up pass per shape and target`],
    ]),
    "",
  ];
  return [...head, ...changesSinceBaseline(info), ...reports.map((r) => protocolSection(r, info)), methodNotes(info)].join("\n") + "\n";
}

/** What changed in the data plane since the baseline run, and what each change bought (bench/baseline.json). */
function changesSinceBaseline(info: RunInfo): string[] {
  const b = info.baseline;
  if (!b?.changes?.length) return [];
  return [`## What changed since ${b.label}`, "", ...b.changes.map((c) => `- ${c}`), ""];
}

function methodNotes(info: RunInfo): string {
  return [
    "## How it is measured",
    "",
    "- **Closed loop** (`closed-cN`, TypeScript driver `bench/lib/load_driver.ts`): N calls always in flight, spread over up to 8 connections; each reply triggers the next call " +
    "(replies that arrive together are answered with one write). Throughput is capacity at that concurrency; latency is from the actual send.",
    "- **Open loop** (`open-R`): R calls per second on a fixed schedule, round-robin over 8 connections; latency is measured from each call's *intended* send time, " +
    "so a slow target cannot hide queueing (no coordinated omission). The driver paces by busy-polling its event loop when it has a CPU of its own (so its load gen CPU reads ~100 % by design), " +
    "else by a worker thread sleeping with `Atomics.wait`; libuv timers are millisecond-grained. \"lag p99\" is how late the driver itself sent: that much of the latency is the driver's.",
    "- **redis-benchmark** shapes (`rb-<cmd>-p<P>`): Debian redis-benchmark 7.0, `-c 50`, sized to run about the configured duration; its summary gives throughput, p50 and p99; " +
    "p99.9 is the first tick of its percentile distribution at or above 99.9 % (99.902 %).",
    "- **CPU**: utime+stime deltas from `/proc/<pid>/stat` of Envoy (all threads) and the backend over the measured window; the load generator's own CPU from the same window.",
    "- **Envoy RSS** after each run is of the one Envoy serving every target, so it is not per target; the per-connection memory table uses a fresh Envoy per target instead.",
    "- **Decode rate and Wasm heap**: the compiled module (the same `.wasm` Envoy loads) in Node's V8 through the host emulator `api/proxytest`.",
    "- Medians over rounds; the raw table also shows the throughput range over rounds. Nothing here is tuned to meet the aims: shapes, rates and durations are fixed in `bench/protocols/*.ts` and the command line.",
    "",
  ].join("\n");
}

/** Points for the plot: per protocol, per target, (throughput, p50, p99) per shape. */
export function plotData(reports: ProtocolReport[]): unknown {
  return reports.map((p) => ({
    protocol: p.protocol,
    shapes: p.shapes,
    targets: p.targets.map((t) => ({
      name: t.name,
      status: t.status,
      points: p.shapes.map((s) => {
        const a = aggregate(p, s.id, t.name);
        return a && a.rounds > a.failedRounds ? { shape: s.id, kind: s.kind, throughput: a.throughput, p50: a.p50, p99: a.p99 } : null;
      }).filter((x) => x !== null),
    })),
  }));
}
