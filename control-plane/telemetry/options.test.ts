import * as path from "path";
import { formatError, loadFiles, loadSources } from "../model/load";
import { specWithFlags } from "./cli";
import { receiverOptions } from "./options";

const load = (text: string) => loadSources([{ file: "t.yaml", text }]);

test("a bare Telemetry document gets the defaults: gRPC 4317, HTTP 4318, 10m/3m/1m, a JSON lines file", () => {
  const { model, errors } = load("apiVersion: metaproto.io/v1alpha1\nkind: Telemetry\nmetadata: { name: default }\n");
  expect(errors).toEqual([]);
  const options = receiverOptions([...model!.telemetry.values()][0].value.spec);
  expect(options).toMatchObject({
    grpc: { address: "127.0.0.1", port: 4317 }, http: { address: "127.0.0.1", port: 4318 },
    enrichment: { refreshIntervalMs: 600_000, expireAfterMs: 180_000, checkIntervalMs: 60_000 },
    pipeline: { maxBufferedItems: 10_000, batchMaxItems: 512, batchMaxDelayMs: 1_000, initialBackoffMs: 200, maxBackoffMs: 5_000 },
    sinks: [{ kind: "jsonLines", name: "jsonl", path: "metaproto-telemetry.jsonl", signals: ["traces", "logs"] }],
    shutdownGraceMs: 5_000,
  });
});

test("bad values and a second Telemetry document are errors that name the field", () => {
  const { errors } = load(`apiVersion: metaproto.io/v1alpha1
kind: Telemetry
metadata: { name: a }
spec:
  enrichment: { expireAfter: 3 minutes }
  sinks: [{ otlp: { endpoint: jaeger } }]
---
apiVersion: metaproto.io/v1alpha1
kind: Telemetry
metadata: { name: b }
`);
  expect(errors.map(formatError)).toEqual([
    expect.stringMatching(/t\.yaml:5:\d+: document 1 \(Telemetry a\) spec\.enrichment\.expireAfter: must be a duration/),
    expect.stringMatching(/spec\.sinks\[0\]\.otlp\.endpoint: must be HOST:PORT/),
  ]);
  const two = load("apiVersion: metaproto.io/v1alpha1\nkind: Telemetry\nmetadata: { name: a }\n---\napiVersion: metaproto.io/v1alpha1\nkind: Telemetry\nmetadata: { name: b }\n");
  expect(two.errors.map(formatError)).toEqual([expect.stringMatching(/document 2 \(Telemetry b\) metadata\.name: Telemetry a is already defined/)]);
});

test("flags override the document; --jsonl/--forward replace its sinks", () => {
  const { model } = load(`apiVersion: metaproto.io/v1alpha1
kind: Telemetry
metadata: { name: t }
spec:
  buffer: { maxRecords: 50 }
  sinks: [{ jsonLines: { path: a.jsonl } }]
`);
  const spec = specWithFlags([...model!.telemetry.values()][0].value.spec, {
    grpcListen: { address: "127.0.0.1", port: 0 }, httpListen: false, forward: ["127.0.0.1:4317"], forwardSignals: ["traces"],
    batchDelay: "100ms", maxBackoff: "1s", debounce: 200,
  });
  const options = receiverOptions(spec);
  expect(options.grpc).toEqual({ address: "127.0.0.1", port: 0 });
  expect(options.http).toBeUndefined();
  expect(options.pipeline).toMatchObject({ maxBufferedItems: 50, batchMaxDelayMs: 100, maxBackoffMs: 1_000 });
  expect(options.sinks).toEqual([{ kind: "otlp", name: "otlp:127.0.0.1:4317", endpoint: "127.0.0.1:4317", signals: ["traces"], timeoutMs: 5_000 }]);
});

test("the shipped example is valid", () => {
  const { model, errors } = loadFiles([path.join(__dirname, "..", "examples", "telemetry.yaml")]);
  expect(errors.map(formatError)).toEqual([]);
  expect(receiverOptions([...model!.telemetry.values()][0].value.spec).sinks.map((s) => s.name)).toEqual(["jsonl", "otlp:127.0.0.1:14317"]);
});
