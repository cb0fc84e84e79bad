// Every label dimension a peer can grow is bounded (stats.ts): hostile values in the toy line
// protocol (testdata/line_codec.ts) must leave the series count and the VM's memory flat.
import { ProxyTestHost } from "../../api/proxytest";
import { compiledLine, lineHost } from "./testdata/line_host";

let line: WebAssembly.Module;
beforeAll(async () => {
  line = await compiledLine();
}, 120_000);

const host = (config: object = {}) => lineHost(line, config);

const series = (h: ProxyTestHost) => h.metrics().filter((m) => m.name.startsWith("metaproto_")).length;
const overflows = (h: ProxyTestHost, dimension: string) =>
  h.counterValue(`metaproto_label_overflow_total;protocol=line;dimension=${dimension}`) ?? 0;

test("long service names are kept cut: a stream of distinct 100 KB names leaves memory flat", async () => {
  const h = await host({ max_label_pairs: 50 });
  const c = h.newConnection();
  const name = (i: number) => String(i).padStart(8, "0") + "s".repeat(100_000);
  const send = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      c.downstream(`CALL ${name(i)} m\n`);
      c.upstream("OK 0\n");
    }
  };
  send(0, 100);
  const warm = h.guestMemoryBytes();
  send(100, 600);
  expect(h.guestMemoryBytes()).toBe(warm);
  expect(h.traps).toEqual([]);
  // 50 pairs by name, the rest folded into other/other.
  const cut = name(7).substring(0, 128);
  expect(h.counterValue(`metaproto_requests_total;protocol=line;service=${cut};method=m;response_status=ok;response_code=0`)).toBe(1);
  expect(h.counterValue("metaproto_requests_total;protocol=line;service=other;method=other;response_status=ok;response_code=0")).toBe(550);
  expect(overflows(h, "service_method")).toBe(550);
});

test("names that differ only past 128 characters are one pair", async () => {
  const h = await host();
  const c = h.newConnection();
  const prefix = "p".repeat(128);
  c.downstream(`CALL ${prefix}A m\nCALL ${prefix}B m\n`);
  c.upstream("OK 0\nOK 0\n");
  expect(h.counterValue(`metaproto_requests_total;protocol=line;service=${prefix};method=m;response_status=ok;response_code=0`)).toBe(2);
});

test("distinct response codes past max_response_codes count as `other` with their real status", async () => {
  const h = await host({ max_response_codes: 8 });
  const c = h.newConnection();
  for (let i = 0; i < 5000; i++) {
    c.downstream("CALL s m\n");
    c.upstream(i % 2 === 0 ? `ERR ${i}\n` : `BAD ${i}\n`);
  }
  const counted = h.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;"));
  expect(counted.length).toBe(8 + 2);
  const value = (status: string, code: string) =>
    h.counterValue(`metaproto_requests_total;protocol=line;service=s;method=m;response_status=${status};response_code=${code}`);
  expect(value("server_error", "0")).toBe(1);
  expect(value("server_error", "other")! + value("client_error", "other")!).toBe(5000 - 8);
  expect(value("client_error", "other")).toBe(2500 - 4);
  expect(overflows(h, "response_code")).toBe(5000 - 8);
});

test("max_series bounds every series the VM creates; new values past it are folded and counted", async () => {
  const h = await host({ max_series: 100, max_label_pairs: 100000 });
  const c = h.newConnection();
  for (let i = 0; i < 2000; i++) {
    c.downstream(`CALL s${i} m\n`);
    c.upstream(`OK ${i}\n`);
  }
  expect(series(h)).toBeLessThanOrEqual(100);
  expect(overflows(h, "series")).toBeGreaterThan(1900);
  // Every call is still counted somewhere.
  const calls = h.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;")).reduce((n, m) => n + m.value, 0);
  expect(calls).toBe(2000);
});

test("the bounds hold for the VM, across configurations (each ECDS update is a new root context)", async () => {
  const h = await host({ max_label_pairs: 10 });
  for (let round = 0; round < 3; round++) {
    const c = h.newConnection();
    for (let i = 0; i < 20; i++) {
      c.downstream(`CALL r${round}s${i} m\n`);
      c.upstream("OK 0\n");
    }
    c.close("downstream");
  }
  const pairs = new Set(h.metrics().filter((m) => m.name.startsWith("metaproto_request_bytes_total;")).map((m) => m.name));
  expect(pairs.size).toBe(10 + 1);
});
