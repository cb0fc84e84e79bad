// Policies through the compiled dist/wasm/redis.wasm: a refused command never reaches the server
// (a PING goes in its place) and the client gets an error reply in the refused command's place,
// with the replies before and after it intact, whatever the chunking.
import { testChunkings } from "../../api/proxytest/chunkings";
import { command, compiledRedis, requestsTotal, startedHost } from "./test_frames";

let redis: WebAssembly.Module;
beforeAll(async () => {
  redis = await compiledRedis();
}, 120_000);

const DENY_FLUSH = { policy: { authz: { rules: [{ action: "deny", match: { method: { prefix: "FLUSH" } } }] } } };
const PING = command("PING");

async function connection(config: object) {
  const host = await startedHost(redis, config, { logLevel: "info" });
  return { host, conn: host.newConnection() };
}

describe("a denied command in a pipeline", () => {
  const request = Buffer.concat([command("SET", "k", "v"), command("FLUSHALL"), command("GET", "k")]);
  const serverSees = Buffer.concat([command("SET", "k", "v"), PING, command("GET", "k")]);
  const serverReplies = Buffer.from("+OK\r\n+PONG\r\n$1\r\nv\r\n");

  testChunkings(request, serverReplies, async (requestChunks, replyChunks) => {
    const { host, conn } = await connection(DENY_FLUSH);
    const forwarded = Buffer.concat(requestChunks.map((c) => Buffer.from(conn.downstream(c).forwarded)));
    expect(forwarded.equals(serverSees)).toBe(true);
    const toClient = Buffer.concat(replyChunks.map((c) => Buffer.from(conn.upstream(c).forwarded)));
    expect(toClient.toString()).toBe("+OK\r\n-NOPERM denied by MetaProto authz policy\r\n$1\r\nv\r\n");
    expect(conn.closedByFilter).toBe(false);
    expect(host.counterValue("metaproto_local_replies_total;protocol=redis;reason=denied")).toBe(1);
    expect(host.counterValue(requestsTotal("FLUSHALL", "client_error", "NOPERM"))).toBe(1);
    expect(host.counterValue(requestsTotal("GET", "ok", "OK"))).toBe(1);
    expect(host.traps).toEqual([]);
  });
});

test("allowed commands under a policy reach the server byte for byte, whatever the chunking", async () => {
  const request = Buffer.concat([command("SET", "k", "x".repeat(3000)), command("GET", "k"), command("DEL", "k")]);
  const { conn } = await connection(DENY_FLUSH);
  const chunks: Buffer[] = [];
  for (let at = 0; at < request.length; at += 7) chunks.push(request.subarray(at, at + 7));
  const forwarded = Buffer.concat(chunks.map((c) => Buffer.from(conn.downstream(c).forwarded)));
  expect(forwarded.equals(request)).toBe(true);
});

test("a token bucket: max_tokens calls pass, then the rest are answered ERR until it refills", async () => {
  const config = { policy: { rate_limits: [{ name: "gets", match: { method: { exact: "GET" } }, max_tokens: 2, tokens_per_fill: 1, fill_interval_ms: 1000 }] } };
  const { host, conn } = await connection(config);
  const gets = Buffer.concat([1, 2, 3, 4].map(() => command("GET", "k")));
  expect(Buffer.from(conn.downstream(gets).forwarded).equals(Buffer.concat([command("GET", "k"), command("GET", "k"), PING, PING]))).toBe(true);
  const replies = Buffer.from(conn.upstream("$-1\r\n$-1\r\n+PONG\r\n+PONG\r\n").forwarded).toString();
  expect(replies).toBe("$-1\r\n$-1\r\n-ERR rate limited by MetaProto\r\n-ERR rate limited by MetaProto\r\n");
  host.advanceTime(1000);
  expect(Buffer.from(conn.downstream(command("GET", "k")).forwarded).equals(command("GET", "k"))).toBe(true);
  expect(host.counterValue("metaproto_local_replies_total;protocol=redis;reason=rate_limited")).toBe(2);
});

test("inside MULTI no probe fits: the connection is closed, counted, and the command never sent", async () => {
  const { host, conn } = await connection(DENY_FLUSH);
  conn.downstream(command("MULTI"));
  conn.upstream("+OK\r\n");
  const result = conn.downstream(Buffer.concat([command("SET", "a", "1"), command("FLUSHALL")]));
  expect(Buffer.from(result.forwarded).includes(command("FLUSHALL"))).toBe(false);
  expect(conn.closedByFilter).toBe(true);
  expect(host.counterValue("metaproto_policy_closes_total;protocol=redis;reason=no_probe")).toBe(1);
});

test("a policy update reaches the next command of a connection opened before it", async () => {
  const { host, conn } = await connection({});
  expect(Buffer.from(conn.downstream(command("FLUSHALL")).forwarded).equals(command("FLUSHALL"))).toBe(true);
  conn.upstream("+OK\r\n");
  host.reconfigure(JSON.stringify(DENY_FLUSH));
  expect(Buffer.from(conn.downstream(command("FLUSHALL")).forwarded).equals(PING)).toBe(true);
});

test("a bad policy is rejected naming the field path", async () => {
  const { ProxyTestHost, ConfigRejected } = await import("../../api/proxytest");
  const host = await ProxyTestHost.load(redis, { pluginConfig: JSON.stringify({ policy: { authz: { rules: [{ action: "deny", match: { method: { prefx: "A" } } }] } } }) });
  expect(() => host.start()).toThrow(ConfigRejected);
  expect(host.logMessages("error").join("\n")).toMatch(/policy\.authz\.rules\[0\]\.match\.method\.prefx: unknown field/);
});

test("authz by the client certificate's URI SAN (Envoy terminating TLS) and by source address", async () => {
  const config = { policy: { authz: { default_action: "deny", rules: [
    { action: "allow", match: { principals: [{ prefix: "spiffe://cluster.local/ns/shop/" }] } },
    { action: "allow", match: { source_cidrs: ["10.1.0.0/16"] } },
  ] } } };
  const host = await startedHost(redis, config, { logLevel: "info" });
  const shop = host.newConnection({ properties: { "connection.uri_san_peer_certificate": "spiffe://cluster.local/ns/shop/sa/web" } });
  expect(Buffer.from(shop.downstream(command("GET", "k")).forwarded).equals(command("GET", "k"))).toBe(true);
  const other = host.newConnection({ properties: { "connection.uri_san_peer_certificate": "spiffe://cluster.local/ns/ads/sa/x" } });
  expect(Buffer.from(other.downstream(command("GET", "k")).forwarded).equals(PING)).toBe(true);
  const internal = host.newConnection({ properties: { "source.address": "10.1.2.3:5555" } });
  expect(Buffer.from(internal.downstream(command("GET", "k")).forwarded).equals(command("GET", "k"))).toBe(true);
  const outside = host.newConnection({ properties: { "source.address": "10.2.2.3:5555" } });
  expect(Buffer.from(outside.downstream(command("GET", "k")).forwarded).equals(PING)).toBe(true);
});

test("a regex match: the whole method name must match, as Envoy's string matchers do", async () => {
  const config = { policy: { authz: { rules: [{ action: "deny", match: { method: { regex: "FLUSH(ALL|DB)|CONFIG\\|SET" } } }] } } };
  const host = await startedHost(redis, config, { logLevel: "info" });
  const conn = host.newConnection();
  expect(Buffer.from(conn.downstream(command("FLUSHDB")).forwarded).equals(PING)).toBe(true);
  expect(Buffer.from(conn.downstream(command("CONFIG", "SET", "x", "y")).forwarded).equals(PING)).toBe(true);
  expect(Buffer.from(conn.downstream(command("CONFIG", "GET", "x")).forwarded).equals(command("CONFIG", "GET", "x"))).toBe(true);
});

test("local replies awaiting their probe's answer are bounded by max_pending_calls; past it the connection closes", async () => {
  const config = { max_pending_calls: 4, policy: { authz: { rules: [{ action: "deny", match: { method: { exact: "GET" } } }] } } };
  const host = await startedHost(redis, config, { logLevel: "info" });
  const conn = host.newConnection();
  const forwarded = Buffer.from(conn.downstream(Buffer.concat(new Array(6).fill(command("GET", "k")))).forwarded);
  // Whatever left before the close, no refused GET did.
  expect(forwarded.includes(command("GET", "k"))).toBe(false);
  expect(conn.closedByFilter).toBe(true);
  expect(host.counterValue("metaproto_policy_closes_total;protocol=redis;reason=too_many_local_replies")).toBe(1);
});
