// dist/wasm/tinyrpc.wasm in the host emulator, against sessions recorded from the example's real
// peers (fixtures/README.md). What each session holds is read with the peers' own frame reader
// (examples/tinyrpc/wire.js), so these tests follow the fixtures when they are captured again.
import { readFileSync, readdirSync } from "fs";
import * as path from "path";
import {
  compiledCodec, decodedMessages, feed, metricName, startedHost, testChunkings, testNeverTraps,
} from "../../api/proxytest";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const wire = require("../../examples/tinyrpc/wire");

const PROTOCOL = "tinyrpc";
const STATUS_NAMES = ["ok", "client_error", "server_error"];
const FIXTURES = path.join(__dirname, "fixtures");

let wasm: WebAssembly.Module;
beforeAll(async () => {
  wasm = await compiledCodec(PROTOCOL);
}, 120_000);

interface Frame { kind: number; status: number; id: number; body: Buffer; service?: string; method?: string }

/** Every recorded session: fixtures/<name>.request.bin with its .response.bin. */
const SESSIONS = readdirSync(FIXTURES).filter((f) => f.endsWith(".request.bin")).sort().map((file) => {
  const name = file.slice(0, -".request.bin".length);
  const request = readFileSync(path.join(FIXTURES, file));
  const response = readFileSync(path.join(FIXTURES, `${name}.response.bin`));
  const requests: Frame[] = new wire.FrameReader().push(request);
  const responses: Frame[] = new wire.FrameReader().push(response);
  return { name, request, response, requests, responses };
});
type Session = (typeof SESSIONS)[number];

/** The metrics a session must produce: one count per (service, method, status, code), as the peers saw it. */
function expectedCalls(session: Session): Map<string, number> {
  const byId = new Map(session.responses.map((f) => [f.id, f]));
  const out = new Map<string, number>();
  let service = "";
  for (const f of session.requests) {
    if (f.kind !== wire.Kind.request && f.kind !== wire.Kind.oneway) continue;
    service = f.service || service;
    const reply = byId.get(f.id);
    const [status, code] = f.kind === wire.Kind.oneway ? ["no_response", "oneway"]
      : reply ? [STATUS_NAMES[reply.status], String(reply.status)] : ["no_response", "closed"];
    const name = metricName("metaproto_requests_total", { protocol: PROTOCOL, service, method: f.method!, response_status: status, response_code: code });
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

async function run(requestChunks: Buffer[], responseChunks: Buffer[]) {
  const host = await startedHost(wasm);
  const conn = host.newConnection();
  const forwardedRequest = feed(conn, "downstream", requestChunks);
  const forwardedResponse = feed(conn, "upstream", responseChunks);
  conn.close("downstream");
  expect(host.traps).toEqual([]);
  return { host, forwardedRequest, forwardedResponse, decoded: decodedMessages(host) };
}

test("the fixtures hold sessions to test", () => {
  expect(SESSIONS.length).toBeGreaterThan(0);
  for (const s of SESSIONS) expect(s.requests.length).toBeGreaterThan(0);
});

describe.each(SESSIONS)("session $name", (session) => {
  testChunkings(session.request, session.response, async (request, response) => {
    const result = await run(request, response);
    // Transparent: every byte leaves the filter as it came.
    expect(result.forwardedRequest.equals(session.request)).toBe(true);
    expect(result.forwardedResponse.equals(session.response)).toBe(true);
    // One decoded message per frame, with the frame's id, in each direction.
    const ids = (direction: string) => result.decoded.filter((m) => m.direction === direction).map((m) => m.request_id);
    expect(ids("downstream")).toEqual(session.requests.map((f) => String(f.id)));
    expect(ids("upstream")).toEqual(session.responses.map((f) => String(f.id)));
    const total = (direction: string) => result.decoded.filter((m) => m.direction === direction).reduce((n, m) => n + m.frame_length, 0);
    expect(total("downstream")).toBe(session.request.length);
    expect(total("upstream")).toBe(session.response.length);
    // The counts the peers' own view gives, and nothing else.
    const expected = expectedCalls(session);
    for (const [name, count] of expected) expect([name, result.host.counterValue(name)]).toEqual([name, count]);
    const counted = result.host.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;")).reduce((n, m) => n + m.value, 0);
    expect(counted).toBe([...expected.values()].reduce((a, b) => a + b, 0));
    expect(result.host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total"))).toEqual([]);
  });
});

test("replies pair by id whatever their order", async () => {
  const session = SESSIONS[0];
  const reversed = Buffer.concat(session.responses.map((f) => wire.response(f.id, f.status, f.body)).reverse());
  const result = await run([session.request], [reversed]);
  for (const [name, count] of expectedCalls(session)) expect([name, result.host.counterValue(name)]).toEqual([name, count]);
});

test("a request larger than max_buffered_bytes is decoded from its prefix and streamed through", async () => {
  const host = await startedHost(wasm, { max_buffered_bytes: 256 });
  const conn = host.newConnection();
  const big = wire.request(7, "Greeter", "hello", Buffer.alloc(100_000, 0x61));
  const next = wire.request(8, "", "hello", Buffer.from("after"));
  expect(feed(conn, "downstream", [big.subarray(0, 300), big.subarray(300), next]).equals(Buffer.concat([big, next]))).toBe(true);
  const decoded = decodedMessages(host);
  expect(decoded.map((m) => [m.method, m.service, m.truncated, m.frame_length])).toEqual([
    ["hello", "Greeter", true, big.length], ["hello", "Greeter", false, next.length]]);
});

test("bytes that are not this protocol are a counted decode error, and pass untouched", async () => {
  const host = await startedHost(wasm);
  const conn = host.newConnection();
  const http = Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  expect(Buffer.from(conn.downstream(http).forwarded).equals(http)).toBe(true);
  expect(host.counterValue(metricName("metaproto_decode_errors_total", { protocol: PROTOCOL, direction: "downstream", reason: "bad_magic" }))).toBe(1);
});

test("a call the policy denies is answered with an error reply carrying its id; the server gets a ping instead", async () => {
  const host = await startedHost(wasm, { policy: { authz: { deny_text: "no", rules: [{ action: "deny", match: { method: { exact: "hello" } } }] } } });
  const conn = host.newConnection();
  const [probe] = new wire.FrameReader().push(Buffer.from(conn.downstream(wire.request(42, "Greeter", "hello")).forwarded));
  expect(probe.kind).toBe(wire.Kind.ping);
  const [reply] = new wire.FrameReader().push(Buffer.from(conn.upstream(wire.pong(probe.id)).forwarded));
  expect([reply.kind, reply.status, reply.id, reply.body.toString()]).toEqual([wire.Kind.response, wire.Status.clientError, 42, "no"]);
  expect(host.counterValue(metricName("metaproto_local_replies_total", { protocol: PROTOCOL, reason: "denied" }))).toBe(1);
});

describe("robustness", () => {
  testNeverTraps(() => wasm, {
    sessions: SESSIONS,
    // Random bytes behind a valid magic reach past the first check.
    prefixes: [Buffer.alloc(0), wire.ping(1).subarray(0, 2)],
    minDecodeErrorShare: 0.3,
  });
});
