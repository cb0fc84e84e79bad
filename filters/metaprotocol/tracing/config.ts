// The `tracing` and `flow_logs` sections of the filter configuration (README "Tracing").
import { JsonKind, JsonValue } from "../runtime/json";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, readCallMatch } from "../policy/match";
import { FORMAT_NAMES, PropagationFormat } from "./trace_context";

export enum SpanKindChoice { Auto = 0, Client = 1, Server = 2 }

/** How an exporter batches, bounds and retries (one per signal and worker VM). */
export class ExportConfig {
  /** The Envoy cluster (HTTP/2) of the OTLP gRPC collector. */
  cluster: string = "";
  /** Records sent in one Export call at most. */
  maxBatch: i32 = 512;
  /** A partial batch waits at most this long. */
  flushIntervalMillis: u32 = 1000;
  /** Records waiting or in flight; past it new records are dropped (reason `queue_full`). */
  maxQueue: i32 = 8192;
  /**
   * Attempts after the first before a batch is dropped (reason `export_failed`); -1 (the default):
   * retried until it goes, while newer records wait behind it within `maxQueue`, so a collector
   * outage loses only what overflows the queue.
   */
  maxRetries: i32 = -1;
  /** Deadline of one Export call. */
  timeoutMillis: u32 = 5000;
  /** The OTLP resource's service.name. */
  serviceName: string = "";
}

export class SamplingRule {
  constructor(public match: CallMatch, public percent: f64) {}
}

export class TracingConfig {
  export: ExportConfig = new ExportConfig();
  /** Percent of calls sampled when no rule matches. */
  percent: f64 = 100;
  rules: Array<SamplingRule> = [];
  /** A context's own sampled flag decides for calls that carry one. */
  parentBased: bool = true;
  extract: Array<PropagationFormat> = [PropagationFormat.W3C, PropagationFormat.Sw8, PropagationFormat.B3, PropagationFormat.B3Multi];
  /** Formats written into sampled requests; empty: the format the context came in, W3C for a new trace. */
  inject: Array<PropagationFormat> = [];
  spanKind: SpanKindChoice = SpanKindChoice.Auto;
  /** db.query.text / db.statement are cut to this many characters. */
  maxQueryTextLength: i32 = 256;
}

export class FlowLogConfig {
  export: ExportConfig = new ExportConfig();
}

const EXPORT_FIELDS = ["collector_cluster", "max_batch", "flush_interval_ms", "max_queue", "max_retries", "export_timeout_ms", "service_name"];

function readExport(reader: ConfigReader, obj: JsonValue, path: string, out: ExportConfig, protocol: string): void {
  const cluster = reader.required(obj, "collector_cluster", path);
  if (cluster != null) {
    out.cluster = reader.string(cluster, path + ".collector_cluster");
    if (!reader.failed && out.cluster.length == 0) reader.fail(path + ".collector_cluster", "must not be empty");
  }
  const batch = obj.get("max_batch");
  if (batch != null) out.maxBatch = <i32>reader.number(batch, path + ".max_batch", 1, 65536);
  let v: JsonValue | null = null;
  v = obj.get("flush_interval_ms");
  if (v != null) out.flushIntervalMillis = <u32>reader.number(v, path + ".flush_interval_ms", 10, 600000);
  v = obj.get("max_queue");
  if (v != null) out.maxQueue = <i32>reader.number(v, path + ".max_queue", 1, 1048576);
  v = obj.get("max_retries");
  if (v != null) out.maxRetries = <i32>reader.number(v, path + ".max_retries", 0, 100);
  v = obj.get("export_timeout_ms");
  if (v != null) out.timeoutMillis = <u32>reader.number(v, path + ".export_timeout_ms", 10, 600000);
  v = obj.get("service_name");
  out.serviceName = v != null ? reader.string(v, path + ".service_name") : "metaproto-" + protocol;
  // An unset batch size fits any queue; one set larger than the queue could never fill.
  if (batch == null) out.maxBatch = min(out.maxBatch, out.maxQueue);
  else if (!reader.failed && out.maxBatch > out.maxQueue) reader.fail(path + ".max_batch", "must not exceed max_queue");
}

function readFormats(reader: ConfigReader, value: JsonValue, path: string): Array<PropagationFormat> {
  const formats = new Array<PropagationFormat>();
  const items = reader.array(value, path);
  for (let i = 0; i < items.length && !reader.failed; i++) {
    const name = reader.string(items[i], path + "[" + i.toString() + "]", FORMAT_NAMES);
    if (reader.failed) break;
    const format = <PropagationFormat>FORMAT_NAMES.indexOf(name);
    if (formats.includes(format)) reader.fail(path + "[" + i.toString() + "]", "is listed twice");
    formats.push(format);
  }
  return formats;
}

export function readTracing(reader: ConfigReader, value: JsonValue, protocol: string): TracingConfig {
  const config = new TracingConfig();
  const path = "tracing";
  const known = EXPORT_FIELDS.concat(["sampling", "propagation", "span_kind", "max_query_text_length"]);
  const obj = reader.object(value, path, known);
  if (obj == null) return config;
  readExport(reader, obj, path, config.export, protocol);
  let v = obj.get("sampling");
  if (v != null) {
    const sampling = reader.object(v, path + ".sampling", ["percent", "parent_based", "rules"]);
    if (sampling != null) {
      const p = sampling.get("percent");
      if (p != null) config.percent = reader.number(p, path + ".sampling.percent", 0, 100, false);
      const parent = sampling.get("parent_based");
      if (parent != null) {
        if (parent.kind != JsonKind.Bool) reader.fail(path + ".sampling.parent_based", "must be true or false");
        else config.parentBased = parent.bool;
      }
      const rules = sampling.get("rules");
      if (rules != null) {
        const items = reader.array(rules, path + ".sampling.rules");
        for (let i = 0; i < items.length && !reader.failed; i++) {
          const rulePath = path + ".sampling.rules[" + i.toString() + "]";
          const rule = reader.object(items[i], rulePath, ["match", "percent"]);
          if (rule == null) break;
          const percent = reader.required(rule, "percent", rulePath);
          if (percent == null) break;
          config.rules.push(new SamplingRule(readCallMatch(reader, rule.get("match"), rulePath + ".match"),
            reader.number(percent, rulePath + ".percent", 0, 100, false)));
        }
      }
    }
  }
  v = obj.get("propagation");
  if (v != null) {
    const propagation = reader.object(v, path + ".propagation", ["extract", "inject"]);
    if (propagation != null) {
      const extract = propagation.get("extract");
      if (extract != null) config.extract = readFormats(reader, extract, path + ".propagation.extract");
      const inject = propagation.get("inject");
      if (inject != null) config.inject = readFormats(reader, inject, path + ".propagation.inject");
    }
  }
  v = obj.get("span_kind");
  if (v != null) {
    const kind = reader.string(v, path + ".span_kind", ["auto", "client", "server"]);
    config.spanKind = kind == "client" ? SpanKindChoice.Client : kind == "server" ? SpanKindChoice.Server : SpanKindChoice.Auto;
  }
  v = obj.get("max_query_text_length");
  if (v != null) config.maxQueryTextLength = <i32>reader.number(v, path + ".max_query_text_length", 0, 65536);
  return config;
}

export function readFlowLogs(reader: ConfigReader, value: JsonValue, protocol: string): FlowLogConfig {
  const config = new FlowLogConfig();
  const obj = reader.object(value, "flow_logs", EXPORT_FIELDS);
  if (obj == null) return config;
  readExport(reader, obj, "flow_logs", config.export, protocol);
  return config;
}
