// The MetaProtocol filter's own promises, checked through the compiled Dubbo module: bytes
// pass untouched, bad input is counted and never traps, memory stays bounded, configuration
// is validated, label cardinality is capped.
import fc from "fast-check";
import { ConfigRejected, ProxyTestHost } from "../../api/proxytest";
import {
  compiledDubbo, decodedMessages, feed, fixture, hessianBytes, request, requestsTotal, response, split, startedHost,
} from "../../codecs/dubbo/test_frames";

let dubbo: WebAssembly.Module;
beforeAll(async () => {
  dubbo = await compiledDubbo();
}, 120_000);

const decodeErrors = (host: ProxyTestHost) =>
  Object.fromEntries(host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total;")).map((m) => [m.name, m.value]));

describe("configuration", () => {
  test.each([
    ["{not json", /not valid JSON/],
    ['{"max_buffered_bytes": 12}', /max_buffered_bytes: must be a whole number from 256/],
    ['{"max_pending_calls": 1.5}', /max_pending_calls: must be a whole number/],
    ['{"on_decode_error": "drop"}', /on_decode_error: must be one of pass_through, close/],
    ['{"max_response_codes": 0}', /max_response_codes: must be a whole number from 1 to 1024/],
    ['{"max_series": 99}', /max_series: must be a whole number from 100 to 1048576/],
    ['{"max_bufered_bytes": 4096}', /max_bufered_bytes: unknown field/],
    ["[1, 2]", /must be a JSON object/],
  ])("%s is rejected, naming the field", async (config, why) => {
    const host = await ProxyTestHost.load(dubbo, { pluginConfig: config });
    expect(() => host.start()).toThrow(ConfigRejected);
    expect(host.logMessages("error").join("\n")).toMatch(why);
  });

  test("an empty configuration means defaults; a valid one is accepted", async () => {
    for (const config of ["", '{"max_buffered_bytes": 4096, "max_pending_calls": 8, "max_label_pairs": 5, "max_response_codes": 4, "max_series": 100, "on_decode_error": "close"}']) {
      const host = await ProxyTestHost.load(dubbo, { pluginConfig: config });
      expect(() => host.start()).not.toThrow();
    }
  });
});

describe("bytes that are not Dubbo", () => {
  const tlsClientHello = Buffer.from("160301020001" + "00".repeat(40), "hex");
  const http = Buffer.from("GET / HTTP/1.1\r\nHost: example\r\n\r\n");

  test.each([["TLS", tlsClientHello], ["HTTP", http]])("%s: counted once, passed through untouched, decoding stops", async (_name, bytes) => {
    const host = await startedHost(dubbo);
    const conn = host.newConnection();
    const later = request({ id: 1n });
    const forwarded = feed(conn, "downstream", [bytes, later]);
    expect(forwarded.equals(Buffer.concat([bytes, later]))).toBe(true);
    expect(decodeErrors(host)).toEqual({ "metaproto_decode_errors_total;protocol=dubbo;direction=downstream;reason=bad_magic": 1 });
    expect(decodedMessages(host)).toEqual([]);
    expect(conn.closedByFilter).toBe(false);
  });

  test("the magic is checked on the first byte, before a whole header arrived", async () => {
    const host = await startedHost(dubbo);
    host.newConnection().downstream(Buffer.from([0x16]));
    expect(Object.keys(decodeErrors(host))).toHaveLength(1);
  });

  test('on_decode_error "close" closes the connection', async () => {
    const host = await startedHost(dubbo, { on_decode_error: "close" });
    const conn = host.newConnection();
    conn.downstream(http);
    expect(conn.closedByFilter).toBe(true);
    expect(Object.values(decodeErrors(host))).toEqual([1]);
  });

  test("other connections keep decoding", async () => {
    const host = await startedHost(dubbo);
    host.newConnection().downstream(http);
    const good = host.newConnection();
    good.downstream(request({ id: 5n }));
    good.upstream(response(5n));
    expect(host.counterValue(requestsTotal("sayHello", "ok", "20"))).toBe(1);
  });
});

describe("never a trap", () => {
  const session = fixture("java-consumer.request.bin");
  const replies = fixture("java-consumer.response.bin");

  test("random bytes in random chunks, both directions", async () => {
    const magicOrNot = fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.concat([Buffer.from([0xda, 0xbb]), b])));
    await fc.assert(
      fc.asyncProperty(fc.array(magicOrNot, { maxLength: 6 }), fc.array(magicOrNot, { maxLength: 6 }), async (down, up) => {
        const host = await startedHost(dubbo);
        const conn = host.newConnection();
        const d = down.map((b) => Buffer.from(b));
        const u = up.map((b) => Buffer.from(b));
        expect(feed(conn, "downstream", d).equals(Buffer.concat(d))).toBe(true);
        expect(feed(conn, "upstream", u).equals(Buffer.concat(u))).toBe(true);
        conn.close("downstream");
        expect(host.traps).toEqual([]);
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  test("real sessions with bytes flipped", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: session.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat({ max: session.length - 1 }), { maxLength: 5 }),
        async (flips, cuts) => {
          const mutated = Buffer.from(session);
          for (const [at, x] of flips) mutated[at] ^= x;
          const host = await startedHost(dubbo);
          const conn = host.newConnection();
          expect(feed(conn, "downstream", split(mutated, cuts)).equals(mutated)).toBe(true);
          expect(feed(conn, "upstream", [replies]).equals(replies)).toBe(true);
          conn.close("upstream");
          expect(host.traps).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  }, 120_000);

  test("deeply nested values are a decode error, not a stack overflow", async () => {
    const depth = 100_000;
    const nested = Buffer.concat([Buffer.alloc(depth, 0x79), Buffer.from([0x4e])]); // list of one, 100k deep
    const host = await startedHost(dubbo, { max_buffered_bytes: 1 << 20 });
    host.newConnection().downstream(request({ id: 1n, args: [nested] }));
    expect(host.traps).toEqual([]);
    expect(decodeErrors(host)).toEqual({ "metaproto_decode_errors_total;protocol=dubbo;direction=downstream;reason=too_deep": 1 });
  });
});

describe("bounded memory", () => {
  test("a frame larger than max_buffered_bytes is decoded from its prefix and streamed through", async () => {
    const cap = 64 * 1024;
    const host = await startedHost(dubbo, { max_buffered_bytes: cap });
    const conn = host.newConnection();
    const big = request({ id: 1n, method: "upload", args: [hessianBytes(Buffer.alloc(8 * 1024 * 1024, 0x61))], attachments: { trace: "x" } });
    const next = request({ id: 2n, method: "after" });
    const memoryBefore = host.guestMemoryBytes();
    // 16 KiB reads, as a socket would deliver them; the next frame shares the last read.
    const stream = Buffer.concat([big, next]);
    const forwarded = feed(conn, "downstream", split(stream, Array.from({ length: Math.ceil(stream.length / 16384) }, (_, i) => i * 16384)));
    expect(forwarded.equals(stream)).toBe(true);
    const growth = host.guestMemoryBytes() - memoryBefore;
    expect(growth).toBeLessThan(1024 * 1024);

    const decoded = decodedMessages(host);
    expect(decoded.map((m) => [m.method, m.truncated, m.frame_length])).toEqual([["upload", true, big.length], ["after", false, next.length]]);
    conn.upstream(Buffer.concat([response(1n), response(2n)]));
    expect(host.counterValue(requestsTotal("upload", "ok", "20"))).toBe(1);
    expect(host.counterValue(requestsTotal("after", "ok", "20"))).toBe(1);
    expect(host.counterValue("metaproto_request_bytes_total;protocol=dubbo;service=io.metaproto.demo.GreetingService;method=upload")).toBe(big.length);
  });

  test("an announced length beyond 2 GiB is refused as frame_too_large", async () => {
    const host = await startedHost(dubbo);
    const header = Buffer.from("dabbc200000000000000000100000000", "hex");
    header.writeUInt32BE(0xfffffff0, 12);
    host.newConnection().downstream(header);
    expect(decodeErrors(host)).toEqual({ "metaproto_decode_errors_total;protocol=dubbo;direction=downstream;reason=frame_too_large": 1 });
  });
});

describe("labels", () => {
  test("past max_label_pairs new service/method pairs count as other/other", async () => {
    const host = await startedHost(dubbo, { max_label_pairs: 2 });
    const conn = host.newConnection();
    const methods = ["a", "b", "c", "d"];
    conn.downstream(Buffer.concat(methods.map((method, i) => request({ id: BigInt(i + 1), method }))));
    conn.upstream(Buffer.concat(methods.map((_, i) => response(BigInt(i + 1)))));
    expect(host.counterValue(requestsTotal("a", "ok", "20"))).toBe(1);
    expect(host.counterValue(requestsTotal("b", "ok", "20"))).toBe(1);
    expect(host.counterValue(requestsTotal("other", "ok", "20", "other"))).toBe(2);
  });

  test("label values cannot break the name encoding", async () => {
    const host = await startedHost(dubbo);
    const conn = host.newConnection();
    conn.downstream(request({ id: 1n, service: "svc;protocol=evil", method: "m=1" }));
    conn.upstream(response(1n));
    expect(host.counterValue(requestsTotal("m_1", "ok", "20", "svc_protocol_evil"))).toBe(1);
  });
});

describe("response statuses", () => {
  test.each([
    [20, 1, "ok"], [20, 0, "server_error"], [20, 3, "server_error"], [20, 2, "ok"], [20, 5, "ok"],
    [30, 0, "client_error"], [40, 0, "client_error"], [90, 0, "client_error"],
    [31, 0, "server_error"], [50, 0, "server_error"], [60, 0, "server_error"], [70, 0, "server_error"], [80, 0, "server_error"], [100, 0, "server_error"],
  ])("status %d flag %d is %s", async (status, flag, expected) => {
    const host = await startedHost(dubbo);
    const conn = host.newConnection();
    conn.downstream(request({ id: 9n }));
    conn.upstream(response(9n, { status, flag, value: flag === 0 || flag === 3 ? { $class: "java.lang.RuntimeException", $: { detailMessage: "x" } } : flag === 2 || flag === 5 ? null : "v" }));
    expect(host.counterValue(requestsTotal("sayHello", expected, String(status)))).toBe(1);
  });
});
