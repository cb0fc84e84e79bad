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
# TApplicationException in place and never run by the servers.
# Asserts Envoy's /stats/prometheus against what the clients and servers saw.
#   bash test/thrift/test.sh                  # run, assert, stop everything
#   KEEP_RUNNING=1 bash test/thrift/test.sh   # leave Envoy and the servers up until Ctrl-C
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=thrift
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

WASM="$REPO/dist/wasm/thrift.wasm"
IDL="$REPO/test/thrift/demo.thrift"
PY=/usr/bin/python3 # the interpreter Debian's python3-thrift is installed for
BIG=$((2 * 1024 * 1024))
JSON_BIG=$((800 * 1024))
[ -f "$WASM" ] || die "$WASM is missing: run ./build.sh first"
command -v thrift >/dev/null || die "the thrift compiler is missing: ./build.sh setup installs thrift-compiler"
"$PY" -c 'import thrift' 2>/dev/null || die "python3-thrift is missing: ./build.sh setup installs it"
WORK=$(mktemp -d)
log "work dir $WORK"

log "generating code from demo.thrift with $(thrift --version)"
thrift --gen js:node -out "$WORK" "$IDL" 2>/dev/null
thrift --gen py -out "$WORK" "$IDL" 2>/dev/null
export NODE_PATH="$REPO/node_modules" # the generated JS requires 'thrift'
NODE_PEER=(node "$REPO/test/thrift/node-peer.js")
PY_PEER=("$PY" "$REPO/test/thrift/py-peer.py")
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
mapfile -t EXPECT < <(python3 "$REPO/test/thrift/expectations.py" --idl "$IDL" "${DECODED_OUTPUTS[@]}")
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

log "PASS: $calls Thrift calls in five variants, metrics agree; $((denied + limited)) refused calls answered in place by the policy listener"
if [ -n "${KEEP_RUNNING:-}" ]; then
  log "Envoy admin: http://127.0.0.1:$ADMIN/stats/prometheus (metaproto_* lines)"
  log "Thrift via Envoy: binary+buffered :$BUFFERED_PORT, compact+framed (Greeter:...) :$FRAMED_PORT, THeader :$HEADER_PORT,"
  log "  JSON+buffered :$JSON_BUFFERED_PORT, JSON+framed (GreeterJson:...) :$JSON_FRAMED_PORT"
  log "running until Ctrl-C"
  wait "$ENVOY_PID" || true
fi
rm -rf "$WORK"
