#!/usr/bin/env bash
# Dubbo through a stock Envoy running dist/wasm/dubbo.wasm, with real peers:
# Apache Dubbo Java 3.3.6 provider and consumer, and the npm dubbo2.js client.
# Asserts Envoy's /stats/prometheus against what the clients saw.
#   bash test/dubbo/test.sh              # run, assert, stop everything
#   KEEP_RUNNING=1 bash test/dubbo/test.sh   # leave Envoy and the provider up until Ctrl-C
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=dubbo
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

WASM="$REPO/dist/wasm/dubbo.wasm"
[ -f "$WASM" ] || die "$WASM is missing: run ./build.sh first"
WORK=$(mktemp -d)
log "work dir $WORK"

log "building the Java peers (first run resolves Dubbo from Maven Central)"
bash "$REPO/test/dubbo/java/run.sh" build

PROVIDER_PORT=$(free_port); ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port)
start_child provider "$WORK/provider.log" bash "$REPO/test/dubbo/java/run.sh" provider "$PROVIDER_PORT"
wait_for "Dubbo provider :$PROVIDER_PORT" 60 grep -q "PROVIDER READY" "$WORK/provider.log" \
  || { cat "$WORK/provider.log" >&2; die "the provider did not start"; }

metaproto_bootstrap "$ADMIN_PORT" "$LISTEN_PORT" "$PROVIDER_PORT" "$WASM" '{"max_buffered_bytes": 1048576}' >"$WORK/envoy.yaml"
start_envoy "$WORK/envoy.yaml" "$ADMIN_PORT" "$WORK/envoy.log"

log "Java consumer -> Envoy :$LISTEN_PORT -> provider :$PROVIDER_PORT"
bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$LISTEN_PORT" --count 3 \
  --attach trace=abc --attach tenant=t1 | tee "$WORK/java-consumer.out"
grep -q '^SUMMARY ' "$WORK/java-consumer.out" || die "the Java consumer did not finish"

log "npm dubbo2.js client -> Envoy"
node "$REPO/test/dubbo/node-client.js" 127.0.0.1 "$LISTEN_PORT" 3 | tee "$WORK/node-client.out"

MALFORMED="GET / HTTP/1.1\r\nHost: x\r\n\r\n"
MALFORMED_BYTES=27
log "a malformed frame (HTTP bytes on the Dubbo port) -> Envoy"
node -e '
  const s = require("net").connect(+process.argv[1], "127.0.0.1", () => s.end(process.argv[2].replace(/\\r\\n/g, "\r\n")));
  s.on("data", () => {}); s.on("close", () => process.exit(0)); s.on("error", () => process.exit(0));
  setTimeout(() => { s.destroy(); process.exit(0); }, 3000);' "$LISTEN_PORT" "$MALFORMED"

log "Envoy still serves the next connection"
node "$REPO/test/dubbo/node-client.js" 127.0.0.1 "$LISTEN_PORT" 1 | tee -a "$WORK/node-client.out"

# What the clients saw is the expectation; Envoy's metrics must agree with it.
hello_calls=$(cat "$WORK/java-consumer.out" "$WORK/node-client.out" | grep -c 'response from' || true)
echo_calls=$(grep -c '^ECHO OK' "$WORK/java-consumer.out" || true)
failed_calls=$(cat "$WORK/java-consumer.out" "$WORK/node-client.out" | grep -c '^EXPECTED FAILURE' || true)
oneway_calls=$(sed -n 's/.*oneway=\([0-9]*\).*/\1/p' "$WORK/java-consumer.out")
[ "$hello_calls" -ge 3 ] || die "expected at least 3 'response from' lines, saw $hello_calls"
# Every byte the clients sent, but the malformed connection's, belongs to a decoded call.
rx_bytes=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=^tcp\.metaproto\.downstream_cx_rx_bytes_total$" | awk '{print $2}')
[ -n "$rx_bytes" ] || die "Envoy reports no tcp.metaproto.downstream_cx_rx_bytes_total"

python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$ADMIN_PORT" --wait 10 \
  --expect "metaproto_requests_total{protocol=dubbo,service=io.metaproto.demo.GreetingService,method=sayHello,response_status=ok,response_code=20} == $hello_calls" \
  --expect "metaproto_request_duration_microseconds_count{protocol=dubbo,service=io.metaproto.demo.GreetingService,method=sayHello} == $hello_calls" \
  --expect "metaproto_requests_total{protocol=dubbo,service=io.metaproto.demo.GreetingService,method=echo,response_status=ok,response_code=20} == $echo_calls" \
  --expect "metaproto_requests_total{protocol=dubbo,service=io.metaproto.demo.GreetingService,method=fail,response_status=server_error,response_code=20} == $failed_calls" \
  --expect "metaproto_requests_total{protocol=dubbo,service=io.metaproto.demo.GreetingService,method=notifyOneway,response_status=no_response,response_code=oneway} == $oneway_calls" \
  --expect "metaproto_decode_errors_total{protocol=dubbo,direction=downstream,reason=bad_magic} == 1" \
  --expect "metaproto_request_bytes_total{protocol=dubbo} == $((rx_bytes - MALFORMED_BYTES))" \
  --expect "metaproto_response_bytes_total{protocol=dubbo,service=io.metaproto.demo.GreetingService,method=sayHello} > 0"


# --- Policies: a second Envoy whose plugin denies `fail` and rewrites sayHello's attachments. The
# provider never sees a denied call (its own count of fail calls stays put); each client gets the
# proxy's error response in its place; the provider receives the rewritten attachments.
POLICY_ADMIN=$(free_port); POLICY_PORT=$(free_port)
metaproto_bootstrap "$POLICY_ADMIN" "$POLICY_PORT" "$PROVIDER_PORT" "$WASM" \
  '{"policy": {"authz": {"rules": [{"action": "deny", "match": {"method": {"exact": "fail"}}}]},
    "mutations": [{"match": {"method": {"exact": "sayHello"}}, "set": {"x-canary": "yes"}, "remove": ["trace"]}]}}' >"$WORK/envoy-policy.yaml"
start_envoy "$WORK/envoy-policy.yaml" "$POLICY_ADMIN" "$WORK/envoy-policy.log"
provider_fails_before=$(grep -c 'PROVIDER fail' "$WORK/provider.log" || true)
log "Java consumer through the policy listener: fail() denied, then oneway and echo on the same connection"
mutated_before=$(grep -c 'PROVIDER sayHello attachments .*x-canary=yes' "$WORK/provider.log" || true)
bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$POLICY_PORT" --count 2 --fail-denied --attach trace=abc \
  | tee "$WORK/java-policy.out"
grep -q '^DENIED: .*denied by MetaProto authz policy' "$WORK/java-policy.out" || die "the Java consumer did not see the denial"
grep -q '^SUMMARY ' "$WORK/java-policy.out" || die "the Java consumer did not finish after the denial"
log "dubbo2.js through the policy listener"
node "$REPO/test/dubbo/node-client.js" 127.0.0.1 "$POLICY_PORT" 1 denied | tee "$WORK/node-policy.out"
grep -q '^NODE CLIENT OK' "$WORK/node-policy.out" || die "dubbo2.js did not finish after the denial"
[ "$(grep -c 'PROVIDER fail' "$WORK/provider.log" || true)" = "$provider_fails_before" ] || die "a denied fail() reached the provider"
# The mutation, as the provider received it: x-canary set, trace removed, on every sayHello (2 + 2).
mutated=$(( $(grep -c 'PROVIDER sayHello attachments .*x-canary=yes' "$WORK/provider.log" || true) - mutated_before ))
[ "$mutated" = 4 ] || die "the provider saw x-canary=yes on $mutated sayHello calls, expected 4"
! grep 'PROVIDER sayHello attachments .*x-canary=yes' "$WORK/provider.log" | grep -q 'trace=' || die "the provider still got the removed trace attachment"
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$POLICY_ADMIN" --wait 10 \
  --expect "metaproto_local_replies_total{protocol=dubbo,reason=denied} == 2" \
  --expect "metaproto_requests_total{protocol=dubbo,method=fail,response_status=client_error,response_code=40} == 2" \
  --expect "metaproto_requests_total{protocol=dubbo,method=sayHello,response_status=ok} == 4" \
  --expect "metaproto_requests_total{protocol=dubbo,method=echo,response_status=ok} == 1" \
  --expect "metaproto_mutations_total{protocol=dubbo,reason=applied} == 4" \
  --expect "metaproto_policy_closes_total{protocol=dubbo} == 0" \
  --expect "metaproto_decode_errors_total{protocol=dubbo} == 0"


# --- Rate limit and faults: a third Envoy. Calls tagged plan=free draw from a bucket of 2 tokens
# (status 100 beyond it), chaos=abort gets the proxy's fault (status 80) instead of the provider's
# answer, chaos=delay is held 300 ms. Refused calls never reach the provider.
DELAY_MS=300
LIMITS_ADMIN=$(free_port); LIMITS_PORT=$(free_port)
metaproto_bootstrap "$LIMITS_ADMIN" "$LIMITS_PORT" "$PROVIDER_PORT" "$WASM" \
  '{"policy": {"rate_limits": [{"name": "free-plan", "match": {"attributes": [{"name": "plan", "exact": "free"}]}, "max_tokens": 2, "tokens_per_fill": 1, "fill_interval_ms": 600000}],
    "faults": [{"match": {"attributes": [{"name": "chaos", "exact": "abort"}]}, "abort": {"percentage": 100}},
      {"match": {"attributes": [{"name": "chaos", "exact": "delay"}]}, "delay": {"duration_ms": '"$DELAY_MS"'}}]}}' >"$WORK/envoy-limits.yaml"
start_envoy "$WORK/envoy-limits.yaml" "$LIMITS_ADMIN" "$WORK/envoy-limits.log"
provider_fails_before=$(grep -c 'PROVIDER fail' "$WORK/provider.log" || true)
free_before=$(grep -c 'PROVIDER sayHello attachments .*plan=free' "$WORK/provider.log" || true)
log "dubbo2.js through the limits listener: 5 calls against 2 tokens, an aborted call, a delayed one"
node "$REPO/test/dubbo/node-client.js" 127.0.0.1 "$LIMITS_PORT" 0 limits | tee "$WORK/node-limits.out"
grep -q '^NODE CLIENT OK limits$' "$WORK/node-limits.out" || die "dubbo2.js did not finish the limits scenario"
grep -q '^RATE_ALLOWED 2$' "$WORK/node-limits.out" && grep -q '^RATE_LIMITED 3$' "$WORK/node-limits.out" \
  || die "expected 2 calls allowed and 3 rate limited"
delayed=$(sed -n 's/^DELAYED_MS //p' "$WORK/node-limits.out"); undelayed=$(sed -n 's/^UNDELAYED_MS //p' "$WORK/node-limits.out")
[ "$delayed" -ge "$DELAY_MS" ] || die "the delayed sayHello took $delayed ms, less than $DELAY_MS"
[ "$undelayed" -lt $((DELAY_MS / 2)) ] || die "the sayHello after the delayed one took $undelayed ms: held up by the delay"
[ "$(grep -c 'PROVIDER fail' "$WORK/provider.log" || true)" = "$provider_fails_before" ] || die "the aborted fail() reached the provider"
free_calls=$(( $(grep -c 'PROVIDER sayHello attachments .*plan=free' "$WORK/provider.log" || true) - free_before ))
[ "$free_calls" = 2 ] || die "the provider ran $free_calls plan=free calls, expected the 2 the bucket allows"
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$LIMITS_ADMIN" --wait 10 \
  --expect "metaproto_local_replies_total{protocol=dubbo,reason=rate_limited} == 3" \
  --expect "metaproto_local_replies_total{protocol=dubbo,reason=fault} == 1" \
  --expect "metaproto_requests_total{protocol=dubbo,method=sayHello,response_code=100} == 3" \
  --expect "metaproto_requests_total{protocol=dubbo,method=fail,response_code=80} == 1" \
  --expect "metaproto_requests_total{protocol=dubbo,method=sayHello,response_status=ok} == 4" \
  --expect "metaproto_policy_closes_total{protocol=dubbo} == 0" \
  --expect "metaproto_decode_errors_total{protocol=dubbo} == 0"


# --- Connection routing: a second provider; a connection whose first call carries tenant=t2 goes to
# it (filter state envoy.tcp_proxy.cluster, tcp_proxy connecting on the first data), others to the first.
PROVIDER_B_PORT=$(free_port); ROUTE_ADMIN=$(free_port); ROUTE_PORT=$(free_port)
start_child provider-b "$WORK/provider-b.log" bash "$REPO/test/dubbo/java/run.sh" provider "$PROVIDER_B_PORT"
wait_for "Dubbo provider B :$PROVIDER_B_PORT" 60 grep -q "PROVIDER READY" "$WORK/provider-b.log" \
  || { cat "$WORK/provider-b.log" >&2; die "provider B did not start"; }
{
  METAPROTO_CONNECT_ON_DATA=1 metaproto_bootstrap "$ROUTE_ADMIN" "$ROUTE_PORT" "$PROVIDER_PORT" "$WASM" \
    '{"policy": {"routes": [{"match": {"attributes": [{"name": "tenant", "exact": "t2"}]}, "cluster": "provider_b"}]}}'
  metaproto_cluster_yaml provider_b "$PROVIDER_B_PORT"
} >"$WORK/envoy-routes.yaml"
start_envoy "$WORK/envoy-routes.yaml" "$ROUTE_ADMIN" "$WORK/envoy-routes.log"
log "Java consumers through the routing listener: tenant t2 -> provider B, tenant t1 -> provider A"
bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$ROUTE_PORT" --count 2 --attach tenant=t2 | tee "$WORK/java-t2.out"
bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$ROUTE_PORT" --count 2 --attach tenant=t1 | tee "$WORK/java-t1.out"
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$ROUTE_ADMIN" --wait 10 \
  --expect "metaproto_connection_routes_total{protocol=dubbo,reason=routed} == 1" \
  --expect "metaproto_connection_routes_total{protocol=dubbo,reason=default} == 1" \
  --expect "metaproto_connection_routes_total{protocol=dubbo,reason=mismatch} == 0"
[ "$(grep -c "response from .*:$PROVIDER_B_PORT\$" "$WORK/java-t2.out" || true)" = 2 ] || die "tenant t2's calls were not answered by provider B (:$PROVIDER_B_PORT)"
[ "$(grep -c "response from .*:$PROVIDER_PORT\$" "$WORK/java-t1.out" || true)" = 2 ] || die "tenant t1's calls were not answered by provider A (:$PROVIDER_PORT)"

log "PASS: $hello_calls sayHello calls through Envoy + dist/wasm/dubbo.wasm, metrics agree"
if [ -n "${KEEP_RUNNING:-}" ]; then
  log "Envoy admin:   http://127.0.0.1:$ADMIN_PORT/stats/prometheus (metaproto_* lines)"
  log "Dubbo via Envoy: dubbo://127.0.0.1:$LISTEN_PORT  (provider on :$PROVIDER_PORT)"
  log "running until Ctrl-C"
  wait "$ENVOY_PID" || true
fi
