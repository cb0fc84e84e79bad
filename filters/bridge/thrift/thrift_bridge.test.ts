// The Thrift bridge (dist/wasm/thrift_bridge.wasm) under the host emulator: sessions captured from
// python3-thrift and npm thrift (codecs/thrift/fixtures) become streams; calls written by npm
// thrift's own encoder go through both sides and back, answered out of order by a fake server;
// HCM's local replies become TApplicationExceptions npm thrift reads; random bytes never trap.
import fc from "fast-check";
import { BRIDGES } from "../../../control-plane/model/router_mode";
import { bytewise, feed } from "../../../api/proxytest";
import { MessageType, Type, appException, encodeMessage, fixture, reply, struct, theaderFrame } from "../../../codecs/thrift/test_frames";
import type { ProtocolName } from "../../../codecs/thrift/test_frames";
import { END_HEADERS, HCM_LOCAL_REPLIES, compiledBridge, startedBridge as startBridge, END_STREAM, PREFACE, T, frame, hcmLocalReply, header, parseFrames, streamsOf } from "../test_bridge";
// The header names the control plane's routes match on (control-plane/model/router_mode.ts): the bridge must set exactly these.
const THRIFT = BRIDGES.thrift;

// npm thrift ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const thrift = require("thrift");

let bridge: WebAssembly.Module;

beforeAll(async () => {
  bridge = await compiledBridge("thrift");
}, 120_000);

const startedBridge = (config: object, logLevel: "debug" | "info" = "debug") => startBridge(bridge, config, logLevel);

// --- Thrift variants, written and read by npm thrift (an encoder independent of the module).
type Envelope = "buffered" | "framed" | "header";
interface Variant { label: string; protocol: "binary" | "binary-nonstrict" | "compact"; envelope: Envelope }
const VARIANTS: Variant[] = [
  { label: "binary, framed", protocol: "binary", envelope: "framed" },
  { label: "compact, framed", protocol: "compact", envelope: "framed" },
  { label: "THeader, binary inside", protocol: "binary", envelope: "header" },
  { label: "THeader, compact inside", protocol: "compact", envelope: "header" },
  { label: "binary, buffered", protocol: "binary", envelope: "buffered" },
  { label: "non-strict binary, framed", protocol: "binary-nonstrict", envelope: "framed" },
];

/** An unframed message put in the variant's envelope (THeader: `headerSeqid` and `infoHeaders` in the frame). */
function envelop(v: Variant, message: Buffer, headerSeqid: number, infoHeaders: Record<string, string> = {}): Buffer {
  if (v.envelope === "buffered") return message;
  if (v.envelope === "framed") {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(message.length);
    return Buffer.concat([length, message]);
  }
  return theaderFrame(message, { protocolId: v.protocol === "compact" ? 2 : 0, seqid: headerSeqid >>> 0, headers: infoHeaders });
}

const protocolName = (v: Variant): ProtocolName => v.protocol;
const callOf = (v: Variant, name: string, seqid: number, oneway = false, headerSeqid = seqid) =>
  envelop(v, encodeMessage(protocolName(v), "buffered", name, oneway ? MessageType.ONEWAY : MessageType.CALL, seqid,
    (p) => struct(p, [[1, Type.STRING, (q) => q.writeString("MetaProto")]])), headerSeqid, { tenant: "t1", "Trace-Id": "abc" });
const replyOf = (v: Variant, name: string, seqid: number, headerSeqid = seqid) =>
  envelop(v, reply(v.protocol === "binary-nonstrict" ? "binary" : protocolName(v), "buffered", name, 0, seqid), headerSeqid);
const unknownMethodOf = (v: Variant, name: string, seqid: number) =>
  envelop(v, appException(v.protocol === "binary-nonstrict" ? "binary" : protocolName(v), "buffered", name, 1, seqid), seqid);

interface ReadMessage { name: string; type: number; seqid: number; headerSeqid?: number; bytes: Buffer; exception?: { message: string; type: number } }

/** Messages one after the other in the variant's transport, each read by npm thrift (exceptions in full). */
function readMessages(v: Variant, bytes: Buffer): ReadMessage[] {
  const out: ReadMessage[] = [];
  let at = 0;
  while (at < bytes.length) {
    let start = at;
    let end: number | undefined;
    let headerSeqid: number | undefined;
    if (v.envelope !== "buffered") {
      end = at + 4 + bytes.readUInt32BE(at);
      start = at + 4;
      if (v.envelope === "header") {
        expect(bytes.readUInt16BE(at + 4)).toBe(0x0fff);
        headerSeqid = bytes.readInt32BE(at + 8);
        start = at + 14 + 4 * bytes.readUInt16BE(at + 12);
      }
    }
    const transport = new thrift.TBufferedTransport();
    transport.inBuf = Buffer.from(bytes.subarray(start, end ?? bytes.length));
    transport.writeCursor = (end ?? bytes.length) - start;
    const p = v.protocol === "compact" ? new thrift.TCompactProtocol(transport) : new thrift.TBinaryProtocol(transport, false, false);
    const begin = p.readMessageBegin(); // non-strict binary: the name comes as a Buffer
    let exception: ReadMessage["exception"];
    if (begin.mtype === MessageType.EXCEPTION) {
      const e = new thrift.Thrift.TApplicationException();
      e.read(p);
      exception = { message: e.message, type: e.type };
    } else {
      p.skip(Type.STRUCT);
    }
    p.readMessageEnd();
    const length = end !== undefined ? end - at : transport.readCursor;
    if (end !== undefined) expect(start + transport.readCursor).toBe(end); // nothing after the message in its frame
    out.push({ name: begin.fname.toString(), type: begin.mtype, seqid: begin.rseqid | 0, headerSeqid, bytes: bytes.subarray(at, at + length), exception });
    at += length;
  }
  return out;
}

describe("consumer side: captured sessions become one stream per call", () => {
  const SESSIONS = ["python-header-binary", "python-header-compact", "python-compact-framed", "node-binary-framed",
    "node-compact-framed-multiplexed", "node-binary-buffered", "node-compact-buffered", "python-binary-nonstrict-buffered"];

  test.each(SESSIONS)("%s", async (name) => {
    const session = fixture(name);
    const host = await startedBridge({ side: "consumer", service: "Greeter" });
    const out = feed(host.newConnection(), "downstream", name === "python-header-binary" ? bytewise(session.request) : [session.request]);
    expect(out.subarray(0, PREFACE.length)).toEqual(PREFACE);
    const streams = [...streamsOf(parseFrames(out.subarray(PREFACE.length))).entries()];
    expect(streams.map(([id]) => id)).toEqual(session.requestMessages.map((_, i) => 2 * i + 1));
    streams.forEach(([, s], i) => {
      const m = session.requestMessages[i];
      const [service, method] = m.name.includes(":") ? m.name.split(":") : ["Greeter", m.name];
      expect(s.ended).toBe(true);
      expect(s.body).toEqual(session.request.subarray(m.offset, m.offset + m.length)); // the frame as the client wrote it
      expect(header(s.headers, ":path")).toBe(`/${service}/${method}`);
      expect(header(s.headers, ":authority")).toBe(service);
      expect(header(s.headers, THRIFT.serviceHeader)).toBe(service);
      expect(header(s.headers, THRIFT.methodHeader)).toBe(method);
      expect(header(s.headers, THRIFT.kindHeader)).toBe(m.type === "oneway" ? "oneway" : "call");
      for (const [k, value] of Object.entries(m.headers ?? {})) expect(header(s.headers, `${THRIFT.attributePrefix}${k.toLowerCase()}`)).toBe(value);
    });
    expect(host.traps).toEqual([]);
  });

  test("without a multiplexing prefix nor a configured service, the path is /<method>", async () => {
    const host = await startedBridge({ side: "consumer" });
    const out = feed(host.newConnection(), "downstream", [callOf(VARIANTS[0], "sayHello", 1)]);
    const [s] = streamsOf(parseFrames(out.subarray(PREFACE.length))).values();
    expect(header(s.headers, ":path")).toBe("/sayHello");
    expect(header(s.headers, THRIFT.serviceHeader)).toBeUndefined();
  });

  test.each([
    ["HTTP", Buffer.from("GET / HTTP/1.1\r\n\r\n")],
    ["JSON (not bridged)", Buffer.from('[1,"sayHello",1,0,{}]')],
    ["a reply from the client", replyOf(VARIANTS[0], "sayHello", 1)],
    ["a frame whose message runs past it", Buffer.from("000000088001000100000010", "hex")],
    ["THeader with zlib (python3-thrift's, captured)", fixture("python-header-zlib").request],
  ])("%s closes the connection", async (_label, bytes) => {
    const host = await startedBridge({ side: "consumer" });
    const c = host.newConnection();
    c.downstream(bytes);
    expect(c.closedByFilter).toBe(true);
    expect(host.traps).toEqual([]);
  });
});

describe.each(VARIANTS)("round trip, $label", (v) => {
  // Calls a client pipelines on one connection: two-way calls around a oneway, one multiplexed.
  const CALLS = [
    { name: "sayHello", seqid: 41, oneway: false },
    { name: "notify", seqid: 42, oneway: true },
    { name: "Greeter:lookup", seqid: 0, oneway: false },
    { name: "echo", seqid: -7, oneway: false },
  ];

  test("seqids become stream ids toward the server and come back; answers out of order reach the client in call order", async () => {
    const consumerHost = await startedBridge({ side: "consumer", service: "Greeter" });
    const providerHost = await startedBridge({ side: "provider" });
    const consumer = consumerHost.newConnection();
    const provider = providerHost.newConnection();
    const calls = CALLS.map((c, i) => callOf(v, c.name, c.seqid, c.oneway, 1000 + i));
    const toHcm = feed(consumer, "downstream", [Buffer.concat(calls)]);
    const toServer = readMessages(v, feed(provider, "downstream", bytewise(toHcm)));

    // The calls with their stream ids, a probe (even seqid) after the oneway; otherwise the bytes the client wrote.
    expect(toServer.map((m) => [m.name, m.type, m.seqid])).toEqual([
      ["sayHello", MessageType.CALL, 1], ["notify", MessageType.ONEWAY, 3], ["__metaproto_probe", MessageType.CALL, 2],
      ["Greeter:lookup", MessageType.CALL, 5], ["echo", MessageType.CALL, 7],
    ]);
    if (v.envelope === "header") expect(toServer.map((m) => m.headerSeqid)).toEqual([1, 3, 2, 5, 7]);
    const sent = toServer.filter((m) => m.name !== "__metaproto_probe");
    sent.forEach((m, i) => expect(m.bytes).toEqual(callOf(v, CALLS[i].name, m.seqid, CALLS[i].oneway, m.seqid)));

    // The server answers the probe first, then the calls last to first, with the seqids it saw.
    const answers = [unknownMethodOf(v, "__metaproto_probe", 2), ...[7, 5, 1].map((seqid) => replyOf(v, toServer.find((m) => m.seqid === seqid)!.name.replace(/^.*:/, ""), seqid))];
    const toRouter = feed(provider, "upstream", answers.map((a) => a));
    const routerFrames = parseFrames(toRouter);
    expect(routerFrames[0].type).toBe(T.Settings);
    const streams = streamsOf(routerFrames);
    expect([...streams.keys()]).toEqual([3, 7, 5, 1]); // the oneway's empty 200, then as the server answered
    expect(streams.get(3)).toMatchObject({ body: Buffer.alloc(0), ended: true });
    expect(header(streams.get(3)!.headers, THRIFT.kindHeader)).toBe("oneway");

    const toClient = feed(consumer, "upstream", bytewise(toRouter));
    const twoWay = CALLS.map((c, i) => ({ ...c, headerSeqid: 1000 + i })).filter((c) => !c.oneway);
    // Byte for byte what the server would have answered the client directly, in call order.
    expect(toClient).toEqual(Buffer.concat(twoWay.map((c) => replyOf(v, c.name.replace(/^.*:/, ""), c.seqid, c.headerSeqid))));
    expect(consumerHost.traps).toEqual([]);
    expect(providerHost.traps).toEqual([]);
  });

  // TIMEOUT, INTERNAL_ERROR, LOADSHEDDING, UNKNOWN (a denial), UNKNOWN_METHOD (no route).
  const APP_EXCEPTION_TYPE: Record<string, number> = { 504: 12, 503: 6, 429: 11, 403: 0, 404: 1 };
  test.each(HCM_LOCAL_REPLIES.map(([status, body, text]) => [status, body, APP_EXCEPTION_TYPE[status], text]))("HCM's %s becomes a TApplicationException with the call's seqid and method", async (status, body, type, text) => {
    const host = await startedBridge({ side: "consumer" });
    const c = host.newConnection();
    c.downstream(callOf(v, "Greeter:crash", 99, false, 1234));
    const [answer] = readMessages(v, Buffer.from(c.upstream(hcmLocalReply(status, body, 1)).forwarded));
    expect(answer).toMatchObject({ name: "crash", type: MessageType.EXCEPTION, seqid: 99, exception: { type, message: text } });
    if (v.envelope === "header") expect(answer.headerSeqid).toBe(1234);
    expect(c.closed).toBe(false);
  });
});

describe("consumer side: answers and their order", () => {
  const v = VARIANTS[0];

  test("an answer that overtakes the call before it waits for it; a reset is INTERNAL_ERROR in its place", async () => {
    const host = await startedBridge({ side: "consumer" });
    const c = host.newConnection();
    c.downstream(Buffer.concat([callOf(v, "sayHello", 5), callOf(v, "echo", 6), callOf(v, "lookup", 7)]));
    const okBlock = Buffer.from([0x88]); // :status 200, static index 8
    const replyStream = (id: number, body: Buffer) => Buffer.concat([frame(T.Headers, END_HEADERS, id, okBlock), frame(T.Data, END_STREAM, id, body)]);
    expect(c.upstream(replyStream(5, replyOf(v, "lookup", 7))).forwarded.length).toBe(0);
    expect(c.upstream(frame(T.RstStream, 0, 3, Buffer.from("00000002", "hex"))).forwarded.length).toBe(0);
    const answers = readMessages(v, Buffer.from(c.upstream(replyStream(1, replyOf(v, "sayHello", 5))).forwarded));
    expect(answers.map((m) => [m.name, m.type, m.seqid, m.exception?.type])).toEqual([
      ["sayHello", MessageType.REPLY, 5, undefined], ["echo", MessageType.EXCEPTION, 6, 6], ["lookup", MessageType.REPLY, 7, undefined],
    ]);
    expect(answers[1].exception!.message).toBe("MetaProto router (HTTP reset:2)");
  });

  test("a 200 whose body is no reply to the call (another seqid) becomes INTERNAL_ERROR", async () => {
    const host = await startedBridge({ side: "consumer" });
    const c = host.newConnection();
    c.downstream(callOf(v, "sayHello", 5));
    const stream = Buffer.concat([frame(T.Headers, END_HEADERS, 1, Buffer.from([0x88])), frame(T.Data, END_STREAM, 1, replyOf(v, "sayHello", 6))]);
    const [answer] = readMessages(v, Buffer.from(c.upstream(stream).forwarded));
    expect(answer).toMatchObject({ name: "sayHello", seqid: 5, exception: { type: 6 } });
  });
});

describe("provider side", () => {
  test("a stream whose body is not a Thrift call is refused with RST_STREAM", async () => {
    const host = await startedBridge({ side: "provider" });
    const c = host.newConnection();
    const headers = frame(T.Headers, END_HEADERS, 1, Buffer.from([0x83])); // :method POST
    expect(c.downstream(Buffer.concat([PREFACE, frame(T.Settings, 0, 0), headers, frame(T.Data, END_STREAM, 1, Buffer.from("hello"))])).forwarded.length).toBe(0);
    const toRouter = parseFrames(Buffer.from(c.upstream(unknownMethodOf(VARIANTS[0], "__metaproto_probe", 2)).forwarded));
    expect(toRouter.find((f) => f.type === T.RstStream)).toMatchObject({ streamId: 1, payload: Buffer.from("00000001", "hex") });
  });
});

describe("malformed input never traps the VM", () => {
  const chunk = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b));
  const thriftish = fc.oneof(chunk, fc.constantFrom(...VARIANTS.map((v) => callOf(v, "sayHello", 1))), fc.constantFrom(...VARIANTS.map((v) => replyOf(v, "sayHello", 1))));
  const turns = fc.array(fc.record({ side: fc.constantFrom<"downstream" | "upstream">("downstream", "upstream"), bytes: thriftish }), { minLength: 1, maxLength: 10 });

  test.each(["consumer", "provider"])("%s side: random bytes and Thrift messages in random directions", async (side) => {
    await fc.assert(fc.asyncProperty(turns, fc.boolean(), async (played, preface) => {
      const host = await startedBridge({ side, max_frame_bytes: 4096 }, "info");
      const c = host.newConnection();
      if (preface && side === "provider") c.downstream(PREFACE);
      for (const t of played) {
        if (c.closed) break;
        if (t.side === "downstream") c.downstream(t.bytes);
        else c.upstream(t.bytes);
      }
      expect(host.traps).toEqual([]);
    }), { numRuns: 300 });
  }, 120_000);
});
