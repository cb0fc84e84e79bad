#!/usr/bin/env bash
# Router-mode spike (docs/router-mode-spike.md): Dubbo through Envoy's HTTP router with real peers.
#   consumer -> [Wasm bridge, side=consumer: Dubbo -> HTTP/2] + HCM (HTTP/2 codec, router)
#            -> cluster of envoy_internal_address endpoints -> internal listener
#               [Wasm bridge, side=provider: HTTP/2 -> Dubbo] + tcp_proxy -> Apache Dubbo provider
# Phase 1: one route to provider A; the Java consumer's whole run (sayHello, fail, oneway, echo);
#   1b: the same with 1 s heartbeats.
# Phase 2: weighted_clusters 50/50 over providers A and B; calls on one consumer connection counted
#          per provider (the provider's reply names its own port).
# Phase 3: HCM's RBAC denies method fail: the consumer gets a Dubbo error and goes on.
# Phase 4: pipelined calls (100 in flight) on one connection, weighted; Envoy CPU per call.
# Phase 5: a route timeout to a server that never answers: Dubbo status 31.
# Phase 6: two endpoints behind ONE internal listener, addressed by endpoint metadata (internal_upstream
#          + original_dst), round robin.
# Phase 7: retries away from an endpoint nobody listens on; outlier detection ejects it.
#   bash test/router/spike.sh                   # SPIKE_CALLS=200 (phase 2), SPIKE_PIPELINED_CALLS=2000 (phase 4)
#   BRIDGE_LOG=debug bash test/router/spike.sh  # the bridge's per-stream lines in Envoy's log
#   HCM_HPACK_TABLE_SIZE=4096 BRIDGE_HEADER_TABLE_SIZE=4096 ...  # Envoy's encoder then uses its dynamic table
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=router-spike
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

WASM="$REPO/dist/wasm/dubbo_bridge.wasm"
[ -f "$WASM" ] || die "$WASM is missing: run ./build.sh build first"
CALLS=${SPIKE_CALLS:-200}
WORK=$(mktemp -d)
log "work dir $WORK"

bash "$REPO/test/dubbo/java/run.sh" build
PROVIDER_A=$(free_port); PROVIDER_B=$(free_port); ADMIN_PORT=$(free_port); SINGLE_PORT=$(free_port); WEIGHTED_PORT=$(free_port)
RBAC_PORT=$(free_port); TIMEOUT_PORT=$(free_port); BLACKHOLE=$(free_port); ENDPOINTS_PORT=$(free_port); RETRY_PORT=$(free_port); NOBODY=$(free_port)
PIPELINED_CALLS=${SPIKE_PIPELINED_CALLS:-2000}
start_child provider-a "$WORK/provider-a.log" bash "$REPO/test/dubbo/java/run.sh" provider "$PROVIDER_A"
start_child provider-b "$WORK/provider-b.log" bash "$REPO/test/dubbo/java/run.sh" provider "$PROVIDER_B"
# A server that accepts and never answers: the route's timeout must reach the consumer as a Dubbo timeout.
start_child blackhole "$WORK/blackhole.log" node -e 'require("net").createServer((s) => s.on("data", () => {})).listen(+process.argv[1], "127.0.0.1")' "$BLACKHOLE"
for p in a b; do
  wait_for "Dubbo provider $p" 90 grep -q "PROVIDER READY" "$WORK/provider-$p.log" \
    || { cat "$WORK/provider-$p.log" >&2; die "provider $p did not start"; }
done

# The Wasm network filter, one side of the bridge.
bridge_filter() { # side
  cat <<YAML
      - name: dubbo_bridge_$1
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm
          config:
            name: dubbo_bridge_$1
            root_id: dubbo_bridge_$1
            configuration:
              "@type": type.googleapis.com/google.protobuf.StringValue
              value: '{"side": "$1", "header_table_size": ${BRIDGE_HEADER_TABLE_SIZE:-0}}'
            vm_config:
              vm_id: dubbo_bridge
              runtime: envoy.wasm.runtime.v8
              code: { local: { filename: "$WASM" } }
YAML
}

# A listener on 127.0.0.1:port: the consumer side of the bridge, then HCM speaking HTTP/2 with it.
router_listener() { # name port route_action_yaml [http_filters_yaml before the router]
  cat <<YAML
  - name: $1
    address: { socket_address: { address: 127.0.0.1, port_value: $2 } }
    filter_chains:
    - filters:
$(bridge_filter consumer)
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
          codec_type: HTTP2
          http2_protocol_options: { hpack_table_size: ${HCM_HPACK_TABLE_SIZE:-0} }
          route_config:
            name: $1
            virtual_hosts:
            - name: dubbo
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:
$3
          http_filters:
${4:-}
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
YAML
}

# HCM's RBAC filter refusing method fail: its 403 local reply must reach the consumer as a Dubbo error.
rbac_deny_fail() {
  cat <<YAML
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules:
                action: DENY
                policies:
                  deny-fail:
                    permissions: [{ header: { name: x-dubbo-method, string_match: { exact: fail } } }]
                    principals: [{ any: true }]
YAML
}

# An internal listener: the provider side of the bridge, then tcp_proxy to the real provider.
provider_listener() { # name cluster
  cat <<YAML
  - name: $1
    internal_listener: {}
    filter_chains:
    - filters:
$(bridge_filter provider)
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: $1
          cluster: $2
YAML
}

# One internal listener for every provider endpoint: the endpoint the router's load balancer picked
# carries its real address as host metadata, which the internal_upstream transport socket passes into
# the internal connection, where the original_dst listener filter makes it the local address that an
# ORIGINAL_DST cluster connects to.
endpoint_listener() {
  cat <<YAML
  - name: bridge_to_endpoint
    internal_listener: {}
    listener_filters:
    - name: envoy.filters.listener.original_dst
      typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst }
    filter_chains:
    - filters:
$(bridge_filter provider)
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: bridge_to_endpoint
          cluster: provider_original_dst
YAML
}

endpoints_cluster() { # name port...
  local name=$1 port; shift
  cat <<YAML
  - name: $name
    connect_timeout: 2s
    outlier_detection: { consecutive_5xx: 3, interval: 1s, base_ejection_time: 30s, max_ejection_percent: 50 }
    lb_policy: ROUND_ROBIN
    # Envoy allows 3 concurrent retries per cluster by default: one dead HTTP/2 connection fails every stream on it at once.
    circuit_breakers: { thresholds: [{ max_retries: 1000 }] }
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: { hpack_table_size: ${HCM_HPACK_TABLE_SIZE:-0} } }
    transport_socket:
      name: envoy.transport_sockets.internal_upstream
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport
        passthrough_metadata:
        - kind: { host: {} }
          name: envoy.filters.listener.original_dst
        transport_socket:
          name: envoy.transport_sockets.raw_buffer
          typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer }
    load_assignment:
      cluster_name: $name
      endpoints:
      - lb_endpoints:
YAML
  for port in "$@"; do
    cat <<YAML
        - endpoint: { address: { envoy_internal_address: { server_listener_name: bridge_to_endpoint, endpoint_id: "127.0.0.1:$port" } } }
          metadata: { filter_metadata: { envoy.filters.listener.original_dst: { local: "127.0.0.1:$port" } } }
YAML
  done
}

# The router's upstream: HTTP/2 to an internal listener.
bridge_cluster() { # name listener
  cat <<YAML
  - name: $1
    connect_timeout: 2s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: { hpack_table_size: ${HCM_HPACK_TABLE_SIZE:-0} } }
    load_assignment:
      cluster_name: $1
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { envoy_internal_address: { server_listener_name: $2 } } }
YAML
}

provider_cluster() { # name port
  cat <<YAML
  - name: $1
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: $1
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $2 } } }
YAML
}

{
  cat <<YAML
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: $ADMIN_PORT } }
bootstrap_extensions:
- name: envoy.bootstrap.internal_listener
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener
static_resources:
  listeners:
YAML
  router_listener dubbo_single "$SINGLE_PORT" "                  cluster: bridge_a"
  router_listener dubbo_weighted "$WEIGHTED_PORT" "                  weighted_clusters:
                    clusters:
                    - { name: bridge_a, weight: 50 }
                    - { name: bridge_b, weight: 50 }"
  router_listener dubbo_rbac "$RBAC_PORT" "                  cluster: bridge_a" "$(rbac_deny_fail)"
  router_listener dubbo_timeout "$TIMEOUT_PORT" "                  cluster: bridge_blackhole
                  timeout: 0.5s"
  router_listener dubbo_endpoints "$ENDPOINTS_PORT" "                  cluster: providers_by_endpoint"
  router_listener dubbo_retries "$RETRY_PORT" "                  cluster: providers_one_dead
                  retry_policy:
                    retry_on: reset,connect-failure
                    num_retries: 3
                    retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts, typed_config: { \"@type\": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate } }]"
  endpoint_listener
  provider_listener bridge_to_a provider_a
  provider_listener bridge_to_blackhole blackhole
  provider_listener bridge_to_b provider_b
  echo "  clusters:"
  bridge_cluster bridge_a bridge_to_a
  bridge_cluster bridge_b bridge_to_b
  bridge_cluster bridge_blackhole bridge_to_blackhole
  endpoints_cluster providers_by_endpoint "$PROVIDER_A" "$PROVIDER_B"
  endpoints_cluster providers_one_dead "$NOBODY" "$PROVIDER_A"
  cat <<YAML
  - name: provider_original_dst
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 2s
YAML
  provider_cluster provider_a "$PROVIDER_A"
  provider_cluster blackhole "$BLACKHOLE"
  provider_cluster provider_b "$PROVIDER_B"
} >"$WORK/envoy.yaml"

bin=$(envoy_bin)
start_child envoy "$WORK/envoy.log" "$bin" -c "$WORK/envoy.yaml" --concurrency 1 --log-level "${ENVOY_LOG_LEVEL:-info}" \
  --component-log-level "wasm:${BRIDGE_LOG:-info}" --base-id "$((ADMIN_PORT % 60000))" --disable-hot-restart
wait_for "envoy (admin :$ADMIN_PORT)" 60 sh -c "curl -sf http://127.0.0.1:$ADMIN_PORT/ready | grep -q LIVE" \
  || { tail -n 40 "$WORK/envoy.log" >&2; die "Envoy did not become ready ($WORK/envoy.log)"; }

stat() { curl -sfg "http://127.0.0.1:$ADMIN_PORT/stats?filter=$1" | awk '{print $2}' | head -n1; }
stats() { curl -sfg "http://127.0.0.1:$ADMIN_PORT/stats?filter=$1"; }

log "phase 1: Java consumer -> :$SINGLE_PORT (route to provider A); sayHello x3, fail, oneway, echo"
set +e
timeout 120 bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$SINGLE_PORT" --count 3 \
  --attach tenant=t1 >"$WORK/phase1.out" 2>"$WORK/phase1.err"
phase1_rc=$?
set -e
cat "$WORK/phase1.out"
[ $phase1_rc -eq 0 ] || { tail -n 30 "$WORK/phase1.err" >&2; log "phase 1: consumer exit $phase1_rc"; }
stats '^http\.dubbo_single\.(downstream_rq_(total|completed|2xx|5xx|active)|downstream_cx_http2_total)$'
stats '^cluster\.bridge_a\.upstream_(rq_total|rq_2xx|cx_http2_total|rq_timeout)$'
grep -c "ONEWAY RECEIVED" "$WORK/provider-a.log" | sed 's/^/provider A oneway calls received: /'

log "phase 1b: Java consumer with 1 s heartbeats, idle 3.5 s after its calls: its heartbeats travel as streams"
hb_before=$(stat '^http\.dubbo_single\.downstream_rq_total$')
set +e
timeout 120 bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$SINGLE_PORT" --count 1 \
  --heartbeat 1000 --pause 3500 >"$WORK/phase1b.out" 2>"$WORK/phase1b.err"
phase1b_rc=$?
set -e
grep '^SUMMARY' "$WORK/phase1b.out" || { tail -n 20 "$WORK/phase1b.err" >&2; log "phase 1b: consumer exit $phase1b_rc"; }
hb_streams=$(( $(stat '^http\.dubbo_single\.downstream_rq_total$') - hb_before - 5 ))
log "phase 1b: $hb_streams streams beyond the 5 calls (heartbeats)"

log "phase 2: Java consumer -> :$WEIGHTED_PORT (weighted 50/50 A/B), $CALLS sayHello on one connection"
set +e
timeout 300 bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$WEIGHTED_PORT" --count "$CALLS" \
  >"$WORK/phase2.out" 2>"$WORK/phase2.err"
phase2_rc=$?
set -e
[ $phase2_rc -eq 0 ] || { tail -n 30 "$WORK/phase2.err" >&2; log "phase 2: consumer exit $phase2_rc"; }
grep '^SUMMARY' "$WORK/phase2.out" || true
to_a=$(grep -c "response from .*:$PROVIDER_A\$" "$WORK/phase2.out" || true)
to_b=$(grep -c "response from .*:$PROVIDER_B\$" "$WORK/phase2.out" || true)
log "phase 2 split: provider A $to_a, provider B $to_b of $CALLS sayHello calls"
stats '^http\.dubbo_weighted\.(downstream_rq_(total|completed|2xx|5xx)|downstream_cx_http2_total)$'
stats '^cluster\.bridge_[ab]\.upstream_(rq_total|rq_2xx|cx_http2_total)$'
stats '^tcp\.bridge_to_[ab]\.downstream_cx_total$'

log "phase 3: Java consumer -> :$RBAC_PORT (HCM RBAC denies method fail): the 403 becomes a Dubbo error, the connection goes on"
fails_before=$(grep -c 'PROVIDER fail' "$WORK/provider-a.log" || true)
set +e
timeout 120 bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$RBAC_PORT" --count 2 --fail-denied \
  >"$WORK/phase3.out" 2>"$WORK/phase3.err"
phase3_rc=$?
set -e
grep -E '^(DENIED|SUMMARY)' "$WORK/phase3.out" || true
[ $phase3_rc -eq 0 ] || { tail -n 30 "$WORK/phase3.err" >&2; log "phase 3: consumer exit $phase3_rc"; }
fails_after=$(grep -c 'PROVIDER fail' "$WORK/provider-a.log" || true)
stats '^http\.dubbo_rbac\.(downstream_rq_(total|2xx|4xx)|rbac\.denied)$'

envoy_pid=${CHILD_PIDS[-1]}
# Envoy's CPU time so far (user + system, in clock ticks), to price a call through the router.
envoy_cpu_ticks() { awk '{print $14 + $15}' "/proc/$envoy_pid/stat"; }
TICKS_PER_SECOND=$(getconf CLK_TCK)

log "phase 4: $PIPELINED_CALLS sayHello, 100 in flight on one connection, weighted 50/50 (replies overtake each other)"
node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$PROVIDER_A" 200 100 >/dev/null || true # JIT warm-up of the provider
direct=$(node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$PROVIDER_A" "$PIPELINED_CALLS" 100 || true)
echo "direct to provider A:     $direct"
node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$WEIGHTED_PORT" 200 100 30000 >/dev/null || true # warm-up of the router path
cpu_before=$(envoy_cpu_ticks)
routed=$(node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$WEIGHTED_PORT" "$PIPELINED_CALLS" 100 30000 || true)
cpu_after=$(envoy_cpu_ticks)
echo "through the router (50/50): $routed"
log "Envoy CPU for those $PIPELINED_CALLS calls: $(( (cpu_after - cpu_before) * 1000 / TICKS_PER_SECOND )) ms"

log "phase 5: route timeout 0.5 s to a server that never answers: 3 calls -> HTTP 504 -> Dubbo status 31"
timed_out=$(node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$TIMEOUT_PORT" 3 3 10000 || true)
echo "$timed_out"
stats '^http\.dubbo_timeout\.downstream_rq_(total|5xx)$'
stats '^cluster\.bridge_blackhole\.upstream_rq_timeout$'

log "phase 6: one cluster of two endpoints (round robin) behind ONE internal listener, each endpoint's address passed by internal_upstream metadata"
by_endpoint=$(node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$ENDPOINTS_PORT" 1000 100 30000 || true)
echo "$by_endpoint"
stats '^cluster\.(providers_by_endpoint\.upstream_(rq_total|cx_http2_total)|provider_original_dst\.upstream_cx_total)$'
stats '^tcp\.bridge_to_endpoint\.downstream_cx_total$'

log "phase 7: endpoints [a port nobody listens on, provider A] with retry_on reset,connect-failure and previous_hosts: every call succeeds"
with_retries=$(node "$REPO/test/router/pipelined_client.js" 127.0.0.1 "$RETRY_PORT" 200 20 30000 || true)
echo "$with_retries"
stats '^cluster\.providers_one_dead\.upstream_rq_(total|retry|retry_success|retry_overflow|2xx)$'
stats '^cluster\.providers_one_dead\.outlier_detection\.ejections_(enforced_total|active|detected_consecutive_5xx)$'

sleep 1
grep -E "bridge (consumer|provider) side: connection done|bridge.*(error|Error|closing)" "$WORK/envoy.log" | sed 's/^.*\] //' || true
grep -q '^SUMMARY ok=4 failed=1 oneway=1' "$WORK/phase1.out" || die "phase 1: the Java consumer's run did not complete through the bridge"
[ $((to_a + to_b)) -eq "$CALLS" ] || die "phase 2: $((to_a + to_b)) of $CALLS calls answered"
grep -q '^SUMMARY ok=2 failed=1 oneway=1' "$WORK/phase1b.out" || die "phase 1b: the consumer with heartbeats did not complete"
[ "$hb_streams" -ge 2 ] || die "phase 1b: no heartbeat streams seen"
grep -q '^DENIED: .*denied by MetaProto router (HTTP 403)' "$WORK/phase3.out" || die "phase 3: the consumer did not get the 403 as a Dubbo error"
[ "$fails_after" = "$fails_before" ] || die "phase 3: a denied fail() reached the provider"
echo "$routed" | grep -q "\"replies\":$PIPELINED_CALLS,\"unmatched\":0" || die "phase 4: not every pipelined call got its reply"
echo "$timed_out" | grep -q '"statuses":{"31":3}' || die "phase 5: the timeouts did not reach the client as Dubbo status 31"
echo "$by_endpoint" | grep -q '"replies":1000,"unmatched":0' || die "phase 6: not every call through the endpoint-addressed cluster got its reply"
echo "$by_endpoint" | grep -q "\"$PROVIDER_A\":500" || die "phase 6: round robin over two endpoints did not give 500 each"
echo "$with_retries" | grep -q '"replies":200,"unmatched":0,"out_of_order":[0-9]*,"statuses":{"20":200}' || die "phase 7: retries did not save every call"
log "spike done: phases 1 and 3 to 7 complete; phase 2 split A=$to_a B=$to_b (logs in $WORK)"
