// Policies through the compiled dist/wasm/dubbo.wasm: a refused call never reaches the provider
// (a heartbeat goes in its place) and the consumer gets an error response with the call's id.
import { testChunkings } from "../../api/proxytest/chunkings";
import { compiledDubbo, frames, header, hessianValue, hessianValues, request, requestsTotal, response, startedHost } from "./test_frames";

let dubbo: WebAssembly.Module;
beforeAll(async () => {
  dubbo = await compiledDubbo();
}, 120_000);

const PROBE_ID = 0x7fffffff00000000n;
const DENY_FAIL = { policy: { authz: { rules: [{ action: "deny", match: { method: { exact: "fail" } } }] } } };

function heartbeatReply(id: bigint): Buffer {
  return Buffer.concat([header(0x22, 20, id, 1), Buffer.from("N")]);
}

describe("a denied call between two allowed ones", () => {
  const calls = Buffer.concat([request({ id: 1n }), request({ id: 2n, method: "fail" }), request({ id: 3n })]);
  const replies = Buffer.concat([response(1n), heartbeatReply(PROBE_ID), response(3n)]);

  testChunkings(calls, replies, async (callChunks, replyChunks) => {
    const host = await startedHost(dubbo, DENY_FAIL, { logLevel: "info" });
    const conn = host.newConnection();
    const forwarded = Buffer.concat(callChunks.map((c) => Buffer.from(conn.downstream(c).forwarded)));
    const sent = frames(forwarded);
    expect(sent.map((f) => f.readBigUInt64BE(4))).toEqual([1n, PROBE_ID, 3n]);
    expect(sent[1][2]).toBe(0xe2); // a two-way heartbeat event
    const toClient = frames(Buffer.concat(replyChunks.map((c) => Buffer.from(conn.upstream(c).forwarded))));
    expect(toClient.map((f) => f.readBigUInt64BE(4))).toEqual([1n, 2n, 3n]);
    const refused = toClient[1];
    expect(refused[3]).toBe(40);
    expect(hessianValue(refused.subarray(16))).toBe("denied by MetaProto authz policy");
    expect(host.counterValue(requestsTotal("fail", "client_error", "40"))).toBe(1);
    expect(host.counterValue(requestsTotal("sayHello", "ok", "20"))).toBe(2);
    expect(host.counterValue("metaproto_local_replies_total;protocol=dubbo;reason=denied")).toBe(1);
    expect(host.traps).toEqual([]);
  });
});

test("a rate-limited call is answered with status 100 and the rule's text", async () => {
  const config = { policy: { rate_limits: [{ name: "hello", max_tokens: 1, fill_interval_ms: 60000, text: "slow down" }] } };
  const host = await startedHost(dubbo, config, { logLevel: "info" });
  const conn = host.newConnection();
  conn.downstream(Buffer.concat([request({ id: 1n }), request({ id: 2n })]));
  const toClient = frames(Buffer.from(conn.upstream(Buffer.concat([response(1n), heartbeatReply(PROBE_ID)])).forwarded));
  expect(toClient[1][3]).toBe(100);
  expect(hessianValue(toClient[1].subarray(16))).toBe("slow down");
});

describe("attachment mutation", () => {
  const MUTATE = { policy: { mutations: [
    { match: { method: { exact: "sayHello" } }, set: { "x-canary": "yes", tenant: "t9" }, remove: ["trace"] },
  ] } };
  const calls = Buffer.concat([
    request({ id: 1n, attachments: { tenant: "t1", trace: "abc", keep: "me" } }),
    request({ id: 2n, method: "echo", attachments: { tenant: "t1" } }),
  ]);

  testChunkings(calls, response(1n), async (callChunks) => {
    const host = await startedHost(dubbo, MUTATE, { logLevel: "info" });
    const conn = host.newConnection();
    const sent = frames(Buffer.concat(callChunks.map((c) => Buffer.from(conn.downstream(c).forwarded))));
    expect(sent.length).toBe(2);
    // version, path, version, method, descriptor, arguments..., attachments
    const mutated = hessianValues(sent[0].subarray(16));
    expect(mutated[3]).toBe("sayHello");
    expect(mutated[mutated.length - 1]).toEqual({ keep: "me", "x-canary": "yes", tenant: "t9" });
    // Not matched: the frame goes on byte for byte.
    expect(sent[1].equals(frames(calls)[1])).toBe(true);
    expect(host.counterValue("metaproto_mutations_total;protocol=dubbo;reason=applied")).toBe(1);
  });
});

test("a rule on an attachment makes the codec decode attachments, at Envoy's default log level too", async () => {
  const config = { policy: { authz: { rules: [{ action: "deny", match: { attributes: [{ name: "tenant", exact: "blocked" }] } }] } } };
  const host = await startedHost(dubbo, config, { logLevel: "info" });
  const conn = host.newConnection();
  const sent = frames(Buffer.from(conn.downstream(Buffer.concat([
    request({ id: 1n, attachments: { tenant: "blocked" } }),
    request({ id: 2n, attachments: { tenant: "ok" } }),
  ])).forwarded));
  expect(sent.map((f) => f.readBigUInt64BE(4))).toEqual([PROBE_ID, 2n]);
});
