// The framework's paths that Dubbo does not take, through a toy line protocol
// (testdata/line_codec.ts) compiled like any codec.
import { ProxyTestHost } from "../../api/proxytest";
import { compiledLine, lineHost } from "./testdata/line_host";

let line: WebAssembly.Module;
beforeAll(async () => {
  line = await compiledLine();
}, 120_000);

const host = (config: object = {}) => lineHost(line, config);

const calls = (h: ProxyTestHost) =>
  Object.fromEntries(h.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;")).map((m) => [m.name.replace("metaproto_requests_total;protocol=line;", ""), m.value]));

test("FIFO pairing: responses answer requests in order; oneway and events are not paired", async () => {
  const h = await host();
  const c = h.newConnection();
  c.downstream("CALL s a\nSEND s log\nCALL s b\nCALL s c\n");
  c.upstream("OK 0\nPUSH\nERR 7\nBAD 3\n");
  expect(calls(h)).toEqual({
    "service=s;method=a;response_status=ok;response_code=0": 1,
    "service=s;method=log;response_status=no_response;response_code=oneway": 1,
    "service=s;method=b;response_status=server_error;response_code=7": 1,
    "service=s;method=c;response_status=client_error;response_code=3": 1,
  });
});

test("Skip: a response in several parts counts once, when it ends", async () => {
  const h = await host();
  const c = h.newConnection();
  c.downstream("CALL s a\nCALL s b\n");
  c.upstream("PART\nPART\nOK 0\nPART\n");
  expect(calls(h)).toEqual({ "service=s;method=a;response_status=ok;response_code=0": 1 });
  c.upstream("OK 1\n");
  expect(calls(h)["service=s;method=b;response_status=ok;response_code=1"]).toBe(1);
});

test("PassThrough: counted, decoding stops, the connection stays open even under the close policy", async () => {
  const h = await host({ on_decode_error: "close" });
  const c = h.newConnection();
  const tls = "STARTTLS\n\x16\x03\x01 not a line protocol at all";
  expect(Buffer.from(c.downstream(tls).forwarded).toString("latin1")).toBe(tls);
  c.upstream("garbage without newline \x00\x01");
  expect(c.closedByFilter).toBe(false);
  expect(h.counterValue("metaproto_passthrough_connections_total;protocol=line;reason=tls")).toBe(1);
  expect(h.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total"))).toEqual([]);
});

test("a message with no known end is given up at max_buffered_bytes as frame_too_large", async () => {
  const h = await host({ max_buffered_bytes: 1024 });
  const c = h.newConnection();
  for (let i = 0; i < 10; i++) c.downstream("x".repeat(300));
  expect(h.counterValue("metaproto_decode_errors_total;protocol=line;direction=downstream;reason=frame_too_large")).toBe(1);
  expect(h.traps).toEqual([]);
});

test("decode errors in either direction stop decoding both", async () => {
  const h = await host();
  const c = h.newConnection();
  c.downstream("CALL s a\n");
  c.upstream("WHAT\nOK 0\n");
  expect(h.counterValue("metaproto_decode_errors_total;protocol=line;direction=upstream;reason=bad_line")).toBe(1);
  c.downstream("CALL s b\n");
  c.close("downstream");
  // a was pending when decoding stopped: it ends as no_response; b was never decoded.
  expect(calls(h)).toEqual({ "service=s;method=a;response_status=no_response;response_code=closed": 1 });
});

test("counts sent once per read are complete when each callback returns, across series and outcomes", async () => {
  const h = await host();
  const c = h.newConnection();
  const requests = "CALL s a\nCALL s b\nCALL s a\nSEND s a\nCALL s a\nCALL s b\nCALL s a\n";
  c.downstream(requests);
  const bytes = (kind: string, method: string) => h.counterValue(`metaproto_${kind}_bytes_total;protocol=line;service=s;method=${method}`) ?? 0;
  expect(bytes("request", "a") + bytes("request", "b")).toBe(requests.length);
  expect(calls(h)).toEqual({ "service=s;method=a;response_status=no_response;response_code=oneway": 1 });
  // Outcomes switch back and forth inside one read: every switch and the last run must land.
  // Pending in order: a b a a b a. Five answers leave the last a pending.
  const responses = "OK 0\nOK 0\nERR 7\nOK 0\nERR 7\n";
  c.upstream(responses);
  expect(calls(h)).toEqual({
    "service=s;method=a;response_status=no_response;response_code=oneway": 1,
    "service=s;method=a;response_status=ok;response_code=0": 2,
    "service=s;method=a;response_status=server_error;response_code=7": 1,
    "service=s;method=b;response_status=ok;response_code=0": 1,
    "service=s;method=b;response_status=server_error;response_code=7": 1,
  });
  expect(bytes("response", "a") + bytes("response", "b")).toBe(responses.length);
  // The call left unanswered is counted when the connection closes.
  c.close("downstream");
  expect(calls(h)["service=s;method=b;response_status=no_response;response_code=closed"]).toBeUndefined();
  expect(calls(h)["service=s;method=a;response_status=no_response;response_code=closed"]).toBe(1);
});
