#!/usr/bin/env bash
# Hostile peers against the label bounds (README "Label bounds"), through a stock Envoy with the
# compiled modules: a Dubbo client sending thousands of distinct 2 KB service paths, and a Thrift
# server answering every call with a TApplicationException of a new type. The number of
# metaproto_* stats Envoy holds must stay within the configured bounds while
# metaproto_label_overflow_total counts what was folded, and every call is still counted.
#   bash test/hostile/test.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=hostile
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

for codec in dubbo thrift; do
  [ -f "$REPO/dist/wasm/$codec.wasm" ] || die "dist/wasm/$codec.wasm is missing: run ./build.sh first"
done
WORK=$(mktemp -d)
log "work dir $WORK"
PEERS="$REPO/test/hostile/hostile-peers.js"

# Runs check_metrics.py with its full output in FILE, printing only the verdict lines.
check_quietly() { # file check_metrics args...
  local out=$1; shift
  python3 "$REPO/test/lib/check_metrics.py" "$@" >"$out" \
    || { tail -n 40 "$out" >&2; die "expectations failed (full output: $out)"; }
  grep -E '^(ok|FAIL) ' "$out"
}

# Stats Envoy holds for MetaProto (every series the VMs defined; Envoy names them wasmcustom.*).
metaproto_stat_count() { # admin_port
  curl -sf "http://127.0.0.1:$1/stats?filter=^wasmcustom\.metaproto_" | grep -c '^wasmcustom\.metaproto_' || true
}

DUBBO_REQUESTS=3000
MAX_SERIES=500
SINK_PORT=$(free_port); ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port)
start_child sink "$WORK/sink.log" node "$PEERS" sink "$SINK_PORT"
metaproto_bootstrap "$ADMIN_PORT" "$LISTEN_PORT" "$SINK_PORT" "$REPO/dist/wasm/dubbo.wasm" "{\"max_series\": $MAX_SERIES}" >"$WORK/dubbo.yaml"
start_envoy "$WORK/dubbo.yaml" "$ADMIN_PORT" "$WORK/dubbo-envoy.log"
log "hostile Dubbo client: $DUBBO_REQUESTS requests with distinct service paths, max_series $MAX_SERIES"
node "$PEERS" dubbo-client 127.0.0.1 "$LISTEN_PORT" "$DUBBO_REQUESTS" | tee "$WORK/dubbo-client.out"
grep -q "^SENT $DUBBO_REQUESTS$" "$WORK/dubbo-client.out" || die "the Dubbo client did not send its requests"
# The sink never answers: each call ends as no_response (evicted past max_pending_calls, or
# closed with the connection), under its own pair until max_series, then under other/other.
rx_bytes=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=^tcp\.metaproto\.downstream_cx_rx_bytes_total$" | awk '{print $2}')
check_quietly "$WORK/dubbo-check.out" --admin "127.0.0.1:$ADMIN_PORT" --wait 15 \
  --expect "metaproto_label_overflow_total{protocol=dubbo,dimension=series} >= $((DUBBO_REQUESTS - MAX_SERIES))" \
  --expect "metaproto_requests_total{protocol=dubbo,service=other,method=other} >= $((DUBBO_REQUESTS - MAX_SERIES))" \
  --expect "metaproto_requests_total{protocol=dubbo,response_status=no_response} == $DUBBO_REQUESTS" \
  --expect "metaproto_request_bytes_total{protocol=dubbo} == $rx_bytes" \
  --expect "metaproto_decode_errors_total{protocol=dubbo} == 0"
stats=$(metaproto_stat_count "$ADMIN_PORT")
log "Envoy holds $stats metaproto_* stats after $DUBBO_REQUESTS distinct services (max_series $MAX_SERIES)"
[ "$stats" -gt 100 ] && [ "$stats" -le "$MAX_SERIES" ] || die "$stats metaproto_* stats: expected between 100 and $MAX_SERIES"
stop_children

THRIFT_CALLS=5000
MAX_RESPONSE_CODES=32
SERVER_PORT=$(free_port); ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port)
start_child thrift-server "$WORK/thrift-server.log" node "$PEERS" thrift-server "$SERVER_PORT"
metaproto_bootstrap "$ADMIN_PORT" "$LISTEN_PORT" "$SERVER_PORT" "$REPO/dist/wasm/thrift.wasm" '{}' >"$WORK/thrift.yaml"
start_envoy "$WORK/thrift.yaml" "$ADMIN_PORT" "$WORK/thrift-envoy.log"
log "hostile Thrift server: $THRIFT_CALLS calls, each answered with a TApplicationException of a new type"
node "$PEERS" thrift-client 127.0.0.1 "$LISTEN_PORT" "$THRIFT_CALLS" | tee "$WORK/thrift-client.out"
grep -q "^EXCEPTIONS $THRIFT_CALLS TYPES $THRIFT_CALLS$" "$WORK/thrift-client.out" || die "the client did not get $THRIFT_CALLS distinct exceptions"
check_quietly "$WORK/thrift-check.out" --admin "127.0.0.1:$ADMIN_PORT" --wait 15 \
  --expect "metaproto_requests_total{protocol=thrift,method=ping} == $THRIFT_CALLS" \
  --expect "metaproto_requests_total{protocol=thrift,method=ping,response_code=other} == $((THRIFT_CALLS - MAX_RESPONSE_CODES))" \
  --expect "metaproto_label_overflow_total{protocol=thrift,dimension=response_code} == $((THRIFT_CALLS - MAX_RESPONSE_CODES))" \
  --expect "metaproto_decode_errors_total{protocol=thrift} == 0"
stats=$(metaproto_stat_count "$ADMIN_PORT")
# One method: duration, request and response bytes, 32 named codes, `other`, the overflow counter.
log "Envoy holds $stats metaproto_* stats after $THRIFT_CALLS distinct exception types"
[ "$stats" -le $((3 + MAX_RESPONSE_CODES + 1 + 1)) ] || die "$stats metaproto_* stats: more than one method's bound"

log "PASS: hostile label values folded into other and counted; Envoy's metaproto_* stats stayed within the bounds"
