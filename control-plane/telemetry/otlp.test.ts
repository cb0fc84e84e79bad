// Decoding what a real OpenTelemetry SDK serializes (its own protobuf writer, not ours).
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { itemsFromLogs, itemsFromTraces, logsRequest, tracesRequest } from "./items";
import { jsonLine } from "./jsonl_sink";
import { decodeLogs, decodeTraces, encodeLogs, encodeTraces, hex, plainAttributes } from "./otlp";

async function sdkSpans() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "envoy-sidecar", "host.name": "node-1" }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer("metaproto", "0.1.0");
  const parent = tracer.startSpan("parent", { kind: SpanKind.CLIENT });
  tracer.startSpan("io.metaproto.demo.GreetingService/sayHello", {
    kind: SpanKind.SERVER,
    attributes: { "rpc.system.name": "dubbo", "server.address": "10.0.0.1", "server.port": 20881, "metaproto.response_code": "20", "big": 2 ** 40 },
  }, trace.setSpan(context.active(), parent)).setStatus({ code: SpanStatusCode.ERROR, message: "boom" }).end();
  parent.end();
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

test("spans a real SDK serialized decode with ids, kinds, times, status and typed attributes", async () => {
  const spans = await sdkSpans();
  const bytes = ProtobufTraceSerializer.serializeRequest(spans)!;
  const items = itemsFromTraces(decodeTraces(bytes));
  expect(items).toHaveLength(2);
  const child = items.find((i) => i.record.name === "io.metaproto.demo.GreetingService/sayHello")!;
  const original = spans.find((s) => s.name === child.record.name)!;
  expect(child.signal).toBe("traces");
  expect(hex(child.record.trace_id as Uint8Array)).toBe(original.spanContext().traceId);
  expect(hex(child.record.span_id as Uint8Array)).toBe(original.spanContext().spanId);
  expect(hex(child.record.parent_span_id as Uint8Array)).toBe(original.parentSpanContext!.spanId);
  expect(child.record.kind).toBe(2); // SPAN_KIND_SERVER
  expect(child.record.status).toEqual({ code: 2, message: "boom" });
  expect(BigInt(child.record.end_time_unix_nano as string)).toBeGreaterThan(10n ** 18n);
  expect(plainAttributes(child.record.attributes)).toEqual({
    "rpc.system.name": "dubbo", "server.address": "10.0.0.1", "server.port": 20881, "metaproto.response_code": "20", big: 2 ** 40,
  });
  expect(plainAttributes(child.origin.resource?.attributes)).toMatchObject({ "service.name": "envoy-sidecar", "host.name": "node-1" });
  expect(child.origin.scope).toMatchObject({ name: "metaproto", version: "0.1.0" });

  const line = JSON.parse(jsonLine(child));
  expect(line).toMatchObject({ signal: "traces", trace_id: original.spanContext().traceId, kind: 2, resource: { "service.name": "envoy-sidecar" } });
  expect(typeof line.start_time_unix_nano).toBe("string"); // nanoseconds do not fit a double
});

test("regrouping records under their resource and scope re-encodes to the same request", async () => {
  const bytes = ProtobufTraceSerializer.serializeRequest(await sdkSpans())!;
  const decoded = decodeTraces(Buffer.from(bytes));
  const again = decodeTraces(Buffer.from(encodeTraces(tracesRequest(itemsFromTraces(decoded)))));
  expect(again).toEqual(decoded);
});

test("log records a real SDK serialized decode, with body, severity and trace context", async () => {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ "service.name": "envoy-sidecar" }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  provider.getLogger("metaproto.flow").emit({
    severityNumber: 9, severityText: "INFO", body: "dubbo call",
    attributes: { l7_protocol_str: "Dubbo", response_duration: 1234, "server.address": "10.0.0.1" },
  });
  await provider.forceFlush();
  const bytes = ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!;
  const decoded = decodeLogs(Buffer.from(bytes));
  const items = itemsFromLogs(decoded);
  expect(items).toHaveLength(1);
  expect(items[0].signal).toBe("logs");
  expect(items[0].record).toMatchObject({ severity_number: 9, severity_text: "INFO", body: { string_value: "dubbo call" } });
  expect(plainAttributes(items[0].record.attributes)).toEqual({ l7_protocol_str: "Dubbo", response_duration: 1234, "server.address": "10.0.0.1" });
  expect(decodeLogs(Buffer.from(encodeLogs(logsRequest(items))))).toEqual(decoded);
  expect(JSON.parse(jsonLine(items[0]))).toMatchObject({ signal: "logs", body: "dubbo call", attributes: { l7_protocol_str: "Dubbo" } });
});

test("bytes that are not an export request are refused", () => {
  expect(() => decodeTraces(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow();
});
