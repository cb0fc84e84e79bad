import { prometheusConfig, recordedNames, recordingRules, RULES_FILE, TARGETS_PATH } from "./prometheus_config";

test("the scrape configuration names Envoy's exporter path, the static Envoys and serve's discovery", () => {
  const config = prometheusConfig({ envoyAdmins: ["127.0.0.1:9901"], server: "127.0.0.1:18001", scrapeInterval: "5s", window: "1m" });
  expect(config).toEqual({
    global: { scrape_interval: "5s", evaluation_interval: "5s" },
    rule_files: [RULES_FILE],
    scrape_configs: [{
      job_name: "metaproto-envoy", metrics_path: "/stats/prometheus", scrape_interval: "5s",
      static_configs: [{ targets: ["127.0.0.1:9901"] }],
      http_sd_configs: [{ url: `http://127.0.0.1:18001${TARGETS_PATH}`, refresh_interval: "5s" }],
    }],
  });
});

test("recording rules: level:metric:operations names, one quantile label per duration rule", () => {
  const rules = recordingRules("30s") as { groups: { rules: { record: string; expr: string; labels?: Record<string, string> }[] }[] };
  const names = recordedNames("30s");
  const recorded = rules.groups[0].rules;
  for (const rule of recorded) expect(rule.record).toMatch(/^[a-z_]+:[a-z_]+:[a-z0-9_]+$/);
  expect(recorded.find((r) => r.record === names.errorRatio)!.expr)
    .toBe('(sum by (protocol, service, method) (rate(metaproto_requests_total{response_status=~"client_error|server_error"}[30s]))'
      + ' or sum by (protocol, service, method) (rate(metaproto_requests_total[30s])) * 0) / sum by (protocol, service, method) (rate(metaproto_requests_total[30s]))');
  expect(recorded.filter((r) => r.record === names.durationQuantile).map((r) => r.labels?.quantile)).toEqual(["0.5", "0.9", "0.99"]);
});
