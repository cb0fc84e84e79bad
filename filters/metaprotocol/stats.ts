// Per-call metrics with the names and labels of README "Metrics". Labels are encoded in the
// metric name (`name;label=value;...`) and turned into Prometheus labels by the bootstrap's
// stats_tags (api/telemetry/metrics.json).
//
// Every label value comes from the peers, so every dimension is bounded (README "Label bounds"):
// a value is cut to MAX_LABEL_LENGTH before it is kept or compared, a (service, method) pair,
// a series' response codes and a protocol's reasons are capped, and a VM creates at most
// `max_series` series in all. Past a bound the value becomes `other` and
// metaproto_label_overflow_total{dimension} counts what was folded.
import { MetricKind, NO_METRIC, defineMetric, incrementMetric, recordMetric } from "./runtime/host";
import { ResponseStatus } from "../../api/assembly/codec";

export const OTHER = "other";
const MAX_LABEL_LENGTH = 128;
/** Distinct decode-error and pass-through reasons a protocol may name before they become `other`. */
const MAX_REASONS = 64;
/** Series a pair holds back for its `other` response codes, one per response_status. */
const OTHER_CODE_SERIES = 4;
/** Series of one (service, method) pair besides its request counters: duration, request and response bytes. */
const PAIR_SERIES = 3;

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

/** What metaproto_label_overflow_total's `dimension` label names. */
export enum Overflow { ServiceMethod = 0, ResponseCode = 1, Reason = 2, Series = 3 }
const OVERFLOW_NAMES = ["service_method", "response_code", "reason", "series"];

/** The limits a configuration sets; the VM's ProtocolStats reads them on every new value. */
export class LabelLimits {
  maxLabelPairs: i32 = 0;
  maxResponseCodes: i32 = 0;
  maxSeries: i32 = 0;
}

/**
 * The metric ids of one (protocol, service, method), defined on first use. Counts are added up
 * here and sent to the host by ProtocolStats.flush at the end of each callback: a read that
 * carries many pipelined calls costs one host call per series instead of one per call.
 */
export class CallStats {
  private labels: string;
  /** Request counters by `status;code`. */
  private requestIds: Map<string, u32> = new Map();
  /** Distinct codes this pair has a series for, besides its `other` ones. */
  private codes: i32 = 0;
  private durationId: u32;
  private requestBytesId: u32;
  private responseBytesId: u32;

  /** Set while deltas wait for flush(); the owner keeps the list of such stats. */
  private dirty: bool = false;
  private requestBytes: i64 = 0;
  private responseBytes: i64 = 0;
  private lastOutcomeCount: i64 = 0;

  constructor(protocol: string, service: string, method: string, private owner: ProtocolStats, public index: i32) {
    this.labels = ";protocol=" + protocol + ";service=" + service + ";method=" + method;
    this.durationId = owner.define(MetricKind.Histogram, "metaproto_request_duration_microseconds" + this.labels);
    this.requestBytesId = owner.define(MetricKind.Counter, "metaproto_request_bytes_total" + this.labels);
    this.responseBytesId = owner.define(MetricKind.Counter, "metaproto_response_bytes_total" + this.labels);
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
    this.lastStatus = status;
    this.lastCode = code;
    this.lastId = this.requestCounter(status, sanitizeLabel(code));
    this.lastOutcomeCount = 1;
  }

  private requestCounter(status: string, code: string): u32 {
    const key = status + ";" + code;
    if (this.requestIds.has(key)) return this.requestIds.get(key);
    if (this.codes >= this.owner.limits.maxResponseCodes) return this.otherCode(status, Overflow.ResponseCode);
    if (!this.owner.hasRoom(1)) return this.otherCode(status, Overflow.Series);
    this.codes++;
    const id = this.owner.define(MetricKind.Counter, this.requestName(status, code));
    this.requestIds.set(key, id);
    return id;
  }

  /** The status's `other` code; its series was held back when this pair was created. */
  private otherCode(status: string, why: Overflow): u32 {
    this.owner.overflowed(why);
    const key = status + ";" + OTHER;
    if (this.requestIds.has(key)) return this.requestIds.get(key);
    const id = this.owner.defineHeldBack(MetricKind.Counter, this.requestName(status, OTHER));
    this.requestIds.set(key, id);
    return id;
  }

  private requestName(status: string, code: string): string {
    return "metaproto_requests_total" + this.labels + ";response_status=" + status + ";response_code=" + code;
  }

  addRequestBytes(bytes: u32): void {
    this.markDirty();
    this.requestBytes += <i64>bytes;
  }

  addResponseBytes(bytes: u32): void {
    this.markDirty();
    this.responseBytes += <i64>bytes;
  }

  recordDurationMicros(micros: u64): void {
    recordMetric(this.durationId, micros);
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

/**
 * All metrics of one protocol in one VM (one worker). A VM runs one codec, and every root context
 * of it (each configuration an ECDS update brings) shares this object, so the bounds hold for the
 * VM's lifetime rather than per configuration.
 */
export class ProtocolStats {
  limits: LabelLimits = new LabelLimits();
  private calls: Map<string, CallStats> = new Map();
  /** Every pair by its index (pending calls refer to a pair by index). */
  private pairs: Array<CallStats> = [];
  private other: CallStats | null = null;
  private counters: Map<string, u32> = new Map();
  private reasons: i32 = 0;
  private overflowIds: StaticArray<u32> = new StaticArray<u32>(OVERFLOW_NAMES.length);
  /** Series defined so far, and series promised to pairs for their `other` codes. */
  private seriesDefined: i32 = 0;
  private seriesHeldBack: i32 = 0;
  /** Call stats holding counts not yet sent (see CallStats). */
  waitingForFlush: Array<CallStats> = [];

  constructor(public protocol: string) {
    for (let i = 0; i < OVERFLOW_NAMES.length; i++) unchecked(this.overflowIds[i] = NO_METRIC);
    // What the fallbacks may need is held back from the start: the other/other pair, its other
    // codes, the overflow counters and the `other` reasons.
    this.seriesHeldBack = PAIR_SERIES + OTHER_CODE_SERIES + OVERFLOW_NAMES.length + 3;
  }

  /** Series this VM has defined for this protocol (what Envoy holds on its behalf). */
  get seriesCount(): i32 {
    return this.seriesDefined;
  }

  hasRoom(series: i32): bool {
    return this.seriesDefined + this.seriesHeldBack + series <= this.limits.maxSeries;
  }

  define(kind: MetricKind, name: string): u32 {
    this.seriesDefined++;
    return defineMetric(kind, name);
  }

  /** Defines a series that was held back for a fallback when its owner was created. */
  defineHeldBack(kind: MetricKind, name: string): u32 {
    if (this.seriesHeldBack > 0) this.seriesHeldBack--;
    return this.define(kind, name);
  }

  overflowed(why: Overflow): void {
    let id = unchecked(this.overflowIds[why]);
    if (id == NO_METRIC) {
      id = this.defineHeldBack(MetricKind.Counter,
        "metaproto_label_overflow_total;protocol=" + this.protocol + ";dimension=" + unchecked(OVERFLOW_NAMES[why]));
      unchecked(this.overflowIds[why] = id);
    }
    incrementMetric(id, 1);
  }

  // Consecutive calls mostly name the same method: compare before building a map key.
  private lastService: string = "";
  private lastMethod: string = "";
  private last: CallStats | null = null;

  forCall(service: string, method: string): CallStats {
    const last = this.last;
    if (last != null && method == this.lastMethod && service == this.lastService) return last;
    const stats = this.lookup(sanitizeLabel(service), sanitizeLabel(method));
    this.lastService = service;
    this.lastMethod = method;
    this.last = stats;
    return stats;
  }

  /** The pair a pending call refers to by index. */
  pair(index: i32): CallStats {
    return unchecked(this.pairs[index]);
  }

  private lookup(service: string, method: string): CallStats {
    // Keys are the cut labels: a peer cannot make the VM keep more than MAX_LABEL_LENGTH per value.
    const key = service + "\n" + method;
    if (this.calls.has(key)) return this.calls.get(key);
    if (this.calls.size >= this.limits.maxLabelPairs) return this.otherPair(Overflow.ServiceMethod);
    if (!this.hasRoom(PAIR_SERIES + OTHER_CODE_SERIES)) return this.otherPair(Overflow.Series);
    this.seriesHeldBack += OTHER_CODE_SERIES;
    const stats = new CallStats(this.protocol, service, method, this, this.pairs.length);
    this.pairs.push(stats);
    this.calls.set(key, stats);
    return stats;
  }

  private otherPair(why: Overflow): CallStats {
    this.overflowed(why);
    let other = this.other;
    if (other == null) {
      // Its three series and its other codes were held back in the constructor.
      this.seriesHeldBack -= PAIR_SERIES;
      other = new CallStats(this.protocol, OTHER, OTHER, this, this.pairs.length);
      this.pairs.push(other);
      this.other = other;
    }
    return other;
  }

  /** Sends every count added since the last flush; called at the end of each callback. */
  flush(): void {
    const waiting = this.waitingForFlush;
    for (let i = 0; i < waiting.length; i++) unchecked(waiting[i]).flush();
    waiting.length = 0;
  }

  /** Counts under `prefix;reason=<reason>`, with `other` past MAX_REASONS or the series budget. */
  private countReason(prefix: string, reason: string): void {
    const name = prefix + ";reason=" + sanitizeLabel(reason);
    let id: u32 = NO_METRIC;
    if (this.counters.has(name)) id = this.counters.get(name);
    else if (this.reasons < MAX_REASONS && this.hasRoom(1)) {
      this.reasons++;
      id = this.define(MetricKind.Counter, name);
      this.counters.set(name, id);
    } else {
      this.overflowed(this.reasons < MAX_REASONS ? Overflow.Series : Overflow.Reason);
      const other = prefix + ";reason=" + OTHER;
      if (this.counters.has(other)) id = this.counters.get(other);
      else {
        id = this.defineHeldBack(MetricKind.Counter, other);
        this.counters.set(other, id);
      }
    }
    incrementMetric(id, 1);
  }

  decodeError(direction: string, reason: string): void {
    this.countReason("metaproto_decode_errors_total;protocol=" + this.protocol + ";direction=" + direction, reason);
  }

  /** A request the proxy answered itself (README "Policies"). */
  localReply(reason: string): void {
    this.countReason("metaproto_local_replies_total;protocol=" + this.protocol, reason);
  }

  /** A request whose attributes a policy changed (or could not change). */
  mutation(outcome: string): void {
    this.countReason("metaproto_mutations_total;protocol=" + this.protocol, outcome);
  }

  /** How a connection's first request chose (or could not choose) its cluster. */
  connectionRoute(reason: string): void {
    this.countReason("metaproto_connection_routes_total;protocol=" + this.protocol, reason);
  }

  /** A connection a policy closed because it could not answer a request in the protocol. */
  policyClose(reason: string): void {
    this.countReason("metaproto_policy_closes_total;protocol=" + this.protocol, reason);
  }

  /** A connection the codec stopped following on purpose (TLS upgrade, MONITOR, compression). */
  passThrough(reason: string): void {
    this.countReason("metaproto_passthrough_connections_total;protocol=" + this.protocol, reason);
  }
}
