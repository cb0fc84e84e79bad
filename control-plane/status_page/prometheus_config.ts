// `metaproto prometheus`: a Prometheus configuration that scrapes the Envoys the control plane
// manages, and recording rules for MetaProto's RED metrics (rate, errors, duration) per service and
// method. Recorded names follow Prometheus' level:metric:operations convention.
import { ERROR_STATUSES } from "./aggregation";

export const RULES_FILE = "metaproto-rules.yml";
export const TARGETS_PATH = "/prometheus/targets";

export interface PrometheusConfigOptions {
  /** Envoy admin addresses (host:port) scraped as they are. */
  envoyAdmins: string[];
  /** `metaproto serve`'s --http-listen: its Envoys come from HTTP service discovery (TARGETS_PATH). */
  server?: string;
  scrapeInterval: string;
  /** The range of rate() in the rules, e.g. 1m: at least four scrape intervals. */
  window: string;
}

export function prometheusConfig(options: PrometheusConfigOptions): Record<string, unknown> {
  const job: Record<string, unknown> = {
    job_name: "metaproto-envoy",
    metrics_path: "/stats/prometheus",
    scrape_interval: options.scrapeInterval,
  };
  if (options.envoyAdmins.length) job.static_configs = [{ targets: options.envoyAdmins }];
  if (options.server) job.http_sd_configs = [{ url: `http://${options.server}${TARGETS_PATH}`, refresh_interval: options.scrapeInterval }];
  return {
    global: { scrape_interval: options.scrapeInterval, evaluation_interval: options.scrapeInterval },
    rule_files: [RULES_FILE],
    scrape_configs: [job],
  };
}

/** The recorded metric names for a rate window such as "1m". */
export function recordedNames(window: string) {
  const w = window.replace(/[^a-z0-9]/gi, "_");
  return {
    requestsRate: `protocol_service_method:metaproto_requests:rate${w}`,
    requestsRateByStatus: `protocol_service_method_response_status:metaproto_requests:rate${w}`,
    errorRatio: `protocol_service_method:metaproto_requests_errors:ratio_rate${w}`,
    durationQuantile: `protocol_service_method:metaproto_request_duration_microseconds:histogram_quantile_rate${w}`,
    localRepliesRate: `protocol_reason:metaproto_local_replies:rate${w}`,
    decodeErrorsRate: `protocol_direction_reason:metaproto_decode_errors:rate${w}`,
    passthroughRate: `protocol_reason:metaproto_passthrough_connections:rate${w}`,
  };
}

export function recordingRules(window: string): Record<string, unknown> {
  const names = recordedNames(window);
  const byCall = "protocol, service, method";
  const errors = `response_status=~"${ERROR_STATUSES.join("|")}"`;
  const all = `sum by (${byCall}) (rate(metaproto_requests_total[${window}]))`;
  return {
    groups: [{
      name: "metaproto-red",
      rules: [
        { record: names.requestsRate, expr: `sum by (${byCall}) (rate(metaproto_requests_total[${window}]))` },
        { record: names.requestsRateByStatus, expr: `sum by (${byCall}, response_status) (rate(metaproto_requests_total[${window}]))` },
        // Calls that failed (client_error, server_error) over all calls; no_response (oneway, closed) is
        // not an error. A method that never failed has no error series: `or ... * 0` makes its ratio 0.
        {
          record: names.errorRatio,
          expr: `(sum by (${byCall}) (rate(metaproto_requests_total{${errors}}[${window}])) or ${all} * 0) / ${all}`,
        },
        ...[0.5, 0.9, 0.99].map((q) => ({
          record: names.durationQuantile,
          expr: `histogram_quantile(${q}, sum by (${byCall}, le) (rate(metaproto_request_duration_microseconds_bucket[${window}])))`,
          labels: { quantile: String(q) },
        })),
        { record: names.localRepliesRate, expr: `sum by (protocol, reason) (rate(metaproto_local_replies_total[${window}]))` },
        { record: names.decodeErrorsRate, expr: `sum by (protocol, direction, reason) (rate(metaproto_decode_errors_total[${window}]))` },
        { record: names.passthroughRate, expr: `sum by (protocol, reason) (rate(metaproto_passthrough_connections_total[${window}]))` },
      ],
    }],
  };
}
