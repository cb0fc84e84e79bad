// Sends encoded OTLP records (spans or log records) to a collector cluster with gRPC unary calls
// from the root context: batched by size and time, bounded, retried. One exporter per signal and
// worker VM, shared by every configuration the VM receives, so a configuration change keeps what
// is queued. Records are kept encoded (a Span or LogRecord message each): memory is the queue
// bound times the record size, and a retry resends the same bytes.
//
// Only the root context's tick sends (a call made from a connection's callback would answer to
// that connection, which may be gone); a full batch goes on the next tick, a partial one once it
// is flush_interval_ms old. One Export is in flight at a time; a failed one is retried with
// backoff (up to max_retries times when set), staying within the bound meanwhile: records that
// arrive while it waits queue behind it, and those past the bound are dropped and counted.
import { HostResult, MetricKind, NO_METRIC, defineMetric, grpcCall, grpcToken, incrementMetric } from "../runtime/host";
import { ExportConfig } from "./config";
import { ProtoWriter } from "./protobuf";

const GRPC_OK: u32 = 0;
const FIRST_RETRY_MILLIS: u64 = 100;
const MAX_RETRY_MILLIS: u64 = 5000;
const NANOS_PER_MILLI: u64 = 1_000_000;
/**
 * Envoy ends a call at its deadline with proxy_on_grpc_close. An answer this long past the deadline
 * will not come (the root context that made the call was destroyed by a configuration change or a VM
 * reload, and its callbacks with it): the call counts as failed, so the queue does not stall.
 */
const LOST_CALL_GRACE_MILLIS: u64 = 1000;

/** Wraps a batch of encoded records into the Export request of its signal. */
export type Envelope = (records: Array<Uint8Array>, serviceName: string) => Uint8Array;

export class OtlpExporter {
  config: ExportConfig = new ExportConfig();
  private queue: Array<Uint8Array> = [];
  /** When the oldest queued record arrived (host clock, ns). */
  private oldestQueuedAt: u64 = 0;
  private inFlight: Array<Uint8Array> | null = null;
  private inFlightToken: u32 = 0;
  private waitingForAnswer: bool = false;
  private sentAt: u64 = 0;
  private attempts: i32 = 0;
  private retryAt: u64 = 0;
  private service: Uint8Array = new Uint8Array(0);
  private droppedIds: Map<string, u32> = new Map();
  private exportedId: u32 = NO_METRIC;

  /** `signal` names the metrics: metaproto_<signal>_dropped_total{reason}, metaproto_<signal>_exported_total. */
  constructor(private signal: string, private serviceName: string, private method: string, private envelope: Envelope) {}

  configure(config: ExportConfig): void {
    this.config = config;
    // envoy.config.core.v3.GrpcService { envoy_grpc (1) { cluster_name (1) } }
    const w = new ProtoWriter(64);
    w.begin(1);
    w.stringField(1, config.cluster);
    w.end();
    this.service = w.toBytes();
  }

  /** Records waiting or in flight. */
  get size(): i32 {
    const flying = this.inFlight;
    return this.queue.length + (flying != null ? flying.length : 0);
  }

  add(record: Uint8Array, now: u64): void {
    if (this.size >= this.config.maxQueue) {
      this.dropped("queue_full", 1);
      return;
    }
    if (this.queue.length == 0) this.oldestQueuedAt = now;
    this.queue.push(record);
  }

  /** Called on every root tick. */
  onTick(now: u64): void {
    if (this.waitingForAnswer) {
      if (now < this.sentAt + (<u64>this.config.timeoutMillis + LOST_CALL_GRACE_MILLIS) * NANOS_PER_MILLI) return;
      this.failed(now);
      return;
    }
    if (this.inFlight != null) {
      if (now >= this.retryAt) this.send(now);
      return;
    }
    const queued = this.queue.length;
    if (queued == 0) return;
    if (queued < this.config.maxBatch && now - this.oldestQueuedAt < <u64>this.config.flushIntervalMillis * NANOS_PER_MILLI) return;
    const take = min(queued, this.config.maxBatch);
    this.inFlight = this.queue.slice(0, take);
    this.queue = this.queue.slice(take);
    this.oldestQueuedAt = now;
    this.attempts = 0;
    this.send(now);
  }

  private send(now: u64): void {
    const batch = this.inFlight!;
    this.attempts++;
    const request = this.envelope(batch, this.config.serviceName);
    const result = grpcCall(this.service, this.serviceName, this.method, request, this.config.timeoutMillis);
    if (result != HostResult.Ok) {
      this.failed(now);
      return;
    }
    this.inFlightToken = grpcToken;
    this.waitingForAnswer = true;
    this.sentAt = now;
  }

  /** True when `token` is this exporter's call. */
  owns(token: u32): bool {
    return this.waitingForAnswer && token == this.inFlightToken;
  }

  /** The collector answered (a unary call's response: success). */
  onReceive(token: u32): void {
    if (!this.owns(token)) return;
    const batch = this.inFlight!;
    this.waitingForAnswer = false;
    this.inFlight = null;
    if (this.exportedId == NO_METRIC) this.exportedId = defineMetric(MetricKind.Counter, "metaproto_" + this.signal + "_exported_total");
    incrementMetric(this.exportedId, batch.length);
  }

  /** The call ended without a response: a gRPC status other than OK (or the cluster is unreachable). */
  onClose(token: u32, status: u32, now: u64): void {
    if (!this.owns(token)) return;
    this.waitingForAnswer = false;
    if (status == GRPC_OK) {
      this.onReceiveAfterClose();
      return;
    }
    this.failed(now);
  }

  private onReceiveAfterClose(): void {
    this.waitingForAnswer = true;
    this.onReceive(this.inFlightToken);
  }

  private failed(now: u64): void {
    this.waitingForAnswer = false;
    const batch = this.inFlight!;
    if (this.config.maxRetries >= 0 && this.attempts > this.config.maxRetries) {
      this.inFlight = null;
      this.dropped("export_failed", batch.length);
      return;
    }
    let backoff = FIRST_RETRY_MILLIS << <u64>min(this.attempts - 1, 6);
    if (backoff > MAX_RETRY_MILLIS) backoff = MAX_RETRY_MILLIS;
    this.retryAt = now + backoff * NANOS_PER_MILLI;
  }

  private dropped(reason: string, count: i32): void {
    let id: u32 = NO_METRIC;
    if (this.droppedIds.has(reason)) id = this.droppedIds.get(reason);
    else {
      id = defineMetric(MetricKind.Counter, "metaproto_" + this.signal + "_dropped_total;reason=" + reason);
      this.droppedIds.set(reason, id);
    }
    incrementMetric(id, count);
  }
}
