// In-order pairing follows deep pipelines: a client may send tens of thousands of requests
// before it reads a reply, and every call must still count with its real status.
import { ProxyTestHost } from "../../api/proxytest";
import { compiledLine, lineHost } from "./testdata/line_host";

let line: WebAssembly.Module;
beforeAll(async () => {
  line = await compiledLine();
}, 120_000);

const host = (config: object = {}) => lineHost(line, config);

const count = (h: ProxyTestHost, method: string, status: string, code: string) =>
  h.counterValue(`metaproto_requests_total;protocol=line;service=s;method=${method};response_status=${status};response_code=${code}`);

test("20,000 pipelined calls in several reads, then their replies: every call paired", async () => {
  const h = await host();
  const c = h.newConnection();
  const methods = ["get", "set", "del"];
  const N = 20_000;
  for (let start = 0; start < N; start += 1000) {
    let chunk = "";
    for (let i = start; i < start + 1000; i++) chunk += `CALL s ${methods[i % 3]}\n`;
    c.downstream(chunk);
    h.advanceTime(1);
  }
  let replies = "";
  for (let i = 0; i < N; i++) replies += i % 7 === 0 ? "ERR 5\n" : "OK 0\n";
  c.upstream(replies);
  let expected: Record<string, number> = {};
  for (let i = 0; i < N; i++) {
    const key = `${methods[i % 3]} ${i % 7 === 0 ? "server_error 5" : "ok 0"}`;
    expected[key] = (expected[key] ?? 0) + 1;
  }
  for (const [key, n] of Object.entries(expected)) {
    const [method, status, code] = key.split(" ");
    expect(count(h, method, status, code)).toBe(n);
  }
  expect(h.metrics().filter((m) => /no_response|decode_errors/.test(m.name))).toEqual([]);
  // Calls of the first read waited 20 ms, those of the last 1 ms.
  const samples = h.metrics().filter((m) => m.name.startsWith("metaproto_request_duration_microseconds;")).flatMap((m) => m.samples!);
  expect(samples.length).toBe(N);
  expect(Math.max(...samples)).toBe(20_000);
  expect(Math.min(...samples)).toBe(1_000);
});

/** Guest memory per pending call when `perRead` calls arrive in each read and none is answered. */
async function memoryPerPendingCall(perRead: number): Promise<number> {
  const h = await host();
  const c = h.newConnection();
  c.downstream("CALL s a\nCALL s b\n");
  c.upstream("OK 0\nOK 0\n");
  const before = h.guestMemoryBytes();
  const N = 60_000;
  const read = "CALL s a\nCALL s b\n".repeat(perRead / 2);
  for (let i = 0; i < N; i += perRead) {
    c.downstream(read);
    h.advanceTime(0.001);
  }
  const perCall = (h.guestMemoryBytes() - before) / N;
  c.upstream("OK 0\n".repeat(N));
  expect(count(h, "a", "ok", "0")! + count(h, "b", "ok", "0")!).toBe(N + 2);
  return perCall;
}

test("a pending call takes a few bytes of Wasm memory", async () => {
  // Pipelined: many calls per read share a start time; a call is its pair's index. (What the
  // toy codec leaves for the collector counts too: this is an upper bound.)
  expect(await memoryPerPendingCall(100)).toBeLessThan(32);
  // Worst case: each call alone in its read, with its own start time.
  expect(await memoryPerPendingCall(2)).toBeLessThan(64);
});

test("past max_pending_calls the oldest call is given up as evicted", async () => {
  const h = await host({ max_pending_calls: 3 });
  const c = h.newConnection();
  c.downstream("CALL s a\nCALL s b\nCALL s c\nCALL s d\n");
  expect(count(h, "a", "no_response", "evicted")).toBe(1);
  c.upstream("OK 0\nOK 0\nOK 0\nOK 0\n");
  expect(count(h, "b", "ok", "0")).toBe(1);
  expect(count(h, "d", "ok", "0")).toBe(1);
  expect(h.counterValue("metaproto_decode_errors_total;protocol=line;direction=upstream;reason=unmatched_response")).toBe(1);
});

test("durations are recorded in microseconds", async () => {
  const h = await host();
  const c = h.newConnection();
  c.downstream("CALL s a\n");
  h.advanceTime(0.25);
  c.upstream("OK 0\n");
  const duration = h.metrics().find((m) => m.name === "metaproto_request_duration_microseconds;protocol=line;service=s;method=a");
  expect(duration?.samples).toEqual([250]);
});
