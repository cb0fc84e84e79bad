// The OTLP/gRPC endpoint: TraceService/Export and LogsService/Export. Requests are decoded with the
// OTLP descriptors and handed over; the answer is an empty response (full success) once the records
// are buffered, so a client never resends what the receiver already holds.
import * as grpc from "@grpc/grpc-js";
import type { TelemetryItem } from "./items";
import { itemsFromLogs, itemsFromTraces } from "./items";
import { decodeLogs, decodeTraces, LOGS_SERVICE, otlpTypes, TRACE_SERVICE } from "./otlp";

export type Accept = (items: TelemetryItem[], transport: "grpc" | "http") => void;
export type BadRequest = (signal: "traces" | "logs", transport: "grpc" | "http", reason: string) => void;

const identity = (b: Buffer) => b;

export function otlpGrpcServer(accept: Accept, badRequest: BadRequest): grpc.Server {
  const server = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
  const types = otlpTypes();
  const emptyTraceResponse = Buffer.from(types.exportTraceResponse.encode({}).finish());
  const emptyLogsResponse = Buffer.from(types.exportLogsResponse.encode({}).finish());
  const exports: [string, "traces" | "logs", (bytes: Buffer) => TelemetryItem[], Buffer][] = [
    [TRACE_SERVICE, "traces", (b) => itemsFromTraces(decodeTraces(b)), emptyTraceResponse],
    [LOGS_SERVICE, "logs", (b) => itemsFromLogs(decodeLogs(b)), emptyLogsResponse],
  ];
  for (const [service, signal, decode, empty] of exports) {
    const definition: grpc.ServiceDefinition = {
      Export: {
        path: `/${service}/Export`, requestStream: false, responseStream: false, originalName: "Export",
        requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
      },
    };
    server.addService(definition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        let items: TelemetryItem[];
        try {
          items = decode(call.request);
        } catch (err) {
          badRequest(signal, "grpc", "undecodable");
          callback({ code: grpc.status.INVALID_ARGUMENT, details: `not an OTLP ${signal} export request: ${(err as Error).message}` });
          return;
        }
        accept(items, "grpc");
        callback(null, empty);
      },
    });
  }
  return server;
}

export function bindGrpc(server: grpc.Server, address: string, port: number): Promise<number> {
  const host = address.includes(":") ? `[${address}]` : address;
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(new Error(`cannot listen for OTLP/gRPC on ${host}:${port}: ${err.message}`));
      else resolve(bound);
    });
  });
}
