// Request mutation through the compiled dist/wasm/thrift.wasm: a THeader call's info headers are
// set and removed on its way to the server, the frame's lengths follow, the call itself passes
// intact (npm thrift's THeader reader and the codec itself read the result back); calls the policy
// leaves alone, and calls it cannot rewrite, reach the server byte for byte, whatever the chunking.
import fc from "fast-check";
import { testChunkings } from "../../api/proxytest/chunkings";
import {
  MessageType, Type, call, compiledThrift, decodedMessages, encodeMessage, feed, fixture, startedHost, struct, theaderFrame, varint,
  varintString,
} from "./test_frames";
// npm thrift ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const thrift = require("thrift");

let thriftWasm: WebAssembly.Module;
beforeAll(async () => {
  thriftWasm = await compiledThrift();
}, 120_000);

const APPLIED = "metaproto_mutations_total;protocol=thrift;reason=applied";
const UNSUPPORTED = "metaproto_mutations_total;protocol=thrift;reason=unsupported";
const ALREADY_FORWARDED = "metaproto_mutations_total;protocol=thrift;reason=request_already_forwarded";

const CANARY_HELLO = { policy: { mutations: [
  { match: { method: { exact: "sayHello" } }, set: { "x-canary": "yes", tenant: "t9" }, remove: ["trace"] },
] } };
const CANARY_ALL = { policy: { mutations: [{ set: { "x-canary": "yes" }, remove: ["trace"] }] } };

async function connection(config: object) {
  const host = await startedHost(thriftWasm, config, { logLevel: "info" });
  return { host, conn: host.newConnection() };
}

/** The frames of a framed or THeader stream, cut at their length prefixes. */
function frames(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length;) {
    const end = at + 4 + stream.readUInt32BE(at);
    out.push(stream.subarray(at, end));
    at = end;
  }
  return out;
}

/** A THeader frame's fields, read byte by byte as the format describes them. */
function layout(frame: Buffer) {
  const words = frame.readUInt16BE(12);
  return {
    length: frame.readUInt32BE(0),
    flags: frame.readUInt16BE(6),
    seqid: frame.readUInt32BE(8),
    block: frame.subarray(14, 14 + words * 4),
    payload: frame.subarray(14 + words * 4),
  };
}

/** The call in a THeader frame as npm thrift's THeaderProtocol reads it: headers, name, type, seqid. */
function readTHeaderCall(frame: Buffer) {
  const trans = new thrift.TFramedTransport(frame.subarray(4));
  trans.inBuf = Buffer.from(frame); // THeaderTransport.readHeaders reads the frame from its length on
  // TFramedTransport does not run THeaderTransport's constructor: its read headers would be the
  // prototype's object, shared by every transport.
  trans.clearReadHeaders();
  const p = new thrift.THeaderProtocol(trans);
  const begin = p.readMessageBegin();
  p.skip(thrift.Thrift.Type.STRUCT); // the arguments
  p.readMessageEnd();
  expect(trans.readPos).toBe(frame.length); // nothing left over for the next message
  return { headers: { ...trans.getReadHeaders() }, name: begin.fname, type: begin.mtype, seqid: begin.rseqid };
}

/** The attributes the codec itself decodes from `stream` (a second connection, no policy). */
async function decodedAttributes(stream: Buffer): Promise<Array<Record<string, string>>> {
  const host = await startedHost(thriftWasm, {});
  host.newConnection().downstream(stream);
  return decodedMessages(host).map((m) => m.attributes);
}

function thCall(protocol: "binary" | "compact", name: string, seqid: number, headers: Record<string, string>, oneway = false): Buffer {
  const out = theaderFrame(call(protocol, "buffered", name, seqid, oneway), { protocolId: protocol === "compact" ? 2 : 0, seqid, headers });
  out.writeUInt16BE(1, 6); // flags, carried over as they are
  return out;
}

function payloadOf(frame: Buffer): Buffer {
  return layout(frame).payload;
}

describe.each(["binary", "compact"] as const)("THeader, %s inside", (protocol) => {
  describe("a matched call's headers are set and removed; an unmatched call passes byte for byte", () => {
    const hello = thCall(protocol, "sayHello", 1, { tenant: "t1", trace: "abc", keep: "me" });
    const echo = thCall(protocol, "echo", 2, { tenant: "t1", trace: "abc" });
    const calls = Buffer.concat([hello, echo]);

    testChunkings(calls, Buffer.alloc(0), async (callChunks) => {
      const { host, conn } = await connection(CANARY_HELLO);
      const forwarded = feed(conn, "downstream", callChunks);
      const sent = frames(forwarded);
      expect(sent.length).toBe(2);
      const mutated = readTHeaderCall(sent[0]);
      expect(mutated).toEqual({
        headers: { tenant: "t9", keep: "me", "x-canary": "yes" }, name: "sayHello", type: thrift.Thrift.MessageType.CALL, seqid: 1,
      });
      // The call itself, the flags and the seqid are the client's bytes; the lengths fit the new block.
      expect(layout(sent[0]).payload.equals(payloadOf(hello))).toBe(true);
      expect(layout(sent[0]).flags).toBe(1);
      expect(layout(sent[0]).seqid).toBe(1);
      expect(layout(sent[0]).length).toBe(sent[0].length - 4);
      expect(sent[1].equals(echo)).toBe(true);
      expect(await decodedAttributes(forwarded)).toEqual([
        { keep: "me", tenant: "t9", "x-canary": "yes" },
        { tenant: "t1", trace: "abc" },
      ]);
      expect(host.counterValue(APPLIED)).toBe(1);
      expect(host.counterValue(UNSUPPORTED) ?? 0).toBe(0);
      expect(host.traps).toEqual([]);
    }, 10);
  });

  test("a oneway call is rewritten too", async () => {
    const { host, conn } = await connection(CANARY_ALL);
    const sent = Buffer.from(conn.downstream(thCall(protocol, "notify", 3, { trace: "x" }, true)).forwarded);
    expect(readTHeaderCall(sent)).toMatchObject({ headers: { "x-canary": "yes" }, name: "notify", type: thrift.Thrift.MessageType.ONEWAY });
    expect(host.counterValue(APPLIED)).toBe(1);
  });
});

test("the header block is padded to whole words and the lengths follow, whatever the new size", async () => {
  // Values of every length modulo 4, and ones long enough for two- and three-byte varint lengths.
  const lengths = [0, 1, 2, 3, 4, 5, 127, 128, 300, 16384];
  for (const n of lengths) {
    const value = "v".repeat(n);
    const { host, conn } = await connection({ policy: { mutations: [{ set: { k: value } }] } });
    const original = thCall("binary", "sayHello", 9, { a: "1" });
    const sent = Buffer.from(conn.downstream(original).forwarded);
    const { length, block, payload } = layout(sent);
    expect(length).toBe(sent.length - 4);
    expect(payload.equals(payloadOf(original))).toBe(true);
    // protocol id 0, no transforms, one key/value section with the kept header and the set one, zero padding.
    const section = Buffer.concat([Buffer.from([0, 0, 1, 2, 1, 0x61, 1, 0x31, 1, 0x6b]), varint(n), Buffer.from(value)]);
    expect(block.subarray(0, section.length).equals(section)).toBe(true);
    expect(block.length - section.length).toBe((4 - (section.length % 4)) % 4);
    expect(block.subarray(section.length).every((b) => b === 0)).toBe(true);
    expect(readTHeaderCall(sent).headers).toEqual({ a: "1", k: value });
    expect(host.counterValue(APPLIED)).toBe(1);
  }
});

test("removing every header leaves a block with the protocol id and transform count only", async () => {
  const { conn } = await connection({ policy: { mutations: [{ remove: ["tenant", "trace", "absent"] }] } });
  const original = thCall("compact", "sayHello", 4, { tenant: "t1", trace: "abc" });
  const sent = Buffer.from(conn.downstream(original).forwarded);
  expect([...layout(sent).block]).toEqual([2, 0, 0, 0]);
  expect(readTHeaderCall(sent)).toMatchObject({ headers: {}, name: "sayHello", seqid: 4 });
  expect(layout(sent).payload.equals(payloadOf(original))).toBe(true);
});

test("the same key set by two rules: the later rule's value is written once", async () => {
  const config = { policy: { mutations: [{ set: { tier: "gold" } }, { match: { method: { exact: "sayHello" } }, set: { tier: "canary" } }] } };
  const { conn } = await connection(config);
  const sent = Buffer.from(conn.downstream(thCall("binary", "sayHello", 1, { tier: "basic" })).forwarded);
  expect(await decodedAttributes(sent)).toEqual([{ tier: "canary" }]);
});

/** A THeader frame whose block holds the given info sections as they are (types, counts, entries), then padding. */
function frameWithSections(payload: Buffer, sections: Array<[number, Array<[string, string]>]>, trailer = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0])];
  for (const [type, entries] of sections) {
    parts.push(varint(type), varint(entries.length));
    for (const [k, v] of entries) parts.push(varintString(k), varintString(v));
  }
  parts.push(trailer);
  let block = Buffer.concat(parts);
  block = Buffer.concat([block, Buffer.alloc((4 - (block.length % 4)) % 4)]);
  const fixed = Buffer.alloc(14);
  fixed.writeUInt32BE(10 + block.length + payload.length, 0);
  fixed.writeUInt16BE(0x0fff, 4);
  fixed.writeUInt16BE(block.length / 4, 12);
  return Buffer.concat([fixed, block, payload]);
}

test("persistent headers (fbthrift, type 2) stay persistent; set keys move to the key/value section, removed ones go", async () => {
  const payload = call("binary", "buffered", "sayHello", 0);
  const original = frameWithSections(payload, [
    [2, [["route", "eu"], ["trace", "p"], ["tier", "basic"]]],
    [1, [["tenant", "t1"]]],
    [1, [["trace", "k"]]],
  ]);
  const { host, conn } = await connection({ policy: { mutations: [{ set: { tier: "gold" }, remove: ["trace"] }] } });
  const sent = Buffer.from(conn.downstream(original).forwarded);
  const expected = frameWithSections(payload, [[1, [["tenant", "t1"], ["tier", "gold"]]], [2, [["route", "eu"]]]]);
  expect(sent.equals(expected)).toBe(true);
  expect(host.counterValue(APPLIED)).toBe(1);
});

describe("calls that cannot be rewritten go on unchanged, counted as unsupported", () => {
  const payload = call("binary", "buffered", "sayHello", 0);
  test.each([
    ["an info section of a type the codec does not know", frameWithSections(payload, [[1, [["tenant", "t1"]]], [7, [["x", "y"]]]])],
    ["bytes other than padding after the sections", frameWithSections(payload, [[1, [["tenant", "t1"]]]], Buffer.from([0, 5]))],
  ])("%s", async (_, original) => {
    const { host, conn } = await connection(CANARY_ALL);
    const sent = Buffer.from(conn.downstream(original).forwarded);
    expect(sent.equals(original)).toBe(true);
    expect(host.counterValue(UNSUPPORTED)).toBe(1);
    expect(host.counterValue(APPLIED) ?? 0).toBe(0);
    expect(host.traps).toEqual([]);
  });

  test("a header block that would outgrow THeader's 16-bit size field", async () => {
    const { host, conn } = await connection({ policy: { mutations: [{ set: { big: "x".repeat(0xffff * 4) } }] } });
    const original = thCall("binary", "sayHello", 1, {});
    expect(Buffer.from(conn.downstream(original).forwarded).equals(original)).toBe(true);
    expect(host.counterValue(UNSUPPORTED)).toBe(1);
  });

  test("a frame larger than max_buffered_bytes: decoded from its prefix, already on its way", async () => {
    const bigCall = encodeMessage("binary", "buffered", "echo", MessageType.CALL, 1,
      (p) => struct(p, [[1, Type.STRING, (q) => q.writeString("x".repeat(1000))]]));
    const original = theaderFrame(bigCall, { headers: { trace: "abc" } });
    const { host, conn } = await connection({ max_buffered_bytes: 256, ...CANARY_ALL });
    expect(feed(conn, "downstream", [original.subarray(0, 300), original.subarray(300)]).equals(original)).toBe(true);
    expect(host.counterValue(ALREADY_FORWARDED)).toBe(1);
    expect(host.counterValue(APPLIED) ?? 0).toBe(0);
  });
});

const FIXTURES = [
  "node-binary-buffered", "node-binary-framed", "node-compact-buffered", "node-compact-framed-multiplexed",
  "node-json-buffered", "node-json-framed-multiplexed", "python-binary-nonstrict-buffered", "python-compact-framed",
  "python-header-binary", "python-header-compact", "python-header-zlib", "python-json-buffered", "python-json-framed",
];
const HEADER_FIXTURES = ["python-header-binary", "python-header-compact"];

describe.each(HEADER_FIXTURES)("captured python3-thrift THeader session %s, every call rewritten", (name) => {
  const f = fixture(name);
  testChunkings(f.request, f.response, async (requestChunks) => {
    const { host, conn } = await connection(CANARY_ALL);
    const sent = frames(feed(conn, "downstream", requestChunks));
    const original = frames(f.request);
    expect(sent.length).toBe(original.length);
    sent.forEach((frame, i) => {
      const read = readTHeaderCall(frame);
      // What python3-thrift read from the captured frame, trace removed, x-canary added.
      const { trace, ...kept } = f.requestMessages[i].headers ?? {};
      expect(trace).toBeDefined();
      expect(read.headers).toEqual({ ...kept, "x-canary": "yes" });
      expect(read.name).toBe(f.requestMessages[i].name);
      expect(layout(frame).payload.equals(layout(original[i]).payload)).toBe(true);
      expect(layout(frame).seqid).toBe(layout(original[i]).seqid);
      expect(layout(frame).flags).toBe(layout(original[i]).flags);
    });
    expect(host.counterValue(APPLIED)).toBe(original.length);
    expect(host.traps).toEqual([]);
  }, 5);
});

describe.each(FIXTURES)("captured session %s under a policy that changes nothing", (name) => {
  const f = fixture(name);
  // A policy is in force (requests are held until whole), but no rule matches these calls.
  const config = { policy: {
    authz: { rules: [{ action: "deny", match: { method: { exact: "neverCalled" } } }] },
    mutations: [{ match: { method: { exact: "neverCalled" } }, set: { a: "b" } }],
  } };
  testChunkings(f.request, f.response, async (requestChunks, responseChunks) => {
    const { host, conn } = await connection(config);
    expect(feed(conn, "downstream", requestChunks).equals(f.request)).toBe(true);
    expect(feed(conn, "upstream", responseChunks).equals(f.response)).toBe(true);
    expect(host.counterValue(APPLIED) ?? 0).toBe(0);
    expect(host.counterValue(UNSUPPORTED) ?? 0).toBe(0);
    expect(host.traps).toEqual([]);
  }, 5);
});

describe.each(FIXTURES.filter((name) => !name.includes("header")))("captured session %s: no headers to rewrite", (name) => {
  const f = fixture(name);
  testChunkings(f.request, f.response, async (requestChunks, responseChunks) => {
    const { host, conn } = await connection(CANARY_ALL);
    expect(feed(conn, "downstream", requestChunks).equals(f.request)).toBe(true);
    expect(feed(conn, "upstream", responseChunks).equals(f.response)).toBe(true);
    expect(host.counterValue(UNSUPPORTED)).toBe(f.requestMessages.length);
    expect(host.counterValue(APPLIED) ?? 0).toBe(0);
  }, 3);
});

test("a THeader payload with the zlib transform is passed through untouched, never rewritten", async () => {
  const f = fixture("python-header-zlib");
  const { host, conn } = await connection(CANARY_ALL);
  expect(Buffer.from(conn.downstream(f.request).forwarded).equals(f.request)).toBe(true);
  expect(host.counterValue("metaproto_passthrough_connections_total;protocol=thrift;reason=theader_transform")).toBe(1);
  expect(host.counterValue(APPLIED) ?? 0).toBe(0);
});

test("corrupted THeader frames under a mutation policy never trap the VM", async () => {
  const original = Buffer.concat([
    thCall("binary", "sayHello", 1, { tenant: "t1", trace: "abc" }),
    frameWithSections(call("compact", "buffered", "echo", 2), [[2, [["p", "q"]]], [1, [["trace", "z"]]]]),
  ]);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: original.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }),
      async (flips) => {
        const corrupted = Buffer.from(original);
        for (const [at, x] of flips) corrupted[at] ^= x;
        const { host, conn } = await connection(CANARY_ALL);
        conn.downstream(corrupted);
        expect(host.traps).toEqual([]);
      },
    ),
    { numRuns: 300 },
  );
});
