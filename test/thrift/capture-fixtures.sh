#!/usr/bin/env bash
# Re-captures codecs/thrift/fixtures/*.bin: real Thrift peers (npm thrift 0.17.0, python3-thrift
# 0.17) talking through the byte-exact relay test/lib/capture.js. See the fixtures' README.
#   bash test/thrift/capture-fixtures.sh            # all of them
#   bash test/thrift/capture-fixtures.sh NAME...    # only these (e.g. node-json-buffered)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=thrift-capture
. "$REPO/test/lib/envoy.sh"
OUT="$REPO/codecs/thrift/fixtures"
WORK=$(mktemp -d)
trap 'stop_children; rm -rf "$WORK"' EXIT
PY=/usr/bin/python3
export NODE_PATH="$REPO/node_modules"
thrift --gen js:node -out "$WORK" "$REPO/test/thrift/demo.thrift" 2>/dev/null
thrift --gen py -out "$WORK" "$REPO/test/thrift/demo.thrift" 2>/dev/null
mkdir -p "$OUT"

# capture NAME VARIANT "server command..." "client command..." (both get --port appended);
# VARIANT (buffered|framed|header) tells describe.py how to split the recording.
ONLY=("$@")
capture() {
  local name=$1 variant=$2 server=$3 client=$4
  if [ ${#ONLY[@]} -gt 0 ] && [[ " ${ONLY[*]} " != *" $name "* ]]; then return 0; fi
  local server_port relay_port
  server_port=$(free_port); relay_port=$(free_port)
  start_child "$name server" "$WORK/$name.server.log" $server --port "$server_port"
  wait_for "$name server" 20 grep -q "SERVER READY" "$WORK/$name.server.log" || die "$name: server did not start"
  start_child "$name relay" "$WORK/$name.relay.log" node "$REPO/test/lib/capture.js" \
    --listen "$relay_port" --target "127.0.0.1:$server_port" --prefix "$OUT/$name" --once
  wait_for "$name relay" 10 grep -q "CAPTURE READY" "$WORK/$name.relay.log" || die "$name: relay did not start"
  $client --port "$relay_port" | tee "$WORK/$name.client.log"
  wait_for "$name session closed" 10 grep -q "CAPTURE CLOSED" "$WORK/$name.relay.log" || die "$name: the session did not end"
  stop_children
  $PY "$REPO/test/thrift/describe.py" --variant "$variant" --fixture "$OUT/$name" --client-log "$WORK/$name.client.log"
  log "$name: $(wc -c <"$OUT/$name.request.bin") request bytes, $(wc -c <"$OUT/$name.response.bin") response bytes"
}

NODE="node $REPO/test/thrift/node-peer.js"
PYPEER="$PY $REPO/test/thrift/py-peer.py"
capture node-binary-buffered buffered \
  "$NODE server --gen $WORK --transport buffered --protocol binary" \
  "$NODE client --gen $WORK --transport buffered --protocol binary --calls 2"
capture node-binary-framed framed \
  "$NODE server --gen $WORK --transport framed --protocol binary" \
  "$NODE client --gen $WORK --transport framed --protocol binary --calls 2"
capture node-compact-buffered buffered \
  "$NODE server --gen $WORK --transport buffered --protocol compact" \
  "$NODE client --gen $WORK --transport buffered --protocol compact --calls 2"
capture node-compact-framed-multiplexed framed \
  "$NODE server --gen $WORK --transport framed --protocol compact --multiplex Greeter" \
  "$NODE client --gen $WORK --transport framed --protocol compact --multiplex Greeter --calls 2"
capture python-header-binary header \
  "$PYPEER server --gen $WORK --protocol header" \
  "$PYPEER client --gen $WORK --protocol header --header trace=abc --header tenant=t1 --calls 2"
capture python-header-compact header \
  "$PYPEER server --gen $WORK --protocol header" \
  "$PYPEER client --gen $WORK --protocol header --sub-protocol compact --header trace=def --calls 2"
capture python-header-zlib header \
  "$PYPEER server --gen $WORK --protocol header" \
  "$PYPEER client --gen $WORK --protocol header --zlib --header trace=zip --calls 1"
# python3-thrift 0.17's own server cannot read non-strict messages under Python 3 (it keeps the
# name as bytes and fails to answer), so the npm server answers this one.
capture python-binary-nonstrict-buffered buffered \
  "$NODE server --gen $WORK --transport buffered --protocol binary" \
  "$PYPEER client --gen $WORK --protocol binary --transport buffered --non-strict --calls 2"
capture python-compact-framed framed \
  "$PYPEER server --gen $WORK --protocol compact --transport framed" \
  "$PYPEER client --gen $WORK --protocol compact --transport framed --calls 2"
capture node-json-buffered buffered \
  "$NODE server --gen $WORK --transport buffered --protocol json" \
  "$NODE client --gen $WORK --transport buffered --protocol json --calls 2"
capture node-json-framed-multiplexed framed \
  "$NODE server --gen $WORK --transport framed --protocol json --multiplex Greeter" \
  "$NODE client --gen $WORK --transport framed --protocol json --multiplex Greeter --calls 2"
capture python-json-buffered buffered \
  "$PYPEER server --gen $WORK --protocol json --transport buffered" \
  "$PYPEER client --gen $WORK --protocol json --transport buffered --calls 2"
capture python-json-framed framed \
  "$PYPEER server --gen $WORK --protocol json --transport framed" \
  "$PYPEER client --gen $WORK --protocol json --transport framed --calls 2"
log "fixtures written to $OUT"
