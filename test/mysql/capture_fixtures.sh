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
# Recordings of a megabyte or more are kept gzipped (-n: no name or time stamp, so re-recording
# the same bytes gives the same file); codecs/mysql/test_frames.ts reads either form.
LARGE="wide pipeline infile-large"

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
  rm -f "$OUT/$name.request.bin.gz" "$OUT/$name.response.bin.gz"
  if [[ " $LARGE " == *" $name "* ]]; then gzip -9 -n -f "$OUT/$name.request.bin" "$OUT/$name.response.bin"; fi
}

# A LOAD DATA LOCAL file of ~3 MB: the CLI sends it in 4096-byte packets, so the sequence id
# wraps (more than 255 packets). Lines repeat every 1000 so the recording compresses well.
infile_file() {
  python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(250000): f.write("%d\tword-%04d\n" % (i % 1000, i % 1000))' "$WORK/words-3mb.tsv"
}

# sysbench oltp_read_write with prepared statements (its default): one thread, two events,
# short ranges (small replies).
sysbench_run() { # port
  local sb=(sysbench oltp_read_write --mysql-user="$MYSQL_USER" --mysql-password="$MYSQL_PASSWORD"
    --mysql-db="$MYSQL_DATABASE" --tables=1 --table-size=20 --range-size=3 --mysql-ssl=off)
  "${sb[@]}" --mysql-socket="$MYSQL_SOCKET" prepare >/dev/null
  "${sb[@]}" --mysql-host=127.0.0.1 --mysql-port="$1" --threads=1 --events=2 run >/dev/null
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $NAME "* ]]; }
for NAME in mysql2 mariadb infile raw-eof raw-deprecate-eof cli tls compressed auth-failure admin \
  cursor-call wide pipeline infile-large sysbench; do
  want "$@" || continue
  case $NAME in
    mysql2|mariadb|infile|cursor-call|wide|pipeline) capture "$NAME" node "$REPO/test/mysql/clients.js" "$NAME" --port {PORT} ;;
    raw-eof) capture "$NAME" node "$REPO/test/mysql/raw_client.js" --port {PORT} --progress ;;
    raw-deprecate-eof) capture "$NAME" node "$REPO/test/mysql/raw_client.js" --port {PORT} --deprecate-eof ;;
    cli) capture "$NAME" mariadb "${CLI[@]}" -P {PORT} --ssl=0 "$MYSQL_DATABASE" \
      -e "SELECT COUNT(*) FROM information_schema.tables; SHOW TABLES; USE mysql; SELECT DATABASE();" ;;
    tls) capture "$NAME" mariadb "${CLI[@]}" -P {PORT} -e "SELECT 'over TLS'" ;;
    compressed) capture "$NAME" mariadb "${CLI[@]}" -P {PORT} --ssl=0 --compress -e "SELECT 'compressed'" ;;
    auth-failure) capture "$NAME" mariadb --no-defaults -h 127.0.0.1 -P {PORT} -u "$MYSQL_USER" -pwrong-password --ssl=0 -e "SELECT 1" ;;
    admin) capture "$NAME" mariadb-admin "${CLI[@]}" -P {PORT} --ssl=0 status ping ;;
    infile-large) infile_file
      # From the file's directory: the recording names it by a relative path.
      capture "$NAME" bash -c "cd '$WORK' && mariadb ${CLI[*]} -P {PORT} --ssl=0 --local-infile=1 $MYSQL_DATABASE \
        -e \"CREATE TABLE IF NOT EXISTS loaded (id INT, word VARCHAR(32)); LOAD DATA LOCAL INFILE 'words-3mb.tsv' INTO TABLE loaded\"" ;;
    sysbench) capture "$NAME" sysbench_run {PORT} ;;
  esac
done
log "fixtures written to $OUT"
