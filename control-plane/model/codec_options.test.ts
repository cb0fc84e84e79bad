// The model's `codec` options are the MetaProto filter's configuration. Until both read one schema,
// this keeps the two from drifting: every case is given to the schema and to the compiled filter
// (through the host emulator), and both must accept or both reject it.
import { ConfigRejected, ProxyTestHost } from "../../api/proxytest";
import { compiledCodec } from "../../api/proxytest/codec_harness";
import { codecOptions } from "./schema";

let redis: WebAssembly.Module;
beforeAll(async () => { redis = await compiledCodec("redis"); }, 120_000);

async function filterAccepts(config: unknown): Promise<boolean> {
  const host = await ProxyTestHost.load(redis, { pluginConfig: JSON.stringify(config) });
  try {
    host.start();
    return true;
  } catch (err) {
    if (err instanceof ConfigRejected) return false;
    throw err;
  }
}

const numeric: [string, number, number][] = [
  ["max_buffered_bytes", 256, 1073741824],
  ["max_pending_calls", 1, 1048576],
  ["max_label_pairs", 1, 1048576],
];
const cases: [string, unknown][] = [
  ["no options", {}],
  ...numeric.flatMap(([field, min, max]): [string, unknown][] => [
    [`${field} = min - 1`, { [field]: min - 1 }],
    [`${field} = min`, { [field]: min }],
    [`${field} = max`, { [field]: max }],
    [`${field} = max + 1`, { [field]: max + 1 }],
    [`${field} fractional`, { [field]: min + 0.5 }],
    [`${field} as a string`, { [field]: String(min) }],
  ]),
  ["on_decode_error close", { on_decode_error: "close" }],
  ["on_decode_error pass_through", { on_decode_error: "pass_through" }],
  ["on_decode_error unknown", { on_decode_error: "drop" }],
  ["on_decode_error a number", { on_decode_error: 1 }],
  ["an unknown field", { max_buffered: 1024 }],
];

describe("codec options: the model's schema and the filter agree", () => {
  test.each(cases)("%s", async (_name, config) => {
    expect(codecOptions.safeParse(config).success).toBe(await filterAccepts(config));
  });

  test("the filter rejects the 15 bad cases (bounds, fractions, strings, unknown values and fields)", async () => {
    const rejected = [];
    for (const [name, config] of cases) if (!(await filterAccepts(config))) rejected.push(name);
    expect(rejected).toHaveLength(15);
  });
});
