// Sends spans the way an instrumented client does: the OpenTelemetry JS SDK, its batch processor and
// its OTLP/gRPC exporter. Usage: node send_spans.js PORT NAME COUNT SECONDS [TRACE_ID]
// Every span is a child of one remote parent, so they make one trace (printed on stdout), named
// NAME-0000, NAME-0001, ... and spread evenly over SECONDS. They carry the addresses the receiver
// enriches (server.address/port of the rig's Service endpoint).
const { context, trace, TraceFlags, SpanKind } = require("@opentelemetry/api");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-grpc");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { BatchSpanProcessor, TracerProvider } = require("@opentelemetry/sdk-trace");
const crypto = require("crypto");

async function main() {
  const [port, name, countText, secondsText, givenTraceId] = process.argv.slice(2);
  const count = Number(countText);
  const seconds = Number(secondsText);
  const traceId = givenTraceId || crypto.randomBytes(16).toString("hex");
  const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "telemetry-rig-client" }),
    // Queue larger than any burst here, so the SDK itself never drops: every loss is the receiver's.
    spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: 100000, maxExportBatchSize: 50, scheduledDelayMillis: 100 })],
  });
  const tracer = provider.getTracer("metaproto-telemetry-rig");
  const parent = trace.setSpanContext(context.active(), {
    traceId, spanId: crypto.randomBytes(8).toString("hex"), traceFlags: TraceFlags.SAMPLED, isRemote: true,
  });
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    const due = started + (seconds * 1000 * i) / count;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    tracer.startSpan(`${name}-${String(i).padStart(4, "0")}`, {
      kind: SpanKind.CLIENT,
      attributes: { "server.address": "10.0.0.5", "server.port": 6379, "db.system.name": "redis", "db.operation.name": "GET", "rig.index": i },
    }, parent).end();
  }
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(`${traceId}\n`);
}

main().catch((err) => {
  process.stderr.write(`send_spans: ${err.stack}\n`);
  process.exit(1);
});
