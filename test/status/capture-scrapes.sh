#!/usr/bin/env bash
# Captures one real Envoy scrape per protocol for the status page's tests and `promtool check
# metrics`: runs each protocol's rig with KEEP_RUNNING=1, and once its Envoy is left up with the rig's
# traffic counted, saves the metaproto_* lines (with their # TYPE lines) of its /stats/prometheus to
# control-plane/status_page/fixtures/<protocol>.prom, then stops the rig. Redis comes from this folder's
# rig instead (test/redis leaves up an Envoy other than the one it names):
#   CAPTURE_SCRAPE=control-plane/status_page/fixtures/redis.prom bash test/status/test.sh
#   bash test/status/capture-scrapes.sh [protocol...]     (after ./build.sh build; default: dubbo thrift mysql)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=capture
. "$REPO/test/lib/envoy.sh"
FIXTURES="$REPO/control-plane/status_page/fixtures"
WORK=$(mktemp -d)
RIG_PID=
trap '[ -z "$RIG_PID" ] || { kill "$RIG_PID" 2>/dev/null; wait "$RIG_PID" 2>/dev/null; } || true' EXIT

for protocol in "${@:-dubbo thrift mysql}"; do
  for protocol in $protocol; do
    log "running test/$protocol with KEEP_RUNNING=1"
    KEEP_RUNNING=1 bash "$REPO/test/$protocol/test.sh" >"$WORK/$protocol.log" 2>&1 &
    RIG_PID=$!
    # The rig logs its Envoy's admin URL once every check passed, then waits for Ctrl-C.
    deadline=$((SECONDS + 300))
    until grep -q "running until Ctrl-C" "$WORK/$protocol.log"; do
      kill -0 "$RIG_PID" 2>/dev/null || { tail -n 30 "$WORK/$protocol.log" >&2; die "test/$protocol failed"; }
      [ $SECONDS -lt $deadline ] || die "test/$protocol did not finish in 300 s; see $WORK/$protocol.log"
      sleep 1
    done
    admin=$(grep -o 'admin[^h]*http://127.0.0.1:[0-9]*/stats/prometheus' "$WORK/$protocol.log" | tail -n1 | grep -o '127.0.0.1:[0-9]*') \
      || die "test/$protocol logged no Envoy admin URL; see $WORK/$protocol.log"
    curl -sf "http://$admin/stats/prometheus" >"$WORK/$protocol.prom" || die "Envoy admin $admin of test/$protocol does not answer"
    grep -E '^(# TYPE )?metaproto_' "$WORK/$protocol.prom" >"$FIXTURES/$protocol.prom"
    log "saved $(grep -c '^metaproto_' "$FIXTURES/$protocol.prom") metaproto_* samples of $admin to control-plane/status_page/fixtures/$protocol.prom"
    kill "$RIG_PID"; wait "$RIG_PID" 2>/dev/null || true
    RIG_PID=
  done
done
