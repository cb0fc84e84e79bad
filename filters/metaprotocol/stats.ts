// Per-call metrics with the names and labels of DESIGN.md section 4. Labels are encoded in
// the metric name (`name;label=value;...`) and turned into Prometheus labels by the
// bootstrap's stats_tags; see statsTagsForEnvoy in the docs.
import { MetricKind, NO_METRIC, defineMetric, incrementMetric, recordMetric } from "../../api/assembly/host";
import { ResponseStatus } from "../../api/assembly/codec";

export const OTHER = "other";
const MAX_LABEL_LENGTH = 128;

/** Label values must not break the `;name=value` encoding or Envoy's stat-name rules. */
export function sanitizeLabel(value: string): string {
  let out = value.length > MAX_LABEL_LENGTH ? value.substring(0, MAX_LABEL_LENGTH) : value;
  if (out.includes(";")) out = out.replaceAll(";", "_");
  if (out.includes("=")) out = out.replaceAll("=", "_");
  return out;
}

export function responseStatusLabel(status: ResponseStatus): string {
  switch (status) {
    case ResponseStatus.Ok: return "ok";
    case ResponseStatus.ClientError: return "client_error";
    case ResponseStatus.ServerError: return "server_error";
    default: return "no_response";
  }
}

/**
 * The metric ids of one (protocol, service, method), defined on first use. Counts are added up
 * here and sent to the host by ProtocolStats.flush at the end of each callback: a read that
 * carries many pipelined calls costs one host call per series instead of one per call.
 */
export class CallStats {
  private labels: string;
  private requestIds: Map<string, u32> = new Map();
  private durationId: u32;
  private requestBytesId: u32;
  private responseBytesId: u32;

  /** Set while deltas wait for flush(); the owner keeps the list of such stats. */
  private dirty: bool = false;
  private requestBytes: i64 = 0;
  private responseBytes: i64 = 0;
  private lastOutcomeCount: i64 = 0;

  constructor(protocol: string, service: string, method: string, private owner: ProtocolStats) {
    this.labels = ";protocol=" + protocol + ";service=" + service + ";method=" + method;
    this.durationId = defineMetric(MetricKind.Histogram, "metaproto_request_duration_milliseconds" + this.labels);
    this.requestBytesId = defineMetric(MetricKind.Counter, "metaproto_request_bytes_total" + this.labels);
    this.responseBytesId = defineMetric(MetricKind.Counter, "metaproto_response_bytes_total" + this.labels);
  }

  // Calls of one method mostly end the same way: the last outcome's id skips the map.
  private lastStatus: string = "";
  private lastCode: string = "";
  private lastId: u32 = NO_METRIC;

  countCall(status: string, code: string): void {
    this.markDirty();
    if (this.lastId != NO_METRIC && status == this.lastStatus && code == this.lastCode) {
      this.lastOutcomeCount++;
      return;
    }
    incrementMetric(this.lastId, this.lastOutcomeCount);
    const key = status + ";" + code;
    let id: u32;
    if (this.requestIds.has(key)) {
      id = this.requestIds.get(key);
    } else {
      id = defineMetric(MetricKind.Counter,
        "metaproto_requests_total" + this.labels + ";response_status=" + status + ";response_code=" + sanitizeLabel(code));
      this.requestIds.set(key, id);
    }
    this.lastStatus = status;
    this.lastCode = code;
    this.lastId = id;
    this.lastOutcomeCount = 1;
  }

  addRequestBytes(bytes: u32): void {
    this.markDirty();
    this.requestBytes += <i64>bytes;
  }

  addResponseBytes(bytes: u32): void {
    this.markDirty();
    this.responseBytes += <i64>bytes;
  }

  recordDurationMillis(millis: u64): void {
    recordMetric(this.durationId, millis);
  }

  /** Sends the counts added since the last flush. */
  flush(): void {
    incrementMetric(this.requestBytesId, this.requestBytes);
    incrementMetric(this.responseBytesId, this.responseBytes);
    incrementMetric(this.lastId, this.lastOutcomeCount);
    this.requestBytes = 0;
    this.responseBytes = 0;
    this.lastOutcomeCount = 0;
    this.dirty = false;
  }

  private markDirty(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.owner.waitingForFlush.push(this);
  }
}

/** All metrics of one protocol in one worker, with the label-cardinality cap. */
export class ProtocolStats {
  private calls: Map<string, CallStats> = new Map();
  private other: CallStats | null = null;
  private counters: Map<string, u32> = new Map();
  /** Call stats holding counts not yet sent (see CallStats). */
  waitingForFlush: Array<CallStats> = [];

  constructor(public protocol: string, public maxLabelPairs: i32) {}

  // Consecutive calls mostly name the same method: compare before building a map key.
  private lastService: string = "";
  private lastMethod: string = "";
  private last: CallStats | null = null;

  forCall(service: string, method: string): CallStats {
    const last = this.last;
    if (last != null && method == this.lastMethod && service == this.lastService) return last;
    const stats = this.lookup(service, method);
    this.lastService = service;
    this.lastMethod = method;
    this.last = stats;
    return stats;
  }

  private lookup(service: string, method: string): CallStats {
    const key = service + "\n" + method;
    if (this.calls.has(key)) return this.calls.get(key);
    if (this.calls.size >= this.maxLabelPairs) {
      let other = this.other;
      if (other == null) {
        other = new CallStats(this.protocol, OTHER, OTHER, this);
        this.other = other;
      }
      return other;
    }
    const stats = new CallStats(this.protocol, sanitizeLabel(service), sanitizeLabel(method), this);
    this.calls.set(key, stats);
    return stats;
  }

  /** Sends every count added since the last flush; called at the end of each callback. */
  flush(): void {
    const waiting = this.waitingForFlush;
    for (let i = 0; i < waiting.length; i++) unchecked(waiting[i]).flush();
    waiting.length = 0;
  }

  private increment(name: string): void {
    let id: u32 = NO_METRIC;
    if (this.counters.has(name)) id = this.counters.get(name);
    else {
      id = defineMetric(MetricKind.Counter, name);
      this.counters.set(name, id);
    }
    incrementMetric(id, 1);
  }

  decodeError(direction: string, reason: string): void {
    this.increment("metaproto_decode_errors_total;protocol=" + this.protocol + ";direction=" + direction + ";reason=" + sanitizeLabel(reason));
  }

  /** A connection the codec stopped following on purpose (TLS upgrade, MONITOR, compression). */
  passThrough(reason: string): void {
    this.increment("metaproto_passthrough_connections_total;protocol=" + this.protocol + ";reason=" + sanitizeLabel(reason));
  }
}
