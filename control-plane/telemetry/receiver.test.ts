// The receiver over real sockets: a real SDK exporter sends OTLP/gRPC, a POST sends OTLP/HTTP; records
// come out enriched in a JSON lines file and, through the OTLP forward sink, at a second receiver.
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import pino from "pino";
import { loadSources } from "../model/load";
import { telemetrySpec } from "../model/schema";
import { directoryFromModel } from "./directory";
import { receiverOptions } from "./options";
import { otlpTypes } from "./otlp";
import { TelemetryReceiver } from "./receiver";

const silent = pino({ level: "silent" });

// Real sockets: leave room for a loaded machine.
jest.setTimeout(30000);

const model = loadSources([{ file: "c.yaml", text: `
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: cache }
spec:
  protocol: redis
  port: 6380
  subsets: [{ name: v1, labels: { version: v1 }, endpoints: [{ address: 10.0.0.5, port: 6379 }] }]
` }]).model!;

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let dir: string;
let backend: TelemetryReceiver;
let receiver: TelemetryReceiver;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "metaproto-receiver-"));
  // The "backend" is a second receiver writing what it gets to a file.
  backend = new TelemetryReceiver(receiverOptions(telemetrySpec.parse({
    otlp: { grpc: { port: 0 } }, batch: { maxDelay: "50ms" }, sinks: [{ jsonLines: { path: path.join(dir, "backend.jsonl") } }],
  })), () => () => undefined, silent);
  await backend.start();
  receiver = new TelemetryReceiver(receiverOptions(telemetrySpec.parse({
    otlp: { grpc: { port: 0 }, http: { port: 0 } }, batch: { maxDelay: "50ms" },
    sinks: [
      { jsonLines: { path: path.join(dir, "records.jsonl") } },
      { jsonLines: { name: "spans-only", path: path.join(dir, "spans.jsonl"), signals: ["traces"] } },
      { otlp: { endpoint: `127.0.0.1:${backend.grpcPort}` } },
    ],
  })), () => directoryFromModel(model), silent);
  await receiver.start();
});

afterAll(async () => {
  await receiver.stop();
  await backend.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const lines = (file: string) => fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];

test("spans from an SDK's OTLP/gRPC exporter reach the file and the forward sink, enriched", async () => {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "client" }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: `http://127.0.0.1:${receiver.grpcPort}` }) })],
  });
  const tracer = provider.getTracer("test");
  for (let i = 0; i < 5; i++) tracer.startSpan(`GET-${i}`, { attributes: { "server.address": "10.0.0.5", "server.port": 6379, "db.system.name": "redis" } }).end();
  await provider.forceFlush();
  await provider.shutdown();

  await until("5 spans in the file", () => lines(path.join(dir, "records.jsonl")).filter((l) => l.signal === "traces").length === 5);
  await until("5 spans at the backend", () => lines(path.join(dir, "backend.jsonl")).length === 5);
  for (const line of lines(path.join(dir, "backend.jsonl"))) {
    expect(line.attributes).toMatchObject({ "metaproto.server.service": "cache", "metaproto.server.subset": "v1", "metaproto.server.version": "v1", "peer.service": "cache" });
    expect(line.resource["service.name"]).toBe("client");
  }
  expect(receiver.metrics.value("metaproto_receiver_received_total", { signal: "traces", transport: "grpc" })).toBe(5);
  expect(receiver.metrics.value("metaproto_receiver_enriched_total", { signal: "traces" })).toBe(5);
});

test("OTLP/HTTP protobuf logs go to the sinks that take logs; /metrics shows the counts", async () => {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  provider.getLogger("flow").emit({ body: "call", attributes: { "server.address": "10.9.9.9", "server.port": 1 } });
  await provider.forceFlush();
  const body = ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!;
  const response = await fetch(`http://127.0.0.1:${receiver.httpPort}/v1/logs`, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body: body.slice().buffer as ArrayBuffer });
  expect(response.status).toBe(200);
  const refused = await fetch(`http://127.0.0.1:${receiver.httpPort}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body: new Uint8Array([0x0a, 0xff]).buffer });
  expect(refused.status).toBe(400);

  await until("the log record in the file", () => lines(path.join(dir, "records.jsonl")).some((l) => l.signal === "logs"));
  // Forwarded over OTLP/gRPC LogsService/Export to the backend.
  await until("the log record at the backend", () => lines(path.join(dir, "backend.jsonl")).some((l) => l.signal === "logs" && l.body === "call"));
  const metrics = await (await fetch(`http://127.0.0.1:${receiver.httpPort}/metrics`)).text();
  expect(metrics).toContain('metaproto_receiver_received_total{signal="logs",transport="http"} 1');
  expect(metrics).toContain('metaproto_receiver_bad_requests_total{signal="traces",transport="http",reason="undecodable"} 1');
  expect(metrics).toContain('metaproto_receiver_exported_total{sink="jsonl",signal="logs"} 1');
  expect(metrics).toContain(`metaproto_receiver_buffer_capacity{sink="otlp:127.0.0.1:${backend.grpcPort}",signal="traces"} 10000`);
  expect(metrics).toContain('metaproto_receiver_enrichment_cache_entries{kind="negative"} 1');
  // The spans-only sink has no logs pipeline: the log record never reached it.
  expect(metrics).toContain('metaproto_receiver_buffer_items{sink="spans-only",signal="traces"} 0');
  expect(metrics).not.toContain('metaproto_receiver_buffer_items{sink="spans-only",signal="logs"}');
  expect(lines(path.join(dir, "spans.jsonl")).every((l) => l.signal === "traces")).toBe(true);
});

test("records a full buffer drops are reported to the sender as a partial success", async () => {
  const down = new TelemetryReceiver(receiverOptions(telemetrySpec.parse({
    otlp: { http: { port: 0 } }, buffer: { maxRecords: 2 }, shutdownGrace: "100ms",
    sinks: [{ otlp: { endpoint: "127.0.0.1:1", signals: ["traces"], timeout: "1s" } }],
  })), () => () => undefined, silent);
  await down.start();
  try {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    for (let i = 0; i < 5; i++) provider.getTracer("t").startSpan(`s${i}`).end();
    await provider.forceFlush();
    const body = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!;
    const response = await fetch(`http://127.0.0.1:${down.httpPort}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body: body.slice().buffer as ArrayBuffer });
    expect(response.status).toBe(200);
    const { exportTraceResponse } = otlpTypes();
    const decoded = exportTraceResponse.toObject(exportTraceResponse.decode(new Uint8Array(await response.arrayBuffer())), { longs: Number });
    expect(decoded.partial_success).toMatchObject({ rejected_spans: 3 });
    expect(down.metrics.value("metaproto_receiver_dropped_total", { sink: "otlp:127.0.0.1:1", signal: "traces", reason: "buffer_full" })).toBe(3);
  } finally {
    await down.stop();
  }
});
