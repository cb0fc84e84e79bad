// Hostile label values through the compiled dist/wasm/dubbo.wasm at Envoy's log level (info)
// and Envoy's 1 GiB VM limit: distinct huge service paths and attachments must not grow memory.
import { ProxyTestHost, memoryCurve } from "../../api/proxytest";
import { compiledDubbo, request, response, startedHost } from "./test_frames";

let dubbo: WebAssembly.Module;
beforeAll(async () => {
  dubbo = await compiledDubbo();
}, 120_000);

const metaprotoSeries = (host: ProxyTestHost) => host.metrics().filter((m) => m.name.startsWith("metaproto_")).length;

test("312 requests with distinct ~1 MB service paths and no reply: no trap, memory flat", async () => {
  const host = await startedHost(dubbo, {}, { logLevel: "info" });
  const conn = host.newConnection();
  const base = "s".repeat(1_000_000);
  let sent = 0;
  const send = (n: number) => {
    for (let i = 0; i < n; i++, sent++) {
      const frame = request({ id: BigInt(sent + 1), service: `${sent}.${base}` });
      for (let at = 0; at < frame.length; at += 256 * 1024) conn.downstream(frame.subarray(at, at + 256 * 1024));
    }
  };
  const [, middle, end] = memoryCurve(host, () => send(104));
  expect(host.traps).toEqual([]);
  // ~300 MB of distinct service paths; keeping them would need twice that in the VM.
  expect(end).toBeLessThanOrEqual(middle);
  expect(end).toBeLessThanOrEqual(64 * (1 << 20));
  // Every request has its own pair (cut to 128 characters) until max_label_pairs.
  expect(host.metrics().filter((m) => m.name.startsWith("metaproto_request_bytes_total;")).length).toBe(312);
  expect(metaprotoSeries(host)).toBeLessThanOrEqual(312 * 3);
}, 120_000);

test("distinct huge attachment keys and values, with attributes decoded (debug): memory flat", async () => {
  const host = await startedHost(dubbo);
  const conn = host.newConnection();
  const big = "k".repeat(20_000);
  let id = 0;
  const round = (n: number) => {
    for (let i = 0; i < n; i++, id++) {
      conn.downstream(request({ id: BigInt(id + 1), attachments: { [`${id}${big}`]: `${id}${big}`, [`t${id}`]: "v" } }));
      conn.upstream(response(BigInt(id + 1)));
      host.logs.length = 0; // the test keeps no debug lines; the VM is what is measured
    }
  };
  const [, middle, end] = memoryCurve(host, () => round(400));
  expect(host.traps).toEqual([]);
  expect(end).toBeLessThanOrEqual(middle);
  expect(metaprotoSeries(host)).toBe(4);
}, 120_000);
