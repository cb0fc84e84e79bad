#!/usr/bin/env bash
# Spans and trace-context propagation through two stock Envoys running the MetaProto filter, with
# real peers: Java Dubbo consumer -> Envoy A (client-side sidecar) -> Envoy B (server-side sidecar)
# -> Java Dubbo provider (it prints the attachments it received), both Envoys exporting OTLP over
# gRPC to a real Jaeger v1.75.0, read back through Jaeger's HTTP query API. Then redis-cli ->
# Envoy -> redis-server and the mariadb CLI -> Envoy -> MariaDB, whose spans carry the database
# attributes; a python3-thrift THeader client
# and server, whose info headers carry the context; flow logs of a Redis client's calls (through
# metaproto receiver) compared with its connections as `ss` shows them; and a Jaeger outage.
#   bash test/tracing/test.sh
# Needs test/lib/jaeger.sh and the Jaeger binary it builds (./build.sh setup).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=tracing
. "$REPO/test/lib/envoy.sh"
. "$REPO/test/lib/jaeger.sh"
trap stop_children EXIT

DUBBO_WASM="$REPO/dist/wasm/dubbo.wasm"
REDIS_WASM="$REPO/dist/wasm/redis.wasm"
THRIFT_WASM="$REPO/dist/wasm/thrift.wasm"
for wasm in "$DUBBO_WASM" "$REDIS_WASM" "$THRIFT_WASM"; do [ -f "$wasm" ] || die "$wasm is missing: run ./build.sh first"; done
WORK=$(mktemp -d)
log "work dir $WORK"

start_jaeger "$WORK/jaeger"
JAEGER_API="http://127.0.0.1:$JAEGER_QUERY_PORT/api"

log "building the Java peers (first run resolves Dubbo from Maven Central)"
bash "$REPO/test/dubbo/java/run.sh" build
PROVIDER_PORT=$(free_port)
start_child provider "$WORK/provider.log" bash "$REPO/test/dubbo/java/run.sh" provider "$PROVIDER_PORT"
wait_for "Dubbo provider :$PROVIDER_PORT" 60 grep -q "PROVIDER READY" "$WORK/provider.log" \
  || { cat "$WORK/provider.log" >&2; die "the provider did not start"; }

# tracing config: span kind, service name, inject formats (JSON array), for one sidecar.
tracing_config() { # span_kind service_name inject_json
  printf '{"tracing": {"collector_cluster": "otlp", "flush_interval_ms": 200, "span_kind": "%s", "service_name": "%s", "propagation": {"inject": %s}}}' "$1" "$2" "$3"
}

# Envoy B's span kind is left to "auto": its listener is marked inbound, as Istio marks a sidecar's
# inbound listeners, so its spans must come out as SERVER spans.
B_ADMIN=$(free_port); B_PORT=$(free_port)
{ metaproto_bootstrap "$B_ADMIN" "$B_PORT" "$PROVIDER_PORT" "$DUBBO_WASM" "$(tracing_config auto sidecar-b '[]')" |
    sed '0,/^  - name: metaproto$/s//&\n    traffic_direction: INBOUND/'  # the listener, not the cluster of that name
  metaproto_grpc_cluster_yaml otlp "$JAEGER_OTLP_GRPC_PORT"; } >"$WORK/envoy-b.yaml"
grep -q 'traffic_direction: INBOUND' "$WORK/envoy-b.yaml" || die "could not mark Envoy B's listener inbound"
start_envoy "$WORK/envoy-b.yaml" "$B_ADMIN" "$WORK/envoy-b.log"

A_ADMIN=$(free_port); A_PORT=$(free_port)
{ metaproto_bootstrap "$A_ADMIN" "$A_PORT" "$B_PORT" "$DUBBO_WASM" "$(tracing_config client sidecar-a '[]')"
  metaproto_grpc_cluster_yaml otlp "$JAEGER_OTLP_GRPC_PORT"; } >"$WORK/envoy-a.yaml"
start_envoy "$WORK/envoy-a.yaml" "$A_ADMIN" "$WORK/envoy-a.log"

# A second client-side sidecar that starts traces in SkyWalking and B3 formats.
A2_ADMIN=$(free_port); A2_PORT=$(free_port)
{ metaproto_bootstrap "$A2_ADMIN" "$A2_PORT" "$B_PORT" "$DUBBO_WASM" "$(tracing_config client sidecar-a2 '["sw8", "b3"]')"
  metaproto_grpc_cluster_yaml otlp "$JAEGER_OTLP_GRPC_PORT"; } >"$WORK/envoy-a2.yaml"
start_envoy "$WORK/envoy-a2.yaml" "$A2_ADMIN" "$WORK/envoy-a2.log"

# consumer NAME PORT --attach...: one sayHello, fail, notifyOneway and echo; prints the provider lines
# its sayHello produced into $WORK/NAME.provider (the provider log grows by exactly those).
consumer() {
  local name=$1 port=$2; shift 2
  local before
  before=$(wc -l <"$WORK/provider.log")
  bash "$REPO/test/dubbo/java/run.sh" consumer --url "dubbo://[::ffff:127.0.0.1]:$port" --count 1 "$@" >"$WORK/$name.out" 2>&1 \
    || { cat "$WORK/$name.out" >&2; die "consumer $name failed"; }
  grep -q '^SUMMARY ' "$WORK/$name.out" || { cat "$WORK/$name.out" >&2; die "consumer $name did not finish"; }
  tail -n +"$((before + 1))" "$WORK/provider.log" | grep 'PROVIDER sayHello attachments' >"$WORK/$name.provider" || true
  [ "$(wc -l <"$WORK/$name.provider")" = 1 ] || die "the provider did not print the sayHello attachments of $name"
}

# What the provider received for attachment KEY in consumer NAME's sayHello.
provider_attachment() { # name key
  python3 - "$WORK/$1.provider" "$2" <<'PY'
import re, sys
line = open(sys.argv[1]).read()
m = re.search(r"[{ ,]" + re.escape(sys.argv[2]) + r"=([^,}]*)", line)
print(m.group(1) if m else "")
PY
}

# check_trace TRACE_ID EXPECTED_PARENT_OF_A PROVIDER_SPAN_ID A_SERVICE [CALLS]: Jaeger holds the trace
# with CALLS (default: the consumer's four calls, which share the context they carry), each seen by the client-side sidecar (kind client, child of EXPECTED_PARENT_OF_A
# when given) and by Envoy B (kind server, child of the matching client-side span); the provider's
# sayHello got Envoy B's span as its parent.
check_trace() {
  python3 "$REPO/test/tracing/check_trace.py" --api "$JAEGER_API" --trace "$1" --client-parent "$2" \
    --provider-span "$3" --client-service "$4" --server-service sidecar-b --calls "${5:-sayHello,fail,notifyOneway,echo}" --wait 20
}

log "1. a call carrying traceparent: one trace, both sidecars' spans linked, the provider got the context"
TRACE=4bf92f3577b34da6a3ce929d0e0e4736; CLIENT_SPAN=00f067aa0ba902b7
consumer w3c "$A_PORT" --attach "traceparent=00-$TRACE-$CLIENT_SPAN-01" --attach tracestate=vendor=1
got=$(provider_attachment w3c traceparent)
[[ "$got" =~ ^00-$TRACE-([0-9a-f]{16})-01$ ]] || die "the provider got traceparent '$got', not trace $TRACE"
provider_span=${BASH_REMATCH[1]}
[ "$(provider_attachment w3c tracestate)" = "vendor=1" ] || die "tracestate did not reach the provider unchanged"
check_trace "$TRACE" "$CLIENT_SPAN" "$provider_span" sidecar-a

log "2. a call without context: sidecar A starts a trace and injects it; the provider and Jaeger agree"
consumer none "$A_PORT" --attach tenant=t1
got=$(provider_attachment none traceparent)
[[ "$got" =~ ^00-([0-9a-f]{32})-([0-9a-f]{16})-01$ ]] || die "the provider got no traceparent ('$got')"
# Each call without context starts its own trace: this one holds the sayHello.
check_trace "${BASH_REMATCH[1]}" none "${BASH_REMATCH[2]}" sidecar-a sayHello

log "3. sw8 from a SkyWalking-style client: its trace goes on in sw8, the provider and Jaeger agree"
b64() { printf '%s' "$1" | base64 -w0; }
sw8="1-$(b64 a8c1.102.17000000001)-$(b64 a8c1.103.17000000002)-3-$(b64 shop)-$(b64 shop-1)-$(b64 /order)-$(b64 127.0.0.1:$A_PORT)"
consumer sw8 "$A_PORT" --attach "sw8=$sw8"
got=$(provider_attachment sw8 sw8)
IFS=- read -r sampled trace_b64 segment_b64 span_field _ <<<"$got"
[ "$sampled" = 1 ] && [ "$span_field" = 0 ] || die "the provider got sw8 '$got'"
sw8_trace=$(printf '%s' "$trace_b64" | base64 -d); sw8_segment=$(printf '%s' "$segment_b64" | base64 -d)
[ -z "$(provider_attachment sw8 traceparent)" ] || die "sw8 in, but the provider got a traceparent too"
check_trace "$sw8_trace" "" "$sw8_segment" sidecar-a

log "4. b3 single: the same"
consumer b3 "$A_PORT" --attach "b3=80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
got=$(provider_attachment b3 b3)
[[ "$got" =~ ^80f198ee56343ba864fe8b2a57d3eff7-([0-9a-f]{16})-1$ ]] || die "the provider got b3 '$got'"
check_trace 80f198ee56343ba864fe8b2a57d3eff7 e457b5a2e4d86bd1 "${BASH_REMATCH[1]}" sidecar-a

log "5. no context through the sidecar that writes sw8 and b3: both carry the trace Jaeger has"
consumer started "$A2_PORT"
got_sw8=$(provider_attachment started sw8); got_b3=$(provider_attachment started b3)
IFS=- read -r _ trace_b64 segment_b64 _ <<<"$got_sw8"
started_trace=$(printf '%s' "$trace_b64" | base64 -d); b_span=$(printf '%s' "$segment_b64" | base64 -d)
[[ "$got_b3" =~ ^$started_trace-[0-9a-f]{16}-1$ ]] || die "b3 '$got_b3' and sw8 trace $started_trace disagree"
check_trace "$started_trace" none "$b_span" sidecar-a2 sayHello

for admin in "$A_ADMIN" "$B_ADMIN" "$A2_ADMIN"; do
  python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$admin" --wait 10 \
    --expect "metaproto_spans_dropped_total == 0" \
    --expect "metaproto_mutations_total{protocol=dubbo,reason=unsupported} == 0" \
    --expect "metaproto_decode_errors_total{protocol=dubbo} == 0"
done
a_spans=$(( $(curl -sf "http://127.0.0.1:$A_ADMIN/stats?filter=metaproto_spans_exported_total" | awk '{print $2}') ))
[ "$a_spans" = 16 ] || die "sidecar A exported $a_spans spans, expected 16 (4 consumers x 4 calls)"

log "6. Redis: spans with the database attributes"
REDIS_PORT=$(free_port); R_ADMIN=$(free_port); R_PORT=$(free_port)
start_child redis-server "$WORK/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK"
wait_for "redis-server :$REDIS_PORT" 10 redis-cli -p "$REDIS_PORT" ping || die "redis-server did not start"
{ metaproto_bootstrap "$R_ADMIN" "$R_PORT" "$REDIS_PORT" "$REDIS_WASM" "$(tracing_config client redis-sidecar '[]')"
  metaproto_grpc_cluster_yaml otlp "$JAEGER_OTLP_GRPC_PORT"; } >"$WORK/envoy-redis.yaml"
start_envoy "$WORK/envoy-redis.yaml" "$R_ADMIN" "$WORK/envoy-redis.log"
redis-cli -p "$R_PORT" -n 3 set tracing:k v >/dev/null
redis-cli -p "$R_PORT" -n 3 get tracing:k >/dev/null
redis-cli -p "$R_PORT" -n 3 lpush tracing:k x >/dev/null 2>&1 || true  # WRONGTYPE
python3 "$REPO/test/tracing/check_trace.py" --api "$JAEGER_API" --redis-service redis-sidecar --redis-port "$REDIS_PORT" --wait 20

log "6b. Thrift THeader (python3-thrift client and server): the call's traceparent is the span's parent,"
log "    and the server gets the span's context in its info headers"
thrift --gen py -out "$WORK" "$REPO/test/thrift/demo.thrift" 2>/dev/null
TH_SERVER=$(free_port); TH_ADMIN=$(free_port); TH_PORT=$(free_port)
start_child "python3-thrift server (THeader)" "$WORK/thrift-server.log" /usr/bin/python3 "$REPO/test/thrift/py-peer.py" server \
  --gen "$WORK" --protocol header --port "$TH_SERVER"
wait_for "python3-thrift server :$TH_SERVER" 20 grep -q "SERVER READY" "$WORK/thrift-server.log" || die "the Thrift server did not start"
{ metaproto_bootstrap "$TH_ADMIN" "$TH_PORT" "$TH_SERVER" "$THRIFT_WASM" "$(tracing_config client thrift-sidecar '["w3c"]')"
  metaproto_grpc_cluster_yaml otlp "$JAEGER_OTLP_GRPC_PORT"; } >"$WORK/envoy-thrift.yaml"
start_envoy "$WORK/envoy-thrift.yaml" "$TH_ADMIN" "$WORK/envoy-thrift.log"
TH_TRACE=$(python3 -c 'import secrets; print(secrets.token_hex(16))'); TH_PARENT=$(python3 -c 'import secrets; print(secrets.token_hex(8))')
/usr/bin/python3 "$REPO/test/thrift/py-peer.py" client --gen "$WORK" --protocol header --port "$TH_PORT" --calls 2 \
  --header "traceparent=00-$TH_TRACE-$TH_PARENT-01" --header tenant=t1 >"$WORK/thrift-client.out" 2>&1 \
  || { cat "$WORK/thrift-client.out" >&2; die "the Thrift client failed through the tracing sidecar"; }
python3 - "$JAEGER_API" "$TH_TRACE" "$TH_PARENT" "$WORK/thrift-server.log" <<'PY' || die "the Thrift trace does not match what the server received"
import json, re, sys, time, urllib.request
api, trace, parent, server_log = sys.argv[1:]
# Every request the server processed carries our trace id and, as parent, a span of the sidecar.
received = [re.search(r"traceparent=00-([0-9a-f]{32})-([0-9a-f]{16})-01", line) for line in open(server_log) if line.startswith("HEADERS ")]
assert received and all(received), f"a request reached the server without a traceparent: {open(server_log).read()}"
assert {m.group(1) for m in received} == {trace}, f"the server got other trace ids: {[m.group(1) for m in received]}"
server_parents = {m.group(2) for m in received}
assert parent not in server_parents, "the server got the client's own span as its parent: the sidecar did not inject its span"
deadline = time.time() + 20
while True:
    try:
        spans = json.load(urllib.request.urlopen(f"{api}/traces/{trace}", timeout=5))["data"][0]["spans"]
    except Exception:
        spans = []
    ids = {s["spanID"] for s in spans}
    if server_parents <= ids or time.time() > deadline:
        break
    time.sleep(0.5)
assert server_parents <= ids, f"Jaeger has spans {sorted(ids)}, the server got parents {sorted(server_parents)}"
for s in spans:
    if s["spanID"] in server_parents:
        refs = [r["spanID"] for r in s.get("references", []) if r["refType"] == "CHILD_OF"]
        assert refs == [parent], f"span {s['spanID']} ({s['operationName']}) has parents {refs}, expected the client's {parent}"
print(f"thrift: {len(received)} THeader requests, each with its sidecar span ({len(server_parents)} spans in trace {trace}) as parent")
PY

log "6c. MySQL (the mariadb CLI against a real MariaDB): spans carry the statement, the schema and the server's errors"
. "$REPO/test/mysql/server.sh"
start_mariadb "$WORK"
M_ADMIN=$(free_port); M_PORT=$(free_port)
{ metaproto_bootstrap "$M_ADMIN" "$M_PORT" "$MYSQL_PORT" "$REPO/dist/wasm/mysql.wasm" "$(tracing_config client mysql-sidecar '[]')"
  metaproto_grpc_cluster_yaml otlp "$JAEGER_OTLP_GRPC_PORT"; } >"$WORK/envoy-mysql.yaml"
start_envoy "$WORK/envoy-mysql.yaml" "$M_ADMIN" "$WORK/envoy-mysql.log"
printf 'SELECT 42;\nSELECT * FROM no_such_table;\n' | mariadb --no-defaults -h 127.0.0.1 -P "$M_PORT" -u "$MYSQL_USER" "-p$MYSQL_PASSWORD" \
  --ssl=0 --force -N -B "$MYSQL_DATABASE" >"$WORK/mysql-cli.out" 2>&1 || true
grep -q "^42$" "$WORK/mysql-cli.out" && grep -q "ERROR 1146" "$WORK/mysql-cli.out" || { cat "$WORK/mysql-cli.out" >&2; die "the mariadb CLI did not get its answers through the tracing sidecar"; }
python3 - "$JAEGER_API" "$MYSQL_DATABASE" <<'PY' || die "MySQL spans in Jaeger lack the database attributes"
import json, sys, time, urllib.request
api, schema = sys.argv[1:]
deadline = time.time() + 20
while True:
    try:
        traces = json.load(urllib.request.urlopen(f"{api}/traces?service=mysql-sidecar&limit=50", timeout=5))["data"] or []
    except Exception:
        traces = []
    spans = [s for t in traces for s in t["spans"]]
    tags = [{t["key"]: t["value"] for t in s["tags"]} for s in spans]
    by_text = {t.get("db.query.text"): t for t in tags}
    if {"SELECT 42", "SELECT * FROM no_such_table"} <= set(by_text) or time.time() > deadline:
        break
    time.sleep(0.5)
ok, missing = by_text.get("SELECT 42"), by_text.get("SELECT * FROM no_such_table")
assert ok and missing, f"spans: {[t.get('db.query.text') for t in tags]}"
for t in (ok, missing):
    assert t["db.system.name"] == "mysql" and t["db.system"] == "mysql" and t["db.namespace"] == schema, t
    assert t["db.operation.name"] == "COM_QUERY:SELECT" and t["db.statement"] == t["db.query.text"], t
assert missing["db.response.status_code"] == "1146" and missing.get("otel.status_code") == "ERROR", missing
print(f"mysql: {len(spans)} spans; SELECT 42 ok, the missing table's SELECT an error 1146, schema {schema}")
PY

log "7. flow logs: one record per Redis call with DeepFlow's fields and the 5-tuples of the real connections (ss)"
SINK_PORT=$(free_port); F_ADMIN=$(free_port); F_PORT=$(free_port)
# The flow logs go to MetaProto's own telemetry receiver (Jaeger takes traces only), which writes
# every record it gets to a JSON lines file.
start_child "metaproto receiver" "$WORK/receiver.log" node "$REPO/control-plane/bin/metaproto.js" receiver \
  --grpc-listen "127.0.0.1:$SINK_PORT" --http-listen off --jsonl "$WORK/flowlogs.jsonl" --batch-delay 200ms
wait_for "metaproto receiver :$SINK_PORT" 20 grep -q "telemetry receiver listening" "$WORK/receiver.log" || die "the telemetry receiver did not start"
{ metaproto_bootstrap "$F_ADMIN" "$F_PORT" "$REDIS_PORT" "$REDIS_WASM" '{"flow_logs": {"collector_cluster": "flowlogs", "flush_interval_ms": 200}}'
  metaproto_grpc_cluster_yaml flowlogs "$SINK_PORT"; } >"$WORK/envoy-flowlogs.yaml"
start_envoy "$WORK/envoy-flowlogs.yaml" "$F_ADMIN" "$WORK/envoy-flowlogs.log"
FLOW_ENVOY_PID=$ENVOY_PID
# The client keeps its connection open (stdin from a FIFO this shell holds) while ss looks at it.
mkfifo "$WORK/hold"
node "$REPO/test/tracing/held_client.js" "$F_PORT" "SET fl:k v" "GET fl:k" "LPUSH fl:k x" <"$WORK/hold" >"$WORK/held.out" 2>&1 &
HELD_PID=$!; CHILD_PIDS+=("$HELD_PID")
exec 7>"$WORK/hold"
wait_for "held client" 10 grep -q '^LOCAL ' "$WORK/held.out" || { cat "$WORK/held.out" >&2; die "the held client did not connect"; }
read -r _ client_ip client_port <"$WORK/held.out"
ss -Htn state established "( sport = :$client_port )" >"$WORK/ss-client.txt"
ss -Htnp state established "( dport = :$REDIS_PORT )" | grep "pid=$FLOW_ENVOY_PID," >"$WORK/ss-upstream.txt" || true
grep -q "127.0.0.1:$F_PORT" "$WORK/ss-client.txt" || die "ss does not show the client's connection to Envoy: $(cat "$WORK/ss-client.txt")"
[ "$(wc -l <"$WORK/ss-upstream.txt")" = 1 ] || die "ss shows $(wc -l <"$WORK/ss-upstream.txt") connections from Envoy to redis-server, expected 1"
upstream_local=$(awk '{print $3}' "$WORK/ss-upstream.txt")
python3 - "$WORK/flowlogs.jsonl" "$client_ip" "$client_port" "$F_PORT" "${upstream_local%:*}" "${upstream_local##*:}" "$REDIS_PORT" <<'PY' ||
import json, os, sys, time
path, client_ip, client_port, listen_port, up_ip, up_port, redis_port = sys.argv[1:]
deadline = time.time() + 20
while True:
    lines = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    records = [dict(event_name=r.get("event_name"), **r["attributes"]) for r in lines if r.get("signal") == "logs"]
    if len(records) >= 3 or time.time() > deadline:
        break
    time.sleep(0.3)
by_type = {r["request_type"]: r for r in records}
assert sorted(by_type) == ["GET", "LPUSH", "SET"], f"records: {records}"
for name, r in by_type.items():
    want = {"event_name": "l7_flow_log", "l7_protocol": 80, "l7_protocol_str": "Redis", "type": 2, "protocol": 6,
            "ip_0": client_ip, "client_port": int(client_port), "ip_1": "127.0.0.1", "server_port": int(listen_port),
            "upstream.ip_0": up_ip, "upstream.client_port": int(up_port), "upstream.ip_1": "127.0.0.1", "upstream.server_port": int(redis_port),
            "endpoint": name}
    wrong = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
    assert not wrong, f"{name}: (got, want) {wrong}"
    assert r["end_time"] >= r["start_time"] and r["response_duration"] == r["end_time"] - r["start_time"], r
    assert r["request_length"] > 0 and r["response_length"] > 0, r
assert by_type["SET"]["response_code"] == "OK" and by_type["SET"]["response_status"] == "ok"
assert by_type["LPUSH"]["response_code"] == "WRONGTYPE" and by_type["LPUSH"]["response_exception"].startswith("WRONGTYPE"), by_type["LPUSH"]
print(f"flow logs: {len(records)} records, 5-tuples match ss (client :{client_port} -> :{listen_port}, envoy {up_ip}:{up_port} -> :{redis_port})")
PY
  die "flow logs do not match the connections (records in $WORK/flowlogs.jsonl)"
exec 7>&-
wait "$HELD_PID" 2>/dev/null || true

log "8. Jaeger stopped for 10 s under load, then restarted: every span the queue held arrives, the overflow is counted"
QUEUE=300
O_ADMIN=$(free_port); O_PORT=$(free_port)
{ metaproto_bootstrap "$O_ADMIN" "$O_PORT" "$REDIS_PORT" "$REDIS_WASM" \
    '{"tracing": {"collector_cluster": "otlp", "flush_interval_ms": 200, "span_kind": "client", "service_name": "redis-outage", "max_queue": '"$QUEUE"', "max_batch": 100}}'
  metaproto_grpc_cluster_yaml otlp "$JAEGER_OTLP_GRPC_PORT"; } >"$WORK/envoy-outage.yaml"
start_envoy "$WORK/envoy-outage.yaml" "$O_ADMIN" "$WORK/envoy-outage.log"
outage_admin_sum() { # metric-name regex: the sum of its series in Envoy's Prometheus output
  curl -sf "http://127.0.0.1:$O_ADMIN/stats/prometheus" | awk -v re="^$1" '$1 ~ re {s += $2} END {print s + 0}'
}
stop_jaeger
outage_started=$SECONDS
for round in 1 2 3 4 5; do
  redis-benchmark -p "$O_PORT" -n 200 -c 2 -t set -q >/dev/null
  sleep 1.5
done
while [ $((SECONDS - outage_started)) -lt 10 ]; do sleep 0.5; done
calls=$(outage_admin_sum 'metaproto_requests_total[{]')
[ "$calls" -gt "$QUEUE" ] || die "only $calls calls during the outage: the load did not overflow the queue of $QUEUE"
[ "$(outage_admin_sum metaproto_spans_exported_total)" = 0 ] || die "spans were exported while Jaeger was down"
start_jaeger "$WORK/jaeger"
wait_for "the $QUEUE queued spans exported" 30 sh -c "[ \"\$(curl -sf http://127.0.0.1:$O_ADMIN/stats/prometheus | awk '/^metaproto_spans_exported_total/ {print \$2}')\" = $QUEUE ]" \
  || die "Envoy exported $(outage_admin_sum metaproto_spans_exported_total) spans after the restart, expected $QUEUE"
dropped=$(outage_admin_sum 'metaproto_spans_dropped_total[{]reason="queue_full"')
failed=$(outage_admin_sum 'metaproto_spans_dropped_total[{]reason="export_failed"')
[ "$dropped" = $((calls - QUEUE)) ] || die "$dropped spans counted as queue_full, expected $((calls - QUEUE)) ($calls calls, a queue of $QUEUE)"
[ "$failed" = 0 ] || die "$failed spans counted as export_failed"
in_jaeger=0
for _ in $(seq 1 40); do
  in_jaeger=$(curl -sf "$JAEGER_API/traces?service=redis-outage&limit=10000" | python3 -c 'import json,sys; print(sum(len(t["spans"]) for t in json.load(sys.stdin)["data"] or []))')
  [ "$in_jaeger" = "$QUEUE" ] && break
  sleep 0.5
done
[ "$in_jaeger" = "$QUEUE" ] || die "Jaeger holds $in_jaeger spans of the outage, expected $QUEUE"
log "outage: $calls calls, $QUEUE spans queued and delivered after the restart, $dropped counted as queue_full"

log "PASS: traces in Jaeger match what the provider received (traceparent, none, sw8, b3) and the THeader server received; Redis and MySQL spans carry db attributes; flow logs match ss; a Jaeger outage loses only the counted overflow"
