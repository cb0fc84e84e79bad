// The filter's configuration: the Wasm plugin's `configuration` string, as JSON.
import { JsonKind, parseJson } from "./runtime/json";
import { LabelLimits } from "./stats";
import { PolicyChain, readPolicy } from "./policy/chain";
import { ConfigReader } from "./runtime/config_reader";
import { FlowLogConfig, TracingConfig, readFlowLogs, readTracing } from "./tracing/config";

export enum DecodeErrorPolicy { PassThrough = 0, Close = 1 }

export class FilterConfig {
  /** Bytes buffered per connection and direction while a frame is incomplete (min 256). */
  maxBufferedBytes: u32 = 1024 * 1024;
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

const KNOWN_FIELDS = [
  "max_buffered_bytes", "max_pending_calls", "max_label_pairs", "max_response_codes", "max_series", "on_decode_error",
  "policy", "revision", "tracing", "flow_logs",
];

/**
 * Parses the configuration; an empty string means all defaults. `scope` names this plugin's
 * shared state (rate-limit buckets).
 */
export function parseConfig(text: string, scope: string = "", protocol: string = ""): ConfigResult {
  const result = new ConfigResult();
  if (text.trim().length == 0) return result;
  const parsed = parseJson(text);
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
  if (reader.object(root, "", KNOWN_FIELDS) == null) {
    result.error = reader.error;
    return result;
  }
  const config = result.config;
  let v = root.get("max_buffered_bytes");
  if (v != null) config.maxBufferedBytes = <u32>reader.number(v, "max_buffered_bytes", 256, 1073741824);
  v = root.get("max_pending_calls");
  if (v != null) config.maxPendingCalls = <i32>reader.number(v, "max_pending_calls", 1, 1048576);
  const limits = config.labelLimits;
  v = root.get("max_label_pairs");
  if (v != null) limits.maxLabelPairs = <i32>reader.number(v, "max_label_pairs", 1, 1048576);
  v = root.get("max_response_codes");
  if (v != null) limits.maxResponseCodes = <i32>reader.number(v, "max_response_codes", 1, 1024);
  v = root.get("max_series");
  if (v != null) limits.maxSeries = <i32>reader.number(v, "max_series", 100, 1048576);
  v = root.get("on_decode_error");
  if (v != null) {
    if (v.kind == JsonKind.String && v.string == "pass_through") config.onDecodeError = DecodeErrorPolicy.PassThrough;
    else if (v.kind == JsonKind.String && v.string == "close") config.onDecodeError = DecodeErrorPolicy.Close;
    else reader.fail("on_decode_error", "must be \"pass_through\" or \"close\"");
  }
  // Read and ignored: the control plane changes it with every change of a plugin's configuration,
  // so that a configuration changed back to an earlier one is new to Envoy, which would otherwise
  // reuse that earlier plugin without running on_configure (the live policy would not change).
  v = root.get("revision");
  if (v != null) reader.string(v, "revision");
  v = root.get("policy");
  if (v != null && !reader.failed) config.policy = readPolicy(reader, v, scope);
  v = root.get("tracing");
  if (v != null && !reader.failed) config.tracing = readTracing(reader, v, protocol);
  v = root.get("flow_logs");
  if (v != null && !reader.failed) config.flowLogs = readFlowLogs(reader, v, protocol);
  result.error = reader.error;
  return result;
}
