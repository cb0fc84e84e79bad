#!/usr/bin/env bash
# Re-captures codecs/redis/fixtures/*.bin from real peers: a Debian redis-server 7.0 child,
# npm ioredis 6, redis-benchmark, and test/redis/raw-client.js, each recorded byte-exactly by
# the relay test/lib/capture.js. See codecs/redis/fixtures/README.md.
#   bash test/redis/capture-fixtures.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=redis-fixtures
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

OUT="$REPO/codecs/redis/fixtures"
WORK=$(mktemp -d)
REDIS_PORT=$(free_port)
# DEBUG PROTOCOL (every RESP3 type) needs the debug command, from local connections only.
# Redis reports its executable as cwd + argv[0] in INFO (ioredis reads it); / keeps machine paths
# out of the fixtures.
start_child redis-server "$WORK/redis.log" env --chdir=/ redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save "" --appendonly no --daemonize no --dir "$WORK" --enable-debug-command local
wait_for "redis-server :$REDIS_PORT" 10 redis-cli -p "$REDIS_PORT" ping

# capture NAME COMMAND...: relays one client run (every connection it opens) into $OUT/NAME*.bin.
capture() {
  local name=$1; shift
  local port; port=$(free_port)
  rm -f "$OUT/$name".*bin
  node "$REPO/test/lib/capture.js" --listen "$port" --target "127.0.0.1:$REDIS_PORT" --prefix "$OUT/$name" \
    >"$WORK/$name.capture.log" 2>&1 &
  local relay=$!
  wait_for "relay for $name" 10 grep -q "CAPTURE READY" "$WORK/$name.capture.log"
  "${@//RELAY_PORT/$port}" >"$WORK/$name.out"
  sleep 0.3
  kill "$relay"; wait "$relay" 2>/dev/null || true
  log "$name: $(grep -c 'CAPTURE CLOSED' "$WORK/$name.capture.log") connection(s)"
}

# rename_by_content NAME PATTERN ROLE: the connection of NAME whose client bytes contain PATTERN
# becomes NAME-ROLE (connection numbers follow accept order, which the clients do not fix).
rename_by_content() {
  local name=$1 pattern=$2 role=$3 request
  for request in "$OUT/$name".request.bin "$OUT/$name".conn*.request.bin; do
    [ -f "$request" ] || continue
    if grep -aqi -- "$pattern" "$request"; then
      mv "$request" "$OUT/$name-$role.request.bin"
      mv "${request%.request.bin}.response.bin" "$OUT/$name-$role.response.bin"
      return
    fi
  done
  die "no connection of $name sent $pattern"
}

capture ioredis-commands node "$REPO/test/redis/ioredis-client.js" 127.0.0.1 RELAY_PORT commands
capture ioredis-pubsub node "$REPO/test/redis/ioredis-client.js" 127.0.0.1 RELAY_PORT pubsub
rename_by_content ioredis-pubsub SUBSCRIBE subscriber
rename_by_content ioredis-pubsub PUBLISH publisher
capture ioredis-pubsub-resp2 node "$REPO/test/redis/ioredis-client.js" 127.0.0.1 RELAY_PORT pubsub --protocol 2
rename_by_content ioredis-pubsub-resp2 SUBSCRIBE subscriber
rm -f "$OUT"/ioredis-pubsub-resp2.*bin # the publisher: same as ioredis-pubsub's but in RESP2
capture ioredis-blocking node "$REPO/test/redis/ioredis-client.js" 127.0.0.1 RELAY_PORT blocking
rename_by_content ioredis-blocking BLPOP waiter
rename_by_content ioredis-blocking LPUSH pusher
capture raw-telnet node "$REPO/test/redis/raw-client.js" 127.0.0.1 RELAY_PORT telnet
capture raw-special node "$REPO/test/redis/raw-client.js" 127.0.0.1 RELAY_PORT special
capture raw-monitor node "$REPO/test/redis/raw-client.js" 127.0.0.1 RELAY_PORT monitor --monitor-feed "$REDIS_PORT"
capture redis-benchmark redis-benchmark -h 127.0.0.1 -p RELAY_PORT -c 1 -n 48 -P 16 -r 100 -t get,set,incr,lpush -q
rename_by_content redis-benchmark CONFIG config
rename_by_content redis-benchmark LPUSH lpush
rm -f "$OUT"/redis-benchmark.*bin # the get/set/incr runs look like the lpush one
# A deep pipeline: 3000 SETs written before the first reply is read (more than the 1024 pending
# calls the framework once kept).
capture redis-benchmark-deep redis-benchmark -h 127.0.0.1 -p RELAY_PORT -c 1 -n 3000 -P 3000 -r 1000 -t set -q
rename_by_content redis-benchmark-deep SET set
rm -f "$OUT"/redis-benchmark-deep.*bin # its CONFIG GET connection, as redis-benchmark-config

ls -l "$OUT"/*.bin
