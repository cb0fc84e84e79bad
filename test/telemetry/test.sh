#!/usr/bin/env bash
# Telemetry receiver rig: spans from the OpenTelemetry JS SDK (OTLP/gRPC) -> `metaproto receiver`
# (enrichment from a Service, a JSON lines file, OTLP forward) -> a real Jaeger, read back from its
# HTTP query API. Then Jaeger is stopped while spans keep coming for 10 s and started again: every
# span the receiver's deliberately small buffer held must arrive (exact count), and the overflow must
# be counted in the receiver's metrics and its log, not lost silently.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
RIG=telemetry
. test/lib/envoy.sh
. test/lib/jaeger.sh

BUFFER=200          # receiver's buffer per sink and signal
BEFORE=20           # spans sent while Jaeger is up
DURING=300          # spans sent over OUTAGE_SECONDS while Jaeger is down
OUTAGE_SECONDS=10

WORK=$(mktemp -d)
trap 'stop_children' EXIT
log "work dir $WORK"

start_jaeger "$WORK/jaeger"

cat >"$WORK/config.yaml" <<'YAML'
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: cache, labels: { team: storage } }
spec:
  protocol: redis
  port: 6380
  subsets:
  - name: v1
    labels: { version: v1 }
    endpoints: [{ address: 10.0.0.5, port: 6379 }]
YAML

RECEIVER_GRPC=$(free_port)
RECEIVER_HTTP=$(free_port)
start_child receiver "$WORK/receiver.log" node control-plane/bin/metaproto.js --log-level info receiver "$WORK/config.yaml" \
  --grpc-listen "127.0.0.1:$RECEIVER_GRPC" --http-listen "127.0.0.1:$RECEIVER_HTTP" \
  --jsonl "$WORK/records.jsonl" --forward "127.0.0.1:$JAEGER_OTLP_GRPC_PORT" --forward-signals traces \
  --buffer-records "$BUFFER" --batch-records 50 --batch-delay 200ms --initial-backoff 200ms --max-backoff 1s
wait_for "receiver" 30 curl -sf "http://127.0.0.1:$RECEIVER_HTTP/metrics" || { cat "$WORK/receiver.log" >&2; die "the receiver did not start"; }

FORWARD="otlp:127.0.0.1:$JAEGER_OTLP_GRPC_PORT"
# metric NAME 'LABELS': the value of one series of the receiver's metrics (0 when absent).
metric() {
  curl -sf "http://127.0.0.1:$RECEIVER_HTTP/metrics" | awk -v series="$1{$2}" '$1 == series { print $2; found = 1 } END { if (!found) print 0 }'
}
# jaeger_span_count TRACE_ID: spans Jaeger's query API returns for the trace (0 when it has none).
jaeger_span_count() {
  curl -s "http://127.0.0.1:$JAEGER_QUERY_PORT/api/traces/$1" |
    python3 -c 'import json,sys; d=json.load(sys.stdin).get("data") or []; print(sum(len(t["spans"]) for t in d))'
}
expect_eq() { # what expected actual
  [ "$2" = "$3" ] || { tail -n 40 "$WORK/receiver.log" >&2; die "$1: expected $2, got $3"; }
  log "ok: $1 = $3"
}
wait_until_eq() { # what seconds expected command...
  local what=$1 seconds=$2 expected=$3; shift 3
  local deadline=$((SECONDS + seconds)) actual
  while :; do
    actual=$("$@")
    [ "$actual" = "$expected" ] && { log "ok: $what = $actual"; return; }
    [ $SECONDS -lt $deadline ] || { tail -n 40 "$WORK/receiver.log" >&2; die "$what: expected $expected, still $actual after ${seconds}s"; }
    sleep 0.5
  done
}

log "1. $BEFORE spans while Jaeger is up"
TRACE_BEFORE=$(node test/telemetry/send_spans.js "$RECEIVER_GRPC" before "$BEFORE" 1)
wait_until_eq "spans of trace $TRACE_BEFORE in Jaeger" 30 "$BEFORE" jaeger_span_count "$TRACE_BEFORE"
curl -s "http://127.0.0.1:$JAEGER_QUERY_PORT/api/traces/$TRACE_BEFORE" | python3 -c '
import json, sys
spans = json.load(sys.stdin)["data"][0]["spans"]
want = {"metaproto.server.service": "cache", "metaproto.server.subset": "v1", "metaproto.server.version": "v1",
        "metaproto.server.label.team": "storage", "peer.service": "cache"}
for span in spans:
    tags = {t["key"]: t["value"] for t in span["tags"]}
    missing = {k: v for k, v in want.items() if tags.get(k) != v}
    name = span["operationName"]
    assert not missing, f"span {name} lacks the enrichment {missing}: {tags}"
print(f"all {len(spans)} spans in Jaeger carry the Service, subset, version and labels of 10.0.0.5:6379")' >&2
expect_eq "spans enriched" "$BEFORE" "$(metric metaproto_receiver_enriched_total 'signal="traces"')"

log "2. Jaeger stopped; $DURING spans over ${OUTAGE_SECONDS}s into a buffer of $BUFFER"
stop_jaeger
TRACE_DURING=$(node test/telemetry/send_spans.js "$RECEIVER_GRPC" during "$DURING" "$OUTAGE_SECONDS")
wait_until_eq "spans received" 30 "$((BEFORE + DURING))" metric metaproto_receiver_received_total 'signal="traces",transport="grpc"'
expect_eq "spans held for Jaeger" "$BUFFER" "$(metric metaproto_receiver_buffer_items "sink=\"$FORWARD\",signal=\"traces\"")"
expect_eq "spans dropped (buffer full)" "$((DURING - BUFFER))" "$(metric metaproto_receiver_dropped_total "sink=\"$FORWARD\",signal=\"traces\",reason=\"buffer_full\"")"
retries=$(metric metaproto_receiver_retries_total "sink=\"$FORWARD\",signal=\"traces\"")
[ "$retries" -gt 0 ] || die "no retries counted while Jaeger was down"
log "ok: $retries retries while Jaeger was down"
grep -q '"msg":"buffer full: dropping new records' "$WORK/receiver.log" || die "the receiver did not log that its buffer was full"

log "3. Jaeger started again"
start_jaeger "$WORK/jaeger"
wait_until_eq "spans held for Jaeger" 30 0 metric metaproto_receiver_buffer_items "sink=\"$FORWARD\",signal=\"traces\""
wait_until_eq "spans of trace $TRACE_DURING in Jaeger" 30 "$BUFFER" jaeger_span_count "$TRACE_DURING"
# The buffer keeps the oldest and refuses the newest: exactly the first BUFFER spans of the outage.
curl -s "http://127.0.0.1:$JAEGER_QUERY_PORT/api/traces/$TRACE_DURING" | python3 -c '
import json, sys
buffer = int(sys.argv[1])
names = sorted(s["operationName"] for s in json.load(sys.stdin)["data"][0]["spans"])
expected = [f"during-{i:04d}" for i in range(buffer)]
assert names == expected, f"Jaeger has {names[:3]}...{names[-3:]}, not during-0000..during-{buffer - 1:04d}"
print(f"Jaeger has exactly during-0000..during-{buffer - 1:04d}")' "$BUFFER" >&2
sleep 1
expect_eq "spans of trace $TRACE_DURING in Jaeger, a second later" "$BUFFER" "$(jaeger_span_count "$TRACE_DURING")"
expect_eq "spans exported to Jaeger" "$((BEFORE + BUFFER))" "$(metric metaproto_receiver_exported_total "sink=\"$FORWARD\",signal=\"traces\"")"
grep -q "\"dropped\":$((DURING - BUFFER)),\"msg\":\"buffer has room again" "$WORK/receiver.log" ||
  die "the receiver did not log the exact number it dropped ($((DURING - BUFFER)))"
log "ok: the receiver logged the $((DURING - BUFFER)) spans it dropped"

log "4. the JSON lines sink has its own buffer: the Jaeger outage cost it nothing"
wait_until_eq "spans in records.jsonl" 10 "$((BEFORE + DURING))" sh -c "grep -c '\"signal\":\"traces\"' '$WORK/records.jsonl'"
expect_eq "spans dropped by the jsonl sink" 0 "$(metric metaproto_receiver_dropped_total 'sink="jsonl",signal="traces",reason="buffer_full"')"

log "telemetry rig passed"
