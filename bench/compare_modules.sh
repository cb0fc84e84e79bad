#!/usr/bin/env bash
# Compares the Envoy CPU cost of Redis modules, for hot-path work: one Envoy (--concurrency 1)
# per module in front of one redis-server, redis-benchmark GET bursts sent to each Envoy in
# turn, round after round, and Envoy's CPU per 1 000 requests (utime+stime from /proc) per
# burst. Alternating short bursts keeps this VM's drift out of the comparison better than
# longer runs one after the other. Prints the median and every round per module.
#   bash bench/compare_modules.sh [--rounds N] [--requests N] [--pipeline N] A.wasm B.wasm ...
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RIG=compare
. "$REPO/test/lib/envoy.sh"

usage() {
  sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "options: --rounds N (default 5), --requests N per burst (default 200000), --pipeline N (default 16)"
}
ROUNDS=5 REQUESTS=200000 PIPELINE=16
MODULES=()
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --pipeline) PIPELINE=$2; shift 2 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) [ -f "$1" ] || die "no such module: $1"; MODULES+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift ;;
  esac
done
[ ${#MODULES[@]} -ge 1 ] || { usage >&2; die "name at least one compiled module"; }
command -v redis-benchmark >/dev/null || die "redis-benchmark is missing: run ./build.sh setup"
trap stop_children EXIT

WORK=$(mktemp -d)
REDIS_PORT=$(free_port)
start_child redis-server "$WORK/redis.log" taskset -c 1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save "" --appendonly no --daemonize no --dir "$WORK"
wait_for "redis-server :$REDIS_PORT" 10 redis-cli -p "$REDIS_PORT" ping || die "redis-server did not start ($WORK/redis.log)"

LISTEN=() ENVOYS=()
for i in "${!MODULES[@]}"; do
  admin=$(free_port) listen=$(free_port)
  metaproto_bootstrap "$admin" "$listen" "$REDIS_PORT" "${MODULES[$i]}" '{}' >"$WORK/envoy$i.yaml"
  start_envoy "$WORK/envoy$i.yaml" "$admin" "$WORK/envoy$i.log"
  taskset -a -p -c 1 "$ENVOY_PID" >/dev/null   # Envoy and Redis share CPU 1, the load has CPU 0
  LISTEN[$i]=$listen ENVOYS[$i]=$ENVOY_PID
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
RESULTS=()
for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS: $REQUESTS GETs, pipeline $PIPELINE, to each of ${#MODULES[@]} Envoys"
  for i in "${!MODULES[@]}"; do
    before=$(cpu_ticks "${ENVOYS[$i]}")
    taskset -c 0 redis-benchmark -p "${LISTEN[$i]}" -n "$REQUESTS" -P "$PIPELINE" -t get -q >/dev/null
    after=$(cpu_ticks "${ENVOYS[$i]}")
    RESULTS[$i]="${RESULTS[$i]:-} $(( (after - before) * 1000000 / $(getconf CLK_TCK) / (REQUESTS / 1000) ))"
  done
done
for i in "${!MODULES[@]}"; do
  python3 - "${MODULES[$i]#"$REPO/"}" ${RESULTS[$i]} <<'PY'
import statistics, sys
name, values = sys.argv[1], [int(v) / 1000 for v in sys.argv[2:]]
print(f"{name}: median {statistics.median(values):.2f} ms Envoy CPU per 1k requests; rounds {values}")
PY
done
