// The `tracing` and `flow_logs` sections of the filter configuration (README "Tracing").
import { ExportSpec, FlowLogsSpec, SamplingSpec, TracingSpec } from "../config_spec.generated";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, callMatchOf } from "../policy/match";
import { FORMAT_NAMES, PropagationFormat } from "./trace_context";

export enum SpanKindChoice { Auto = 0, Client = 1, Server = 2 }

/**
 * How an exporter batches, bounds and retries (one per signal and worker VM). These classes are
 * filled from the configuration; what a left-out field means is in its .proto (api/proto).
 */
export class ExportConfig {
  /** The Envoy cluster (HTTP/2) of the OTLP gRPC collector. */
  cluster: string = "";
  /** Records sent in one Export call at most. */
  maxBatch: i32 = 0;
  /** A partial batch waits at most this long. */
  flushIntervalMillis: u32 = 0;
  /** Records waiting or in flight; past it new records are dropped (reason `queue_full`). */
  maxQueue: i32 = 0;
  /**
   * Attempts after the first before a batch is dropped (reason `export_failed`); -1 (the default):
   * retried until it goes, while newer records wait behind it within `maxQueue`, so a collector
   * outage loses only what overflows the queue.
   */
  maxRetries: i32 = -1;
  /** Deadline of one Export call. */
  timeoutMillis: u32 = 0;
  /** The OTLP resource's service.name. */
  serviceName: string = "";
}

export class SamplingRule {
  constructor(public match: CallMatch, public percent: f64) {}
}

export class TracingConfig {
  export: ExportConfig = new ExportConfig();
  /** Percent of calls sampled when no rule matches. */
  percent: f64 = 0;
  rules: Array<SamplingRule> = [];
  /** A context's own sampled flag decides for calls that carry one. */
  parentBased: bool = false;
  extract: Array<PropagationFormat> = [PropagationFormat.W3C, PropagationFormat.Sw8, PropagationFormat.B3, PropagationFormat.B3Multi];
  /** Formats written into sampled requests; empty: the format the context came in, W3C for a new trace. */
  inject: Array<PropagationFormat> = [];
  spanKind: SpanKindChoice = SpanKindChoice.Auto;
  /** db.query.text / db.statement are cut to this many characters. */
  maxQueryTextLength: i32 = 0;
}

export class FlowLogConfig {
  export: ExportConfig = new ExportConfig();
}

function exportOf(spec: ExportSpec, protocol: string): ExportConfig {
  const out = new ExportConfig();
  out.cluster = spec.collector_cluster;
  // An unset batch size fits any queue (one set larger than the queue is refused by the schema).
  out.maxBatch = spec.has_max_batch ? <i32>spec.max_batch : min(<i32>spec.max_batch, <i32>spec.max_queue);
  out.flushIntervalMillis = spec.flush_interval_ms;
  out.maxQueue = <i32>spec.max_queue;
  out.maxRetries = spec.has_max_retries ? <i32>spec.max_retries : -1;
  out.timeoutMillis = spec.export_timeout_ms;
  out.serviceName = spec.has_service_name ? spec.service_name : "metaproto-" + protocol;
  return out;
}

function formatsOf(names: Array<string>): Array<PropagationFormat> {
  const formats = new Array<PropagationFormat>();
  for (let i = 0; i < names.length; i++) formats.push(<PropagationFormat>FORMAT_NAMES.indexOf(names[i]));
  return formats;
}

/** The tracing of a `tracing` section the schema accepted. */
export function tracingOf(reader: ConfigReader, spec: TracingSpec, protocol: string): TracingConfig {
  const config = new TracingConfig();
  config.export = exportOf(spec.export, protocol);
  const given = spec.sampling;
  const sampling = given != null ? given : new SamplingSpec();
  config.percent = sampling.percent;
  config.parentBased = sampling.parent_based;
  for (let i = 0; i < sampling.rules.length; i++) {
    const rule = sampling.rules[i];
    config.rules.push(new SamplingRule(callMatchOf(reader, rule.match, reader.index("tracing.sampling.rules", i) + ".match"), rule.percent));
  }
  const propagation = spec.propagation;
  if (propagation != null) {
    if (propagation.extract.length > 0) config.extract = formatsOf(propagation.extract);
    config.inject = formatsOf(propagation.inject);
  }
  config.spanKind = spec.span_kind == "client" ? SpanKindChoice.Client : spec.span_kind == "server" ? SpanKindChoice.Server : SpanKindChoice.Auto;
  config.maxQueryTextLength = <i32>spec.max_query_text_length;
  return config;
}

/** The flow logs of a `flow_logs` section the schema accepted. */
export function flowLogsOf(spec: FlowLogsSpec, protocol: string): FlowLogConfig {
  const config = new FlowLogConfig();
  config.export = exportOf(spec.export, protocol);
  return config;
}
