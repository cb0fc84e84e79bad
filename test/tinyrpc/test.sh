#!/usr/bin/env bash
# tinyrpc through a stock Envoy running dist/wasm/tinyrpc.wasm, configured from the example's own
# model (examples/tinyrpc/tinyrpc.yaml, free ports put in) by `metaproto bootstrap --static`,
# between the example's real peers: its Node server and its client, which reconnects once. The
# per-call counts in /stats/prometheus must equal what the client saw; calls the policy refuses
# are answered by Envoy and never reach the server.
#   bash test/tinyrpc/test.sh                  # run, assert, stop everything
#   KEEP_RUNNING=1 bash test/tinyrpc/test.sh   # leave Envoy and the server up until Ctrl-C
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=tinyrpc
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

PEERS="$REPO/examples/tinyrpc"
WASM="$REPO/dist/wasm/tinyrpc.wasm"
[ -f "$WASM" ] || die "$WASM is missing: run ./build.sh first"
WORK=$(mktemp -d)
log "work dir $WORK"

SERVER_PORT=$(free_port); ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port)
start_child "tinyrpc server" "$WORK/server.log" node "$PEERS/server.js" --port "$SERVER_PORT" --log-calls
wait_for "tinyrpc server :$SERVER_PORT" 10 grep -q "READY $SERVER_PORT" "$WORK/server.log"

# The example's model with this run's ports: every Service listens on LISTEN_PORT, every endpoint
# is the server.
REPO="$REPO" node -e '
  const fs = require("fs"), YAML = require(process.env.REPO + "/node_modules/yaml");
  const [model, out, listen, server] = process.argv.slice(1);
  const docs = YAML.parseAllDocuments(fs.readFileSync(model, "utf8")).map((d) => d.toJS());
  for (const d of docs.filter((d) => d.kind === "Service")) {
    d.spec.port = Number(listen);
    for (const subset of d.spec.subsets) for (const e of subset.endpoints) e.port = Number(server);
  }
  fs.writeFileSync(out, docs.map((d) => YAML.stringify(d)).join("---\n"));
' "$PEERS/tinyrpc.yaml" "$WORK/model.yaml" "$LISTEN_PORT" "$SERVER_PORT"
node "$REPO/control-plane/bin/metaproto.js" bootstrap --static "$WORK/model.yaml" --wasm-dir "$REPO/dist/wasm" \
  --admin-port "$ADMIN_PORT" --stats-flush-interval 1s -o "$WORK/envoy.yaml"
start_envoy "$WORK/envoy.yaml" "$ADMIN_PORT" "$WORK/envoy.log"

log "client -> Envoy :$LISTEN_PORT -> server: two connections, replies out of order, one call the policy refuses"
node "$PEERS/client.js" --port "$LISTEN_PORT" --connections 2 --also admin | tee "$WORK/client.out"
grep -qx 'CALL Greeter admin client_error "denied by policy"' "$WORK/client.out" \
  || die "the refused call did not get the policy's error reply"
if grep -q ' admin$' "$WORK/server.log"; then die "a call the policy refused reached the server"; fi
refused=$(grep -c 'denied by policy' "$WORK/client.out")
[ "$(grep -c '^CALL ' "$WORK/server.log")" -eq "$(( $(grep -c '^CALL ' "$WORK/client.out") - refused ))" ] \
  || die "the server did not serve every call the client made but the refused ones"

# One expectation per (method, status) the client saw, with the count it saw.
expectations=()
while read -r count method status; do
  if [ "$status" = oneway ]; then
    labels="method=$method,response_status=no_response,response_code=oneway"
  else
    labels="method=$method,response_status=$status"
  fi
  expectations+=(--expect "metaproto_requests_total{protocol=tinyrpc,service=Greeter,$labels} == $count")
done < <(awk '$1 == "CALL" {print $3, $4}' "$WORK/client.out" | sort | uniq -c)
calls=$(grep -c '^CALL ' "$WORK/client.out")
answered=$(grep '^CALL ' "$WORK/client.out" | grep -vc ' oneway$')
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$ADMIN_PORT" --wait 10 "${expectations[@]}" \
  --expect "metaproto_requests_total{protocol=tinyrpc} == $calls" \
  --expect "metaproto_request_duration_microseconds_count{protocol=tinyrpc,service=Greeter} == $answered" \
  --expect "metaproto_local_replies_total{protocol=tinyrpc,reason=denied} == $refused" \
  --expect "metaproto_decode_errors_total{protocol=tinyrpc} == 0"

if [ -n "${KEEP_RUNNING:-}" ]; then
  log "Envoy :$LISTEN_PORT (admin :$ADMIN_PORT) and the server :$SERVER_PORT stay up; Ctrl-C stops them"
  wait
fi
log "PASS"
