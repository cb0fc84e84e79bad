#!/usr/bin/env bash
# Router mode end to end (README "Router mode"): real Apache Dubbo Java providers in subsets v1, v2 and
# shadow of one router-mode Service, a stock Envoy configured only over ADS by `metaproto serve` (state
# of the world, then delta), and ONE consumer connection held for the whole scenario
# (test/router/held_client.js):
#   - its 2,000 sayHello calls split per request between v1 and v2 by the weights (90/10) within 3
#     points; the client's answers, the providers' own logs and Envoy's cluster stats count the same;
#   - a per-method route: every fail() call goes to v2 (the providers say who served them), and its
#     local rate limit (5 calls) answers the next ones with Dubbo status 100 (HCM's 429);
#   - authz (codec.policy.authz) as HCM's RBAC: forbidden() calls get Dubbo status 40 (HCM's 403);
#   - a route with a 500 ms timeout to a server that never answers: the client gets Dubbo status 31;
#   - the weights moved to 0/100 while the connection stays open: its next calls all go to v2 (an RDS
#     update; no listener or cluster is replaced), and HCM saw one downstream connection throughout.
# And Service flaky, two endpoints of which one is a port nobody listens on, with retries, outlier
# detection and a raised max_retries: oneway calls are not retried (the live provider serves only its
# share), two-way calls all succeed on the live provider (Envoy retried the others), the dead endpoint
# is ejected and later calls need no retry.
# Then `metaproto bootstrap --static` on the same model, no control plane, with every request of the
# weighted route mirrored to the shadow subset: the client sees one answer per call, the shadow serves a
# copy of each; and the real Java consumer's whole run (sayHello, fail, oneway, echo of a rich object,
# 1 s heartbeats), its oneway delivered once (and mirrored once).
#   bash test/router/test.sh        (after ./build.sh build)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=router
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

for module in dubbo_bridge; do
  [ -f "$REPO/dist/wasm/$module.wasm" ] || die "dist/wasm/$module.wasm is missing: run ./build.sh build"
done
[ -f "$REPO/build/cp/control-plane/cli/main.js" ] || die "the control plane is not compiled: run ./build.sh build"
WORK=$(mktemp -d)
log "work dir $WORK"
metaproto() { node "$REPO/control-plane/bin/metaproto.js" "$@"; }

# Calls per batch, and the weights of the first split (issue 17: 90/10 over 2,000 calls, within 3 points).
SPLIT_CALLS=2000
V1_WEIGHT=90
SPLIT_POINTS=3

bash "$REPO/test/dubbo/java/run.sh" build
V1_PORT=$(free_port); V2_PORT=$(free_port); SHADOW_PORT=$(free_port)
# A port nobody listens on: flaky's dead endpoint (the live one is the shadow provider).
DEAD_PORT=$(free_port)
for subset in v1 v2 shadow; do
  port_var=${subset^^}_PORT
  start_child "Dubbo provider $subset" "$WORK/provider-$subset.log" bash "$REPO/test/dubbo/java/run.sh" provider "${!port_var}"
done
# A server that accepts and never answers, the one endpoint of the Service "stuck".
BLACKHOLE_PORT=$(free_port)
start_child blackhole "$WORK/blackhole.log" node -e 'require("net").createServer((s) => s.on("data", () => {})).listen(+process.argv[1], "127.0.0.1")' "$BLACKHOLE_PORT"
for subset in v1 v2 shadow; do
  wait_for "Dubbo provider $subset" 90 grep -q "PROVIDER READY" "$WORK/provider-$subset.log" \
    || { cat "$WORK/provider-$subset.log" >&2; die "provider $subset did not start"; }
done

write_config() { # file weight_v1 weight_v2 [mirror subset]
  cat >"$1.new" <<YAML
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: greeter }
spec:
  protocol: dubbo
  mode: router
  port: $LISTEN_PORT
  codec: { policy: { authz: { rules: [{ action: deny, match: { method: { exact: forbidden } } }] } } }
  subsets:
  - { name: v1, endpoints: [{ address: 127.0.0.1, port: $V1_PORT }] }
  - { name: v2, endpoints: [{ address: 127.0.0.1, port: $V2_PORT }] }
  - { name: shadow, endpoints: [{ address: 127.0.0.1, port: $SHADOW_PORT }] }
---
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: flaky }
spec:
  protocol: dubbo
  mode: router
  port: $FLAKY_LISTEN_PORT
  outlierDetection: { consecutive5xx: 5, baseEjectionTime: 60s, maxEjectionPercent: 50 }
  circuitBreakers: { maxRetries: 1000 }
  subsets:
  - name: pool
    endpoints: [{ address: 127.0.0.1, port: $DEAD_PORT }, { address: 127.0.0.1, port: $SHADOW_PORT }]
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: flaky }
spec:
  hosts: [flaky]
  routes:
  - route: [{ destination: { host: flaky, subset: pool } }]
    retries: { attempts: 3, retryOn: [reset, connect-failure] }
---
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: stuck }
spec:
  protocol: dubbo
  mode: router
  port: $STUCK_LISTEN_PORT
  subsets: [{ name: all, endpoints: [{ address: 127.0.0.1, port: $BLACKHOLE_PORT }] }]
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: greeter }
spec:
  hosts: [greeter]
  routes:
  - name: fail-to-v2
    match: { attributes: { method: { exact: fail } } }
    route: [{ destination: { host: greeter, subset: v2 } }]
    localRateLimit: { tokenBucket: { maxTokens: $FAIL_TOKENS, tokensPerFill: 1, fillInterval: 60m } }
  - name: hang-times-out
    match: { attributes: { method: { exact: hang } } }
    route: [{ destination: { host: stuck } }]
    timeout: 500ms
  - name: by-weight
    route:
    - { destination: { host: greeter, subset: v1 }, weight: $2 }
    - { destination: { host: greeter, subset: v2 }, weight: $3 }
    retries: { attempts: 2 }
$([ -z "${4:-}" ] || echo "    mirror: { host: greeter, subset: $4 }")
YAML
  # Saved the way editors do: a new file renamed over the old one.
  mv "$1.new" "$1"
}

stat() { curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=^$1\$" | awk -F': ' -v name="$1" '$1 == name { print $2 }'; }
# The sum of the stats whose names match an extended regex (a filter's stats under a prefix it chooses).
stat_sum() { curl -sfg "http://127.0.0.1:$ADMIN_PORT/stats?filter=$1" | awk -F': ' '{ sum += $2 } END { print sum + 0 }'; }
# What the providers themselves served (each logs one line per call).
served() { grep -c "PROVIDER $2" "$WORK/provider-$1.log" || true; }
oneways() { grep -c "ONEWAY RECEIVED" "$WORK/provider-$1.log" || true; }
# Calls fail-to-v2's local rate limit lets through: its bucket holds that many and gains one an hour.
FAIL_TOKENS=5
# One field of a JSON line (a dotted path; absent: 0).
field() { node -e 'let v = JSON.parse(process.argv[1]); for (const k of process.argv[2].split(".")) v = v == null ? undefined : v[k]; console.log(v ?? 0)' "$1" "$2"; }
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# A batch of calls on the held connection; prints the client's JSON report.
batch() { # method count
  local report
  echo "$1 $2" >&"${HELD[1]}"
  read -r -t 60 report <&"${HELD[0]}" || die "the held connection did not answer $2 $1 calls"
  [ "$(field "$report" error)" = 0 ] || die "held client: $report"
  printf '%s\n' "$report"
}

scenario() { # sotw | delta
  local api=$1 run="$WORK/$1"
  mkdir -p "$run"
  XDS_PORT=$(free_port); ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port); STUCK_LISTEN_PORT=$(free_port); FLAKY_LISTEN_PORT=$(free_port)
  log "[$api] metaproto serve + Envoy on $api xDS; Service greeter in router mode on :$LISTEN_PORT, weights v1/v2 $V1_WEIGHT/$((100 - V1_WEIGHT))"
  write_config "$run/config.yaml" "$V1_WEIGHT" $((100 - V1_WEIGHT))
  metaproto validate "$run/config.yaml" >&2
  metaproto bootstrap --node "router-$api" --xds "127.0.0.1:$XDS_PORT" --admin-port "$ADMIN_PORT" --stats-flush-interval 1s \
    $([ "$api" = delta ] && echo --delta) -o "$run/envoy.yaml"
  start_child "metaproto serve" "$run/serve.log" node "$REPO/control-plane/bin/metaproto.js" serve "$run/config.yaml" \
    --listen "127.0.0.1:$XDS_PORT" --http-listen "127.0.0.1:$(free_port)" --debounce 100 \
    --wasm-dir "$REPO/dist/wasm" --pin-dir "$run/pinned"
  local serve_pid=${CHILD_PIDS[-1]}
  start_envoy "$run/envoy.yaml" "$ADMIN_PORT" "$run/envoy.log"
  wait_for "listener :$LISTEN_PORT and its routes (over ADS)" 30 sh -c "[ \"\$(curl -sf 'http://127.0.0.1:$ADMIN_PORT/stats?filter=^http\\.greeter\\.rds\\.greeter\\.update_success\$' | awk -F': ' '{print \$2}')\" -ge 1 ] && [ \"\$(curl -sf 'http://127.0.0.1:$ADMIN_PORT/stats?filter=^listener_manager\\.total_listeners_active\$' | awk -F': ' '{print \$2}')\" = 6 ]" \
    || { tail -n 30 "$run/envoy.log" "$run/serve.log" >&2; die "Envoy never activated the router-mode listeners pushed by metaproto serve"; }

  local v1_before v2_before fails_v1 fails_v2 report to_v1 to_v2
  v1_before=$(served v1 sayHello); v2_before=$(served v2 sayHello)
  fails_v1=$(served v1 fail); fails_v2=$(served v2 fail)
  coproc HELD { exec node "$REPO/test/router/held_client.js" 127.0.0.1 "$LISTEN_PORT" 20 30000; }
  CHILD_PIDS+=("$HELD_PID")
  local held_pid=$HELD_PID

  log "[$api] $SPLIT_CALLS sayHello on one connection: split per request by the weights"
  report=$(batch sayHello "$SPLIT_CALLS")
  echo "$report" >&2
  to_v1=$(field "$report" "per_provider.$V1_PORT"); to_v2=$(field "$report" "per_provider.$V2_PORT")
  [ "$(field "$report" replies)" = "$SPLIT_CALLS" ] && [ "$(field "$report" statuses.20)" = "$SPLIT_CALLS" ] \
    || die "not every call was answered OK: $report"
  [ $((to_v1 + to_v2)) = "$SPLIT_CALLS" ] || die "answers came from elsewhere than v1 and v2: $report"
  # Within SPLIT_POINTS percentage points of the weight (90/10 over 2,000: 1,800 +- 60, 4.5 binomial sigma).
  [ $(( (to_v1 * 100 - V1_WEIGHT * SPLIT_CALLS) * (to_v1 * 100 - V1_WEIGHT * SPLIT_CALLS) )) -le $(( (SPLIT_POINTS * SPLIT_CALLS) * (SPLIT_POINTS * SPLIT_CALLS) )) ] \
    || die "the split is not $V1_WEIGHT/$((100 - V1_WEIGHT)) within $SPLIT_POINTS points: v1 got $to_v1 of $SPLIT_CALLS"
  [ $(( $(served v1 sayHello) - v1_before )) = "$to_v1" ] && [ $(( $(served v2 sayHello) - v2_before )) = "$to_v2" ] \
    || die "the providers' own counts ($(( $(served v1 sayHello) - v1_before )), $(( $(served v2 sayHello) - v2_before ))) differ from the answers ($to_v1, $to_v2)"
  [ "$(stat cluster.greeter.v1.upstream_rq_total)" = "$to_v1" ] && [ "$(stat cluster.greeter.v2.upstream_rq_total)" = "$to_v2" ] \
    || die "Envoy's cluster stats ($(stat cluster.greeter.v1.upstream_rq_total), $(stat cluster.greeter.v2.upstream_rq_total)) differ from the answers ($to_v1, $to_v2)"
  log "[$api] split v1 $to_v1 / v2 $to_v2 (providers and Envoy's cluster stats agree)"

  log "[$api] the per-method route: fail() calls on the same connection all go to v2"
  report=$(batch fail 5)
  echo "$report" >&2
  [ "$(field "$report" replies)" = 5 ] || die "fail() calls were not all answered: $report"
  [ $(( $(served v2 fail) - fails_v2 )) = 5 ] && [ "$(served v1 fail)" = "$fails_v1" ] \
    || die "fail() went to v1 $(( $(served v1 fail) - fails_v1 )) times, to v2 $(( $(served v2 fail) - fails_v2 )) times; expected v2 5 times"

  log "[$api] fail-to-v2's local rate limit ($FAIL_TOKENS calls) spent: 3 more fail() calls get Dubbo status 100 (HCM's 429), none reaches v2"
  report=$(batch fail 3)
  echo "$report" >&2
  [ "$(field "$report" statuses.100)" = 3 ] || die "the rate-limited calls did not come back as Dubbo status 100: $report"
  [ $(( $(served v2 fail) - fails_v2 )) = 5 ] || die "v2 served $(( $(served v2 fail) - fails_v2 )) fail() calls, expected the 5 before the limit"
  [ "$(stat_sum 'fail-to-v2.*local_rate_limit\.rate_limited$')" = 3 ] \
    || die "Envoy's local rate limit counted $(stat_sum 'fail-to-v2.*local_rate_limit\.rate_limited$') rate-limited requests, expected 3: $(curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=local_rate_limit")"

  log "[$api] authz denies forbidden(): HCM's RBAC answers 403, the client gets Dubbo status 40"
  report=$(batch forbidden 2)
  echo "$report" >&2
  [ "$(field "$report" statuses.40)" = 2 ] || die "the denied calls did not come back as Dubbo status 40: $report"
  [ "$(stat http.greeter.rbac.denied)" = 2 ] || die "HCM's RBAC counted $(stat http.greeter.rbac.denied) denials, expected 2"

  log "[$api] a route with a 500 ms timeout to a server that never answers: Dubbo status 31 (SERVER_TIMEOUT)"
  report=$(batch hang 3)
  echo "$report" >&2
  [ "$(field "$report" statuses.31)" = 3 ] || die "the timed-out calls did not come back as Dubbo status 31: $report"
  [ "$(stat cluster.stuck.upstream_rq_timeout)" = 3 ] || die "Envoy counted $(stat cluster.stuck.upstream_rq_timeout) route timeouts on cluster stuck, expected 3"

  log "[$api] weights to 0/100 while the connection stays open: its next calls all go to v2"
  local rds_before lds_before
  rds_before=$(stat http.greeter.rds.greeter.update_success)
  lds_before="$(stat listener_manager.lds.update_attempt) $(stat cluster_manager.cds.update_attempt)"
  write_config "$run/config.yaml" 0 100
  wait_for "the new routes in Envoy (RDS)" 15 sh -c "[ \"\$(curl -sf 'http://127.0.0.1:$ADMIN_PORT/stats?filter=^http\\.greeter\\.rds\\.greeter\\.update_success\$' | awk -F': ' '{print \$2}')\" -gt $rds_before ]" \
    || { tail -n 20 "$run/serve.log" >&2; die "the weight change never reached Envoy"; }
  report=$(batch sayHello 100)
  echo "$report" >&2
  [ "$(field "$report" "per_provider.$V2_PORT")" = 100 ] || die "after 0/100 the held connection's calls did not all go to v2: $report"
  [ "$(stat listener_manager.lds.update_attempt) $(stat cluster_manager.cds.update_attempt)" = "$lds_before" ] \
    || die "the weight change reached Envoy as an LDS or CDS update, not RDS only"

  log "[$api] HCM saw one downstream connection and every call as an HTTP/2 stream"
  local calls=$((SPLIT_CALLS + 5 + 100))
  [ "$(stat http.greeter.downstream_cx_total)" = 1 ] || die "HCM saw $(stat http.greeter.downstream_cx_total) downstream connections, expected the one held"
  [ "$(stat http.greeter.downstream_cx_http2_total)" = 1 ] || die "the bridge's connection to HCM was not HTTP/2"
  [ "$(stat http.greeter.downstream_rq_total)" = $((calls + 3 + 5)) ] && [ "$(stat http.greeter.downstream_rq_2xx)" = "$calls" ] \
    && [ "$(stat http.greeter.downstream_rq_5xx)" = 3 ] && [ "$(stat http.greeter.downstream_rq_4xx)" = 5 ] \
    || die "HCM counted $(stat http.greeter.downstream_rq_total) requests ($(stat http.greeter.downstream_rq_2xx) 2xx, $(stat http.greeter.downstream_rq_4xx) 4xx, $(stat http.greeter.downstream_rq_5xx) 5xx), expected $((calls + 8)) ($calls 2xx, 3 rate-limited and 2 denied, 3 timeouts)"
  curl -sfg "http://127.0.0.1:$ADMIN_PORT/stats?filter=^(http\.greeter\.downstream_(cx_total|rq_total|rq_2xx|rq_4xx|rq_5xx)|http\.greeter\.rbac\..*|greeter\..*local_rate_limit.*|cluster\.stuck\.upstream_rq_timeout|cluster\.greeter\.v[12]\.upstream_rq_total|tcp\.bridge\.greeter\.downstream_cx_total)\$" >&2

  flaky "$api"

  exec {HELD[1]}>&-
  wait "$held_pid" || die "the held client did not end cleanly"
  stop_pid "$ENVOY_PID"
  stop_pid "$serve_pid"
}

# Service flaky: endpoints [a port nobody listens on, the shadow provider], retries (3, reset and
# connect-failure), outlier detection (5 consecutive 5xx: more than the oneways give it), max_retries 1000.
flaky() { # api
  local api=$1 shadow_before report
  log "[$api] flaky: 4 oneway calls, round robin over the dead and the live endpoint: not retried, the live provider serves only its 2"
  shadow_before=$(served shadow sayHello)
  node "$REPO/test/router/oneway_client.js" 127.0.0.1 "$FLAKY_LISTEN_PORT" 4 >&2 || die "the oneway client failed"
  wait_for "the live endpoint served its oneways" 10 sh -c "[ \$(grep -c 'PROVIDER sayHello' '$WORK/provider-shadow.log') -ge $((shadow_before + 2)) ]" || true
  sleep 1
  [ $(( $(served shadow sayHello) - shadow_before )) = 2 ] && [ "$(stat cluster.flaky.pool.upstream_rq_retry)" = 0 ] \
    || die "oneways: the live provider served $(( $(served shadow sayHello) - shadow_before )) of 4 (expected 2: the dead endpoint's were not retried), Envoy retried $(stat cluster.flaky.pool.upstream_rq_retry)"

  log "[$api] flaky: 200 calls, 20 in flight: every one answered by the live endpoint; Envoy retried the dead one's and ejected it"
  shadow_before=$(served shadow sayHello)
  report=$(node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$FLAKY_LISTEN_PORT" 200 20 30000) || die "flaky: the calls were not all answered: $report"
  echo "$report" >&2
  [ "$(field "$report" statuses.20)" = 200 ] && [ "$(field "$report" "per_provider.$SHADOW_PORT")" = 200 ] || die "flaky: not every call was answered OK by the live endpoint: $report"
  [ $(( $(served shadow sayHello) - shadow_before )) = 200 ] || die "flaky: the live provider served $(( $(served shadow sayHello) - shadow_before )), expected 200"
  local retries
  retries=$(stat cluster.flaky.pool.upstream_rq_retry)
  [ "$retries" -ge 1 ] && [ "$(stat cluster.flaky.pool.upstream_rq_retry_success)" = "$retries" ] && [ "$(stat cluster.flaky.pool.upstream_rq_retry_overflow)" = 0 ] \
    || die "flaky: Envoy retried $retries (success $(stat cluster.flaky.pool.upstream_rq_retry_success), overflow $(stat cluster.flaky.pool.upstream_rq_retry_overflow))"
  [ "$(stat cluster.flaky.pool.outlier_detection.ejections_enforced_total)" -ge 1 ] && [ "$(stat cluster.flaky.pool.outlier_detection.ejections_active)" = 1 ] \
    || die "flaky: the dead endpoint was not ejected (enforced $(stat cluster.flaky.pool.outlier_detection.ejections_enforced_total), active $(stat cluster.flaky.pool.outlier_detection.ejections_active))"
  report=$(node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$FLAKY_LISTEN_PORT" 100 20 30000) || die "flaky: the calls after the ejection were not all answered: $report"
  [ "$(field "$report" "per_provider.$SHADOW_PORT")" = 100 ] && [ "$(stat cluster.flaky.pool.upstream_rq_retry)" = "$retries" ] \
    || die "flaky: after the ejection calls still needed retries ($(stat cluster.flaky.pool.upstream_rq_retry), was $retries): $report"
  log "[$api] flaky: 300 of 300 answered by the live endpoint; $retries retries, all before the ejection"
  curl -sfg "http://127.0.0.1:$ADMIN_PORT/stats?filter=^cluster\.flaky\.pool\.(upstream_rq_(total|retry.*)|outlier_detection\.ejections_(enforced_total|active))\$" >&2
}

scenario sotw
scenario delta

log "metaproto bootstrap --static: the same model inlined (routes in HCM's route_config), no control plane; every weighted call mirrored to the shadow subset"
RUN="$WORK/static"; mkdir -p "$RUN"; ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port); STUCK_LISTEN_PORT=$(free_port); FLAKY_LISTEN_PORT=$(free_port)
write_config "$RUN/config.yaml" 50 50 shadow
metaproto bootstrap --static "$RUN/config.yaml" --admin-port "$ADMIN_PORT" --stats-flush-interval 1s -o "$RUN/envoy.yaml"
start_envoy "$RUN/envoy.yaml" "$ADMIN_PORT" "$RUN/envoy.log"
v1_before=$(served v1 sayHello); v2_before=$(served v2 sayHello); shadow_before=$(served shadow sayHello)
report=$(node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$LISTEN_PORT" 200 20 30000) || die "static: the calls were not all answered: $report"
echo "$report" >&2
to_v1=$(field "$report" "per_provider.$V1_PORT"); to_v2=$(field "$report" "per_provider.$V2_PORT")
[ "$to_v1" -gt 0 ] && [ "$to_v2" -gt 0 ] && [ $((to_v1 + to_v2)) = 200 ] || die "static: 200 calls at 50/50 did not reach both providers: $report"
[ "$(stat http.greeter.downstream_rq_2xx)" = 200 ] || die "static: HCM counted $(stat http.greeter.downstream_rq_2xx) 2xx requests, expected 200"
# Mirrors are sent beside the calls and their answers dropped: the shadow serves a copy of every call,
# and no answer the client got came from it.
[ "$(field "$report" "per_provider.$SHADOW_PORT")" = 0 ] || die "static: the client got answers from the shadow: $report"
wait_for "the shadow served 200 mirrored copies" 15 sh -c "[ \$(grep -c 'PROVIDER sayHello' '$WORK/provider-shadow.log') = $((shadow_before + 200)) ]" \
  || die "static: the shadow served $(( $(served shadow sayHello) - shadow_before )), expected 200 mirrored copies"
[ $(( $(served v1 sayHello) - v1_before )) = "$to_v1" ] && [ $(( $(served v2 sayHello) - v2_before )) = "$to_v2" ] \
  || die "static: v1 served $(( $(served v1 sayHello) - v1_before )), v2 $(( $(served v2 sayHello) - v2_before )); expected $to_v1, $to_v2"
[ "$(stat cluster.greeter.shadow.upstream_rq_total)" = 200 ] || die "static: cluster greeter.shadow counted $(stat cluster.greeter.shadow.upstream_rq_total) requests, expected 200"
log "static: v1 $to_v1, v2 $to_v2, the shadow 200 mirrored copies; the client saw 200 answers, none from the shadow"
log "static: the Java consumer's run, idle 3.5 s after its calls with 1 s heartbeats (they travel as streams too)"
rq_before=$(stat http.greeter.downstream_rq_total)
oneways_before=$(( $(oneways v1) + $(oneways v2) )); shadow_oneways_before=$(oneways shadow)
timeout 120 bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$LISTEN_PORT" --count 3 \
  --heartbeat 1000 --pause 3500 >"$RUN/consumer.out" 2>"$RUN/consumer.err" || { tail -n 30 "$RUN/consumer.err" >&2; die "the Java consumer failed"; }
grep '^SUMMARY' "$RUN/consumer.out" >&2 || true
grep -q '^SUMMARY ok=4 failed=1 oneway=1' "$RUN/consumer.out" || { tail -n 30 "$RUN/consumer.err" >&2; die "the Java consumer's run did not complete through router mode"; }
# Its 6 calls (3 sayHello, fail, oneway, echo); anything beyond is a heartbeat stream.
heartbeats=$(( $(stat http.greeter.downstream_rq_total) - rq_before - 6 ))
[ "$heartbeats" -ge 1 ] || die "no heartbeat streams from the Java consumer"
# Its oneway crossed the weighted route, which has retries: delivered once, and mirrored once.
wait_for "the shadow got the oneway's mirrored copy" 10 sh -c "[ \$(grep -c 'ONEWAY RECEIVED' '$WORK/provider-shadow.log') -gt $shadow_oneways_before ]" || true
[ $(( $(oneways v1) + $(oneways v2) - oneways_before )) = 1 ] && [ $(( $(oneways shadow) - shadow_oneways_before )) = 1 ] \
  || die "static: the Java consumer's oneway reached v1/v2 $(( $(oneways v1) + $(oneways v2) - oneways_before )) times and the shadow $(( $(oneways shadow) - shadow_oneways_before )) times, expected once each"
log "static: the Java consumer's run completed; $heartbeats heartbeat streams"
stop_pid "$ENVOY_PID"
log "router rig passed"
