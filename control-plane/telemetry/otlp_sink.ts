// Forwards records as OTLP over gRPC to a collector or a backend (Jaeger, an OpenTelemetry Collector,
// DeepFlow's OTLP import). Errors are classed as the OTLP specification says: UNAVAILABLE and the
// like are retried, INVALID_ARGUMENT and the like are not.
import * as grpc from "@grpc/grpc-js";
import type { Signal, TelemetryItem } from "./items";
import { logsRequest, tracesRequest } from "./items";
import { LOGS_SERVICE, otlpTypes, TRACE_SERVICE } from "./otlp";
import { Sink, SinkError } from "./pipeline";

const RETRYABLE = new Set([
  grpc.status.CANCELLED, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE, grpc.status.UNAVAILABLE, grpc.status.DATA_LOSS,
]);

export interface OtlpSinkOptions {
  /** host:port of the collector's OTLP gRPC port. */
  endpoint: string;
  signals?: readonly Signal[];
  /** Deadline of one export call. */
  timeoutMs?: number;
  name?: string;
}

export class OtlpGrpcSink implements Sink {
  readonly name: string;
  readonly signals: readonly Signal[];
  private readonly client: grpc.Client;
  private readonly timeoutMs: number;

  constructor(options: OtlpSinkOptions) {
    this.name = options.name ?? `otlp:${options.endpoint}`;
    this.signals = options.signals ?? ["traces", "logs"];
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.client = new grpc.Client(options.endpoint, grpc.credentials.createInsecure(), {
      // grpc-js backs off reconnecting up to 120 s by default: a backend back after a short outage
      // would wait that long. The pipeline's own backoff paces the retries instead.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1_000,
    });
  }

  write(signal: Signal, items: TelemetryItem[]): Promise<{ rejected?: number }> {
    const types = otlpTypes();
    const [method, requestType, responseType, request, rejectedField] = signal === "traces"
      ? [`/${TRACE_SERVICE}/Export`, types.exportTraceRequest, types.exportTraceResponse, tracesRequest(items), "rejected_spans"]
      : [`/${LOGS_SERVICE}/Export`, types.exportLogsRequest, types.exportLogsResponse, logsRequest(items), "rejected_log_records"];
    const bytes = Buffer.from(requestType.encode(requestType.fromObject(request)).finish());
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, bytes,
        { deadline: Date.now() + this.timeoutMs },
        (err, response) => {
          if (err) {
            reject(new SinkError(`${method}: ${err.message}`, RETRYABLE.has(err.code)));
            return;
          }
          const decoded = responseType.toObject(responseType.decode(response!), { longs: Number }) as { partial_success?: Record<string, number> };
          resolve({ rejected: Number(decoded.partial_success?.[rejectedField] ?? 0) });
        });
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
