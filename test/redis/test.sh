#!/usr/bin/env bash
# Redis through a stock Envoy running dist/wasm/redis.wasm, with real peers: a Debian
# redis-server 7.0 child, npm ioredis 6 (RESP3 by default, and RESP2), redis-benchmark -P 16 and
# -P 12000 (a pipeline deeper than any pending-call bound of old)
# and a plain-socket client for inline commands, CLIENT REPLY, MONITOR and RESP3 pushes.
# The per-command counts in /stats/prometheus must equal the server's own INFO commandstats
# deltas over the run (snapshots taken directly from the server, not through Envoy). Then a
# policy listener: denied and rate-limited commands answered in place, never run by the server.
#   bash test/redis/test.sh                  # run, assert, stop everything
#   KEEP_RUNNING=1 bash test/redis/test.sh   # leave Envoy and redis-server up until Ctrl-C
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=redis
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

WASM="$REPO/dist/wasm/redis.wasm"
[ -f "$WASM" ] || die "$WASM is missing: run ./build.sh first"
command -v redis-server >/dev/null || die "redis-server is missing: run ./build.sh setup"
WORK=$(mktemp -d)
log "work dir $WORK"

REDIS_PORT=$(free_port); ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port)
# DEBUG PROTOCOL (every RESP3 type) needs the debug command; Envoy connects from loopback.
start_child redis-server "$WORK/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save "" --appendonly no --daemonize no --dir "$WORK" --proto-max-bulk-len 8mb --enable-debug-command local
wait_for "redis-server $(redis-server --version | grep -o 'v=[^ ]*') :$REDIS_PORT" 10 redis-cli -p "$REDIS_PORT" ping \
  || { cat "$WORK/redis.log" >&2; die "redis-server did not start"; }

metaproto_bootstrap "$ADMIN_PORT" "$LISTEN_PORT" "$REDIS_PORT" "$WASM" '{}' >"$WORK/envoy.yaml"
start_envoy "$WORK/envoy.yaml" "$ADMIN_PORT" "$WORK/envoy.log"

log "INFO before the run, straight from redis-server :$REDIS_PORT"
redis-cli -p "$REDIS_PORT" info everything >"$WORK/info.before"

ioredis() { node "$REPO/test/redis/ioredis-client.js" 127.0.0.1 "$LISTEN_PORT" "$@" | tee -a "$WORK/clients.out"; }
# The raw client also prints every reply line (JSON strings): keep those out of the log.
raw() { node "$REPO/test/redis/raw-client.js" 127.0.0.1 "$LISTEN_PORT" "$@" | tee "$WORK/raw-$1.out" | grep -v '^"' | tee -a "$WORK/clients.out"; }

log "ioredis 6 (RESP3: HELLO 3) -> Envoy :$LISTEN_PORT -> redis-server: commands, pipeline, MULTI/EXEC, errors, SELECT"
ioredis commands
grep -q '^RESP=3$' "$WORK/clients.out" || die "ioredis did not switch the connection to RESP3"
log "ioredis pub/sub, RESP3 (subscriber and publisher connections)"
ioredis pubsub
log "ioredis pub/sub, RESP2 (subscribed mode)"
ioredis pubsub --protocol 2
log "ioredis BLPOP answered by LPUSH from another connection"
ioredis blocking
log "inline commands (telnet-style lines)"
raw telnet
log "CLIENT REPLY SKIP/OFF/ON, SELECT, MULTI/DISCARD/EXEC, RESP2 subscribed mode, HELLO 3 + DEBUG PROTOCOL, pushes, RESET"
raw special
log "MONITOR (its feed also goes through Envoy)"
node "$REPO/test/redis/raw-client.js" 127.0.0.1 "$LISTEN_PORT" monitor --monitor-feed "$LISTEN_PORT" >"$WORK/raw-monitor.out"
grep -q 'GET' "$WORK/raw-monitor.out" || die "MONITOR showed no commands"
log "redis-benchmark -P 16 -> Envoy"
redis-benchmark -h 127.0.0.1 -p "$LISTEN_PORT" -n 20000 -P 16 -r 1000 -t get,set,incr,lpush -q 2>&1 | tr '\r' '\n' | grep -v '^$' \
  | grep -E 'requests per second' | tee "$WORK/benchmark.out"
[ "$(grep -c 'requests per second' "$WORK/benchmark.out")" -eq 4 ] || die "redis-benchmark did not finish its four tests"
log "redis-benchmark -P 12000: a deep pipeline, 12,000 commands written before the first reply is read"
redis-benchmark -h 127.0.0.1 -p "$LISTEN_PORT" -c 1 -n 24000 -P 12000 -r 1000 -t set,get -q 2>&1 | tr '\r' '\n' | grep -v '^$' \
  | grep -E 'requests per second' | tee "$WORK/deep-pipeline.out"
[ "$(grep -c 'requests per second' "$WORK/deep-pipeline.out")" -eq 2 ] || die "redis-benchmark -P 12000 did not finish"

log "INFO after the run"
redis-cli -p "$REDIS_PORT" info everything >"$WORK/info.after"

# The server's own counts are the expectation: one per command it ran or refused, plus the
# commands a client queued in a transaction it then discarded (MetaProto counts each command
# when its +QUEUED comes back; the server never runs them).
declare -A expected=()
server_total=0
while read -r method count; do
  expected[$method]=$count
  server_total=$((server_total + count))
done < <(python3 "$REPO/test/redis/server_stats.py" "$WORK/info.before" "$WORK/info.after" commands)
[ "$server_total" -gt 128000 ] || die "the server counted only $server_total commands"
discarded=0
while read -r method; do
  expected[$method]=$(( ${expected[$method]:-0} + 1 ))
  discarded=$((discarded + 1))
done < <(sed -n 's/^DISCARDED_COMMAND //p' "$WORK/clients.out")
expects=()
for method in $(printf '%s\n' "${!expected[@]}" | sort); do
  expects+=(--expect "metaproto_requests_total{protocol=redis,method=$method} == ${expected[$method]}")
done
# Errors by code, as the server counted them. ERR is left out: the server also counts errors it
# put inside EXEC's array (the call itself succeeded) and errors it did not send (CLIENT REPLY OFF).
error_codes=0
while read -r code count; do
  [ "$code" = ERR ] && continue
  expects+=(--expect "metaproto_requests_total{protocol=redis,response_code=$code} == $count")
  error_codes=$((error_codes + 1))
done < <(python3 "$REPO/test/redis/server_stats.py" "$WORK/info.before" "$WORK/info.after" errors)
# The clients provoke WRONGTYPE and EXECABORT at least.
[ "$error_codes" -ge 2 ] || die "the server counted only $error_codes error codes besides ERR"

# What commandstats cannot show: commands Redis 7.0 does not define. Every ioredis connection
# sends CLIENT SETINFO twice (Redis 7.2 added it) and INFO once (its ready check).
ioredis_connections=$(python3 "$REPO/test/redis/server_stats.py" "$WORK/info.before" "$WORK/info.after" commands | awk '$1 == "INFO" {print $2}')
setinfo=$((2 * ioredis_connections))
unknown=$(( $(grep -c '^UNKNOWN_COMMAND_REFUSED$' "$WORK/clients.out" || true) + $(awk '$1 == "UNKNOWN_COMMAND_SENT" {n += $2} END {print n + 0}' "$WORK/clients.out") ))
db2=$(sed -n 's/^DB2_COMMANDS //p' "$WORK/clients.out")
# Every byte the clients sent belongs to a decoded command, but the telnet client's empty line.
rx_bytes=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=^tcp\.metaproto\.downstream_cx_rx_bytes_total$" | awk '{print $2}')
[ -n "$rx_bytes" ] || die "Envoy reports no tcp.metaproto.downstream_cx_rx_bytes_total"

python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$ADMIN_PORT" --wait 15 \
  "${expects[@]}" \
  --expect "metaproto_requests_total{protocol=redis,method=CLIENT|SETINFO,response_status=client_error,response_code=ERR} == $setinfo" \
  --expect "metaproto_requests_total{protocol=redis,method=UNKNOWN} == $unknown" \
  --expect "metaproto_requests_total{protocol=redis} == $((server_total + discarded + setinfo + unknown))" \
  --expect "metaproto_requests_total{protocol=redis,service=2} == $db2" \
  --expect "metaproto_requests_total{protocol=redis,method=SET,response_status=ok,response_code=QUEUED} >= 2" \
  --expect "metaproto_requests_total{protocol=redis,method=GET,response_status=ok,response_code=NULL} >= 1" \
  --expect "metaproto_request_bytes_total{protocol=redis} == $((rx_bytes - 2))" \
  --expect "metaproto_response_bytes_total{protocol=redis,method=GET} > 0" \
  --expect "metaproto_request_duration_microseconds_count{protocol=redis,service=0,method=GET} > 32000" \
  --expect "metaproto_request_duration_microseconds_bucket{protocol=redis,service=0,method=GET,le=60000000} > 32000" \
  --expect "metaproto_requests_total{protocol=redis,response_status=no_response,response_code=evicted} == 0" \
  --expect "metaproto_passthrough_connections_total{protocol=redis,reason=monitor} == 1" \
  --expect "metaproto_decode_errors_total{protocol=redis} == 0"


# --- Policies: a second Envoy whose plugin denies FLUSH* (and CONFIG from loopback), rate-limits
# INCR (5 tokens, no refill) and DECR (3 tokens, one more every 200 ms), aborts TOUCH, delays ECHO,
# and routes connections whose first command is READONLY to a second redis-server (a replica's
# place). Refused commands never reach the server (its commandstats say so); each client sees the
# error in its place.
FILL_MS=200
POLICY='{"policy": {"authz": {"rules": [{"action": "deny", "match": {"method": {"prefix": "FLUSH"}}},
    {"action": "deny", "match": {"method": {"prefix": "CONFIG"}, "source_cidrs": ["127.0.0.0/8"]}}]},
  "rate_limits": [{"name": "incr", "match": {"method": {"exact": "INCR"}}, "max_tokens": 5, "tokens_per_fill": 1, "fill_interval_ms": 600000},
    {"name": "decr", "match": {"method": {"exact": "DECR"}}, "max_tokens": 3, "tokens_per_fill": 1, "fill_interval_ms": '"$FILL_MS"'}],
  "faults": [{"match": {"method": {"exact": "ECHO"}}, "delay": {"duration_ms": 300}},
    {"match": {"method": {"exact": "TOUCH"}}, "abort": {"text": "TOUCH is failing today (MetaProto fault)"}}],
  "routes": [{"match": {"method": {"exact": "READONLY"}}, "cluster": "replica"}]}}'
DELAY_MS=300
kill "$ENVOY_PID" && wait "$ENVOY_PID" || true # the first Envoy; redis-server keeps its data
REPLICA_PORT=$(free_port)
start_child redis-replica "$WORK/redis-replica.log" redis-server --port "$REPLICA_PORT" --bind 127.0.0.1 \
  --save "" --appendonly no --daemonize no --dir "$WORK"
wait_for "second redis-server :$REPLICA_PORT" 10 redis-cli -p "$REPLICA_PORT" ping \
  || { cat "$WORK/redis-replica.log" >&2; die "the second redis-server did not start"; }
POLICY_ADMIN=$(free_port); POLICY_PORT=$(free_port)
{
  METAPROTO_CONNECT_ON_DATA=1 metaproto_bootstrap "$POLICY_ADMIN" "$POLICY_PORT" "$REDIS_PORT" "$WASM" "$(echo "$POLICY" | tr -d '\n')"
  metaproto_cluster_yaml replica "$REPLICA_PORT"
} >"$WORK/envoy-policy.yaml"
# Two workers: the rate limit's bucket must hold for both together.
ENVOY_CONCURRENCY=2 start_envoy "$WORK/envoy-policy.yaml" "$POLICY_ADMIN" "$WORK/envoy-policy.log"
redis-cli -p "$REDIS_PORT" info commandstats >"$WORK/policy.before"
log "ioredis through the policy listener (2 workers): a pipeline around a denied FLUSHALL, 20 INCRs against 5 tokens, a delayed ECHO"
node "$REPO/test/redis/ioredis-client.js" 127.0.0.1 "$POLICY_PORT" policy | tee "$WORK/policy.out"
grep -q '^ALLOWED 5$' "$WORK/policy.out" && grep -q '^RATE_LIMITED 15$' "$WORK/policy.out" || die "expected 5 INCRs allowed and 15 rate limited"
delayed=$(sed -n 's/^DELAYED_MS //p' "$WORK/policy.out"); undelayed=$(sed -n 's/^UNDELAYED_MS //p' "$WORK/policy.out")
[ "$delayed" -ge "$DELAY_MS" ] || die "the delayed ECHO took $delayed ms, less than $DELAY_MS"
[ "$undelayed" -lt $((DELAY_MS / 2)) ] || die "a GET on another connection took $undelayed ms: held up by the delay"
grep -q '^ABORTED ERR TOUCH is failing today (MetaProto fault)$' "$WORK/policy.out" || die "ioredis did not get the fault's ERR for TOUCH"
log "ioredis, 8 connections DECR for 2 s against a bucket of 3 refilled by 1 every $FILL_MS ms"
node "$REPO/test/redis/ioredis-client.js" 127.0.0.1 "$POLICY_PORT" window | tee "$WORK/window.out"
window_ms=$(sed -n 's/^WINDOW_MS //p' "$WORK/window.out"); window_allowed=$(sed -n 's/^WINDOW_ALLOWED //p' "$WORK/window.out")
window_limited=$(sed -n 's/^WINDOW_LIMITED //p' "$WORK/window.out")
# The kernel spread the 16 connections of both scenarios over the two workers (all on one: a
# 1-in-32768 chance): the buckets were shared, not per worker.
workers=$(curl -sf "http://127.0.0.1:$POLICY_ADMIN/stats?filter=listener\.127\.0\.0\.1_$POLICY_PORT\.worker_[0-9]+\.downstream_cx_total" | awk '$2 > 0' | wc -l)
[ "$workers" = 2 ] || die "the policy connections did not reach both workers ($workers did): the shared bucket is not exercised"
# The bucket formula: max_tokens, plus tokens_per_fill for every fill in the window, within one fill.
bucket=$((3 + window_ms / FILL_MS))
[ "$window_allowed" -ge $((bucket - 1)) ] && [ "$window_allowed" -le $((bucket + 1)) ] \
  || die "$window_allowed DECRs allowed in $window_ms ms; the bucket allows $bucket (within one fill)"
log "rate limit over the window: $window_allowed allowed ($bucket by the bucket formula), $window_limited limited"
log "redis-cli through the policy listener: a connection opening with READONLY goes to the second server, others to the first"
redis-cli -p "$REDIS_PORT" SET mp:where primary >/dev/null
redis-cli -p "$POLICY_PORT" READONLY | tee "$WORK/route-readonly.out"
grep -q 'cluster support disabled' "$WORK/route-readonly.out" || die "READONLY got no answer from a redis-server"
[ "$(redis-cli -p "$REPLICA_PORT" info commandstats | grep -o '^cmdstat_readonly:calls=[0-9]*')" = "cmdstat_readonly:calls=1" ] \
  || die "the READONLY connection was not routed to the second server"
[ "$(redis-cli -p "$POLICY_PORT" GET mp:where)" = primary ] || die "a plain connection did not stay on the first server"
# redis-cli reading commands from standard input opens with COMMAND DOCS: that first request
# chose the connection's route, the READONLY after it cannot move it (counted as a mismatch).
[ "$(printf 'READONLY\nGET mp:where\n' | redis-cli -p "$POLICY_PORT" | tail -n1)" = primary ] \
  || die "a connection whose first command is not READONLY left the first server"
log "redis-cli FLUSHDB through the policy listener"
redis-cli -p "$POLICY_PORT" FLUSHDB | tee "$WORK/policy-cli.out"
grep -q '^NOPERM denied by MetaProto authz policy$' "$WORK/policy-cli.out" || die "redis-cli did not get the NOPERM reply"
log "redis-cli CONFIG GET from 127.0.0.1, denied by a source_cidrs rule"
redis-cli -p "$POLICY_PORT" CONFIG GET maxmemory | tee "$WORK/policy-cidr.out"
grep -q '^NOPERM ' "$WORK/policy-cidr.out" || die "the source_cidrs rule did not deny CONFIG from 127.0.0.1"
redis-cli -p "$REDIS_PORT" info commandstats >"$WORK/policy.after"
stat_delta() { # command
  python3 "$REPO/test/redis/server_stats.py" "$WORK/policy.before" "$WORK/policy.after" commands | awk -v c="$1" '$1 == c {print $2} END {}' | head -n1
}
[ -z "$(stat_delta FLUSHALL)" ] && [ -z "$(stat_delta FLUSHDB)" ] || die "a refused FLUSH command reached the server"
[ "$(stat_delta INCR)" = 5 ] || die "the server ran $(stat_delta INCR) INCRs, expected the 5 allowed"
[ "$(stat_delta DECR)" = "$window_allowed" ] || die "the server ran $(stat_delta DECR) DECRs, expected the $window_allowed allowed"
[ -z "$(stat_delta TOUCH)" ] || die "the aborted TOUCH reached the server"
# A PING went to the server in place of each refused command (3 denied, 15 INCRs and the window's
# DECRs rate limited, 1 TOUCH aborted), besides the clients' own 8 + 8.
refused=$((3 + 15 + window_limited + 1))
[ "$(stat_delta PING)" = $((refused + 16)) ] || die "the server ran $(stat_delta PING) PINGs, expected $refused probes and the clients' 16"
[ -z "$(stat_delta CONFIG\|GET)" ] || die "the denied CONFIG GET reached the server"
policy_connections=$(curl -sf "http://127.0.0.1:$POLICY_ADMIN/stats?filter=^tcp\.metaproto\.downstream_cx_total$" | awk '{print $2}')
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$POLICY_ADMIN" --wait 15 \
  --expect "metaproto_local_replies_total{protocol=redis,reason=denied} == 3" \
  --expect "metaproto_local_replies_total{protocol=redis,reason=rate_limited} == $((15 + window_limited))" \
  --expect "metaproto_local_replies_total{protocol=redis,reason=fault} == 1" \
  --expect "metaproto_requests_total{protocol=redis,method=TOUCH,response_status=client_error,response_code=ERR} == 1" \
  --expect "metaproto_requests_total{protocol=redis,method=DECR,response_status=ok} == $window_allowed" \
  --expect "metaproto_connection_routes_total{protocol=redis,reason=routed} == 1" \
  --expect "metaproto_connection_routes_total{protocol=redis,reason=default} == $((policy_connections - 1))" \
  --expect "metaproto_connection_routes_total{protocol=redis,reason=mismatch} == 1" \
  --expect "metaproto_requests_total{protocol=redis,method=FLUSHALL,response_status=client_error,response_code=NOPERM} == 1" \
  --expect "metaproto_requests_total{protocol=redis,method=INCR,response_status=ok} == 5" \
  --expect "metaproto_requests_total{protocol=redis,method=INCR,response_status=client_error,response_code=ERR} == 15" \
  --expect "metaproto_requests_total{protocol=redis,method=ECHO,response_status=ok} == 1" \
  --expect "metaproto_policy_closes_total{protocol=redis} == 0" \
  --expect "metaproto_decode_errors_total{protocol=redis} == 0"

log "PASS: $((server_total + discarded + setinfo + unknown)) commands through Envoy + dist/wasm/redis.wasm, per-command counts equal redis-server's commandstats"
if [ -n "${KEEP_RUNNING:-}" ]; then
  log "Envoy (the policy listener) admin: http://127.0.0.1:$POLICY_ADMIN/stats/prometheus (metaproto_* lines)"
  log "Redis via Envoy: redis-cli -p $POLICY_PORT   (redis-server on :$REDIS_PORT, the READONLY route's on :$REPLICA_PORT)"
  log "running until Ctrl-C"
  wait "$ENVOY_PID" || true
fi
