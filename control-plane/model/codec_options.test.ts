// The model's `codec` options are the MetaProto filter's configuration, defined once in
// api/proto/metaproto/filter/v1alpha1/filter_config.proto. The control plane's zod schema and the
// filter's AssemblyScript reader are both generated from it (tools/generate-config.js); this proves
// the two generators agree: every case is given to the schema and to the compiled filter (through
// the host emulator), and both must accept or both reject it, naming the same field.
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
  ["max_response_codes", 1, 1024],
  ["max_series", 100, 1048576],
];
const deny = (match: unknown) => ({ policy: { authz: { rules: [{ action: "deny", match }] } } });
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
  ["a revision", { revision: "1733480000000-3" }],
  ["a revision that is not a string", { revision: 3 }],
  ["policy: every stage", { policy: {
    authz: { default_action: "allow", deny_text: "no", rules: [{ action: "deny", match: { method: { prefix: "FLUSH" }, source_cidrs: ["10.0.0.0/8"] } }] },
    rate_limits: [{ name: "r", match: { attributes: [{ name: "tenant", exact: "t1" }] }, max_tokens: 5, tokens_per_fill: 1, fill_interval_ms: 1000, text: "slow" }],
    faults: [{ match: { service: { suffix: "Svc" } }, abort: { percentage: 10 }, delay: { percentage: 50, duration_ms: 20 } }],
    mutations: [{ set: { "x-canary": "yes" }, remove: ["trace"] }],
    routes: [{ match: { principals: [{ prefix: "spiffe://" }] }, cluster: "b" }],
  } }],
  ["policy: a regex", deny({ method: { regex: "COM_QUERY:(SELECT|SHOW)" }, attributes: [{ name: "tenant", regex: "t[0-9]+" }] })],
  ["policy: a misspelt match field", deny({ method: { prefx: "A" } })],
  ["policy: two string matches at once", deny({ method: { exact: "A", prefix: "B" } })],
  ["policy: present must be true", deny({ method: { present: false } })],
  ["policy: an attribute without a name", deny({ attributes: [{ exact: "x" }] })],
  ["policy: a bad CIDR", deny({ source_cidrs: ["10.0.0/8"] })],
  ["policy: an unknown action", { policy: { authz: { rules: [{ action: "drop" }] } } }],
  ["policy: a rate limit without a name", { policy: { rate_limits: [{ max_tokens: 1, fill_interval_ms: 1 }] } }],
  ["policy: a fractional token count", { policy: { rate_limits: [{ name: "r", max_tokens: 1.5, fill_interval_ms: 1 }] } }],
  ["policy: a fault with neither abort nor delay", { policy: { faults: [{ match: {} }] } }],
  ["policy: a delay over an hour", { policy: { faults: [{ delay: { duration_ms: 3600001 } }] } }],
  ["policy: a mutation that changes nothing", { policy: { mutations: [{ set: {} }] } }],
  ["policy: a route without a cluster", { policy: { routes: [{ match: {} }] } }],
  ["policy: an unknown stage", { policy: { mirror: {} } }],
  ["tracing: a collector alone", { tracing: { collector_cluster: "otel" } }],
  ["tracing: every field", { tracing: {
    collector_cluster: "otel", max_batch: 100, flush_interval_ms: 500, max_queue: 1000, max_retries: 2, export_timeout_ms: 2000,
    service_name: "edge", span_kind: "server", max_query_text_length: 128,
    sampling: { percent: 12.5, parent_based: false, rules: [{ match: { method: { exact: "GET" } }, percent: 100 }] },
    propagation: { extract: ["w3c", "sw8", "b3", "b3multi"], inject: ["w3c"] },
  } }],
  ["tracing: a small queue with the default batch", { tracing: { collector_cluster: "otel", max_queue: 10 } }],
  ["tracing: without a collector", { tracing: { sampling: { percent: 1 } } }],
  ["tracing: an empty collector", { tracing: { collector_cluster: "" } }],
  ["tracing: a batch larger than the queue", { tracing: { collector_cluster: "otel", max_batch: 20, max_queue: 10 } }],
  ["tracing: a percent over 100", { tracing: { collector_cluster: "otel", sampling: { percent: 100.5 } } }],
  ["tracing: a rule without a percent", { tracing: { collector_cluster: "otel", sampling: { rules: [{ match: {} }] } } }],
  ["tracing: an unknown format", { tracing: { collector_cluster: "otel", propagation: { extract: ["jaeger"] } } }],
  ["tracing: a format twice", { tracing: { collector_cluster: "otel", propagation: { inject: ["sw8", "sw8"] } } }],
  ["tracing: an unknown span kind", { tracing: { collector_cluster: "otel", span_kind: "producer" } }],
  ["tracing: a flush interval under 10 ms", { tracing: { collector_cluster: "otel", flush_interval_ms: 5 } }],
  ["tracing: an unknown field", { tracing: { collector_cluster: "otel", sample_rate: 1 } }],
  ["flow_logs: a collector and batching", { flow_logs: { collector_cluster: "otel", max_batch: 50, flush_interval_ms: 250 } }],
  ["flow_logs: sampling is not theirs", { flow_logs: { collector_cluster: "otel", sampling: { percent: 1 } } }],
  ["flow_logs: negative retries", { flow_logs: { collector_cluster: "otel", max_retries: -1 } }],
  ["policy: a CIDR octet over 255", deny({ source_cidrs: ["10.0.0.256/8"] })],
  ["policy: a CIDR prefix over 32", deny({ source_cidrs: ["10.0.0.0/33"] })],
  ["policy: a CIDR without a prefix", deny({ source_cidrs: ["192.168.1.1"] })],
  ["policy: a mutation value that is not a string", { policy: { mutations: [{ set: { tenant: 1 } }] } }],
  ["policy: a mutation that only removes", { policy: { mutations: [{ remove: ["tenant"] }] } }],
  ["policy: an empty route cluster", { policy: { routes: [{ cluster: "" }] } }],
  ["tracing: an unknown sampling field", { tracing: { collector_cluster: "otel", sampling: { ratio: 1 } } }],
  ["tracing: parent_based as a string", { tracing: { collector_cluster: "otel", sampling: { parent_based: "yes" } } }],
  ["tracing: a batch equal to the queue", { tracing: { collector_cluster: "otel", max_batch: 10, max_queue: 10 } }],
];

/** The field path a refusal names: "policy.faults[0]: needs ..." from the filter, ["policy", "faults", 0] from zod. */
async function filterRefusalPath(config: unknown): Promise<string | undefined> {
  const host = await ProxyTestHost.load(redis, { pluginConfig: JSON.stringify(config) });
  try {
    host.start();
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigRejected)) throw err;
    const line = host.logMessages("error").find((m) => m.includes("configuration rejected: "));
    return line?.split("configuration rejected: ")[1]?.split(": ")[0];
  }
}

const zodPath = (issuePath: PropertyKey[]) => issuePath.reduce<string>((out, part) =>
  (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), "");

describe("codec options: the model's schema and the filter agree", () => {
  test.each(cases)("%s", async (_name, config) => {
    expect(codecOptions.safeParse(config).success).toBe(await filterAccepts(config));
  });

  test.each(cases)("%s: both name the same field", async (_name, config) => {
    const parsed = codecOptions.safeParse(config);
    const filterPath = await filterRefusalPath(config);
    if (parsed.success) expect(filterPath).toBeUndefined();
    else {
      const issue = parsed.error.issues[0];
      // zod names an object with unknown keys; the filter names the first unknown key itself.
      expect(filterPath).toBe(zodPath(issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path));
    }
  });

  test("the filter rejects the 55 bad cases (bounds, fractions, strings, unknown values and fields, bad policies and tracing)", async () => {
    const rejected = [];
    for (const [name, config] of cases) if (!(await filterAccepts(config))) rejected.push(name);
    expect(rejected).toHaveLength(55);
  });
});
