// The compiled dist/wasm/dubbo.wasm against sessions captured from real Dubbo peers
// (codecs/dubbo/fixtures/README.md), fed whole, split at every byte boundary, one byte at a
// time and coalesced, in both directions; random and corrupted bytes never trap.
import { testChunkings, testNeverTraps } from "../../api/proxytest";
import {
  SERVICE, compiledDubbo, decodedMessages, feed, fixture, frames, requestsTotal, split, startedHost,
} from "./test_frames";

let dubbo: WebAssembly.Module;
beforeAll(async () => {
  dubbo = await compiledDubbo();
}, 120_000);

interface Session {
  name: string;
  request: Buffer;
  response: Buffer;
  /** What the client sent, call by call: [kind, method]. */
  calls: Array<[string, string]>;
  /** Expected response statuses in wire order. */
  responses: string[];
  heartbeats: number;
  /** Attachments every request of this client carries. */
  attachments: Record<string, string>;
}

const SESSIONS: Session[] = [
  {
    name: "java-consumer",
    request: fixture("java-consumer.request.bin"),
    response: fixture("java-consumer.response.bin"),
    calls: [["request", "sayHello"], ["request", "sayHello"], ["request", "sayHello"], ["request", "fail"], ["oneway", "notifyOneway"], ["request", "echo"]],
    responses: ["ok", "ok", "ok", "server_error", "ok"],
    heartbeats: 0,
    attachments: { trace: "abc", tenant: "t1", interface: SERVICE, path: SERVICE, timeout: "5000" },
  },
  {
    name: "java-consumer-heartbeat",
    request: fixture("java-consumer-heartbeat.request.bin"),
    response: fixture("java-consumer-heartbeat.response.bin"),
    calls: [["request", "sayHello"], ["request", "fail"], ["oneway", "notifyOneway"], ["request", "echo"]],
    responses: ["ok", "server_error", "ok"],
    heartbeats: 3,
    attachments: { trace: "abc", tenant: "t1" },
  },
  {
    name: "node-client (dubbo2.js)",
    request: fixture("node-client.request.bin"),
    response: fixture("node-client.response.bin"),
    calls: [["request", "sayHello"], ["request", "sayHello"], ["request", "sayHello"], ["request", "fail"]],
    responses: ["ok", "ok", "ok", "server_error"],
    heartbeats: 0,
    attachments: { interface: SERVICE, path: SERVICE, application: "dubbo2.js" },
  },
];

async function run(session: Session, requestChunks: Buffer[], responseChunks: Buffer[]) {
  const host = await startedHost(dubbo);
  const conn = host.newConnection();
  const forwardedRequest = feed(conn, "downstream", requestChunks);
  const forwardedResponse = feed(conn, "upstream", responseChunks);
  conn.close("downstream");
  expect(host.traps).toEqual([]);
  return { host, forwardedRequest, forwardedResponse, decoded: decodedMessages(host) };
}

function checkSession(session: Session, result: Awaited<ReturnType<typeof run>>): void {
  // Transparent: every byte leaves the filter as it came, in order.
  expect(result.forwardedRequest.equals(session.request)).toBe(true);
  expect(result.forwardedResponse.equals(session.response)).toBe(true);

  const down = result.decoded.filter((m) => m.direction === "downstream" && m.kind !== "heartbeat");
  expect(down.map((m) => [m.kind, m.method])).toEqual(session.calls);
  for (const m of down) {
    expect(m.service).toBe(SERVICE);
    expect(m.attributes).toEqual(expect.objectContaining(session.attachments));
    expect(m.truncated).toBe(false);
  }
  const up = result.decoded.filter((m) => m.direction === "upstream" && m.kind === "response");
  expect(up.map((m) => m.status)).toEqual(session.responses);
  expect(up.every((m) => m.code === "20")).toBe(true);
  const heartbeats = result.decoded.filter((m) => m.kind === "heartbeat");
  expect(heartbeats.length).toBe(2 * session.heartbeats); // each one answered
  expect(heartbeats.filter((m) => m.is_reply).length).toBe(session.heartbeats);
  // Frame lengths add up to the whole session: nothing skipped, nothing decoded twice.
  const total = (dir: string) => result.decoded.filter((m) => m.direction === dir).reduce((n, m) => n + m.frame_length, 0);
  expect(total("downstream")).toBe(session.request.length);
  expect(total("upstream")).toBe(session.response.length);

  // Metrics: one count per call, by method and outcome.
  const { host } = result;
  const expected = new Map<string, number>();
  const replies = [...session.responses];
  for (const [kind, method] of session.calls) {
    const key = kind === "oneway" ? requestsTotal(method, "no_response", "oneway") : requestsTotal(method, replies.shift()!, "20");
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  for (const [name, count] of expected) expect([name, host.counterValue(name)]).toEqual([name, count]);
  const counted = host.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;")).reduce((n, m) => n + m.value, 0);
  expect(counted).toBe(session.calls.length);
  expect(host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total"))).toEqual([]);
  const durations = host.metrics().filter((m) => m.name.startsWith("metaproto_request_duration_microseconds;"));
  expect(durations.reduce((n, m) => n + (m.samples?.length ?? 0), 0)).toBe(session.responses.length);
}

describe.each(SESSIONS)("$name", (session) => {
  testChunkings(session.request, session.response, async (request, response) => {
    checkSession(session, await run(session, request, response));
  }, 25);
});

describe("split at every byte boundary", () => {
  // Every two-chunk split of whole sessions; the 64 KB echo frames are covered by the
  // byte-at-a-time and random runs above, which visit every boundary too.
  const small = SESSIONS[2];
  test(`${small.name}: every split of both directions`, async () => {
    for (let i = 1; i < small.request.length; i++) {
      const r = await run(small, split(small.request, [i]), split(small.response, [i % small.response.length]));
      checkSession(small, r);
    }
  }, 120_000);

  test("java-consumer: every split of the first frames of each direction", async () => {
    const session = SESSIONS[0];
    const smallFrames = 1406; // sayHello x3, fail, oneway; the echo frame follows
    for (let i = 1; i < smallFrames; i++) {
      const r = await run(session, split(session.request, [i]), split(session.response, [Math.min(i, 5285)]));
      checkSession(session, r);
    }
  }, 300_000);
});

describe("pairing", () => {
  test("responses in another order than the requests pair by request id", async () => {
    const session = SESSIONS[2];
    const host = await startedHost(dubbo);
    const conn = host.newConnection();
    conn.downstream(session.request);
    const [hello1, hello2, hello3, fail] = frames(session.response);
    conn.upstream(Buffer.concat([fail, hello2, hello1, hello3]));
    expect(host.counterValue(requestsTotal("sayHello", "ok", "20"))).toBe(3);
    expect(host.counterValue(requestsTotal("fail", "server_error", "20"))).toBe(1);
  });

  test("requests left unanswered count as no_response when the connection closes", async () => {
    const session = SESSIONS[2];
    const host = await startedHost(dubbo);
    const conn = host.newConnection();
    conn.downstream(session.request);
    conn.upstream(frames(session.response)[0]);
    conn.close("upstream");
    expect(host.counterValue(requestsTotal("sayHello", "ok", "20"))).toBe(1);
    expect(host.counterValue(requestsTotal("sayHello", "no_response", "closed"))).toBe(2);
    expect(host.counterValue(requestsTotal("fail", "no_response", "closed"))).toBe(1);
  });

  test("past max_pending_calls the oldest request is given up as evicted", async () => {
    const session = SESSIONS[2];
    const host = await startedHost(dubbo, { max_pending_calls: 2 });
    const conn = host.newConnection();
    conn.downstream(session.request); // four requests, room for two
    conn.upstream(session.response);
    expect(host.counterValue(requestsTotal("sayHello", "no_response", "evicted"))).toBe(2);
    expect(host.counterValue(requestsTotal("sayHello", "ok", "20"))).toBe(1);
    expect(host.counterValue(requestsTotal("fail", "server_error", "20"))).toBe(1);
    expect(host.counterValue("metaproto_decode_errors_total;protocol=dubbo;direction=upstream;reason=unmatched_response")).toBe(2);
  });
});

describe("robustness: any bytes, never a trap", () => {
  // Random bytes behind the magic, or behind a whole request header, reach past the first checks.
  const magic = Buffer.from("dabb", "hex");
  testNeverTraps(() => dubbo, { sessions: SESSIONS, prefixes: [Buffer.alloc(0), magic, SESSIONS[2].request.subarray(0, 16)] });
});
