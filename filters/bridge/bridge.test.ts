// The router-mode bridge (dist/wasm/dubbo_bridge.wasm) under the host emulator: Dubbo sessions
// captured from the real Java peers through both sides, and the HPACK examples of RFC 7541
// Appendix C (the byte strings are the RFC's) decoded by the module.
import { readFileSync } from "fs";
import * as path from "path";
import { ConfigRejected, ProxyTestHost, bytewise, feed, repoRoot } from "../../api/proxytest";
import type { Connection } from "../../api/proxytest";
import { BRIDGES } from "../../control-plane/model/router_mode";
import { BridgeConfig } from "../../control-plane/model/filter_config.generated";
import { ACK, HCM_LOCAL_REPLIES, compiledBridge, startedBridge as startBridge, END_HEADERS, END_STREAM, PADDED, PREFACE, T, frame, header, hcmLocalReply, hex, parseFrames, settings, streamsOf } from "./test_bridge";
// The header names the control plane's routes match on (control-plane/model/router_mode.ts): the bridge must set exactly these.
const DUBBO = BRIDGES.dubbo;

let bridge: WebAssembly.Module;

beforeAll(async () => {
  bridge = await compiledBridge("dubbo");
}, 120_000);

const startedBridge = (config: object) => startBridge(bridge, config);

const fixture = (name: string): Buffer => readFileSync(path.join(repoRoot(), "codecs/dubbo/fixtures", name));

/** Dubbo frames one after the other, cut by their 16-byte headers. */
function dubboFrames(bytes: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const length = 16 + bytes.readUInt32BE(at + 12);
    frames.push(bytes.subarray(at, at + length));
    at += length;
  }
  return frames;
}

const dubboId = (frame: Buffer): bigint => frame.readBigUInt64BE(4);
const withDubboId = (frame: Buffer, id: bigint): Buffer => {
  const copy = Buffer.from(frame);
  copy.writeBigUInt64BE(id, 4);
  return copy;
};
const isTwoWayRequest = (frame: Buffer): boolean => (frame[2] & 0xc0) === 0xc0 && (frame[2] & 0x20) === 0;

const JAVA_REQUESTS = fixture("java-consumer.request.bin");
const JAVA_RESPONSES = fixture("java-consumer.response.bin");
const SERVICE = "io.metaproto.demo.GreetingService";

describe("consumer side: Dubbo requests become HTTP/2 streams toward HCM", () => {
  test.each([
    ["whole", (b: Buffer) => [b]],
    ["byte by byte", bytewise],
  ])("the captured Java session, fed %s", async (_label, chunking) => {
    const host = await startedBridge({ side: "consumer" });
    const c = host.newConnection();
    const out = feed(c, "downstream", chunking(JAVA_REQUESTS));
    expect(out.subarray(0, PREFACE.length)).toEqual(PREFACE);
    const frames = parseFrames(out.subarray(PREFACE.length));
    expect(frames[0].type).toBe(T.Settings);
    expect(settings(frames[0])).toEqual({ 1: 0, 2: 0, 4: 0x7fffffff });
    expect(frames[1]).toMatchObject({ type: T.WindowUpdate, streamId: 0 });
    const streams = streamsOf(frames);
    const requests = dubboFrames(JAVA_REQUESTS);
    expect([...streams.keys()]).toEqual(requests.map((_, i) => 2 * i + 1));
    const methods = [...streams.values()].map((s) => header(s.headers, DUBBO.methodHeader));
    expect(methods).toEqual(["sayHello", "sayHello", "sayHello", "fail", "notifyOneway", "echo"]);
    [...streams.values()].forEach((s, i) => {
      expect(s.ended).toBe(true);
      expect(s.body).toEqual(requests[i]); // the frame as the consumer sent it, its id included
      expect(header(s.headers, ":path")).toBe(`/${SERVICE}/${methods[i]}`);
      expect(header(s.headers, ":method")).toBe("POST");
      expect(header(s.headers, DUBBO.serviceHeader)).toBe(SERVICE);
      expect(header(s.headers, `${DUBBO.attributePrefix}tenant`)).toBe("t1");
      expect(header(s.headers, DUBBO.kindHeader)).toBe(methods[i] === "notifyOneway" ? "oneway" : "request");
    });
    expect(host.traps).toEqual([]);
  });

  test("bytes that are not Dubbo close the connection", async () => {
    const host = await startedBridge({ side: "consumer" });
    const c = host.newConnection();
    c.downstream("GET / HTTP/1.1\r\n\r\n");
    expect(c.closedByFilter).toBe(true);
  });
});

/** Runs the Java session through both sides; returns what each side let through. */
function roundTrip(consumer: Connection, provider: Connection) {
  const toHcm = feed(consumer, "downstream", [JAVA_REQUESTS]);
  // HCM and the router are byte-transparent here: one consumer connection, streams 1:1.
  const toProvider = feed(provider, "downstream", bytewise(toHcm));
  const sent = dubboFrames(toProvider);
  const responses = dubboFrames(JAVA_RESPONSES);
  const twoWay = sent.filter(isTwoWayRequest);
  // The provider answers: each probe heartbeat, then each two-way request, with the ids it saw.
  const probes = sent.filter((f) => (f[2] & 0x20) !== 0);
  const answers = [
    ...probes.map((p) => Buffer.concat([Buffer.from([0xda, 0xbb, 0x22, 20]), p.subarray(4, 12), Buffer.from([0, 0, 0, 1, 0x4e])])),
    ...twoWay.map((request, i) => withDubboId(responses[i], dubboId(request))),
  ];
  const toRouter = feed(provider, "upstream", [Buffer.concat(answers)]);
  const toConsumer = feed(consumer, "upstream", bytewise(toRouter));
  return { toHcm, sent, toRouter, toConsumer };
}

describe("provider side and the round trip", () => {
  test("streams become frames with stream ids; responses return on their streams; the consumer gets its own ids back", async () => {
    const consumerHost = await startedBridge({ side: "consumer" });
    const providerHost = await startedBridge({ side: "provider" });
    const { sent, toRouter, toConsumer } = roundTrip(consumerHost.newConnection(), providerHost.newConnection());

    const requests = dubboFrames(JAVA_REQUESTS);
    // A heartbeat (even id) first, the requests with their stream ids, and a heartbeat after the oneway.
    expect(sent.map((f) => [f[2] & 0x20 ? "probe" : "call", Number(dubboId(f))])).toEqual([
      ["probe", 2], ["call", 1], ["call", 3], ["call", 5], ["call", 7], ["call", 9], ["probe", 4], ["call", 11],
    ]);
    sent.filter((f) => !(f[2] & 0x20)).forEach((f, i) => expect(f.subarray(12)).toEqual(requests[i].subarray(12)));

    const frames = parseFrames(toRouter);
    expect(frames[0].type).toBe(T.Settings); // the server's SETTINGS comes first
    expect(settings(frames[0])).toEqual({ 1: 0, 4: 0x7fffffff });
    expect(frames.some((f) => f.type === T.Settings && f.flags === ACK)).toBe(true);
    const streams = streamsOf(frames);
    expect([...streams.keys()].sort((a, b) => a - b)).toEqual([1, 3, 5, 7, 9, 11]);
    expect(streams.get(9)).toMatchObject({ body: Buffer.alloc(0), ended: true }); // the oneway's empty 200
    for (const s of streams.values()) expect(header(s.headers, ":status")).toBe("200");

    expect(toConsumer).toEqual(JAVA_RESPONSES); // byte for byte, ids restored
    expect(consumerHost.traps).toEqual([]);
    expect(providerHost.traps).toEqual([]);
  });

  test("a provider's own heartbeat is answered with the next bytes toward it", async () => {
    const host = await startedBridge({ side: "provider" });
    const c = host.newConnection();
    c.downstream(Buffer.concat([PREFACE, frame(T.Settings, 0, 0)]));
    const heartbeat = hex("dabb e2 00 0000000000000063 00000001 4e");
    expect(c.upstream(heartbeat).forwarded.length).toBeGreaterThan(0); // SETTINGS etc., not the heartbeat
    const next = Buffer.from(c.downstream(frame(T.Ping, 0, 0, Buffer.alloc(8))).forwarded);
    expect(next).toEqual(hex("dabb 22 14 0000000000000063 00000001 4e"));
  });
});

describe("HCM's answers become Dubbo replies", () => {
  async function consumerWithRequests(count: number) {
    const host = await startedBridge({ side: "consumer" });
    const c = host.newConnection();
    const requests = dubboFrames(JAVA_REQUESTS).slice(0, count);
    c.downstream(Buffer.concat(requests));
    return { host, c, requests };
  }


  const DUBBO_STATUS: Record<string, number> = { 504: 31, 503: 80, 429: 100, 403: 40, 404: 60 };
  test.each(HCM_LOCAL_REPLIES.map(([status, body, text]) => [status, body, DUBBO_STATUS[status], text]))("HTTP %s", async (status, body, dubboStatus, text) => {
    const { c, requests } = await consumerWithRequests(1);
    const reply = Buffer.from(c.upstream(hcmLocalReply(status, body, 1)).forwarded);
    expect(reply[2]).toBe(0x02); // a response, hessian2
    expect(reply[3]).toBe(dubboStatus);
    expect(dubboId(reply)).toBe(dubboId(requests[0]));
    expect(reply.subarray(16).toString("utf8")).toContain(text);
  });

  test("RST_STREAM becomes a server error; a oneway's answer reaches nobody", async () => {
    const { c, requests } = await consumerWithRequests(5); // the fifth is notifyOneway, stream 9
    const reset = Buffer.from(c.upstream(frame(T.RstStream, 0, 3, hex("00000002"))).forwarded);
    expect(reset[3]).toBe(80);
    expect(dubboId(reset)).toBe(dubboId(requests[1]));
    expect(c.upstream(frame(T.Headers, END_HEADERS | END_STREAM, 9, hex("88"))).forwarded.length).toBe(0);
  });

  test("PING and SETTINGS from HCM are acknowledged with the next request", async () => {
    const { c } = await consumerWithRequests(1);
    c.upstream(Buffer.concat([frame(T.Settings, 0, 0, hex("0004 00010000")), frame(T.Ping, 0, 0, hex("0102030405060708"))]));
    const frames = parseFrames(Buffer.from(c.downstream(dubboFrames(JAVA_REQUESTS)[1]).forwarded));
    expect(frames[0]).toMatchObject({ type: T.Settings, flags: ACK });
    expect(frames[1]).toMatchObject({ type: T.Ping, flags: ACK, payload: hex("0102030405060708") });
  });

  test("an HPACK block the decoder cannot read closes the connection", async () => {
    const { c } = await consumerWithRequests(1);
    c.upstream(frame(T.Headers, END_HEADERS, 1, hex("ff00"))); // index 127: beyond both tables
    expect(c.closedByFilter).toBe(true);
  });
});

/** The header lines the module logged for the streams it decoded. */
const loggedHeaders = (host: ProxyTestHost): string[] =>
  host.logMessages("debug").map((m) => /stream \d+ headers (.*)$/.exec(m)?.[1]).filter((x): x is string => x !== undefined);

describe("HPACK decoding: RFC 7541 Appendix C examples", () => {
  const REQUESTS = [
    ":method: GET, :scheme: http, :path: /, :authority: www.example.com",
    ":method: GET, :scheme: http, :path: /, :authority: www.example.com, cache-control: no-cache",
    ":method: GET, :scheme: https, :path: /index.html, :authority: www.example.com, custom-key: custom-value",
  ];
  const C3 = ["828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865", "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"];
  const C4 = ["828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf", "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"];

  test.each([
    ["C.3 (no Huffman)", C3],
    ["C.4 (Huffman)", C4],
  ])("%s: three requests on one connection share the dynamic table", async (_label, blocks) => {
    const host = await startedBridge({ side: "provider", header_table_size: 4096 });
    const c = host.newConnection();
    c.downstream(Buffer.concat([PREFACE, frame(T.Settings, 0, 0), ...blocks.map((b, i) => frame(T.Headers, END_HEADERS | END_STREAM, 2 * i + 1, hex(b)))]));
    expect(loggedHeaders(host)).toEqual(REQUESTS);
    expect(c.closed).toBe(false);
  });

  test("C.4.3 split over HEADERS (padded) and CONTINUATION, fed byte by byte", async () => {
    const host = await startedBridge({ side: "provider", header_table_size: 4096 });
    const c = host.newConnection();
    const blocks = C4.map(hex);
    const padded = Buffer.concat([Buffer.from([3]), blocks[2].subarray(0, 7), Buffer.alloc(3)]);
    const bytes = Buffer.concat([
      PREFACE, frame(T.Settings, 0, 0),
      frame(T.Headers, END_HEADERS | END_STREAM, 1, blocks[0]), frame(T.Headers, END_HEADERS | END_STREAM, 3, blocks[1]),
      frame(T.Headers, PADDED | END_STREAM, 5, padded), frame(T.Continuation, END_HEADERS, 5, blocks[2].subarray(7)),
    ]);
    feed(c, "downstream", bytewise(bytes));
    expect(loggedHeaders(host)).toEqual(REQUESTS);
  });

  test("C.6 (responses with Huffman, a 256-byte table: evictions): each answer decoded, each a Dubbo error reply", async () => {
    const host = await startedBridge({ side: "consumer", header_table_size: 256 });
    const c = host.newConnection();
    const requests = dubboFrames(JAVA_REQUESTS).slice(0, 3);
    c.downstream(Buffer.concat(requests));
    const C6 = [
      "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
      "4883640effc1c0bf",
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ];
    // The RFC's examples assume a 256-byte table; a size update (to 256) in front of the first block sets it.
    const blocks = C6.map((b, i) => hex((i === 0 ? "3fe101" : "") + b));
    const replies = dubboFrames(Buffer.from(c.upstream(Buffer.concat(blocks.map((b, i) => frame(T.Headers, END_HEADERS | END_STREAM, 2 * i + 1, b)))).forwarded));
    expect(loggedHeaders(host)).toEqual([
      ":status: 302, cache-control: private, date: Mon, 21 Oct 2013 20:13:21 GMT, location: https://www.example.com",
      ":status: 307, cache-control: private, date: Mon, 21 Oct 2013 20:13:21 GMT, location: https://www.example.com",
      ":status: 200, cache-control: private, date: Mon, 21 Oct 2013 20:13:22 GMT, location: https://www.example.com, content-encoding: gzip, " +
        "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    ]);
    // No Dubbo body in any of them: the consumer gets errors, with its own ids.
    expect(replies.map((r) => [dubboId(r), r[3]])).toEqual(requests.map((r) => [dubboId(r), 80]));
    expect(replies[0].subarray(16).toString()).toContain("HTTP 302");
  });
});

describe("configuration: the generated reader (bridge_config.proto) and the control plane's schema agree", () => {
  const cases: [string, object, string | undefined][] = [
    ["a provider with a service name", { side: "provider", service: "demo.Echo_v-2" }, undefined],
    ["an unknown side", { side: "server" }, "side: must be one of consumer, provider"],
    ["a header table too large", { header_table_size: 65537 }, "header_table_size: must be a whole number from 0 to 65536"],
    ["frames under 16 bytes", { max_frame_bytes: 15 }, "max_frame_bytes: must be a whole number from 16 to 67108864"],
    ["a service name with a slash", { service: "a/b" }, "service: must be letters, digits and . _ -"],
    ["a service name of 256 characters", { service: "s".repeat(256) }, "service: must be 0 to 255 characters long"],
    ["an unknown field", { sides: "consumer" }, "sides: unknown field (known: side, header_table_size, max_frame_bytes, service)"],
  ];
  test.each(cases)("%s", async (_name, config, refusal) => {
    const host = await ProxyTestHost.load(bridge, { pluginConfig: JSON.stringify(config) });
    let filterRefusal: string | undefined;
    try {
      host.start();
    } catch (err) {
      if (!(err instanceof ConfigRejected)) throw err;
      filterRefusal = host.logMessages("error").join("\n").split("configuration rejected: ")[1];
    }
    expect(filterRefusal).toBe(refusal);
    const parsed = BridgeConfig.safeParse(config);
    expect(parsed.success).toBe(refusal === undefined);
    if (!parsed.success && refusal !== undefined) {
      // Both name the field; zod reports unknown keys on their object (the model's loader words that itself).
      const issue = parsed.error.issues[0];
      expect(refusal.startsWith(`${issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.join(".")}: `)).toBe(true);
      if (issue.code !== "unrecognized_keys") expect(refusal).toContain(issue.message);
    }
  });
});
