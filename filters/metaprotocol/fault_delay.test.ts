// Fault delays: a matching request is held in Envoy's buffer (the read paused) and let go by the
// root context's timer; what the client sends meanwhile follows it, in order.
import { FilterStatus } from "../../api/proxytest";
import { compiledLine, lineHost } from "./testdata/line_host";

let line: WebAssembly.Module;
beforeAll(async () => {
  line = await compiledLine();
}, 120_000);

const DELAY_SLOW = { policy: { faults: [{ match: { method: { exact: "slow" } }, delay: { duration_ms: 100 } }] } };
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

test("a delayed call and everything after it wait; nothing is lost or reordered", async () => {
  const h = await lineHost(line, DELAY_SLOW);
  const c = h.newConnection();
  expect(text(c.downstream("CALL s fast\n").forwarded)).toBe("CALL s fast\n");
  const paused = c.downstream("CALL s slow\nCALL s next\n");
  expect(paused.status).toBe(FilterStatus.Pause);
  expect(text(c.toUpstream)).toBe("CALL s fast\n");
  // More bytes while held: Envoy calls the filter with the whole buffer, which stays paused.
  expect(c.downstream("CALL s later\n").status).toBe(FilterStatus.Pause);
  h.advanceTime(50);
  expect(text(c.toUpstream)).toBe("CALL s fast\n");
  h.advanceTime(60);
  expect(text(c.toUpstream)).toBe("CALL s fast\nCALL s slow\nCALL s next\nCALL s later\n");
  // Counted once each, with the wait in their duration.
  c.upstream("OK 0\nOK 0\nOK 0\nOK 0\n");
  const requests = h.metrics().filter((m) => m.name.startsWith("metaproto_request_bytes_total;"));
  expect(requests.reduce((n, m) => n + m.value, 0)).toBe("CALL s fast\nCALL s slow\nCALL s next\nCALL s later\n".length);
  const slow = h.metrics().find((m) => m.name === "metaproto_request_duration_microseconds;protocol=line;service=s;method=slow");
  expect(slow!.samples![0]).toBeGreaterThanOrEqual(100_000);
  // The timer stops once nothing is held; later calls pass at once.
  expect(text(c.downstream("CALL s fast\n").forwarded)).toBe("CALL s fast\n");
});

test("a delay with percentage 0 never holds", async () => {
  const h = await lineHost(line, { policy: { faults: [{ delay: { percentage: 0, duration_ms: 100 } }] } });
  const c = h.newConnection();
  expect(c.downstream("CALL s slow\n").status).toBe(FilterStatus.Continue);
});

test("a closed connection is forgotten by the timer", async () => {
  const h = await lineHost(line, DELAY_SLOW);
  const c = h.newConnection();
  c.downstream("CALL s slow\n");
  c.close("downstream");
  h.advanceTime(200);
  expect(h.traps).toEqual([]);
});
