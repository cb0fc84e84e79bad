// The compiled dist/wasm/redis.wasm against sessions captured from real peers
// (codecs/redis/fixtures/README.md): fed whole, one byte at a time, in random chunkings and
// split at every byte boundary, in both directions; and in lockstep (each command, then the
// replies the server sent for it), as the sessions actually happened.
import { testChunkings } from "../../api/proxytest/chunkings";
import {
  Decoded, bytewise, commandWords, compiledRedis, decodedMessages, feed, fixture, requestsTotal, respFrames, split,
  startedHost,
} from "./test_frames";

let redis: WebAssembly.Module;
beforeAll(async () => {
  redis = await compiledRedis();
}, 120_000);

interface Session {
  name: string;
  request: Buffer;
  response: Buffer;
  /** Commands in wire order: "[oneway ]DB METHOD". */
  calls: string[];
  /** Upstream messages in wire order: "STATUS CODE" for responses, "event" for the others. */
  replies: string[];
  /** Client bytes that belong to no command (empty inline lines). */
  ignoredRequestBytes?: number;
}

/** Container commands the fixtures use, labelled with their subcommand. */
const CONTAINERS = ["CLIENT", "CONFIG", "XINFO"];

/**
 * What a well-behaved session (every command answered once, no pushes, SELECTs that succeed)
 * should decode to, read with the test's own RESP reader.
 */
function plainSession(name: string): Session {
  const request = fixture(`${name}.request.bin`);
  const response = fixture(`${name}.response.bin`);
  let db = "0";
  const calls = respFrames(request).map((frame) => {
    const words = commandWords(frame);
    const command = words[0].toUpperCase();
    let method = CONTAINERS.includes(command) && words.length > 1 ? `${command}|${words[1].toUpperCase()}` : command;
    if (command === "NOSUCHCOMMAND") method = "UNKNOWN";
    const call = `${db} ${method}`;
    if (command === "SELECT") db = words[1];
    return call;
  });
  const replies = respFrames(response).map(({ value }) => {
    if (value.type === "error") return `client_error ${value.text.split(" ")[0]}`;
    if (value.type === "null") return "ok NULL";
    if (value.type === "simple" && value.text === "QUEUED") return "ok QUEUED";
    if (value.type === "push") throw new Error(`${name} is not a plain session: it has pushes`);
    return "ok OK";
  });
  return { name, request, response, calls, replies };
}

function session(name: string, calls: string[], replies: string[], ignoredRequestBytes = 0): Session {
  return {
    name, request: fixture(`${name}.request.bin`), response: fixture(`${name}.response.bin`), calls, replies, ignoredRequestBytes,
  };
}

const IOREDIS_HANDSHAKE_RESP3 = ["0 HELLO", "0 CLIENT|SETINFO", "0 CLIENT|SETINFO", "0 INFO"];
// Redis 7.0 does not know CLIENT SETINFO (7.2 added it): both are refused.
const IOREDIS_HANDSHAKE_RESP3_REPLIES = ["ok OK", "client_error ERR", "client_error ERR", "ok OK"];
const SIX_MESSAGES = ["event", "event", "event", "event", "event", "event"];

const SESSIONS: Session[] = [
  plainSession("ioredis-commands"),
  plainSession("ioredis-pubsub-publisher"),
  plainSession("ioredis-blocking-waiter"),
  plainSession("ioredis-blocking-pusher"),
  plainSession("redis-benchmark-config"),
  plainSession("redis-benchmark-lpush"),
  session("ioredis-pubsub-subscriber", [
    ...IOREDIS_HANDSHAKE_RESP3, "0 PING", "0 SUBSCRIBE", "0 PSUBSCRIBE", "0 PING", "0 GET", "0 UNSUBSCRIBE", "0 PUNSUBSCRIBE", "0 QUIT",
  ], [
    ...IOREDIS_HANDSHAKE_RESP3_REPLIES, "ok OK",
    "ok OK", "event", // SUBSCRIBE mp:ch1 mp:ch2: two confirmations, the first answers
    "ok OK", "ok OK", "ok NULL", // PSUBSCRIBE, PING, GET (RESP3 allows it while subscribed)
    ...SIX_MESSAGES,
    "ok OK", "event", "ok OK", "ok OK", // UNSUBSCRIBE of two channels, PUNSUBSCRIBE, QUIT
  ]),
  session("ioredis-pubsub-resp2-subscriber", [
    "0 CLIENT|SETINFO", "0 CLIENT|SETINFO", "0 INFO", "0 PING", "0 SUBSCRIBE", "0 PSUBSCRIBE", "0 PING", "0 UNSUBSCRIBE", "0 PUNSUBSCRIBE", "0 QUIT",
  ], [
    "client_error ERR", "client_error ERR", "ok OK", "ok OK",
    "ok OK", "event", "ok OK",
    "ok OK", // PING in subscribed mode: ["pong", ""], an array that is a reply
    ...SIX_MESSAGES,
    "ok OK", "event", "ok OK", "ok OK",
  ]),
  session("raw-telnet", ["0 PING", "0 SET", "0 GET", "0 CLIENT|SETNAME", "0 EXISTS", "0 DEL", "0 QUIT"],
    ["ok OK", "ok OK", "ok OK", "ok OK", "ok OK", "ok OK", "ok OK"], 2),
];

/**
 * raw-special fed with all commands first, as a client pipelining everything would send them:
 * commands behind SELECT 99 go by before the server refuses it, so they carry database 99.
 */
const RAW_SPECIAL_CALLS_PIPELINED = [
  "oneway 0 CLIENT|REPLY", "oneway 0 SET", "0 GET", // SKIP hides SET's reply
  "oneway 0 CLIENT|REPLY", "oneway 0 INCR", "oneway 0 UNKNOWN", "0 CLIENT|REPLY", "0 GET", // OFF ... ON
  "0 SELECT", "3 SET", "3 SELECT", "99 GET",
  "99 MULTI", "99 SELECT", "4 GET", "4 DISCARD", "99 DEL", "99 SELECT",
  "0 MULTI", "0 SET", "0 INCR", "0 EXEC", "0 MULTI", "0 GET", "0 EXEC",
  "0 SUBSCRIBE", "0 PSUBSCRIBE", "0 PING", "0 GET", "0 UNSUBSCRIBE", "0 PUNSUBSCRIBE", "0 UNSUBSCRIBE",
  "0 HELLO", ...Array(13).fill("0 DEBUG"),
  "0 CLIENT|TRACKING", "0 GET", "0 SET", "0 SUBSCRIBE", "0 PUBLISH", "0 GET", "0 SELECT", "5 RESET",
  "0 DEL", "0 PING", "0 QUIT",
];
/** The same session as it happened (each reply back before the next command): SELECT 99's refusal is seen in time. */
const RAW_SPECIAL_CALLS_LOCKSTEP = RAW_SPECIAL_CALLS_PIPELINED.map((call, i) =>
  i >= 11 && i <= 17 ? ["3 GET", "3 MULTI", "3 SELECT", "4 GET", "4 DISCARD", "3 DEL", "3 SELECT"][i - 11] : call);
const RAW_SPECIAL_REPLIES = [
  "ok OK", "ok OK", "ok OK", // GET, CLIENT REPLY ON, GET
  "ok OK", "ok OK", "client_error ERR", "ok OK", // SELECT 3, SET, SELECT 99 (out of range), GET
  "ok OK", "ok QUEUED", "ok QUEUED", "ok OK", "ok OK", "ok OK", // MULTI, SELECT 4, GET, DISCARD, DEL, SELECT 0
  "ok OK", "ok QUEUED", "ok QUEUED", "ok OK", // EXEC answers with an array holding INCR's error
  "ok OK", "client_error ERR", "client_error EXECABORT",
  "ok OK", "event", "event", // SUBSCRIBE mp:a mp:b mp:a: three confirmations
  "ok OK", "ok OK", "client_error ERR", // PSUBSCRIBE, PING (["pong",""]), GET refused in subscribed mode
  "ok OK", "event", "ok OK", "ok OK", // UNSUBSCRIBE (2 channels), PUNSUBSCRIBE, UNSUBSCRIBE (none left)
  "ok OK", // HELLO 3
  "ok OK", "ok OK", "ok OK", "ok OK", "ok NULL", "ok OK", "ok OK", "ok OK", "ok OK", // string..attrib
  "event", "ok OK", // push: an out-of-band push, then the reply
  "ok OK", "ok OK", "ok OK", // verbatim, true, false
  "ok OK", "ok OK", "ok OK", "event", // CLIENT TRACKING ON, GET, SET then its invalidation push
  "ok OK", "event", "ok OK", // SUBSCRIBE mp:self; PUBLISH: the message push comes before its reply
  "ok OK", "ok OK", "ok OK", "ok OK", "ok OK", "ok OK", // GET, SELECT 5, RESET, DEL, PING, QUIT
];
/** Reply frames the server sent for each command of raw-special (the test's own account). */
const RAW_SPECIAL_REPLY_FRAMES = [
  0, 0, 1, 0, 0, 0, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1,
  3, 1, 1, 1, 2, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
  1, 1, 2, 1, 2, 1, 1, 1,
  1, 1, 1,
];
const RAW_SPECIAL_PIPELINED = session("raw-special", RAW_SPECIAL_CALLS_PIPELINED, RAW_SPECIAL_REPLIES);
SESSIONS.push(RAW_SPECIAL_PIPELINED);

async function run(requestChunks: Buffer[], responseChunks: Buffer[]) {
  const host = await startedHost(redis);
  const conn = host.newConnection();
  const forwardedRequest = feed(conn, "downstream", requestChunks);
  const forwardedResponse = feed(conn, "upstream", responseChunks);
  conn.close("downstream");
  expect(host.traps).toEqual([]);
  return { host, forwardedRequest, forwardedResponse, decoded: decodedMessages(host) };
}

function describeCall(m: Decoded): string {
  return `${m.kind === "oneway" ? "oneway " : ""}${m.service} ${m.method}`;
}

function describeReply(m: Decoded): string {
  return m.kind === "response" ? `${m.status} ${m.code}` : m.kind;
}

/** The requests_total samples a session should leave: calls paired in order with their responses. */
function expectedCounts(calls: string[], replies: string[]): Map<string, number> {
  const responses = replies.filter((r) => r !== "event");
  const counts = new Map<string, number>();
  for (const call of calls) {
    const parts = call.split(" ");
    const oneway = parts[0] === "oneway";
    const [db, method] = oneway ? parts.slice(1) : parts;
    const [status, code] = oneway ? ["no_response", "oneway"] : (responses.shift() ?? "no_response closed").split(" ");
    const key = requestsTotal(method, status, code, db);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function checkSession(session: Session, result: Awaited<ReturnType<typeof run>>, calls = session.calls): void {
  // Transparent: every byte leaves the filter as it came, in order.
  expect(result.forwardedRequest.equals(session.request)).toBe(true);
  expect(result.forwardedResponse.equals(session.response)).toBe(true);

  const down = result.decoded.filter((m) => m.direction === "downstream");
  const up = result.decoded.filter((m) => m.direction === "upstream");
  expect(down.map(describeCall)).toEqual(calls);
  expect(up.map(describeReply)).toEqual(session.replies);
  expect(result.decoded.every((m) => !m.truncated)).toBe(true);
  // Frame lengths add up to the session: nothing skipped, nothing counted twice.
  const total = (ms: Decoded[]) => ms.reduce((n, m) => n + m.frame_length, 0);
  expect(total(down)).toBe(session.request.length - (session.ignoredRequestBytes ?? 0));
  expect(total(up)).toBe(session.response.length);

  const { host } = result;
  const counted = new Map(host.metrics()
    .filter((m) => m.name.startsWith("metaproto_requests_total;"))
    .map((m) => [m.name, m.value] as [string, number]));
  expect(counted).toEqual(expectedCounts(calls, session.replies));
  expect(host.metrics().filter((m) => /^metaproto_(decode_errors|passthrough_connections)_total/.test(m.name))).toEqual([]);
  const durations = host.metrics().filter((m) => m.name.startsWith("metaproto_request_duration_microseconds;"));
  expect(durations.reduce((n, m) => n + (m.samples?.length ?? 0), 0)).toBe(session.replies.filter((r) => r !== "event").length);
}

describe.each(SESSIONS)("$name", (session) => {
  testChunkings(session.request, session.response, async (request, response) => {
    checkSession(session, await run(request, response));
  });
});

describe("split at every byte boundary", () => {
  // Every two-chunk split of each direction (the other direction split at a moving point too).
  const small = SESSIONS.filter((s) => s.request.length + s.response.length <= 4000);
  test.each(small.map((s) => [s.name, s] as [string, Session]))("%s", async (_name, session) => {
    const longest = Math.max(session.request.length, session.response.length);
    for (let i = 1; i < longest; i++) {
      const r = await run(split(session.request, [i % session.request.length]), split(session.response, [i % session.response.length]));
      checkSession(session, r);
    }
  }, 300_000);
});

describe("raw-special in lockstep, as it happened", () => {
  // Each command, then the reply frames the server sent for it (the client waited 40 ms).
  test("each reply arrives before the next command: a refused SELECT is undone in time", async () => {
    const session = RAW_SPECIAL_PIPELINED;
    const commands = respFrames(session.request).map((f) => f.bytes);
    const replies = respFrames(session.response).map((f) => f.bytes);
    expect(RAW_SPECIAL_REPLY_FRAMES.length).toBe(commands.length);
    expect(RAW_SPECIAL_REPLY_FRAMES.reduce((a, b) => a + b, 0)).toBe(replies.length);
    const host = await startedHost(redis);
    const conn = host.newConnection();
    const sentDown: Buffer[] = [];
    const sentUp: Buffer[] = [];
    let next = 0;
    commands.forEach((bytes, i) => {
      sentDown.push(feed(conn, "downstream", [bytes]));
      for (let k = 0; k < RAW_SPECIAL_REPLY_FRAMES[i]; k++) sentUp.push(feed(conn, "upstream", [replies[next++]]));
    });
    conn.close("downstream");
    expect(host.traps).toEqual([]);
    checkSession(session, {
      host, forwardedRequest: Buffer.concat(sentDown), forwardedResponse: Buffer.concat(sentUp), decoded: decodedMessages(host),
    }, RAW_SPECIAL_CALLS_LOCKSTEP);
  });
});

describe("MONITOR", () => {
  const request = fixture("raw-monitor.request.bin");
  const response = fixture("raw-monitor.response.bin");

  test("after its +OK the connection is a stream: counted once, then passed through", async () => {
    for (const chunks of [[response], bytewise(response)]) {
      const result = await run([request], chunks);
      expect(result.forwardedRequest.equals(request)).toBe(true);
      expect(result.forwardedResponse.equals(response)).toBe(true);
      expect(result.decoded.map((m) => `${m.direction} ${m.kind} ${m.method}${m.code}`)).toEqual([
        "downstream request MONITOR", "upstream response OK",
      ]);
      expect(result.host.counterValue(requestsTotal("MONITOR", "ok", "OK"))).toBe(1);
      expect(result.host.counterValue("metaproto_passthrough_connections_total;protocol=redis;reason=monitor")).toBe(1);
      expect(result.host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total"))).toEqual([]);
    }
  });
});
