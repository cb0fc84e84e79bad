// The compiled dist/wasm/thrift.wasm on messages written by npm thrift's own encoder (and raw
// bytes where no encoder writes them): every protocol (binary, compact, JSON) × transport, every
// outcome, multiplexed names, FIFO pairing with repeated seqids, frames larger than the buffer
// cap, bad input, deep nesting and random bytes.
import fc from "fast-check";
import { ProxyTestHost, testNeverTraps } from "../../api/proxytest";
import {
  MessageType, ProtocolName, TransportName, Type, appException, bytewise, call, compiledThrift, counters, decodeError,
  decodedMessages, encodeMessage, feed, fixture, reply, requestsTotal, split, startedHost, struct, theaderFrame,
} from "./test_frames";

let thriftWasm: WebAssembly.Module;
beforeAll(async () => {
  thriftWasm = await compiledThrift();
}, 120_000);

const PROTOCOLS: ProtocolName[] = ["binary", "binary-nonstrict", "compact", "json"];
const TRANSPORTS: TransportName[] = ["buffered", "framed"];
const VARIANTS = PROTOCOLS.flatMap((protocol) => TRANSPORTS.map((transport) => ({ protocol, transport })));

/** Both directions of one connection, fed whole; returns the host. */
async function session(down: Buffer[], up: Buffer[], config: object = {}): Promise<ProxyTestHost> {
  const host = await startedHost(thriftWasm, config);
  const conn = host.newConnection();
  expect(feed(conn, "downstream", down).equals(Buffer.concat(down))).toBe(true);
  expect(feed(conn, "upstream", up).equals(Buffer.concat(up))).toBe(true);
  conn.close("downstream");
  expect(host.traps).toEqual([]);
  return host;
}

/** An unframed message with the framed transport's 4-byte length in front. */
function framed(message: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(message.length);
  return Buffer.concat([length, message]);
}

describe.each(VARIANTS)("$protocol over $transport", ({ protocol, transport }) => {
  test("every outcome of a call is counted under its method, bytes pass untouched", async () => {
    const down = [
      call(protocol, transport, "sayHello", 1), call(protocol, transport, "notify", 2, true), call(protocol, transport, "lookup", 3),
      call(protocol, transport, "ping", 4), call(protocol, transport, "lookup", 5), call(protocol, transport, "crash", 6),
    ];
    const up = [
      reply(protocol, transport, "sayHello", 0, 1), reply(protocol, transport, "lookup", 1, 3), reply(protocol, transport, "ping", null, 4),
      reply(protocol, transport, "lookup", 2, 5), appException(protocol, transport, "crash", 6, 6),
    ];
    const host = await session(down, up);
    expect(counters(host, "metaproto_requests_total;")).toEqual({
      [requestsTotal("", "sayHello", "ok", "0")]: 1,
      [requestsTotal("", "notify", "no_response", "oneway")]: 1,
      [requestsTotal("", "lookup", "server_error", "exception:1")]: 1,
      [requestsTotal("", "ping", "ok", "0")]: 1, // void success: the result struct sets no field
      [requestsTotal("", "lookup", "server_error", "exception:2")]: 1,
      [requestsTotal("", "crash", "server_error", "app_exception:6")]: 1,
    });
    const decoded = decodedMessages(host);
    expect(decoded.map((m) => m.frame_length)).toEqual([...down, ...up].map((b) => b.length));
    expect(decoded.map((m) => m.request_id)).toEqual(["1", "2", "3", "4", "5", "6", "1", "3", "4", "5", "6"]);
  });

  test("a multiplexed name is split into service and method", async () => {
    const host = await session([call(protocol, transport, "Calculator:add"), call(protocol, transport, "a:b:c")],
      [reply(protocol, transport, "add", 0), reply(protocol, transport, "b:c", 0)]);
    expect(counters(host, "metaproto_requests_total;")).toEqual({
      [requestsTotal("Calculator", "add", "ok", "0")]: 1,
      [requestsTotal("a", "b:c", "ok", "0")]: 1,
    });
  });
});

describe("THeader", () => {
  test.each([
    ["binary", 0, 1],
    ["compact", 2, 1],
    ["binary", 0, 2],
  ] as Array<[ProtocolName, number, number]>)("%s payload (protocol id %d), info headers of type %d become attributes", async (protocol, protocolId, infoType) => {
    const headers = { trace: "abc", tenant: "t1", "": "empty key", unicode: "κλειδί" };
    const down = [theaderFrame(call(protocol, "buffered", "Svc:get", 7), { protocolId, headers, infoType, seqid: 7 })];
    const up = [theaderFrame(reply(protocol, "buffered", "get", 0, 7), { protocolId, seqid: 7 })];
    const host = await session(down, up);
    const decoded = decodedMessages(host);
    expect(decoded.map((m) => [m.kind, m.service, m.method, m.attributes, m.frame_length])).toEqual([
      ["request", "Svc", "get", headers, down[0].length],
      ["response", "", "get", {}, up[0].length],
    ]);
    expect(counters(host, "metaproto_requests_total;")).toEqual({ [requestsTotal("Svc", "get", "ok", "0")]: 1 });
  });

  test("an unknown info header type ends the headers, as python3-thrift reads them", async () => {
    const frame = theaderFrame(call("binary", "buffered", "m"), { headers: { a: "b" }, infoType: 9 });
    const host = await session([frame], []);
    expect(decodedMessages(host).map((m) => [m.method, m.attributes])).toEqual([["m", {}]]);
  });

  test.each([
    ["zlib", { transforms: [1] }, "theader_transform"],
    ["snappy", { transforms: [3] }, "theader_transform"],
    ["JSON protocol", { protocolId: 1 }, "theader_protocol"],
  ])("%s: the connection is passed through, counted once", async (_name, opts, reason) => {
    const frame = theaderFrame(call("binary", "buffered", "m"), opts);
    const later = theaderFrame(call("binary", "buffered", "m"));
    const host = await session([frame, later], []);
    expect(decodedMessages(host)).toEqual([]);
    expect(counters(host)).toEqual({ [`metaproto_passthrough_connections_total;protocol=thrift;reason=${reason}`]: 1 });
  });

  test("a header block longer than its frame is a decode error", async () => {
    const frame = theaderFrame(call("binary", "buffered", "m"));
    frame.writeUInt16BE(0x4000, 12);
    const host = await session([frame], []);
    expect(counters(host)).toEqual({ [decodeError("downstream", "bad_header")]: 1 });
  });
});

describe("TApplicationException types", () => {
  // The codec's documented mapping: the caller's mistakes are client errors, the rest server errors.
  test.each([
    [0, "server_error"], [1, "client_error"], [2, "client_error"], [3, "client_error"], [4, "client_error"],
    [5, "server_error"], [6, "server_error"], [7, "client_error"], [8, "client_error"], [9, "client_error"],
    [10, "client_error"], [11, "server_error"], [-1, "server_error"],
  ])("type %d is %s", async (type, status) => {
    const host = await session([call("compact", "framed", "m")], [appException("compact", "framed", "m", type)]);
    expect(counters(host, "metaproto_requests_total;")).toEqual({ [requestsTotal("", "m", status, `app_exception:${type}`)]: 1 });
  });

  test("without a type field (as npm thrift 0.17 servers write it) it is UNKNOWN (0)", async () => {
    const host = await session([call("binary", "buffered", "m")], [appException("binary", "buffered", "m", null)]);
    expect(counters(host, "metaproto_requests_total;")).toEqual({ [requestsTotal("", "m", "server_error", "app_exception:0")]: 1 });
  });
});

describe("pairing", () => {
  test("replies pair in order even when every seqid is 0 (python3-thrift clients)", async () => {
    const methods = ["a", "b", "c"];
    const host = await session(methods.map((m) => call("binary", "framed", m, 0)),
      [reply("binary", "framed", "a", 0, 0), reply("binary", "framed", "b", 1, 0), appException("binary", "framed", "c", 1, 0)]);
    expect(counters(host, "metaproto_requests_total;")).toEqual({
      [requestsTotal("", "a", "ok", "0")]: 1,
      [requestsTotal("", "b", "server_error", "exception:1")]: 1,
      [requestsTotal("", "c", "client_error", "app_exception:1")]: 1,
    });
  });

  test("unanswered calls count as no_response/closed; a reply nobody waits for is unmatched", async () => {
    const host = await session([call("binary", "buffered", "a"), call("binary", "buffered", "b")], [reply("binary", "buffered", "a", 0)]);
    expect(counters(host, "metaproto_requests_total;")).toEqual({
      [requestsTotal("", "a", "ok", "0")]: 1,
      [requestsTotal("", "b", "no_response", "closed")]: 1,
    });
    const extra = await session([call("binary", "buffered", "a")], [reply("binary", "buffered", "a", 0), reply("binary", "buffered", "a", 0)]);
    expect(counters(extra, "metaproto_decode_errors_total")).toEqual({ [decodeError("upstream", "unmatched_response")]: 1 });
  });
});

describe("frames larger than max_buffered_bytes", () => {
  const cap = 64 * 1024;
  const big = 2 * 1024 * 1024;
  const blob = (p: ProtocolName, transport: TransportName, type: number, name: string, seqid: number) =>
    encodeMessage(p, transport, name, type, seqid, (q) => struct(q, [[type === MessageType.REPLY ? 0 : 1, Type.STRING, (r) => r.writeBinary(Buffer.alloc(big, 0x61))]]));
  const socketReads = (b: Buffer) => split(b, Array.from({ length: Math.ceil(b.length / 16384) }, (_, i) => i * 16384));

  const BIG_VARIANTS: Array<{ name: string; protocol: ProtocolName; wrap: (message: Buffer) => Buffer }> = [
    { name: "framed binary", protocol: "binary", wrap: framed },
    { name: "framed compact", protocol: "compact", wrap: framed },
    { name: "framed JSON", protocol: "json", wrap: framed },
    { name: "THeader", protocol: "binary", wrap: (m) => theaderFrame(m, { headers: { trace: "big" } }) },
  ];

  test.each(BIG_VARIANTS)("$name: decoded from the prefix, counted with its whole length, memory stays bounded", async ({ name, protocol, wrap }) => {
    const host = await startedHost(thriftWasm, { max_buffered_bytes: cap });
    const conn = host.newConnection();
    const request = wrap(blob(protocol, "buffered", MessageType.CALL, "Up:upload", 1));
    const next = wrap(call(protocol, "buffered", "Up:after", 2));
    const response = wrap(blob(protocol, "buffered", MessageType.REPLY, "upload", 1));
    const nextReply = wrap(reply(protocol, "buffered", "after", 0, 2));
    const memoryBefore = host.guestMemoryBytes();
    // 16 KiB reads, as a socket delivers them; the next message shares the big one's last read.
    const requests = Buffer.concat([request, next]);
    expect(feed(conn, "downstream", socketReads(requests)).equals(requests)).toBe(true);
    const replies = Buffer.concat([response, nextReply]);
    expect(feed(conn, "upstream", socketReads(replies)).equals(replies)).toBe(true);
    expect(host.guestMemoryBytes() - memoryBefore).toBeLessThan(1024 * 1024);
    expect(host.traps).toEqual([]);

    const decoded = decodedMessages(host);
    expect(decoded.map((m) => [m.kind, m.method, m.truncated, m.frame_length])).toEqual([
      ["request", "upload", true, request.length], ["request", "after", false, next.length],
      ["response", "upload", true, response.length], ["response", "after", false, nextReply.length],
    ]);
    expect(decoded[0].attributes).toEqual(name === "THeader" ? { trace: "big" } : {});
    expect(counters(host, "metaproto_requests_total;")).toEqual({
      [requestsTotal("Up", "upload", "ok", "0")]: 1, [requestsTotal("Up", "after", "ok", "0")]: 1,
    });
    expect(host.counterValue("metaproto_request_bytes_total;protocol=thrift;service=Up;method=upload")).toBe(request.length);
    expect(host.counterValue("metaproto_response_bytes_total;protocol=thrift;service=Up;method=upload")).toBe(response.length);
  });

  test.each(["binary", "compact", "json"] as ProtocolName[])("buffered %s: no length to skip by, so it is a frame_too_large decode error", async (p) => {
    const request = blob(p, "buffered", MessageType.CALL, "upload", 1);
    const host = await startedHost(thriftWasm, { max_buffered_bytes: cap });
    const conn = host.newConnection();
    const stream = Buffer.concat([call(p, "buffered", "before"), request, call(p, "buffered", "after")]);
    expect(feed(conn, "downstream", socketReads(stream)).equals(stream)).toBe(true);
    expect(host.traps).toEqual([]);
    expect(decodedMessages(host).map((m) => m.method)).toEqual(["before"]);
    expect(counters(host, "metaproto_decode_errors_total")).toEqual({ [decodeError("downstream", "frame_too_large")]: 1 });
  });

  test.each([
    ["a method name", () => framed(call("binary", "buffered", "m".repeat(4000)))],
    ["THeader info headers", () => theaderFrame(call("binary", "buffered", "m"), { headers: { trace: "t".repeat(4000) } })],
  ])("a frame whose prefix ends inside %s is frame_too_large", async (_name, make) => {
    const frame = make();
    const host = await session(split(frame, Array.from({ length: 40 }, (_, i) => i * 100)), [], { max_buffered_bytes: 256 });
    expect(counters(host)).toEqual({ [decodeError("downstream", "frame_too_large")]: 1 });
  });

  test.each(["binary", "json"] as ProtocolName[])("a buffered %s message just under the cap is decoded, however it arrives", async (p) => {
    const request = encodeMessage(p, "buffered", "upload", MessageType.CALL, 1, (q) => struct(q, [[1, Type.STRING, (r) => r.writeString("b".repeat(cap - 64))]]));
    const host = await startedHost(thriftWasm, { max_buffered_bytes: cap });
    const conn = host.newConnection();
    feed(conn, "downstream", split(request, Array.from({ length: 64 }, (_, i) => i * 1000)));
    expect(decodedMessages(host).map((m) => [m.method, m.frame_length])).toEqual([["upload", request.length]]);
  });
});

describe("bytes that are not Thrift, or not this connection's Thrift", () => {
  const tlsClientHello = Buffer.from("1603010200010001fc0303" + "00".repeat(40), "hex");
  const tlsShortRecord = Buffer.from("16030100c8010000c40303" + "00".repeat(40), "hex");
  const http = Buffer.from("GET / HTTP/1.1\r\nHost: example\r\n\r\n");

  test.each([
    ["TLS (record length 0x0200)", 8, tlsClientHello],
    ["TLS (record length 0x00c8)", 5, tlsShortRecord],
    ["HTTP", 1, http],
  ])("%s: refused after %d bytes as bad_magic, passed through, decoding stops", async (_name, needed, bytes) => {
    for (let n = 1; n < needed; n++) {
      const early = await startedHost(thriftWasm);
      early.newConnection().downstream(bytes.subarray(0, n));
      expect(counters(early)).toEqual({});
    }
    const host = await startedHost(thriftWasm);
    host.newConnection().downstream(bytes.subarray(0, needed));
    expect(counters(host)).toEqual({ [decodeError("downstream", "bad_magic")]: 1 });
    const whole = await session([bytes, call("binary", "buffered", "m")], []);
    expect(counters(whole)).toEqual({ [decodeError("downstream", "bad_magic")]: 1 });
    expect(decodedMessages(whole)).toEqual([]);
  });

  const raw = (hex: string) => Buffer.from(hex.replace(/\s/g, ""), "hex");
  test.each([
    ["strict binary with version 0x8002", "bad_magic", raw("80020001 00000001 6d 00000001 00")],
    ["compact with version 2", "bad_magic", raw("82 22 01 01 6d 00")],
    ["message type 0", "bad_message_type", raw("80010000 00000001 6d 00000001 00")],
    ["message type 5", "bad_message_type", raw("82 a1 01 01 6d 00")],
    ["a name longer than 4096 bytes", "bad_name", Buffer.concat([raw("80010001 00001001"), Buffer.alloc(4097, 0x61)])],
    ["a field of binary type 1 (VOID)", "bad_body", raw("80010001 00000001 6d 00000001 01 0001 00")],
    ["a negative string length", "bad_body", raw("80010001 00000001 6d 00000001 0b 0001 ffffffff 00")],
    ["a negative list size", "bad_body", raw("80010001 00000001 6d 00000001 0f 0001 08 fffffffe 00")],
    ["a compact field of type 0 with a delta", "bad_body", raw("82 21 01 01 6d 10 00")],
    ["a compact varint longer than 10 bytes", "bad_body", raw("82 21 01 01 6d 16 ffffffffffffffffffffff01 00")],
    ["a framed length of 0", "bad_frame_length", raw("00000000 80010001")],
    ["a framed message longer than its frame", "bad_body", framed(raw("80010001 00000009 6d 00000001 00"))],
  ])("%s is %s", async (_name, reason, bytes) => {
    const host = await session([bytes], []);
    expect(counters(host)).toEqual({ [decodeError("downstream", reason)]: 1 });
  });

  test("a reply sent by the client, or a call by the server, is unexpected_message_type", async () => {
    const fromClient = await session([reply("binary", "framed", "m", 0)], []);
    expect(counters(fromClient)).toEqual({ [decodeError("downstream", "unexpected_message_type")]: 1 });
    const fromServer = await session([call("binary", "framed", "m")], [call("binary", "framed", "m")]);
    expect(counters(fromServer, "metaproto_decode_errors_total")).toEqual({ [decodeError("upstream", "unexpected_message_type")]: 1 });
  });

  test.each([
    ["framed binary, then framed compact", [call("binary", "framed", "a"), call("compact", "framed", "b")]],
    ["buffered compact, then buffered binary", [call("compact", "buffered", "a"), call("binary", "buffered", "b")]],
    ["framed, then a THeader frame", [call("binary", "framed", "a"), theaderFrame(call("binary", "buffered", "b"))]],
    ["THeader, then a framed message", [theaderFrame(call("binary", "buffered", "a")), call("binary", "framed", "b")]],
    ["buffered binary, then buffered JSON", [call("binary", "buffered", "a"), call("json", "buffered", "b")]],
    ["buffered JSON, then buffered compact", [call("json", "buffered", "a"), call("compact", "buffered", "b")]],
    ["framed JSON, then framed binary", [call("json", "framed", "a"), call("binary", "framed", "b")]],
  ])("the variant is kept per connection: %s is variant_changed", async (_name, messages) => {
    const host = await session(messages, []);
    expect(decodedMessages(host).map((m) => m.method)).toEqual(["a"]);
    expect(counters(host, "metaproto_decode_errors_total")).toEqual({ [decodeError("downstream", "variant_changed")]: 1 });
  });

  test('on_decode_error "close" closes the connection', async () => {
    const host = await startedHost(thriftWasm, { on_decode_error: "close" });
    const conn = host.newConnection();
    conn.downstream(http);
    expect(conn.closedByFilter).toBe(true);
  });
});

describe("JSON protocol (TJSONProtocol)", () => {
  const json = (text: string) => Buffer.from(text);

  test.each([
    ["the type after the message", '{"1":{"str":"it failed"},"2":{"i32":6}}', "server_error", "app_exception:6"],
    ["the type first", '{"2":{"i32":1},"1":{"str":"it failed"}}', "client_error", "app_exception:1"],
    ["no type (npm thrift 0.17 servers)", '{"1":{"str":"Unknown function m"}}', "server_error", "app_exception:0"],
    ["a message full of JSON syntax", '{"1":{"str":"a \\"quoted\\" ]}[{ \\\\"},"2":{"i32":7}}', "client_error", "app_exception:7"],
    ["unknown fields of every shape first", '{"3":{"lst":["rec",1,{"1":{"str":"]"}}]},"4":{"dbl":-1.5e+300},"2":{"i32":10}}', "client_error", "app_exception:10"],
  ])("a TApplicationException with %s", async (_name, struct, status, code) => {
    const host = await session([json('[1,"m",1,1,{}]')], [json(`[1,"m",3,1,${struct}]`)]);
    expect(counters(host, "metaproto_requests_total;")).toEqual({ [requestsTotal("", "m", status, code)]: 1 });
  });

  test("whitespace between tokens and escaped names are read as JSON defines them", async () => {
    const request = json('[ 1 ,\n "Svc:say\\u0048ello\\"\\\\" , 1 , 42 , { "1" : { "str" : "x" } } ]');
    const response = json('[1,"say\\u0048ello\\"\\\\",2,42,{ "1" :{"rec":{}}}]');
    const host = await session([request], [response]);
    expect(decodedMessages(host).map((m) => [m.kind, m.service, m.method, m.request_id, m.frame_length])).toEqual([
      ["request", "Svc", 'sayHello"\\', "42", request.length], ["response", "", 'sayHello"\\', "42", response.length],
    ]);
    expect(counters(host, "metaproto_requests_total;")).toEqual({ [requestsTotal("Svc", 'sayHello"\\', "server_error", "exception:1")]: 1 });
  });

  test("strings holding brackets, quotes and escapes do not end a buffered message early, however it arrives", async () => {
    const text = fc.oneof(fc.string({ unit: "binary", maxLength: 30 }), fc.string({ unit: fc.constantFrom("[", "]", "{", "}", '"', "\\", ",", ":", "\\u", "\n"), maxLength: 30 }));
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 12 }), async (texts, cuts) => {
        const messages = texts.map((t, i) => encodeMessage("json", "buffered", `m${i}`, MessageType.CALL, i, (p) =>
          struct(p, [[1, Type.STRING, (q) => q.writeString(t)], [2, Type.LIST, (q) => { q.writeListBegin(Type.STRING, 1); q.writeString(t); q.writeListEnd(); }]])));
        const stream = Buffer.concat(messages);
        const host = await session(split(stream, cuts.map((c) => c % stream.length)), []);
        expect(decodedMessages(host).map((m) => [m.method, m.frame_length])).toEqual(messages.map((m, i) => [`m${i}`, m.length]));
        expect(counters(host, "metaproto_decode_errors_total")).toEqual({});
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  test("a buffered message with escapes, split at every byte (a read may end inside an escape)", async () => {
    const tricky = 'q"\\"]}\\\\[{"\n\u2028κ🔑\u0001';
    const request = encodeMessage("json", "buffered", "Svc:m", MessageType.CALL, 9, (p) => struct(p, [[1, Type.STRING, (q) => q.writeString(tricky)]]));
    const response = encodeMessage("json", "buffered", "m", MessageType.REPLY, 9, (p) => struct(p, [[0, Type.STRING, (q) => q.writeString(tricky)]]));
    expect(request.includes('\\\\\\"')).toBe(true); // an escaped backslash before an escaped quote
    for (let i = 1; i < request.length; i++) {
      const host = await session(split(request, [i]), split(response, [i % response.length]));
      expect(decodedMessages(host).map((m) => [m.kind, m.method, m.frame_length])).toEqual([["request", "m", request.length], ["response", "m", response.length]]);
      expect(counters(host, "metaproto_requests_total;")).toEqual({ [requestsTotal("Svc", "m", "ok", "0")]: 1 });
    }
  });

  test.each([
    ["version 2", "bad_magic", '[2,"m",1,1,{}]'],
    ["a string for the version", "bad_magic", '["1","m",1,1,{}]'],
    ["an object, not an array", "bad_magic", '{"m":1}'],
    ["message type 0", "bad_message_type", '[1,"m",0,1,{}]'],
    ["message type 5", "bad_message_type", '[1,"m",5,1,{}]'],
    ["a name longer than 4096 bytes", "bad_name", `[1,"${"a".repeat(4097)}",1,1,{}]`],
    ["no struct", "bad_body", '[1,"m",1,1]'],
    ["a bracket closing an object", "bad_body", '[1,"m",1,1,{"1":{"str":"x"]]]'],
    ["a character JSON has no place for", "bad_body", '[1,"m",1,1,{"1":{"i32":<}}]'],
    ["a control byte between tokens", "bad_body", '[1,"m",1,1,{"1":{"i32":\x01}}]'],
    ["a reply whose field id is not a number", "bad_body", '[1,"m",2,1,{"x":{"str":"x"}}]'],
    ["a framed message longer than its frame", "bad_body", null],
  ])("%s is %s", async (_name, reason, text) => {
    const bytes = text === null ? framed(json('[1,"m",1,1,{}]')).subarray(0, 12) : json(text);
    if (text === null) bytes.writeInt32BE(8, 0);
    const direction = text !== null && text.startsWith('[1,"m",2') ? "upstream" : "downstream";
    const host = direction === "upstream" ? await session([json('[1,"m",1,1,{}]')], [bytes]) : await session([bytes], []);
    expect(counters(host, "metaproto_decode_errors_total")).toEqual({ [decodeError(direction, reason)]: 1 });
  });

  test("a buffered message whose header is wrong is refused before its end arrives", async () => {
    const host = await startedHost(thriftWasm);
    const conn = host.newConnection();
    conn.downstream(json('[1,"m",1,1,{"1":{"str":"'));
    expect(counters(host)).toEqual({}); // a sound header: waits for the rest
    const bad = await startedHost(thriftWasm);
    bad.newConnection().downstream(json('[7,"m",1,1,{"1":{"str":"'));
    expect(counters(bad)).toEqual({ [decodeError("downstream", "bad_magic")]: 1 });
  });

  const nested = (depth: number) => json(`[1,"m",1,1,{${'"1":{"rec":{'.repeat(depth)}${"}}".repeat(depth)}}]`);
  test("buffered: 64 levels of structs decode, 65 and 100 000 are too_deep, nothing traps", async () => {
    const ok = await session([nested(64)], []);
    expect(decodedMessages(ok).map((m) => [m.method, m.frame_length])).toEqual([["m", nested(64).length]]);
    for (const depth of [65, 100_000]) {
      const host = await session([nested(depth)], [], { max_buffered_bytes: 4 << 20 });
      expect(counters(host)).toEqual({ [decodeError("downstream", "too_deep")]: 1 });
    }
    const brackets = await session([json("[".repeat(100_000))], []);
    expect(counters(brackets)).toEqual({ [decodeError("downstream", "too_deep")]: 1 });
  });
});

describe("nesting", () => {
  const header = Buffer.from("8001000100000001" + "6d" + "00000001", "hex");
  const binaryNested = (depth: number) => Buffer.concat([header, Buffer.from("0c0001".repeat(depth), "hex"), Buffer.alloc(depth + 1)]);
  const compactNested = (depth: number) => Buffer.concat([Buffer.from("822101016d", "hex"), Buffer.alloc(depth, 0x1c), Buffer.alloc(depth + 1)]);
  const listNested = (depth: number) => Buffer.concat([header, Buffer.from("0f0001", "hex"), Buffer.from("0f00000001".repeat(depth - 1), "hex"), Buffer.from("0800000000", "hex"), Buffer.alloc(1)]);

  test.each([
    ["binary structs", binaryNested], ["compact structs", compactNested], ["binary lists", listNested],
  ])("%s: 64 levels decode, 65 and 100 000 are too_deep, nothing traps", async (_name, nested) => {
    const ok = await session([nested(64)], []);
    expect(decodedMessages(ok).map((m) => [m.method, m.frame_length])).toEqual([["m", nested(64).length]]);
    for (const depth of [65, 100_000]) {
      const host = await session([nested(depth)], [], { max_buffered_bytes: 1 << 20 });
      expect(counters(host)).toEqual({ [decodeError("downstream", "too_deep")]: 1 });
    }
  });
});

describe("never a trap", () => {
  const prefixes = [
    Buffer.alloc(0), Buffer.from("8001", "hex"), Buffer.from("82", "hex"), Buffer.from("0000", "hex"),
    Buffer.from("000000ff0fff", "hex"), Buffer.from("0000004080010001", "hex"), Buffer.from("0000003082", "hex"),
  ];
  testNeverTraps(() => thriftWasm, {
    prefixes,
    sessions: ["node-binary-buffered", "node-compact-framed-multiplexed", "python-header-binary", "python-binary-nonstrict-buffered",
      "python-header-compact", "python-json-buffered", "node-json-framed-multiplexed"].map((name) => fixture(name)),
  });

  // JSON's structure is in its punctuation: mutations that add, drop or swap it.
  const JSON_PUNCTUATION = [..."[]{}\",:\\ 0-a"].map((c) => c.charCodeAt(0));
  test.each(["node-json-buffered", "python-json-buffered", "node-json-framed-multiplexed"])("%s with JSON punctuation inserted, dropped and swapped", async (name) => {
    const f = fixture(name);
    const edit = fc.tuple(fc.constantFrom("insert", "drop", "replace"), fc.nat(), fc.constantFrom(...JSON_PUNCTUATION));
    const mutate = (bytes: Buffer, edits: Array<[string, number, number]>) => {
      let out = Buffer.from(bytes);
      for (const [kind, at, c] of edits) {
        const i = at % out.length;
        if (kind === "insert") out = Buffer.concat([out.subarray(0, i), Buffer.from([c]), out.subarray(i)]);
        else if (kind === "drop") out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)]);
        else out[i] = c;
      }
      return out;
    };
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 6 }), fc.array(edit, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }),
        async (requestEdits, responseEdits, cuts) => {
          const request = mutate(f.request, requestEdits);
          const response = mutate(f.response, responseEdits);
          const host = await startedHost(thriftWasm, { max_buffered_bytes: 512 });
          const conn = host.newConnection();
          expect(feed(conn, "downstream", split(request, cuts.map((c) => c % request.length))).equals(request)).toBe(true);
          expect(feed(conn, "upstream", bytewise(response)).equals(response)).toBe(true);
          conn.close("upstream");
          expect(host.traps).toEqual([]);
        }),
      { numRuns: 150 },
    );
  }, 120_000);

  test("random JSON-ish bytes after a message start, in random chunks", async () => {
    const starts = ["[", '[1,"m",1,1,{', '[1,"m",2,1,{"0":', '[1,"m",3,1,{"2":{"i32":'];
    const jsonish = fc.tuple(fc.constantFrom(...starts), fc.array(fc.oneof(fc.constantFrom(...JSON_PUNCTUATION), fc.integer({ min: 0, max: 255 })), { maxLength: 300 }))
      .map(([start, b]) => Buffer.concat([Buffer.from(start), Buffer.from(b)]));
    await fc.assert(
      fc.asyncProperty(fc.array(jsonish, { minLength: 1, maxLength: 4 }), fc.array(jsonish, { maxLength: 4 }), async (down, up) => {
        const host = await startedHost(thriftWasm, { max_buffered_bytes: 256 });
        const conn = host.newConnection();
        expect(feed(conn, "downstream", down).equals(Buffer.concat(down))).toBe(true);
        expect(feed(conn, "upstream", up).equals(Buffer.concat(up))).toBe(true);
        conn.close("downstream");
        expect(host.traps).toEqual([]);
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});
