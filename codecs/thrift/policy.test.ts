// Policies through the compiled dist/wasm/thrift.wasm, in every variant the codec decodes: a
// refused call never reaches the server (a call of `__metaproto_probe` goes in its place) and the
// client gets a TApplicationException with the refused call's method and seqid in its place, which
// npm thrift's own protocol classes read back; the replies around it pass intact, whatever the
// chunking.
import { testChunkings } from "../../api/proxytest/chunkings";
import {
  MessageType, ProtocolName, TransportName, appException, call, compiledThrift, encodeMessage, reply, requestsTotal,
  startedHost, struct, theaderFrame, varint, varintString,
} from "./test_frames";
// npm thrift ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const thrift = require("thrift");

let thriftWasm: WebAssembly.Module;
beforeAll(async () => {
  thriftWasm = await compiledThrift();
}, 120_000);

const DENY_DELETE = { policy: { authz: { rules: [{ action: "deny", match: { method: { exact: "deleteAll" } } }] } } };
const DENIED_TEXT = "denied by MetaProto authz policy";
const UNKNOWN_METHOD = 1;

/** One wire variant: how a client writes a call, a server its answers, and how a client reads them. */
interface Variant {
  label: string;
  call(name: string, seqid: number, oneway?: boolean): Buffer;
  /** What the proxy must send in a refused call's place (written here by npm thrift's encoder). */
  probe(name: string, seqid: number): Buffer;
  reply(name: string, seqid: number): Buffer;
  /** A server's answer to the probe. */
  unknownMethod(name: string, seqid: number): Buffer;
  /** The EXCEPTION message in `bytes`, read by npm thrift the way its clients read a reply. */
  readException(bytes: Buffer): ReadException;
}

interface ReadException {
  name: string;
  messageType: number;
  seqid: number;
  message: string;
  type: number;
  /** THeader only: the frame's fields. */
  header?: { flags: number; seqid: number; protocolId: number };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function readWith(protocol: any): ReadException {
  const begin = protocol.readMessageBegin();
  const exception = new thrift.Thrift.TApplicationException();
  exception.read(protocol);
  protocol.readMessageEnd();
  return { name: begin.fname, messageType: begin.mtype, seqid: begin.rseqid | 0, message: exception.message, type: exception.type };
}

/** An unframed (buffered) transport holding `bytes`. */
function bufferedHolding(bytes: Buffer) {
  const transport = new thrift.TBufferedTransport();
  transport.inBuf = Buffer.from(bytes);
  transport.writeCursor = bytes.length;
  return transport;
}

function protocolClass(protocol: ProtocolName) {
  if (protocol === "compact") return thrift.TCompactProtocol;
  if (protocol === "json") return thrift.TJSONProtocol;
  return thrift.TBinaryProtocol;
}

function plainVariant(protocol: ProtocolName, transport: TransportName): Variant {
  return {
    label: `${protocol} over ${transport}`,
    call: (name, seqid, oneway = false) => call(protocol, transport, name, seqid, oneway),
    probe: (name, seqid) => encodeMessage(protocol, transport, name, MessageType.CALL, seqid, (p) => struct(p, [])),
    reply: (name, seqid) => reply(protocol, transport, name, 0, seqid),
    unknownMethod: (name, seqid) => appException(protocol, transport, name, UNKNOWN_METHOD, seqid),
    readException(bytes) {
      let trans;
      if (transport === "framed") {
        expect(bytes.readInt32BE(0)).toBe(bytes.length - 4);
        trans = new thrift.TFramedTransport(bytes.subarray(4));
      } else {
        trans = bufferedHolding(bytes);
      }
      // strictRead: a binary reply must carry the version word whatever the call was.
      const p = protocol.startsWith("binary") ? new thrift.TBinaryProtocol(trans, true, true) : new (protocolClass(protocol))(trans);
      const read = readWith(p);
      // Nothing may follow the message: the client would read it as the next reply.
      expect(transport === "framed" ? trans.readPos : trans.readCursor).toBe(transport === "framed" ? bytes.length - 4 : bytes.length);
      return read;
    },
  };
}

function theaderVariant(protocol: "binary" | "compact", flags: number, infoHeaders: Record<string, string>): Variant {
  const protocolId = protocol === "compact" ? 2 : 0;
  const frame = (payload: Buffer, seqid: number, headers: Record<string, string> = {}) => {
    const out = theaderFrame(payload, { protocolId, seqid: seqid >>> 0, headers });
    out.writeUInt16BE(flags, 6);
    return out;
  };
  return {
    label: `THeader, ${protocol} inside`,
    call: (name, seqid, oneway = false) => frame(call(protocol, "buffered", name, seqid, oneway), seqid, infoHeaders),
    probe: (name, seqid) => frame(encodeMessage(protocol, "buffered", name, MessageType.CALL, seqid, (p) => struct(p, [])), seqid, infoHeaders),
    reply: (name, seqid) => frame(reply(protocol, "buffered", name, 0, seqid), seqid),
    unknownMethod: (name, seqid) => frame(appException(protocol, "buffered", name, UNKNOWN_METHOD, seqid), seqid),
    readException(bytes) {
      expect(bytes.readInt32BE(0)).toBe(bytes.length - 4);
      const trans = new thrift.TFramedTransport(bytes.subarray(4));
      trans.inBuf = Buffer.from(bytes); // THeaderTransport.readHeaders reads the frame from its length on
      const p = new thrift.THeaderProtocol(trans);
      const read = readWith(p);
      expect(trans.readPos).toBe(bytes.length);
      return { ...read, header: { flags: bytes.readUInt16BE(6), seqid: bytes.readInt32BE(8), protocolId: trans.protocolId } };
    },
  };
}

const PLAIN_VARIANTS = (["binary", "binary-nonstrict", "compact", "json"] as ProtocolName[])
  .flatMap((protocol) => (["buffered", "framed"] as TransportName[]).map((transport) => plainVariant(protocol, transport)));
const VARIANTS: Variant[] = [
  ...PLAIN_VARIANTS,
  theaderVariant("binary", 0, { tenant: "t1", trace: "abc" }),
  theaderVariant("compact", 1, {}),
];

async function connection(config: object) {
  const host = await startedHost(thriftWasm, config, { logLevel: "info" });
  return { host, conn: host.newConnection() };
}

describe.each(VARIANTS)("$label", (variant) => {
  describe("a denied multiplexed call between two allowed ones", () => {
    const calls = Buffer.concat([variant.call("Greeter:sayHello", 1), variant.call("Greeter:deleteAll", 2), variant.call("Greeter:sayHello", 3)]);
    const serverSees = Buffer.concat([variant.call("Greeter:sayHello", 1), variant.probe("Greeter:__metaproto_probe", 2), variant.call("Greeter:sayHello", 3)]);
    // Multiplexed servers answer with the name stripped of its service, as npm thrift's do.
    const replies = Buffer.concat([variant.reply("sayHello", 1), variant.unknownMethod("__metaproto_probe", 2), variant.reply("sayHello", 3)]);
    const first = variant.reply("sayHello", 1);
    const last = variant.reply("sayHello", 3);

    testChunkings(calls, replies, async (callChunks, replyChunks) => {
      const { host, conn } = await connection(DENY_DELETE);
      const forwarded = Buffer.concat(callChunks.map((c) => Buffer.from(conn.downstream(c).forwarded)));
      expect(forwarded.equals(serverSees)).toBe(true);
      const toClient = Buffer.concat(replyChunks.map((c) => Buffer.from(conn.upstream(c).forwarded)));
      expect(toClient.subarray(0, first.length).equals(first)).toBe(true);
      expect(toClient.subarray(toClient.length - last.length).equals(last)).toBe(true);
      const refused = variant.readException(toClient.subarray(first.length, toClient.length - last.length));
      // Named as a multiplexed server names its answers: npm thrift's client finds the call by it.
      expect(refused).toMatchObject({ name: "deleteAll", messageType: MessageType.EXCEPTION, seqid: 2, message: DENIED_TEXT, type: 0 });
      expect(conn.closedByFilter).toBe(false);
      expect(host.counterValue("metaproto_local_replies_total;protocol=thrift;reason=denied")).toBe(1);
      expect(host.counterValue(requestsTotal("Greeter", "deleteAll", "server_error", "app_exception:0"))).toBe(1);
      expect(host.counterValue(requestsTotal("Greeter", "sayHello", "ok", "0"))).toBe(2);
      expect(host.traps).toEqual([]);
    }, 10);
  });

  test("a plain (not multiplexed) name: the probe has no service prefix, the reply the call's name", async () => {
    const { host, conn } = await connection(DENY_DELETE);
    expect(Buffer.from(conn.downstream(variant.call("deleteAll", 7)).forwarded).equals(variant.probe("__metaproto_probe", 7))).toBe(true);
    const refused = variant.readException(Buffer.from(conn.upstream(variant.unknownMethod("__metaproto_probe", 7)).forwarded));
    expect(refused).toMatchObject({ name: "deleteAll", seqid: 7, message: DENIED_TEXT, type: 0 });
    expect(host.counterValue(requestsTotal("", "deleteAll", "server_error", "app_exception:0"))).toBe(1);
  });

  test("a rate limit is LOADSHEDDING (11), a fault INJECTED_FAILURE (13), each with its text", async () => {
    const config = {
      policy: {
        rate_limits: [{ name: "hello", match: { method: { exact: "sayHello" } }, max_tokens: 1, fill_interval_ms: 60000, text: "slow down" }],
        faults: [{ match: { method: { exact: "crash" } }, abort: { percentage: 100, text: "chaos \"test\"\\ café\nline 2" } }],
      },
    };
    const { host, conn } = await connection(config);
    const calls = [variant.call("sayHello", 1), variant.call("sayHello", 2), variant.call("crash", -5)];
    const sent = Buffer.from(conn.downstream(Buffer.concat(calls)).forwarded);
    expect(sent.equals(Buffer.concat([calls[0], variant.probe("__metaproto_probe", 2), variant.probe("__metaproto_probe", -5)]))).toBe(true);
    const first = variant.reply("sayHello", 1);
    expect(Buffer.from(conn.upstream(first).forwarded).equals(first)).toBe(true);
    const limited = variant.readException(Buffer.from(conn.upstream(variant.unknownMethod("__metaproto_probe", 2)).forwarded));
    expect(limited).toMatchObject({ name: "sayHello", seqid: 2, message: "slow down", type: 11 });
    const faulted = variant.readException(Buffer.from(conn.upstream(variant.unknownMethod("__metaproto_probe", -5)).forwarded));
    expect(faulted).toMatchObject({ name: "crash", seqid: -5, message: "chaos \"test\"\\ café\nline 2", type: 13 });
    expect(host.counterValue(requestsTotal("", "sayHello", "server_error", "app_exception:11"))).toBe(1);
    expect(host.counterValue(requestsTotal("", "crash", "server_error", "app_exception:13"))).toBe(1);
    expect(host.counterValue("metaproto_local_replies_total;protocol=thrift;reason=rate_limited")).toBe(1);
    expect(host.counterValue("metaproto_local_replies_total;protocol=thrift;reason=fault")).toBe(1);
    expect(host.traps).toEqual([]);
  });

  test("a denied oneway call is dropped: no probe, nothing to answer", async () => {
    const { host, conn } = await connection(DENY_DELETE);
    const calls = [variant.call("deleteAll", 1, true), variant.call("sayHello", 2)];
    expect(Buffer.from(conn.downstream(Buffer.concat(calls)).forwarded).equals(calls[1])).toBe(true);
    const answer = variant.reply("sayHello", 2);
    expect(Buffer.from(conn.upstream(answer).forwarded).equals(answer)).toBe(true);
    expect(host.counterValue("metaproto_local_replies_total;protocol=thrift;reason=denied") ?? 0).toBe(0);
    expect(conn.closedByFilter).toBe(false);
  });
});

test("THeader: the reply repeats the call's flags, seqid and protocol id, with no info headers", async () => {
  const variant = theaderVariant("compact", 1, { tenant: "t1" });
  const { conn } = await connection(DENY_DELETE);
  conn.downstream(variant.call("deleteAll", 300));
  const out = Buffer.from(conn.upstream(variant.unknownMethod("__metaproto_probe", 300)).forwarded);
  expect(variant.readException(out).header).toEqual({ flags: 1, seqid: 300, protocolId: 2 });
  // The header block holds the protocol id and the transform count only, padded to a word.
  expect(out.readUInt16BE(12)).toBe(1);
  expect([...out.subarray(14, 18)]).toEqual([2, 0, 0, 0]);
});

test("non-strict binary: the probe is written as the client writes, the reply strict as servers write", async () => {
  const variant = plainVariant("binary-nonstrict", "buffered");
  const { conn } = await connection(DENY_DELETE);
  const probe = Buffer.from(conn.downstream(variant.call("deleteAll", 4)).forwarded);
  expect(probe.readInt32BE(0)).toBe("__metaproto_probe".length); // a name length, not a version word
  const out = Buffer.from(conn.upstream(appException("binary", "buffered", "__metaproto_probe", UNKNOWN_METHOD, 4)).forwarded);
  expect(out.readUInt32BE(0)).toBe(0x80010003); // version 1, EXCEPTION
});

test("a denied call that is not the first message of a read is still replaced, the state kept for the next calls", async () => {
  const variant = plainVariant("json", "buffered");
  const { host, conn } = await connection(DENY_DELETE);
  for (let round = 0; round < 3; round++) {
    const sent = Buffer.from(conn.downstream(Buffer.concat([variant.call("sayHello", 2 * round), variant.call("deleteAll", 2 * round + 1)])).forwarded);
    expect(sent.equals(Buffer.concat([variant.call("sayHello", 2 * round), variant.probe("__metaproto_probe", 2 * round + 1)]))).toBe(true);
    const answers = [variant.reply("sayHello", 2 * round), variant.unknownMethod("__metaproto_probe", 2 * round + 1)];
    const out = Buffer.from(conn.upstream(Buffer.concat(answers)).forwarded);
    expect(variant.readException(out.subarray(answers[0].length))).toMatchObject({ name: "deleteAll", seqid: 2 * round + 1 });
  }
  expect(host.counterValue(requestsTotal("", "sayHello", "ok", "0"))).toBe(3);
  expect(host.counterValue("metaproto_local_replies_total;protocol=thrift;reason=denied")).toBe(3);
});

test("the test's reader takes a TApplicationException's type from field 2, as npm thrift's clients do", () => {
  const bytes = appException("binary", "buffered", "m", 6, 1);
  expect(plainVariant("binary", "buffered").readException(bytes)).toMatchObject({ type: 6, message: "it failed" });
});

describe("a server that answers out of order (npm thrift answers an unknown method at once)", () => {
  const variant = plainVariant("binary", "buffered");
  const calls = Buffer.concat([variant.call("sayHello", 4), variant.call("deleteAll", 5), variant.call("sayHello", 6)]);

  test.each([
    ["the probe's answer overtakes the call before it", [variant.unknownMethod("__metaproto_probe", 5), variant.reply("sayHello", 4), variant.reply("sayHello", 6)]],
    ["a later call's answer overtakes the probe's", [variant.reply("sayHello", 4), variant.reply("sayHello", 6), variant.unknownMethod("__metaproto_probe", 5)]],
    ["the probe's answer comes back with another seqid", [variant.reply("sayHello", 4), variant.unknownMethod("__metaproto_probe", 6), variant.reply("sayHello", 6)]],
  ])("%s: the connection is closed, no error reply is handed to the wrong call", async (_, answers) => {
    const { host, conn } = await connection(DENY_DELETE);
    conn.downstream(calls);
    const toClient: Buffer[] = [];
    for (const answer of answers) {
      if (conn.closedByFilter) break;
      toClient.push(Buffer.from(conn.upstream(answer).forwarded));
    }
    expect(conn.closedByFilter).toBe(true);
    expect(Buffer.concat(toClient).includes(Buffer.from(DENIED_TEXT))).toBe(false);
    expect(host.counterValue("metaproto_decode_errors_total;protocol=thrift;direction=upstream;reason=probe_answer_out_of_order")).toBe(1);
    expect(host.counterValue("metaproto_local_replies_total;protocol=thrift;reason=denied") ?? 0).toBe(0);
    expect(host.traps).toEqual([]);
  });

  test("without a probe due, answers in any order pass as before (pairing stays in order)", async () => {
    const { host, conn } = await connection(DENY_DELETE);
    const allowed = Buffer.concat([variant.call("sayHello", 1), variant.call("lookup", 2)]);
    conn.downstream(allowed);
    const answers = Buffer.concat([variant.reply("lookup", 2), variant.reply("sayHello", 1)]);
    expect(Buffer.from(conn.upstream(answers).forwarded).equals(answers)).toBe(true);
    expect(conn.closedByFilter).toBe(false);
    expect(host.counterValue("metaproto_decode_errors_total;protocol=thrift;direction=upstream;reason=probe_answer_out_of_order") ?? 0).toBe(0);
  });
});

test("THeader: a probe whose info headers would outgrow the header block's size field is not sent; the connection is closed", async () => {
  // 0xFF is no UTF-8: the codec's UTF-8 decoder turns each pair into a character written back as
  // three bytes, so the probe's block would need more than the 0xFFFF words (262,140 bytes) its
  // size field can say.
  const value = Buffer.alloc(180_000, 0xff);
  let block = Buffer.concat([Buffer.from([0, 0, 1, 1]), varintString("big"), varint(value.length), value]);
  block = Buffer.concat([block, Buffer.alloc((4 - (block.length % 4)) % 4)]);
  const payload = call("binary", "buffered", "deleteAll", 1);
  const fixed = Buffer.alloc(14);
  fixed.writeUInt32BE(10 + block.length + payload.length, 0);
  fixed.writeUInt16BE(0x0fff, 4);
  fixed.writeUInt16BE(block.length / 4, 12);
  const { host, conn } = await connection(DENY_DELETE);
  const sent = Buffer.from(conn.downstream(Buffer.concat([fixed, block, payload])).forwarded);
  expect(sent.includes(Buffer.from("__metaproto_probe"))).toBe(false);
  expect(conn.closedByFilter).toBe(true);
  expect(host.counterValue("metaproto_policy_closes_total;protocol=thrift;reason=no_probe")).toBe(1);
  expect(host.traps).toEqual([]);
});
