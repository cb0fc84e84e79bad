#!/usr/bin/env bash
# Thrift through a stock Envoy running dist/wasm/thrift.wasm, with real peers and code generated
# now from test/thrift/demo.thrift by the Debian thrift compiler (0.17):
#   binary + buffered        npm thrift 0.17.0 client and server (no multiplexing: service "")
#   compact + framed         npm thrift client and server, TMultiplexedProtocol service "Greeter",
#                            plus a 2 MiB echo (larger than max_buffered_bytes: decoded from its prefix)
#   THeader (binary inside)  python3-thrift 0.17 client and server (pure-Python protocol), info headers
#   JSON + buffered          python3-thrift client and server (TJSONProtocol)
#   JSON + framed            npm thrift client and server, TMultiplexedProtocol service "GreeterJson",
#                            plus an 800 KiB echo (base64: a frame over max_buffered_bytes, decoded
#                            from its prefix; npm thrift's JSON parser is slow, so not 2 MiB)
# and what is counted but not decoded: a THeader client with zlib (passed through), a 2 MiB
# buffered message (no length prefix: frame_too_large), HTTP bytes on a Thrift port (bad_magic).
# Then a policy listener (a second Envoy): denied and rate-limited calls are answered with a
# TApplicationException in place and never run by the servers. Then the other stages, each behind
# an Envoy of its own: fault abort (INJECTED_FAILURE with the call's seqid, the connection reused)
# and delay (client-measured, another connection unaffected); mutation of THeader info headers
# (what the python THeader server received, call by call); connection routing by the first
# call's tenant header to a second python THeader server (each server's own output).
# Asserts Envoy's /stats/prometheus against what the clients and servers saw.
#   bash test/thrift/test.sh                  # run, assert, stop everything
#   KEEP_RUNNING=1 bash test/thrift/test.sh   # leave Envoy and the servers up until Ctrl-C
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=thrift
. "$REPO/test/lib/envoy.sh"
. "$REPO/test/lib/thrift_peers.sh"
trap stop_children EXIT

WASM="$REPO/dist/wasm/thrift.wasm"
BIG=$((2 * 1024 * 1024))
JSON_BIG=$((800 * 1024))
[ -f "$WASM" ] || die "$WASM is missing: run ./build.sh first"
WORK=$(mktemp -d)
log "work dir $WORK"

thrift_peers "$WORK"
BUFFERED=(--transport buffered --protocol binary)
FRAMED=(--transport framed --protocol compact --multiplex Greeter)
JSON_BUFFERED=(--transport buffered --protocol json)
JSON_FRAMED=(--transport framed --protocol json --multiplex GreeterJson)

# Twelve ports held open together while they are picked, so no two are the same (free_port
# one at a time can hand out a port twice).
read -r BUFFERED_SERVER FRAMED_SERVER HEADER_SERVER JSON_BUFFERED_SERVER JSON_FRAMED_SERVER \
  ADMIN BUFFERED_PORT FRAMED_PORT HEADER_PORT JSON_BUFFERED_PORT JSON_FRAMED_PORT _ < <(python3 -c '
import socket
held = [socket.socket() for _ in range(12)]
for s in held: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in held))')
start_child "npm server (binary, buffered)" "$WORK/buffered-server.log" "${NODE_PEER[@]}" server --gen "$WORK" "${BUFFERED[@]}" --port "$BUFFERED_SERVER"
start_child "npm server (compact, framed, multiplexed)" "$WORK/framed-server.log" "${NODE_PEER[@]}" server --gen "$WORK" "${FRAMED[@]}" --port "$FRAMED_SERVER"
start_child "python server (THeader)" "$WORK/header-server.log" "${PY_PEER[@]}" server --gen "$WORK" --protocol header --port "$HEADER_SERVER"
start_child "python server (JSON, buffered)" "$WORK/json-buffered-server.log" "${PY_PEER[@]}" server --gen "$WORK" "${JSON_BUFFERED[@]}" --port "$JSON_BUFFERED_SERVER"
start_child "npm server (JSON, framed, multiplexed)" "$WORK/json-framed-server.log" "${NODE_PEER[@]}" server --gen "$WORK" "${JSON_FRAMED[@]}" --port "$JSON_FRAMED_SERVER"
for server in buffered framed header json-buffered json-framed; do
  wait_for "$server server" 20 grep -q "SERVER READY" "$WORK/$server-server.log" \
    || { cat "$WORK/$server-server.log" >&2; die "the $server server did not start"; }
done

metaproto_bootstrap_listeners "$ADMIN" "$WASM" '{"max_buffered_bytes": 1048576}' \
  "thrift_buffered:$BUFFERED_PORT:$BUFFERED_SERVER" "thrift_framed:$FRAMED_PORT:$FRAMED_SERVER" \
  "thrift_header:$HEADER_PORT:$HEADER_SERVER" "thrift_json_buffered:$JSON_BUFFERED_PORT:$JSON_BUFFERED_SERVER" \
  "thrift_json_framed:$JSON_FRAMED_PORT:$JSON_FRAMED_SERVER" >"$WORK/envoy.yaml"
# Wasm at debug level: the filter logs every decoded message (THeader attributes are checked there).
start_child envoy "$WORK/envoy.log" "$(envoy_bin)" -c "$WORK/envoy.yaml" --concurrency 1 --log-level info \
  --component-log-level wasm:debug --base-id "$((ADMIN % 60000))" --disable-hot-restart
ENVOY_PID=${CHILD_PIDS[-1]}
wait_for "envoy (admin :$ADMIN)" 30 sh -c "curl -sf http://127.0.0.1:$ADMIN/ready | grep -q LIVE" \
  || { tail -n 40 "$WORK/envoy.log" >&2; die "Envoy did not become ready"; }

log "malformed bytes (HTTP) -> Envoy :$BUFFERED_PORT (Thrift, buffered)"
node -e '
  const s = require("net").connect(+process.argv[1], "127.0.0.1", () => s.end("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  s.on("data", () => {}); s.on("close", () => process.exit(0)); s.on("error", () => process.exit(0));
  setTimeout(() => { s.destroy(); process.exit(0); }, 3000);' "$BUFFERED_PORT"

log "npm client, binary + buffered -> Envoy :$BUFFERED_PORT -> npm server :$BUFFERED_SERVER"
"${NODE_PEER[@]}" client --gen "$WORK" "${BUFFERED[@]}" --port "$BUFFERED_PORT" --calls 3 | tee "$WORK/buffered-client.out"
log "npm client, compact + framed, multiplexed, with a $BIG-byte echo -> Envoy :$FRAMED_PORT -> npm server :$FRAMED_SERVER"
"${NODE_PEER[@]}" client --gen "$WORK" "${FRAMED[@]}" --port "$FRAMED_PORT" --calls 3 --big "$BIG" | tee "$WORK/framed-client.out"
log "python client, THeader with info headers -> Envoy :$HEADER_PORT -> python server :$HEADER_SERVER"
"${PY_PEER[@]}" client --gen "$WORK" --protocol header --header tenant=t1 --header trace=rig --calls 3 --port "$HEADER_PORT" \
  | tee "$WORK/header-client.out"
log "python client, JSON + buffered -> Envoy :$JSON_BUFFERED_PORT -> python server :$JSON_BUFFERED_SERVER"
"${PY_PEER[@]}" client --gen "$WORK" "${JSON_BUFFERED[@]}" --calls 3 --port "$JSON_BUFFERED_PORT" | tee "$WORK/json-buffered-client.out"
log "npm client, JSON + framed, multiplexed, with a $JSON_BIG-byte echo -> Envoy :$JSON_FRAMED_PORT -> npm server :$JSON_FRAMED_SERVER"
"${NODE_PEER[@]}" client --gen "$WORK" "${JSON_FRAMED[@]}" --port "$JSON_FRAMED_PORT" --calls 3 --big "$JSON_BIG" | tee "$WORK/json-framed-client.out"
log "python client, THeader with the zlib transform (passed through, not decoded) -> Envoy :$HEADER_PORT"
"${PY_PEER[@]}" client --gen "$WORK" --protocol header --zlib --calls 1 --port "$HEADER_PORT" >"$WORK/zlib-client.out"
log "npm client, binary + buffered, one $BIG-byte echo (no length prefix: frame_too_large) -> Envoy :$BUFFERED_PORT"
"${NODE_PEER[@]}" client --gen "$WORK" "${BUFFERED[@]}" --port "$BUFFERED_PORT" --only-big --big "$BIG" >"$WORK/big-buffered-client.out"
# The clients whose calls the codec decodes (the zlib and big buffered ones are not decoded).
DECODED_OUTPUTS=()
for client in buffered framed header json-buffered json-framed; do DECODED_OUTPUTS+=("$WORK/$client-client.out"); done
for out in buffered-client framed-client header-client json-buffered-client json-framed-client zlib-client big-buffered-client; do
  grep -q '^CLIENT OK' "$WORK/$out.out" || die "$out did not finish: $(cat "$WORK/$out.out")"
done

# Oneway calls have no reply: the servers' logs say they arrived.
oneways=$(cat "$WORK"/{buffered,framed,header,zlib,json-buffered,json-framed}-client.out | grep -c 'outcome=oneway' || true)
wait_for "$oneways oneway calls at the servers" 10 sh -c \
  "[ \$(cat \"\$@\" | grep -c '^NOTIFY ') -ge $oneways ]" sh "$WORK"/{buffered,framed,header,json-buffered,json-framed}-server.log \
  || die "the servers did not receive every oneway call"

# THeader info headers: the server read them, and the codec decoded them as attributes.
header_calls=$(grep -c '^OBSERVED' "$WORK/header-client.out")
header_seen=$(grep -c '^HEADERS tenant=t1,trace=rig$' "$WORK/header-server.log" || true)
decoded_with_headers=$(grep 'metaproto thrift: decoded downstream' "$WORK/envoy.log" | grep -c '"attributes":{"tenant":"t1","trace":"rig"}' || true)
log "THeader: $header_calls calls, $header_seen requests with headers at the server, $decoded_with_headers decoded with them as attributes"
[ "$header_seen" -eq "$header_calls" ] || die "the python server saw $header_seen requests with headers, expected $header_calls"
[ "$decoded_with_headers" -eq "$header_calls" ] || die "the codec decoded $decoded_with_headers THeader requests with attributes, expected $header_calls"

# Every byte of the framed listeners belongs to a decoded call, the big echoes included.
stat() { curl -sf "http://127.0.0.1:$ADMIN/stats?filter=^$1\$" | awk '{print $2}'; }
framed_rx=$(stat 'tcp\.thrift_framed\.downstream_cx_rx_bytes_total')
framed_tx=$(stat 'tcp\.thrift_framed\.downstream_cx_tx_bytes_total')
json_framed_rx=$(stat 'tcp\.thrift_json_framed\.downstream_cx_rx_bytes_total')
json_framed_tx=$(stat 'tcp\.thrift_json_framed\.downstream_cx_tx_bytes_total')
[ -n "$framed_rx" ] && [ -n "$framed_tx" ] || die "Envoy reports no tcp.thrift_framed byte counters"
[ -n "$json_framed_rx" ] && [ -n "$json_framed_tx" ] || die "Envoy reports no tcp.thrift_json_framed byte counters"

# What the clients saw is the expectation; Envoy's metrics must agree with it. The zlib and big
# buffered clients' calls are not decoded, so only the other clients' calls are counted.
mapfile -t EXPECT < <(python3 "$REPO/test/thrift/expectations.py" --idl "$THRIFT_IDL" "${DECODED_OUTPUTS[@]}")
ARGS=()
for e in "${EXPECT[@]}"; do ARGS+=(--expect "$e"); done
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$ADMIN" --wait 10 "${ARGS[@]}" \
  --expect "metaproto_decode_errors_total{protocol=thrift,direction=downstream,reason=bad_magic} == 1" \
  --expect "metaproto_decode_errors_total{protocol=thrift,direction=downstream,reason=frame_too_large} == 1" \
  --expect "metaproto_decode_errors_total{protocol=thrift} == 2" \
  --expect "metaproto_passthrough_connections_total{protocol=thrift,reason=theader_transform} == 1" \
  --expect "metaproto_request_bytes_total{protocol=thrift,service=Greeter} == $framed_rx" \
  --expect "metaproto_response_bytes_total{protocol=thrift,service=Greeter} == $framed_tx" \
  --expect "metaproto_request_bytes_total{protocol=thrift,service=GreeterJson} == $json_framed_rx" \
  --expect "metaproto_response_bytes_total{protocol=thrift,service=GreeterJson} == $json_framed_tx"

calls=$(cat "${DECODED_OUTPUTS[@]}" | grep -c '^OBSERVED')
log "$calls Thrift calls in five variants through Envoy + dist/wasm/thrift.wasm, metrics agree"

# --- Policies: a second Envoy, in front of the same servers, whose plugin denies crash and lets
# one lookup through. Each client sees a TApplicationException carrying the policy's text in the
# refused call's place and goes on using its connection; the servers' SERVED lines show the
# refused calls never ran.
POLICY='{"max_buffered_bytes": 1048576, "policy": {"authz": {"rules": [{"action": "deny", "match": {"method": {"exact": "crash"}}}]},
  "rate_limits": [{"name": "lookups", "match": {"method": {"exact": "lookup"}}, "max_tokens": 1, "tokens_per_fill": 1,
  "fill_interval_ms": 600000, "text": "lookups rate limited"}]}}'
POLICY_ADMIN=$(free_port); POLICY_BUFFERED=$(free_port); POLICY_FRAMED=$(free_port); POLICY_HEADER=$(free_port); POLICY_JSON=$(free_port)
metaproto_bootstrap_listeners "$POLICY_ADMIN" "$WASM" "$(echo "$POLICY" | tr -d '\n')" \
  "policy_buffered:$POLICY_BUFFERED:$BUFFERED_SERVER" "policy_framed:$POLICY_FRAMED:$FRAMED_SERVER" \
  "policy_header:$POLICY_HEADER:$HEADER_SERVER" "policy_json:$POLICY_JSON:$JSON_BUFFERED_SERVER" >"$WORK/envoy-policy.yaml"
start_envoy "$WORK/envoy-policy.yaml" "$POLICY_ADMIN" "$WORK/envoy-policy.log"
served() { # server method: how many calls of method the server's handler ran so far
  grep -c "^SERVED $2\$" "$WORK/$1-server.log" || true
}
declare -A SERVED_BEFORE
for server in buffered framed header json-buffered; do
  for method in sayHello crash lookup; do SERVED_BEFORE[$server.$method]=$(served "$server" "$method"); done
done
log "npm client, binary + buffered, through the policy listener: crash denied, one lookup over the limit"
"${NODE_PEER[@]}" client --gen "$WORK" "${BUFFERED[@]}" --port "$POLICY_BUFFERED" --policy --rate-limit | tee "$WORK/policy-buffered.out"
log "npm client, compact + framed, multiplexed, through the policy listener: crash denied"
"${NODE_PEER[@]}" client --gen "$WORK" "${FRAMED[@]}" --port "$POLICY_FRAMED" --policy | tee "$WORK/policy-framed.out"
# npm thrift's server answers an unknown method (the probe) at once, ahead of slower calls before
# it; python3-thrift's serves one call at a time, so pipelined refusals are shown against it.
log "npm client, compact + framed, pipelined calls around a denied crash -> python server (answers in order)"
"${NODE_PEER[@]}" client --gen "$WORK" --transport framed --protocol compact --port "$POLICY_HEADER" --policy --pipelined \
  | tee "$WORK/policy-pipelined.out"
log "python clients, THeader (binary with info headers, then compact), through the policy listener: crash denied"
"${PY_PEER[@]}" client --gen "$WORK" --protocol header --header tenant=t1 --port "$POLICY_HEADER" --policy | tee "$WORK/policy-header.out"
"${PY_PEER[@]}" client --gen "$WORK" --protocol header --sub-protocol compact --port "$POLICY_HEADER" --policy | tee "$WORK/policy-header-compact.out"
log "python client, JSON + buffered, through the policy listener: crash denied"
"${PY_PEER[@]}" client --gen "$WORK" "${JSON_BUFFERED[@]}" --port "$POLICY_JSON" --policy | tee "$WORK/policy-json.out"
POLICY_OUTPUTS=("$WORK"/policy-{buffered,framed,pipelined,header,header-compact,json}.out)
for out in "${POLICY_OUTPUTS[@]}"; do grep -q '^CLIENT OK' "$out" || die "$(basename "$out" .out) did not finish: $(cat "$out")"; done
denied=$(cat "${POLICY_OUTPUTS[@]}" | grep -c '^REFUSED method=crash type=0 message=denied by MetaProto authz policy$' || true)
limited=$(grep -c '^REFUSED method=lookup type=11 message=lookups rate limited$' "$WORK/policy-buffered.out" || true)
allowed=$(cat "${POLICY_OUTPUTS[@]}" | grep -c '^ALLOWED sayHello$' || true)
[ "$denied" -eq 7 ] || die "the clients saw $denied denials of crash (TApplicationException UNKNOWN with the policy text), expected 7"
[ "$limited" -eq 1 ] || die "the npm client saw $limited rate-limited lookups (LOADSHEDDING with the rule's text), expected 1"
served_since() { echo $(( $(served "$1" "$2") - SERVED_BEFORE[$1.$2] )); }
for server in buffered framed header json-buffered; do
  [ "$(served_since "$server" crash)" -eq 0 ] || die "the $server server ran $(served_since "$server" crash) refused crash calls"
done
ran_hello=$(( $(served_since buffered sayHello) + $(served_since framed sayHello) + $(served_since header sayHello) + $(served_since json-buffered sayHello) ))
[ "$ran_hello" -eq "$allowed" ] || die "the servers ran $ran_hello sayHello calls, the clients got $allowed answers"
[ "$(served_since buffered lookup)" -eq 1 ] || die "the buffered server ran $(served_since buffered lookup) lookups, expected the 1 allowed"
log "policy: $denied denied and $limited rate-limited calls answered in place, never run; $ran_hello sayHello calls ran around them"
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$POLICY_ADMIN" --wait 10 \
  --expect "metaproto_local_replies_total{protocol=thrift,reason=denied} == $denied" \
  --expect "metaproto_local_replies_total{protocol=thrift,reason=rate_limited} == $limited" \
  --expect "metaproto_local_replies_total{protocol=thrift} == $((denied + limited))" \
  --expect "metaproto_requests_total{protocol=thrift,method=crash,response_status=server_error,response_code=app_exception:0} == $denied" \
  --expect "metaproto_requests_total{protocol=thrift,method=lookup,response_status=server_error,response_code=app_exception:11} == $limited" \
  --expect "metaproto_requests_total{protocol=thrift,method=sayHello,response_status=ok} == $allowed" \
  --expect "metaproto_policy_closes_total{protocol=thrift} == 0" \
  --expect "metaproto_decode_errors_total{protocol=thrift} == 0"

# --- Faults: a third Envoy whose plugin aborts crash (INJECTED_FAILURE carrying the rule's text)
# and delays echo. An aborted call never runs at the server; the client gets the exception with its
# call's seqid and goes on using the connection. A delayed call waits in Envoy; calls on another
# connection do not.
FAULT_TEXT="injected by MetaProto fault policy"
DELAY_MS=1500
DELAYED_CALLS=4
FAULT_POLICY="{\"policy\": {\"faults\": [{\"match\": {\"method\": {\"exact\": \"crash\"}}, \"abort\": {\"text\": \"$FAULT_TEXT\"}},
  {\"match\": {\"method\": {\"exact\": \"echo\"}}, \"delay\": {\"duration_ms\": $DELAY_MS}}]}}"
FAULT_ADMIN=$(free_port); FAULT_BUFFERED=$(free_port); FAULT_FRAMED=$(free_port); FAULT_HEADER=$(free_port)
metaproto_bootstrap_listeners "$FAULT_ADMIN" "$WASM" "$(echo "$FAULT_POLICY" | tr -d '\n')" \
  "fault_buffered:$FAULT_BUFFERED:$BUFFERED_SERVER" "fault_framed:$FAULT_FRAMED:$FRAMED_SERVER" \
  "fault_header:$FAULT_HEADER:$HEADER_SERVER" >"$WORK/envoy-fault.yaml"
start_envoy "$WORK/envoy-fault.yaml" "$FAULT_ADMIN" "$WORK/envoy-fault.log"
for server in buffered framed header; do
  for method in sayHello crash echo; do SERVED_BEFORE[$server.$method]=$(served "$server" "$method"); done
done
log "fault abort: npm client (binary, buffered), npm client (compact, framed, multiplexed), python client (THeader): crash aborted"
"${NODE_PEER[@]}" client --gen "$WORK" "${BUFFERED[@]}" --port "$FAULT_BUFFERED" --policy | tee "$WORK/fault-buffered.out"
"${NODE_PEER[@]}" client --gen "$WORK" "${FRAMED[@]}" --port "$FAULT_FRAMED" --policy | tee "$WORK/fault-framed.out"
"${PY_PEER[@]}" client --gen "$WORK" --protocol header --header tenant=t1 --port "$FAULT_HEADER" --policy | tee "$WORK/fault-header.out"
FAULT_OUTPUTS=("$WORK"/fault-{buffered,framed,header}.out)
for out in "${FAULT_OUTPUTS[@]}"; do grep -q '^CLIENT OK' "$out" || die "$(basename "$out" .out) did not finish: $(cat "$out")"; done
aborted=$(cat "${FAULT_OUTPUTS[@]}" | grep -c "^REFUSED method=crash type=13 message=$FAULT_TEXT\$" || true)
[ "$aborted" -eq 3 ] || die "the clients saw $aborted aborted crash calls (INJECTED_FAILURE with the rule's text), expected 3"
# Each exception carried the seqid its call went out with (npm's client counts seqids up, python's sends 0).
seqids=$(cat "${FAULT_OUTPUTS[@]}" | grep '^SEQID method=crash ' || true)
[ "$(echo "$seqids" | grep -c .)" -eq 3 ] || die "expected 3 SEQID lines, got: $seqids"
echo "$seqids" | awk '{ split($3, s, "="); split($4, a, "="); if (s[2] == "" || s[2] != a[2]) bad = 1 } END { exit bad }' \
  || die "an aborted call's exception did not carry its call's seqid: $seqids"
log "fault abort: $aborted crash calls answered with INJECTED_FAILURE and their own seqids: $(echo "$seqids" | tr '\n' ' ')"
fault_hello=$(cat "${FAULT_OUTPUTS[@]}" | grep -c '^ALLOWED sayHello$' || true)
[ "$fault_hello" -eq 6 ] || die "the clients got $fault_hello sayHello answers around the aborted calls, expected 6"
for server in buffered framed header; do
  [ "$(served_since "$server" crash)" -eq 0 ] || die "the $server server ran $(served_since "$server" crash) aborted crash calls"
done
ran_hello=$(( $(served_since buffered sayHello) + $(served_since framed sayHello) + $(served_since header sayHello) ))
[ "$ran_hello" -eq "$fault_hello" ] || die "the servers ran $ran_hello sayHello calls, the clients got $fault_hello answers"

log "fault delay: $DELAYED_CALLS echo calls delayed ${DELAY_MS} ms on one connection, sayHello on another meanwhile"
start_child "delayed echo client" "$WORK/delayed.out" "${NODE_PEER[@]}" client --gen "$WORK" "${BUFFERED[@]}" --port "$FAULT_BUFFERED" \
  --timed echo --calls "$DELAYED_CALLS"
DELAYED_PID=${CHILD_PIDS[-1]}
wait_for "the delayed client's connection" 20 grep -q '^CONNECTED' "$WORK/delayed.out" || die "the delayed client did not connect: $(cat "$WORK/delayed.out")"
"${NODE_PEER[@]}" client --gen "$WORK" "${BUFFERED[@]}" --port "$FAULT_BUFFERED" --timed sayHello --calls 5 | tee "$WORK/undelayed.out"
# The other connection's calls were made while the delayed ones were still waiting.
kill -0 "$DELAYED_PID" 2>/dev/null \
  || die "the delayed client was done before the other connection's calls, they did not overlap: $(cat "$WORK/delayed.out")"
wait "$DELAYED_PID" || die "the delayed client failed: $(cat "$WORK/delayed.out")"
cat "$WORK/delayed.out"
grep -q '^CLIENT OK' "$WORK/undelayed.out" || die "the undelayed client did not finish"
[ "$(grep -c '^LATENCY method=echo ' "$WORK/delayed.out")" -eq "$DELAYED_CALLS" ] || die "expected $DELAYED_CALLS timed echo calls"
awk -v min="$DELAY_MS" '/^LATENCY/ { split($3, ms, "="); if (ms[2] + 0 < min) bad = 1 } END { exit bad }' "$WORK/delayed.out" \
  || die "a delayed echo came back in less than $DELAY_MS ms"
awk -v max="$DELAY_MS" '/^LATENCY/ { split($3, ms, "="); if (ms[2] + 0 >= max) bad = 1 } END { exit bad }' "$WORK/undelayed.out" \
  || die "a sayHello on the other connection took $DELAY_MS ms or more: it was delayed too"
[ "$(served_since buffered echo)" -eq "$DELAYED_CALLS" ] || die "the buffered server ran $(served_since buffered echo) echo calls, expected $DELAYED_CALLS"
log "fault delay: echo latencies $(grep -o 'ms=[0-9.]*' "$WORK/delayed.out" | tr '\n' ' ')(>= $DELAY_MS); other connection $(grep -o 'ms=[0-9.]*' "$WORK/undelayed.out" | tr '\n' ' ')"
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$FAULT_ADMIN" --wait 10 \
  --expect "metaproto_local_replies_total{protocol=thrift,reason=fault} == $aborted" \
  --expect "metaproto_local_replies_total{protocol=thrift} == $aborted" \
  --expect "metaproto_requests_total{protocol=thrift,method=crash,response_status=server_error,response_code=app_exception:13} == $aborted" \
  --expect "metaproto_requests_total{protocol=thrift,method=crash} == $aborted" \
  --expect "metaproto_requests_total{protocol=thrift,method=sayHello,response_status=ok} == $((fault_hello + 5))" \
  --expect "metaproto_requests_total{protocol=thrift,method=echo,response_status=ok} == $DELAYED_CALLS" \
  --expect "metaproto_request_duration_microseconds_sum{protocol=thrift,method=echo} >= $((DELAYED_CALLS * DELAY_MS * 1000))" \
  --expect "metaproto_mutations_total{protocol=thrift} == 0" \
  --expect "metaproto_connection_routes_total{protocol=thrift} == 0" \
  --expect "metaproto_policy_closes_total{protocol=thrift} == 0" \
  --expect "metaproto_decode_errors_total{protocol=thrift} == 0"

# --- Mutation: a fourth Envoy whose plugin rewrites THeader info headers on their way to a python
# THeader server of its own, which prints the headers of every request it processed.
MUTATION_SERVER=$(free_port); MUTATION_ADMIN=$(free_port); MUTATION_HEADER=$(free_port); MUTATION_FRAMED=$(free_port)
start_child "python server (THeader, for mutation)" "$WORK/mutation-server.log" "${PY_PEER[@]}" server --gen "$WORK" --protocol header --port "$MUTATION_SERVER"
wait_for "mutation server" 20 grep -q "SERVER READY" "$WORK/mutation-server.log" || die "the mutation server did not start"
MUTATION_POLICY='{"policy": {"mutations": [
  {"match": {"method": {"exact": "sayHello"}}, "set": {"x-canary": "yes", "tenant": "t9"}, "remove": ["trace"]},
  {"match": {"method": {"exact": "notify"}}, "remove": ["tenant", "trace"]}]}}'
metaproto_bootstrap_listeners "$MUTATION_ADMIN" "$WASM" "$(echo "$MUTATION_POLICY" | tr -d '\n')" \
  "mutation_header:$MUTATION_HEADER:$MUTATION_SERVER" "mutation_framed:$MUTATION_FRAMED:$MUTATION_SERVER" >"$WORK/envoy-mutation.yaml"
start_envoy "$WORK/envoy-mutation.yaml" "$MUTATION_ADMIN" "$WORK/envoy-mutation.log"
log "mutation: python client, THeader with tenant=t1 trace=rig; sayHello gets x-canary=yes tenant=t9 without trace, notify no headers"
"${PY_PEER[@]}" client --gen "$WORK" --protocol header --header tenant=t1 --header trace=rig --calls 3 --port "$MUTATION_HEADER" \
  | tee "$WORK/mutation-header.out"
grep -q '^CLIENT OK' "$WORK/mutation-header.out" || die "the mutation client did not finish"
# The server prints a request's headers once it has answered it: wait for all of them.
mutation_calls=$(grep -c '^OBSERVED' "$WORK/mutation-header.out")
wait_for "the mutation server's $mutation_calls HEADERS lines" 10 sh -c \
  "[ \$(grep -c '^HEADERS' '$WORK/mutation-server.log') -ge $mutation_calls ]" || die "the mutation server printed too few HEADERS lines"
# What the server received, call by call, against what the client sent and the policy says.
expected_headers=$(sed -n 's/^OBSERVED service= method=\([^ ]*\) .*/\1/p' "$WORK/mutation-header.out" | while read -r method; do
  case $method in
    sayHello) echo "HEADERS tenant=t9,x-canary=yes" ;;
    notify) echo "HEADERS " ;;
    *) echo "HEADERS tenant=t1,trace=rig" ;;
  esac
done)
received_headers=$(grep '^HEADERS' "$WORK/mutation-server.log")
log "mutation: the server received, call by call:"; echo "$received_headers" | sed 's/^/    /' >&2
[ "$received_headers" = "$expected_headers" ] || die "the server received other headers than the policy says; expected:
$expected_headers"
mutated=$(grep -c -e '^OBSERVED service= method=sayHello ' -e '^OBSERVED service= method=notify ' "$WORK/mutation-header.out")
log "mutation: npm client, compact + framed (no headers to rewrite: its calls go on unchanged) -> Envoy :$MUTATION_FRAMED"
"${NODE_PEER[@]}" client --gen "$WORK" --transport framed --protocol compact --calls 1 --port "$MUTATION_FRAMED" | tee "$WORK/mutation-framed.out"
grep -q '^CLIENT OK' "$WORK/mutation-framed.out" || die "the framed client did not finish through the mutation listener"
unsupported=$(grep -c -e '^OBSERVED service= method=sayHello ' -e '^OBSERVED service= method=notify ' "$WORK/mutation-framed.out")
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$MUTATION_ADMIN" --wait 10 \
  --expect "metaproto_mutations_total{protocol=thrift,reason=applied} == $mutated" \
  --expect "metaproto_mutations_total{protocol=thrift,reason=unsupported} == $unsupported" \
  --expect "metaproto_mutations_total{protocol=thrift} == $((mutated + unsupported))" \
  --expect "metaproto_local_replies_total{protocol=thrift} == 0" \
  --expect "metaproto_connection_routes_total{protocol=thrift} == 0" \
  --expect "metaproto_policy_closes_total{protocol=thrift} == 0" \
  --expect "metaproto_decode_errors_total{protocol=thrift} == 0"

# --- Connection routing: a fifth Envoy, tcp_proxy connecting on the first data; a connection whose
# first call carries tenant=t2 goes to a second python THeader server (cluster thrift_header_b),
# others to the usual one. Each server's own output says which calls it got.
HEADER_B_SERVER=$(free_port); ROUTE_ADMIN=$(free_port); ROUTE_HEADER=$(free_port)
start_child "python server B (THeader, routing)" "$WORK/header-b-server.log" "${PY_PEER[@]}" server --gen "$WORK" --protocol header --port "$HEADER_B_SERVER"
wait_for "server B" 20 grep -q "SERVER READY" "$WORK/header-b-server.log" || die "server B did not start"
{
  METAPROTO_CONNECT_ON_DATA=1 metaproto_bootstrap_listeners "$ROUTE_ADMIN" "$WASM" \
    '{"policy": {"routes": [{"match": {"attributes": [{"name": "tenant", "exact": "t2"}]}, "cluster": "thrift_header_b"}]}}' \
    "route_header:$ROUTE_HEADER:$HEADER_SERVER"
  metaproto_cluster_yaml thrift_header_b "$HEADER_B_SERVER"
} >"$WORK/envoy-routes.yaml"
start_envoy "$WORK/envoy-routes.yaml" "$ROUTE_ADMIN" "$WORK/envoy-routes.log"
header_lines_before=$(wc -l <"$WORK/header-server.log")
SERVED_BEFORE[header.sayHello]=$(served header sayHello)
log "routing: python client, THeader with tenant=t2 -> Envoy :$ROUTE_HEADER -> server B :$HEADER_B_SERVER"
"${PY_PEER[@]}" client --gen "$WORK" --protocol header --header tenant=t2 --calls 2 --port "$ROUTE_HEADER" | tee "$WORK/route-t2.out"
log "routing: python client, THeader with tenant=t1 -> Envoy :$ROUTE_HEADER -> server A :$HEADER_SERVER"
"${PY_PEER[@]}" client --gen "$WORK" --protocol header --header tenant=t1 --calls 2 --port "$ROUTE_HEADER" | tee "$WORK/route-t1.out"
for out in route-t2 route-t1; do grep -q '^CLIENT OK' "$WORK/$out.out" || die "$out did not finish: $(cat "$WORK/$out.out")"; done
t2_calls=$(grep -c '^OBSERVED' "$WORK/route-t2.out"); t1_calls=$(grep -c '^OBSERVED' "$WORK/route-t1.out")
since_routing() { tail -n +"$((header_lines_before + 1))" "$WORK/header-server.log"; }
wait_for "server B's $t2_calls requests" 10 sh -c "[ \$(grep -c '^HEADERS' '$WORK/header-b-server.log') -ge $t2_calls ]" \
  || die "server B printed $(grep -c '^HEADERS' "$WORK/header-b-server.log") HEADERS lines, expected $t2_calls"
wait_for "server A's $t1_calls requests" 10 sh -c "[ \$(tail -n +$((header_lines_before + 1)) '$WORK/header-server.log' | grep -c '^HEADERS') -ge $t1_calls ]" \
  || die "server A printed too few HEADERS lines since the routing clients started"
b_t2=$(grep -c '^HEADERS tenant=t2$' "$WORK/header-b-server.log" || true)
b_all=$(grep -c '^HEADERS' "$WORK/header-b-server.log")
a_t1=$(since_routing | grep -c '^HEADERS tenant=t1$' || true)
a_all=$(since_routing | grep -c '^HEADERS' || true)
log "routing: server B received $b_t2 of $b_all requests with tenant=t2; server A $a_t1 of $a_all with tenant=t1"
[ "$b_t2" -eq "$t2_calls" ] && [ "$b_all" -eq "$t2_calls" ] || die "server B got $b_all requests ($b_t2 with tenant=t2), expected the t2 client's $t2_calls"
[ "$a_t1" -eq "$t1_calls" ] && [ "$a_all" -eq "$t1_calls" ] || die "server A got $a_all requests ($a_t1 with tenant=t1), expected the t1 client's $t1_calls"
[ "$(grep -c '^SERVED sayHello$' "$WORK/header-b-server.log")" -eq 2 ] || die "server B did not run the t2 client's 2 sayHello calls"
[ "$(served_since header sayHello)" -eq 2 ] || die "server A ran $(served_since header sayHello) sayHello calls, expected the t1 client's 2"
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$ROUTE_ADMIN" --wait 10 \
  --expect "metaproto_connection_routes_total{protocol=thrift,reason=routed} == 1" \
  --expect "metaproto_connection_routes_total{protocol=thrift,reason=default} == 1" \
  --expect "metaproto_connection_routes_total{protocol=thrift} == 2" \
  --expect "metaproto_requests_total{protocol=thrift,method=sayHello,response_status=ok} == 4" \
  --expect "metaproto_local_replies_total{protocol=thrift} == 0" \
  --expect "metaproto_mutations_total{protocol=thrift} == 0" \
  --expect "metaproto_policy_closes_total{protocol=thrift} == 0" \
  --expect "metaproto_decode_errors_total{protocol=thrift} == 0"

log "PASS: $calls Thrift calls in five variants, metrics agree; $((denied + limited)) refused calls answered in place by the policy listener;"
log "  $aborted aborted and $DELAYED_CALLS delayed by faults, $mutated THeader calls mutated, $((t1_calls + t2_calls)) calls routed by their first call's tenant"
if [ -n "${KEEP_RUNNING:-}" ]; then
  log "Envoy admin: http://127.0.0.1:$ADMIN/stats/prometheus (metaproto_* lines)"
  log "Thrift via Envoy: binary+buffered :$BUFFERED_PORT, compact+framed (Greeter:...) :$FRAMED_PORT, THeader :$HEADER_PORT,"
  log "  JSON+buffered :$JSON_BUFFERED_PORT, JSON+framed (GreeterJson:...) :$JSON_FRAMED_PORT"
  log "running until Ctrl-C"
  wait "$ENVOY_PID" || true
fi
rm -rf "$WORK"
