// Every Hessian 2.0 value form as a Dubbo argument: the compiled codec must skip it exactly,
// which the attachments decoded behind it prove. Forms are written by hand (to reach each
// grammar production) and by an independent encoder, npm hessian.js, on random values.
import fc from "fast-check";
import { compiledDubbo, decodedMessages, hessianBytes, request, startedHost } from "./test_frames";

let dubbo: WebAssembly.Module;
beforeAll(async () => {
  dubbo = await compiledDubbo();
}, 120_000);

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const utf8 = (s: string) => Buffer.from(s, "utf8");
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);

/** A string chunk: tag, length in UTF-16 units, UTF-8 (or CESU-8) bytes. */
const chunk = (tag: number, units: number, data: Buffer) => Buffer.concat([Buffer.from([tag]), u16(units), data]);
const cesu8Emoji = hex("eda0bd edb880"); // U+1F600 as two 3-byte surrogates (Java's hessian-lite)
const utf8Emoji = hex("f09f9880"); // U+1F600 as one 4-byte sequence (counts two units)

const FORMS: Array<[string, Buffer]> = [
  ["null", hex("4e")],
  ["true", hex("54")],
  ["false", hex("46")],
  ["int, one octet (0x80-0xbf)", hex("90")],
  ["int, two octets (0xc0-0xcf)", hex("c8 30")],
  ["int, three octets (0xd0-0xd7)", hex("d4 10 00")],
  ["int, 32-bit (I)", hex("49 7fffffff")],
  ["long, one octet (0xd8-0xef)", hex("e0")],
  ["long, two octets (0xf0-0xff)", hex("f8 10")],
  ["long, three octets (0x38-0x3f)", hex("3c 10 00")],
  ["long, 32-bit (Y)", hex("59 00100000")],
  ["long, 64-bit (L)", hex("4c 7fffffffffffffff")],
  ["double 0.0 (0x5b)", hex("5b")],
  ["double 1.0 (0x5c)", hex("5c")],
  ["double as byte (0x5d)", hex("5d 80")],
  ["double as short (0x5e)", hex("5e 7fff")],
  ["double as float-int (0x5f)", hex("5f 00005dc0")],
  ["double, 64-bit (D)", hex("44 400921fb54442d18")],
  ["date, millis (J)", hex("4a 0000016f8b2a4c00")],
  ["date, minutes (K)", hex("4b 01a2b3c4")],
  ["string, empty", hex("00")],
  ["string, short (0x00-0x1f)", Buffer.concat([hex("05"), utf8("hello")])],
  ["string, medium (0x30-0x33)", Buffer.concat([hex("31 00"), utf8("x".repeat(256))])],
  ["string, final chunk (S)", chunk(0x53, 3, utf8("abc"))],
  ["string, chunked R + S", Buffer.concat([chunk(0x52, 2, utf8("ab")), chunk(0x53, 1, utf8("c"))])],
  ["string, chunked R + short final", Buffer.concat([chunk(0x52, 2, utf8("ab")), hex("01"), utf8("c")])],
  ["string, multibyte UTF-8 counts units not bytes", Buffer.concat([hex("03"), utf8("é中a")])],
  ["string, non-BMP as CESU-8 surrogates (2 units)", Buffer.concat([hex("02"), cesu8Emoji])],
  ["string, non-BMP as 4-byte UTF-8 (2 units)", Buffer.concat([hex("03"), utf8Emoji, utf8("z")])],
  ["string, 32768-unit chunk then final", Buffer.concat([chunk(0x52, 32768, utf8("y".repeat(32768))), chunk(0x53, 7, utf8("x".repeat(7)))])],
  ["binary, short (0x20-0x2f)", Buffer.concat([hex("23"), hex("010203")])],
  ["binary, medium (0x34-0x37)", Buffer.concat([hex("35 00"), Buffer.alloc(256, 7)])],
  ["binary, chunked A + B", Buffer.concat([hex("41 0003 010203"), hex("42 0002 0405")])],
  ["binary, chunked A + short final", Buffer.concat([hex("41 0001 09"), hex("21 0a")])],
  ["list, typed variable (U ... Z)", Buffer.concat([hex("55"), hex("04"), utf8("[int"), hex("91 92 5a")])],
  ["list, typed fixed (V)", Buffer.concat([hex("56"), hex("04"), utf8("[int"), hex("92 91 92")])],
  ["list, untyped variable (W ... Z)", hex("57 91 4e 5a")],
  ["list, untyped fixed (X)", hex("58 93 91 92 93")],
  ["list, typed compact length (0x70-0x77)", Buffer.concat([hex("72"), hex("04"), utf8("[int"), hex("91 92")])],
  ["list, untyped compact length (0x78-0x7f)", hex("7a 01 61 01 62")],
  ["list, type given as a type reference", Buffer.concat([hex("7a"), hex("55 04"), utf8("[int"), hex("5a"), hex("72 90 91 92")])],
  ["map, untyped (H ... Z)", Buffer.concat([hex("48"), hex("01"), utf8("a"), hex("91 5a")])],
  ["map, typed (M ... Z)", Buffer.concat([hex("4d"), hex("11"), utf8("java.util.HashMap"), hex("91"), hex("01"), utf8("v"), hex("5a")])],
  ["map, nested maps and lists", Buffer.concat([hex("48 01"), utf8("m"), hex("48 01"), utf8("l"), hex("7a 91 92 5a 5a")])],
  ["object, class definition + compact instance (0x60)", Buffer.concat([hex("43 05"), utf8("a.Foo"), hex("92 01"), utf8("x"), hex("01"), utf8("y"), hex("60 91 4e")])],
  ["object, long-form instance (O)", Buffer.concat([hex("43 05"), utf8("a.Foo"), hex("91 01"), utf8("x"), hex("4f 90 05"), utf8("hello")])],
  ["object, second definition used by index", Buffer.concat([
    hex("43 01"), utf8("A"), hex("90"),
    hex("43 01"), utf8("B"), hex("91 01"), utf8("z"),
    hex("61 92"),
  ])],
  ["object with a reference to itself (Q)", Buffer.concat([hex("43 04"), utf8("Node"), hex("91 04"), utf8("next"), hex("60 51 90")])],
  ["enum (one-field object)", Buffer.concat([hex("43 05"), utf8("Color"), hex("91 04"), utf8("name"), hex("60 03"), utf8("RED")])],
  ["reference (Q) in a list", Buffer.concat([hex("7a"), hex("48 5a"), hex("51 91")])],
];

/** Embeds `arg` as the only argument of a request with attachments, and decodes it. */
async function decodeWithArgument(arg: Buffer, descriptor = "Ljava/lang/Object;") {
  const host = await startedHost(dubbo);
  const conn = host.newConnection();
  const frame = request({ id: 7n, method: "take", descriptor, args: [arg], attachments: { after: "arg", trace: "t-1" } });
  const forwarded = conn.downstream(frame).forwarded;
  expect(Buffer.from(forwarded).equals(frame)).toBe(true);
  expect(host.traps).toEqual([]);
  return { host, decoded: decodedMessages(host) };
}

test.each(FORMS)("%s is skipped exactly", async (_name, arg) => {
  const { host, decoded } = await decodeWithArgument(arg);
  expect(decoded).toHaveLength(1);
  expect(decoded[0]).toMatchObject({ kind: "request", method: "take", attributes: { after: "arg", trace: "t-1" } });
  expect(host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total"))).toEqual([]);
});

test("all forms in one call, one argument each", async () => {
  // Class definitions number up across a message, so forms that define and use class 0 go alone.
  const forms = FORMS.filter(([name]) => !/^(object|enum)/.test(name));
  const descriptor = "Ljava/lang/Object;".repeat(forms.length);
  const host = await startedHost(dubbo);
  const frame = request({ id: 1n, method: "all", descriptor, args: forms.map(([, b]) => b), attachments: { k: "v" } });
  host.newConnection().downstream(frame);
  expect(decodedMessages(host)[0]).toMatchObject({ method: "all", attributes: { k: "v" } });
});

test("a value one byte short is a decode error, not a trap", async () => {
  for (const [name, arg] of FORMS) {
    if (arg.length < 2) continue;
    // Attachments are the last value: cutting the argument makes the parser run off its end or misparse.
    const host = await startedHost(dubbo);
    const body = Buffer.concat([hessianBytes("2.0.2", "S", "0.0.0", "m", "Ljava/lang/Object;"), arg.subarray(0, arg.length - 1)]);
    const frame = Buffer.concat([Buffer.from("dabbc2000000000000000001", "hex"), Buffer.alloc(4), body]);
    frame.writeUInt32BE(body.length, 12);
    host.newConnection().downstream(frame);
    expect([name, host.traps]).toEqual([name, []]);
    const errors = host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total;protocol=dubbo;direction=downstream"));
    expect([name, errors.length]).toEqual([name, 1]);
  }
});

// Values an independent encoder writes: whatever hessian.js produces must be skipped.
const hessianValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 4000 }),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 20000 }).map((a) => Buffer.from(a)),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 5 }),
    fc.record({ a: tie("value"), b: fc.integer() }).map((fields) => ({ $class: "io.metaproto.Pojo", $: fields })),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => ({ $class: "long", $: Number(n) })),
  ),
})).value;

test("values written by hessian.js are skipped, attachments read behind them", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(hessianValue, { minLength: 1, maxLength: 4 }), fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 30 }), { maxKeys: 4 }), async (args, attachments) => {
      const host = await startedHost(dubbo);
      const frame = request({ id: 3n, method: "m", args: args.map((a) => hessianBytes(a)), attachments });
      const forwarded = host.newConnection().downstream(frame).forwarded;
      expect(Buffer.from(forwarded).equals(frame)).toBe(true);
      const decoded = decodedMessages(host);
      expect(host.traps).toEqual([]);
      expect(decoded).toHaveLength(1);
      expect(decoded[0].attributes).toEqual(attachments);
    }),
    { numRuns: 150 },
  );
}, 120_000);

test("attachment values with quotes, controls and line separators come back whole", async () => {
  const host = await startedHost(dubbo);
  const attachments = { "\u2028": "a\u2029b", q: '"\\', nl: "x\r\ny\u0000" };
  host.newConnection().downstream(request({ id: 4n, method: "m", attachments }));
  expect(host.logs.filter((l) => /decoded downstream/.test(l.message)).map((l) => /[\u2028\u2029\r\n]/.test(l.message))).toEqual([false]);
  expect(decodedMessages(host)[0].attributes).toEqual(attachments);
});

test("attachment strings decode from UTF-8, CESU-8 surrogates and chunks alike", async () => {
  const host = await startedHost(dubbo);
  const attachments = Buffer.concat([
    hex("48"),
    hex("01"), utf8("a"), hex("02"), utf8Emoji, // 4-byte UTF-8: two units
    hex("01"), utf8("b"), hex("02"), cesu8Emoji, // Java's surrogate pairs
    hex("01"), utf8("c"), chunk(0x52, 2, utf8("é中")), hex("01"), utf8("!"),
    hex("5a"),
  ]);
  const body = Buffer.concat([hessianBytes("2.0.2", "S", "0.0.0", "m", ""), attachments]);
  const frame = Buffer.concat([Buffer.from("dabbc2000000000000000001", "hex"), Buffer.alloc(4), body]);
  frame.writeUInt32BE(body.length, 12);
  host.newConnection().downstream(frame);
  expect(decodedMessages(host)[0].attributes).toEqual({ a: "😀", b: "😀", c: "é中!" });
});
