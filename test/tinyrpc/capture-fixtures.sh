#!/usr/bin/env bash
# Records codecs/tinyrpc/fixtures/ from the real peers: the example client, reconnecting once,
# talks to the example server through the byte-exact relay test/lib/capture.js (no Envoy).
# See codecs/tinyrpc/fixtures/README.md.
#   bash test/tinyrpc/capture-fixtures.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=tinyrpc-capture
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

PEERS="$REPO/examples/tinyrpc"
OUT="$REPO/codecs/tinyrpc/fixtures"
WORK=$(mktemp -d)
SERVER_PORT=$(free_port); RELAY_PORT=$(free_port)
start_child "tinyrpc server" "$WORK/server.log" node "$PEERS/server.js" --port "$SERVER_PORT"
wait_for "tinyrpc server :$SERVER_PORT" 10 grep -q "READY $SERVER_PORT" "$WORK/server.log"
# --once records every connection of the one client, then exits by itself.
start_child "capture relay" "$WORK/relay.log" \
  node "$REPO/test/lib/capture.js" --listen "$RELAY_PORT" --target "127.0.0.1:$SERVER_PORT" --prefix "$OUT/client" --once
RELAY_PID=${CHILD_PIDS[-1]}
wait_for "capture relay :$RELAY_PORT" 10 grep -q "CAPTURE READY" "$WORK/relay.log"
node "$PEERS/client.js" --port "$RELAY_PORT" --connections 2 >"$WORK/client.out"
wait "$RELAY_PID" || die "the relay failed: $(cat "$WORK/relay.log")"
grep 'CAPTURE CLOSED' "$WORK/relay.log" >&2
log "wrote $(cd "$OUT" && ls client*.bin | tr '\n' ' ')"
