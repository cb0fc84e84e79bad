// An OTLP/gRPC logs endpoint for the tracing rig (Jaeger takes traces only): every log record of
// every LogsService/Export call becomes one JSON line on stdout, attributes flattened, so the rig can
// compare flow logs with the connections it saw. Loads the vendored OTLP .proto files.
//   node test/tracing/otlp_logs_sink.js PORT
const path = require("path");
const repo = path.join(__dirname, "..", "..");
const grpc = require(path.join(repo, "node_modules/@grpc/grpc-js"));
const loader = require(path.join(repo, "node_modules/@grpc/proto-loader"));

const definition = loader.loadSync(["opentelemetry/proto/collector/logs/v1/logs_service.proto"], {
  includeDirs: [path.join(repo, "api/telemetry/otlp")], keepCase: true, longs: String, oneofs: true,
});
const otlp = grpc.loadPackageDefinition(definition).opentelemetry.proto;

const value = (v) => (v ? (v.value === "int_value" ? Number(v.int_value) : v[v.value]) : null);

const server = new grpc.Server();
server.addService(otlp.collector.logs.v1.LogsService.service, {
  Export: (call, done) => {
    for (const resourceLogs of call.request.resource_logs) {
      for (const scopeLogs of resourceLogs.scope_logs) {
        for (const record of scopeLogs.log_records) {
          const attributes = Object.fromEntries(record.attributes.map((a) => [a.key, value(a.value)]));
          process.stdout.write(JSON.stringify({ event_name: record.event_name, body: value(record.body), ...attributes }) + "\n");
        }
      }
    }
    done(null, {});
  },
});
server.bindAsync(`127.0.0.1:${process.argv[2]}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.stdout.write("SINK READY\n");
});
