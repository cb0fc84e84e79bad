// The filter's configuration: the Wasm plugin's `configuration` string, as JSON.
import { JsonKind, parseJson } from "./runtime/json";
import { LabelLimits } from "./stats";
import { readFilterConfigSpec } from "./config_spec.generated";
import { PolicyChain, policyOf } from "./policy/chain";
import { ConfigReader } from "./runtime/config_reader";
import { FlowLogConfig, TracingConfig, flowLogsOf, tracingOf } from "./tracing/config";

export enum DecodeErrorPolicy { PassThrough = 0, Close = 1 }

/** The configuration as the filter uses it, filled by parseConfig (defaults: the .proto's). */
export class FilterConfig {
  /** Bytes buffered per connection and direction while a frame is incomplete (min 256). */
  maxBufferedBytes: u32 = 0;
  /**
   * Requests awaiting a response per connection; the oldest is given up past this. 0: the
   * default for the codec's pairing (pending_calls.ts).
   */
  maxPendingCalls: i32 = 0;
  /** Bounds of every label dimension, per worker (stats.ts). */
  labelLimits: LabelLimits = new LabelLimits();
  /** What to do with a connection whose bytes do not decode. */
  onDecodeError: DecodeErrorPolicy = DecodeErrorPolicy.PassThrough;
  /** The policy stages requests go through; null: none, every request passes. */
  policy: PolicyChain | null = null;
  /** Spans of sampled calls and trace-context propagation; null: none (no per-call work). */
  tracing: TracingConfig | null = null;
  /** One OTLP log record per call; null: none. */
  flowLogs: FlowLogConfig | null = null;
}

export class ConfigResult {
  config: FilterConfig = new FilterConfig();
  error: string = "";
}

/**
 * Parses the configuration (api/proto/metaproto/filter/v1alpha1/filter_config.proto, read by the
 * reader generated from it); an empty string means all defaults. `scope` names this plugin's
 * shared state (rate-limit buckets).
 */
export function parseConfig(text: string, scope: string = "", protocol: string = ""): ConfigResult {
  const result = new ConfigResult();
  const parsed = parseJson(text.trim().length == 0 ? "{}" : text);
  const root = parsed.value;
  if (root == null) {
    result.error = "configuration is not valid JSON: " + parsed.error;
    return result;
  }
  if (root.kind != JsonKind.Object) {
    result.error = "configuration must be a JSON object";
    return result;
  }
  // One reader for every section: errors name the field path the same way everywhere.
  const reader = new ConfigReader();
  const spec = readFilterConfigSpec(reader, root, "");
  if (reader.failed) {
    result.error = reader.error;
    return result;
  }
  const config = result.config;
  config.maxBufferedBytes = spec.max_buffered_bytes;
  config.maxPendingCalls = <i32>spec.max_pending_calls;
  config.labelLimits.maxLabelPairs = <i32>spec.max_label_pairs;
  config.labelLimits.maxResponseCodes = <i32>spec.max_response_codes;
  config.labelLimits.maxSeries = <i32>spec.max_series;
  config.onDecodeError = spec.on_decode_error == "close" ? DecodeErrorPolicy.Close : DecodeErrorPolicy.PassThrough;
  // `revision` is read and ignored (see the .proto).
  const policy = spec.policy;
  if (policy != null) config.policy = policyOf(reader, policy, scope);
  const tracing = spec.tracing;
  if (tracing != null) config.tracing = tracingOf(reader, tracing, protocol);
  const flowLogs = spec.flow_logs;
  if (flowLogs != null) config.flowLogs = flowLogsOf(flowLogs, protocol);
  result.error = reader.error;
  return result;
}
