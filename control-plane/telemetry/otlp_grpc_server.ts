// The OTLP/gRPC endpoint: TraceService/Export and LogsService/Export. Requests are decoded with the
// OTLP descriptors and handed over; the answer comes once the records are buffered (so a client never
// resends what the receiver already holds): a full success, or a partial success counting the records
// a full buffer dropped.
import * as grpc from "@grpc/grpc-js";
import type { TelemetryItem } from "./items";
import { itemsFromLogs, itemsFromTraces } from "./items";
import { decodeLogs, decodeTraces, LOGS_SERVICE, otlpTypes, TRACE_SERVICE } from "./otlp";

/** Takes decoded records; returns how many were rejected (dropped by a full buffer). */
export type Accept = (items: TelemetryItem[], transport: "grpc" | "http") => number;
export type BadRequest = (signal: "traces" | "logs", transport: "grpc" | "http", reason: string) => void;

const identity = (b: Buffer) => b;

export function otlpGrpcServer(accept: Accept, badRequest: BadRequest): grpc.Server {
  const server = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
  const exports: [string, "traces" | "logs", (bytes: Buffer) => TelemetryItem[]][] = [
    [TRACE_SERVICE, "traces", (b) => itemsFromTraces(decodeTraces(b))],
    [LOGS_SERVICE, "logs", (b) => itemsFromLogs(decodeLogs(b))],
  ];
  for (const [service, signal, decode] of exports) {
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
        callback(null, exportResponse(signal, accept(items, "grpc")));
      },
    });
  }
  return server;
}

/** The export response: empty (full success), or a partial success naming the records dropped. */
export function exportResponse(signal: "traces" | "logs", rejected: number): Buffer {
  const types = otlpTypes();
  const [type, field] = signal === "traces" ? [types.exportTraceResponse, "rejected_spans"] : [types.exportLogsResponse, "rejected_log_records"];
  const value = rejected > 0
    ? { partial_success: { [field]: rejected, error_message: `${rejected} record(s) dropped: the receiver's buffer for a sink is full` } }
    : {};
  return Buffer.from(type.encode(type.fromObject(value)).finish());
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
