#!/usr/bin/env bash
# Re-records codecs/mysql/fixtures/ from real peers: a throwaway MariaDB 10.11 server and the
# clients of test/mysql/clients.js, test/mysql/raw_client.js and the Debian mariadb tools,
# each session through the recording relay test/lib/capture.js (--turns).
#   bash test/mysql/capture_fixtures.sh [NAME...]     # default: every fixture
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=mysql-fixtures
. "$REPO/test/lib/envoy.sh"
. "$REPO/test/mysql/server.sh"
# Stop the children; drop the datadir (tens of MB), keep the logs.
trap 'stop_children; [ -z "${WORK:-}" ] || rm -rf "$WORK/mariadb/data"' EXIT

OUT="$REPO/codecs/mysql/fixtures"
WORK=$(mktemp -d)
start_mariadb "$WORK"
CLI=(--no-defaults -h 127.0.0.1 -u "$MYSQL_USER" "-p$MYSQL_PASSWORD")

# capture NAME command... : runs the command against a relay in front of the server ({PORT} is replaced).
capture() {
  local name=$1; shift
  local port; port=$(free_port)
  node "$REPO/test/lib/capture.js" --listen "$port" --target "127.0.0.1:$MYSQL_PORT" --prefix "$OUT/$name" --turns --once \
    >"$WORK/$name.capture.log" 2>&1 &
  local relay=$!
  wait_for "relay for $name" 10 grep -q "CAPTURE READY" "$WORK/$name.capture.log"
  local args=() a
  for a in "$@"; do args+=("${a//\{PORT\}/$port}"); done
  "${args[@]}" || true
  wait "$relay"
  log "$name: $(tail -n 1 "$WORK/$name.capture.log")"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $NAME "* ]]; }
for NAME in mysql2 mariadb infile raw-eof raw-deprecate-eof cli tls compressed auth-failure admin; do
  want "$@" || continue
  case $NAME in
    mysql2|mariadb|infile) capture "$NAME" node "$REPO/test/mysql/clients.js" "$NAME" --port {PORT} ;;
    raw-eof) capture "$NAME" node "$REPO/test/mysql/raw_client.js" --port {PORT} --progress ;;
    raw-deprecate-eof) capture "$NAME" node "$REPO/test/mysql/raw_client.js" --port {PORT} --deprecate-eof ;;
    cli) capture "$NAME" mariadb "${CLI[@]}" -P {PORT} --ssl=0 "$MYSQL_DATABASE" \
      -e "SELECT COUNT(*) FROM information_schema.tables; SHOW TABLES; USE mysql; SELECT DATABASE();" ;;
    tls) capture "$NAME" mariadb "${CLI[@]}" -P {PORT} -e "SELECT 'over TLS'" ;;
    compressed) capture "$NAME" mariadb "${CLI[@]}" -P {PORT} --ssl=0 --compress -e "SELECT 'compressed'" ;;
    auth-failure) capture "$NAME" mariadb --no-defaults -h 127.0.0.1 -P {PORT} -u "$MYSQL_USER" -pwrong-password --ssl=0 -e "SELECT 1" ;;
    admin) capture "$NAME" mariadb-admin "${CLI[@]}" -P {PORT} --ssl=0 status ping ;;
  esac
done
log "fixtures written to $OUT"
