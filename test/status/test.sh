#!/usr/bin/env bash
# The status page and Prometheus, end to end: two real redis-servers behind a stock Envoy configured
# over ADS by `metaproto serve`, steady ioredis traffic through it (GETs of which a quarter fail with
# WRONGTYPE, SETs, FLUSHDBs the policy denies), a real Prometheus started on the configuration
# `metaproto prometheus` generates (Envoys discovered from serve, recording rules), and headless
# Chromium on the status page.
#   - `promtool check config` and `promtool check rules` accept what `metaproto prometheus` wrote;
#   - `promtool check metrics` on Envoy's metaproto_* output (this rig's Redis scrape, and the Dubbo,
#     Thrift and MySQL scrapes in control-plane/status_page/fixtures) reports only what Envoy's
#     exporter makes unavoidable: no HELP lines, and the duration histogram's microseconds;
#   - during traffic, a configuration Envoy NACKs (a second Service on a port a redis-server holds)
#     shows on the page with Envoy's error and its YAML document; the page's GET rate matches
#     Prometheus'; a screenshot of the page is saved;
#   - after traffic, PromQL through Prometheus' HTTP API returns the calls and errors the client
#     counted, and the recording rules' rate and error ratio of the middle of the run match the
#     client's; the page's call totals, counts by response_status and local replies equal Envoy's
#     /stats/prometheus, and its p50/p99 equal Prometheus' histogram_quantile.
#   bash test/status/test.sh                      (after ./build.sh build)
#   UPDATE_SCREENSHOT=1 bash test/status/test.sh  (also copies the screenshot to docs/status-page.png)
#   CAPTURE_SCRAPE=FILE bash test/status/test.sh  (also saves the Redis scrape, as the fixture it is)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=status
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

[ -f "$REPO/dist/wasm/redis.wasm" ] || die "dist/wasm/redis.wasm is missing: run ./build.sh build"
[ -f "$REPO/build/cp/control-plane/cli/main.js" ] || die "the control plane is not compiled: run ./build.sh build"
for tool in redis-server redis-cli prometheus promtool chromium; do
  command -v "$tool" >/dev/null || die "$tool is missing: run ./build.sh setup"
done
export CHROMIUM_BIN; CHROMIUM_BIN=$(command -v chromium)
WORK=$(mktemp -d)
log "work dir $WORK"
metaproto() { node "$REPO/control-plane/bin/metaproto.js" "$@"; }
TRAFFIC_SECONDS=${TRAFFIC_SECONDS:-30}
NODE_ID=status-edge

V1_PORT=$(free_port); V2_PORT=$(free_port); XDS_PORT=$(free_port); HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port); PROM_PORT=$(free_port)
PAGE="http://127.0.0.1:$HTTP_PORT/"
PROM="http://127.0.0.1:$PROM_PORT"
for subset in v1 v2; do
  port_var=${subset^^}_PORT
  start_child "redis-server $subset" "$WORK/redis-$subset.log" redis-server --port "${!port_var}" --bind 127.0.0.1 \
    --save "" --appendonly no --daemonize no --dir "$WORK"
  wait_for "redis-server $subset :${!port_var}" 10 redis-cli -p "${!port_var}" ping || die "redis-server $subset did not start"
done

write_config() { # [squatter: a second Service on the port redis-server v1 holds]
  {
    cat <<YAML
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: cache }
spec:
  protocol: redis
  port: $LISTEN_PORT
  codec: { policy: { authz: { rules: [{ action: deny, match: { method: { prefix: FLUSH } } }] } } }
  subsets:
  - { name: v1, endpoints: [{ address: 127.0.0.1, port: $V1_PORT }] }
  - { name: v2, endpoints: [{ address: 127.0.0.1, port: $V2_PORT }] }
YAML
    [ -z "${1:-}" ] || cat <<YAML
---
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: squatter }
spec:
  protocol: redis
  port: $V1_PORT
  subsets: [{ name: v1, endpoints: [{ address: 127.0.0.1, port: $V2_PORT }] }]
YAML
  } >"$WORK/config.yaml.new"
  mv "$WORK/config.yaml.new" "$WORK/config.yaml"
}
write_config

log "metaproto prometheus: scrape configuration and recording rules"
metaproto prometheus --server "127.0.0.1:$HTTP_PORT" --scrape-interval 1s --window 10s -o "$WORK/prometheus" >&2
promtool check config "$WORK/prometheus/prometheus.yml" >&2 || die "promtool rejects the generated configuration"
promtool check rules "$WORK/prometheus/metaproto-rules.yml" >&2 || die "promtool rejects the generated recording rules"

metaproto bootstrap --node "$NODE_ID" --xds "127.0.0.1:$XDS_PORT" --admin-port "$ADMIN_PORT" --stats-flush-interval 1s -o "$WORK/envoy.yaml"
start_child "metaproto serve" "$WORK/serve.log" node "$REPO/control-plane/bin/metaproto.js" serve "$WORK/config.yaml" \
  --listen "127.0.0.1:$XDS_PORT" --http-listen "127.0.0.1:$HTTP_PORT" --debounce 100 --pin-dir "$WORK/pinned" \
  --scrape-interval 1s --rate-window 10s --window 5m
wait_for "metaproto serve" 20 curl -sf "$PAGE" || { cat "$WORK/serve.log" >&2; die "metaproto serve did not start"; }
start_child prometheus "$WORK/prometheus.log" prometheus --config.file "$WORK/prometheus/prometheus.yml" \
  --storage.tsdb.path "$WORK/tsdb" --web.listen-address "127.0.0.1:$PROM_PORT"
wait_for "prometheus" 30 curl -sf "$PROM/-/ready" || { tail -n 20 "$WORK/prometheus.log" >&2; die "Prometheus did not start"; }
start_envoy "$WORK/envoy.yaml" "$ADMIN_PORT" "$WORK/envoy.log"
wait_for "listener :$LISTEN_PORT (configured over ADS)" 30 sh -c "redis-cli -p $LISTEN_PORT ping | grep -q PONG" \
  || { tail -n 30 "$WORK/envoy.log" "$WORK/serve.log" >&2; die "Envoy never served the listener"; }

# The Envoy named its admin address in its node metadata: serve scrapes it and hands it to Prometheus.
scraped_twice() {
  curl -sf "http://127.0.0.1:$HTTP_PORT/api/metrics" | python3 -c '
import json, sys
view = json.load(sys.stdin)
sys.exit(0 if any(e["up"] and e.get("node") == sys.argv[1] for e in view["envoys"]) else 1)' "$NODE_ID"
}
wait_for "the status page scraping Envoy (admin from its node metadata)" 20 scraped_twice || die "serve never scraped the Envoy; see $WORK/serve.log"
sleep 2 # a second scrape: the traffic below all falls after the page's first one
prom_up() {
  curl -sf "$PROM/api/v1/targets" | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if any(t["health"] == "up" and t["labels"].get("envoy_node") == sys.argv[1] and t["scrapeUrl"].endswith("/stats/prometheus") for t in targets) else 1)' "$NODE_ID"
}
wait_for "Prometheus scraping Envoy (discovered from serve)" 30 prom_up || { curl -s "$PROM/api/v1/targets" >&2; die "Prometheus never scraped the Envoy"; }

log "traffic: ioredis for $TRAFFIC_SECONDS s"
node "$REPO/test/status/traffic.js" 127.0.0.1 "$LISTEN_PORT" "$TRAFFIC_SECONDS" "$WORK/traffic.json" >"$WORK/traffic.log" 2>&1 &
TRAFFIC_PID=$!
CHILD_PIDS+=("$TRAFFIC_PID")
sleep $((TRAFFIC_SECONDS / 3))
log "a configuration Envoy NACKs: a second Service on the port redis-server v1 holds"
write_config squatter
log "the page during traffic (headless Chromium)"
sleep $((TRAFFIC_SECONDS / 3))
node "$REPO/test/status/page_check.js" live "$PAGE" "$PROM" "$NODE_ID" "$WORK/status-page.png" >&2 || die "the page during traffic"
wait "$TRAFFIC_PID" || { cat "$WORK/traffic.log" >&2; die "the traffic client failed"; }
cat "$WORK/traffic.log" >&2

promql() { # query [time] -> the first result's value
  curl -sf "$PROM/api/v1/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} | python3 -c '
import json, sys
result = json.load(sys.stdin)["data"]["result"]
print(result[0]["value"][1] if result else "none")'
}
client() { python3 -c 'import json, sys; t = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$WORK/traffic.json" "$1"; }

log "PromQL through Prometheus' HTTP API against what the client counted"
for command in $(client '" ".join(t["commands"])'); do
  calls=$(client "t['commands']['$command']['calls']"); errors=$(client "t['commands']['$command']['errors']")
  wait_for "Prometheus counting $calls $command calls" 20 sh -c \
    "[ \"\$(curl -sf '$PROM/api/v1/query' --data-urlencode 'query=sum(metaproto_requests_total{method=\"$command\"})' | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if r else 0)')\" = $calls ]" \
    || die "Prometheus has $(promql "sum(metaproto_requests_total{method=\"$command\"})") $command calls, the client sent $calls"
  got=$(promql "sum(metaproto_requests_total{method=\"$command\",response_status=~\"client_error|server_error\"}) or vector(0)")
  [ "$got" = "$errors" ] || die "Prometheus has $got failed $command calls, the client saw $errors"
  log "ok   $command: $calls calls, $errors errors (Prometheus = client)"
done
# Rates and error ratios of the middle of the run, from the recording rules (10 s windows).
start=$(client 't["start"] / 1000'); end=$(client 't["end"] / 1000')
mid=$(python3 -c "print(($start + $end) / 2)")
for command in $(client '" ".join(t["paced"])'); do
  calls=$(client "t['commands']['$command']['calls']"); errors=$(client "t['commands']['$command']['errors']")
  rate=$(promql "sum(protocol_service_method:metaproto_requests:rate10s{method=\"$command\"})" "$mid")
  ratio=$(promql "sum(protocol_service_method:metaproto_requests_errors:ratio_rate10s{method=\"$command\"})" "$mid")
  python3 - "$command" "$calls" "$errors" "$start" "$end" "$rate" "$ratio" <<'PY' || die "the recorded rate or error ratio of $command differs from the client's"
import sys
command, calls, errors, start, end, rate, ratio = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *map(float, sys.argv[4:6]), *sys.argv[6:8]
client_rate, client_ratio = calls / (end - start), errors / calls
print(f"{command}: recorded rate {rate}/s, client {client_rate:.2f}/s; recorded error ratio {ratio}, client {client_ratio:.3f}", file=sys.stderr)
# Scrapes every second into 10 s windows: the rate is within a fifth of the client's; the error
# ratio, of calls sent in a fixed pattern, within 0.05.
assert rate != "none" and abs(float(rate) - client_rate) <= 0.2 * client_rate, "rate"
assert ratio != "none" and abs(float(ratio) - client_ratio) <= 0.05, "error ratio"
PY
done

log "the page after traffic against Envoy's counters and Prometheus' quantiles"
node "$REPO/test/status/page_check.js" settled "$PAGE" "127.0.0.1:$ADMIN_PORT" "$PROM" "$WORK/traffic.json" >&2 || die "the page after traffic"

log "promtool check metrics on every protocol's metaproto_* output"
curl -sf "http://127.0.0.1:$ADMIN_PORT/stats/prometheus" | grep -E '^(# TYPE )?metaproto_' >"$WORK/redis.prom"
[ -z "${CAPTURE_SCRAPE:-}" ] || cp "$WORK/redis.prom" "$CAPTURE_SCRAPE"
for scrape in "$WORK/redis.prom" "$REPO"/control-plane/status_page/fixtures/{dubbo,thrift,mysql}.prom; do
  # promtool exits 1 on any finding; what it found is judged below.
  promtool check metrics <"$scrape" >"$WORK/promtool.out" 2>&1 || true
  # What Envoy makes unavoidable: it writes no # HELP, and its histograms hold whole numbers (the
  # duration is in microseconds, not seconds: README "Metrics").
  if grep -v -E '^metaproto_[a-z_]+ no help text$|^metaproto_request_duration_microseconds use base unit "seconds" instead of "microseconds"$' "$WORK/promtool.out"; then
    die "promtool check metrics reports more than Envoy makes unavoidable on $(basename "$scrape") (above)"
  fi
  log "ok   $(basename "$scrape"): $(grep -c '^metaproto_' "$scrape") samples; promtool: $(grep -c 'no help text' "$WORK/promtool.out") 'no help text', $(grep -c 'base unit' "$WORK/promtool.out") 'use base unit'"
done

if [ -n "${UPDATE_SCREENSHOT:-}" ]; then
  cp "$WORK/status-page.png" "$REPO/docs/status-page.png"
  log "screenshot copied to docs/status-page.png"
fi
log "PASS: Prometheus and the status page agree with the client and with Envoy; screenshot $WORK/status-page.png"
