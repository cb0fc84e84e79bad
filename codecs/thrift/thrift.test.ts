// The compiled dist/wasm/thrift.wasm against sessions captured from real Thrift peers
// (codecs/thrift/fixtures/README.md), fed whole, one byte at a time, in random chunkings and
// split at every byte boundary, in both directions. What the codec decodes is compared with
// python3-thrift's own reading of the same bytes, and the metrics with what the client saw.
import { testChunkings } from "../../api/proxytest/chunkings";
import {
  Fixture, bytewise, compiledThrift, counters, decodedMessages, declaredExceptionFields, expectedOutcome, feed, fixture,
  observedCall, requestsTotal, split, startedHost,
} from "./test_frames";

let thriftWasm: WebAssembly.Module;
beforeAll(async () => {
  thriftWasm = await compiledThrift();
}, 120_000);

const DECODED_SESSIONS = [
  "node-binary-buffered",
  "node-binary-framed",
  "node-compact-buffered",
  "node-compact-framed-multiplexed",
  "python-header-binary",
  "python-header-compact",
  "python-binary-nonstrict-buffered",
  "python-compact-framed",
  "node-json-buffered",
  "node-json-framed-multiplexed",
  "python-json-buffered",
  "python-json-framed",
].map(fixture);
const declared = declaredExceptionFields();

async function run(f: Fixture, requestChunks: Buffer[], responseChunks: Buffer[]) {
  const host = await startedHost(thriftWasm);
  const conn = host.newConnection();
  const forwardedRequest = feed(conn, "downstream", requestChunks);
  const forwardedResponse = feed(conn, "upstream", responseChunks);
  conn.close("downstream");
  expect(host.traps).toEqual([]);
  return { host, forwardedRequest, forwardedResponse, decoded: decodedMessages(host) };
}

function splitName(name: string): { service: string; method: string } {
  const colon = name.indexOf(":");
  return colon < 0 ? { service: "", method: name } : { service: name.slice(0, colon), method: name.slice(colon + 1) };
}

function checkSession(f: Fixture, result: Awaited<ReturnType<typeof run>>): void {
  // Transparent: every byte leaves the filter as it came, in order.
  expect(result.forwardedRequest.equals(f.request)).toBe(true);
  expect(result.forwardedResponse.equals(f.response)).toBe(true);

  // Each message as python3-thrift reads it: boundaries, names, seqids, headers, outcomes.
  const down = result.decoded.filter((m) => m.direction === "downstream");
  expect(down.map((m) => ({ kind: m.kind, service: m.service, method: m.method, seq: m.request_id, length: m.frame_length, attributes: m.attributes, truncated: m.truncated })))
    .toEqual(f.requestMessages.map((m) => ({
      kind: m.type === "oneway" ? "oneway" : "request", ...splitName(m.name), seq: String(m.seqid >>> 0), length: m.length,
      attributes: m.headers ?? {}, truncated: false,
    })));
  const up = result.decoded.filter((m) => m.direction === "upstream");
  expect(up.map((m) => ({ kind: m.kind, method: m.method, seq: m.request_id, length: m.frame_length, status: m.status, code: m.code, attributes: m.attributes })))
    .toEqual(f.responseMessages.map((m) => ({
      kind: "response", method: splitName(m.name).method, seq: String(m.seqid >>> 0), length: m.length, ...expectedOutcome(m), attributes: m.headers ?? {},
    })));

  // Metrics: one count per call, under what the client saw.
  const expected = new Map<string, number>();
  for (const line of f.clientObserved) {
    const c = observedCall(line, declared);
    const key = requestsTotal(c.service, c.method, c.status, c.code);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const calls = counters(result.host, "metaproto_requests_total;");
  expect(calls).toEqual(Object.fromEntries(expected));
  expect(counters(result.host, "metaproto_decode_errors_total")).toEqual({});
  expect(counters(result.host, "metaproto_passthrough_connections_total")).toEqual({});
  // Byte counters see every byte of both directions.
  const bytes = (prefix: string) => Object.values(counters(result.host, prefix)).reduce((n, v) => n + v, 0);
  expect(bytes("metaproto_request_bytes_total;")).toBe(f.request.length);
  expect(bytes("metaproto_response_bytes_total;")).toBe(f.response.length);
  const durations = result.host.metrics().filter((m) => m.name.startsWith("metaproto_request_duration_microseconds;"));
  expect(durations.reduce((n, m) => n + (m.samples?.length ?? 0), 0)).toBe(f.responseMessages.length);
}

test("the fixtures hold what the README promises", () => {
  const variants = DECODED_SESSIONS.map((f) => `${f.name}:${f.variant}`);
  expect(variants).toEqual([
    "node-binary-buffered:buffered", "node-binary-framed:framed", "node-compact-buffered:buffered",
    "node-compact-framed-multiplexed:framed", "python-header-binary:header", "python-header-compact:header",
    "python-binary-nonstrict-buffered:buffered", "python-compact-framed:framed",
    "node-json-buffered:buffered", "node-json-framed-multiplexed:framed", "python-json-buffered:buffered",
    "python-json-framed:framed",
  ]);
  for (const f of DECODED_SESSIONS) {
    // Every session has calls, oneways, declared exceptions and TApplicationExceptions.
    expect(new Set(f.requestMessages.map((m) => m.type))).toEqual(new Set(["call", "oneway"]));
    expect(f.responseMessages.some((m) => m.type === "exception")).toBe(true);
    expect(f.responseMessages.some((m) => (m.result_field ?? 0) > 0)).toBe(true);
    expect(f.clientObserved.length).toBe(f.requestMessages.length);
  }
  // python3-thrift's client always sends seqid 0: only FIFO pairing can match its replies.
  expect(fixture("python-header-binary").requestMessages.every((m) => m.seqid === 0)).toBe(true);
  expect(fixture("python-binary-nonstrict-buffered").request.readInt32BE(0)).toBe("sayHello".length);
});

describe.each(DECODED_SESSIONS)("$name", (f) => {
  testChunkings(f.request, f.response, async (request, response) => {
    checkSession(f, await run(f, request, response));
  });

  test("every two-chunk split of both directions", async () => {
    const n = Math.max(f.request.length, f.response.length);
    for (let i = 1; i < n; i++) {
      checkSession(f, await run(f, split(f.request, [i % f.request.length]), split(f.response, [i % f.response.length])));
    }
  }, 300_000);
});

describe("THeader with a zlib transform (python3-thrift client --zlib)", () => {
  const f = fixture("python-header-zlib");

  test.each([
    ["whole", (b: Buffer) => [b]],
    ["one byte at a time", bytewise],
  ])("%s: the connection is passed through and counted once, nothing decoded", async (_how, chunks) => {
    expect(f.requestMessages[0].transforms).toEqual([1]); // zlib
    const result = await run(f, chunks(f.request), chunks(f.response));
    expect(result.forwardedRequest.equals(f.request)).toBe(true);
    expect(result.forwardedResponse.equals(f.response)).toBe(true);
    expect(result.decoded).toEqual([]);
    expect(counters(result.host)).toEqual({ "metaproto_passthrough_connections_total;protocol=thrift;reason=theader_transform": 1 });
  });
});
