#!/usr/bin/env bash
# MySQL through a stock Envoy running dist/wasm/mysql.wasm, with real peers: Debian MariaDB
# 10.11 (a child process in a temp datadir), npm mysql2 and npm mariadb (TLS off), sysbench
# oltp_read_only and oltp_read_write in prepared mode, the Debian mariadb CLI (a LOAD DATA LOCAL
# of 6.4 MB with --ssl=0; TLS by default, passed through undecoded).
# Asserts Envoy's /stats/prometheus against what the clients saw and against the server's own
# SHOW GLOBAL STATUS Com_* counters, read over the server's socket (not through Envoy).
#   bash test/mysql/test.sh                  # run, assert, stop everything
#   KEEP_RUNNING=1 bash test/mysql/test.sh   # leave Envoy and MariaDB up until Ctrl-C
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=mysql
. "$REPO/test/lib/envoy.sh"
. "$REPO/test/mysql/server.sh"
# Stop the children; drop the datadir (tens of MB), keep the logs.
trap 'stop_children; [ -z "${WORK:-}" ] || rm -rf "$WORK/mariadb/data"' EXIT

WASM="$REPO/dist/wasm/mysql.wasm"
[ -f "$WASM" ] || die "$WASM is missing: run ./build.sh first"
command -v sysbench >/dev/null || die "sysbench not found: ./build.sh setup installs it"
WORK=$(mktemp -d)
log "work dir $WORK"

start_mariadb "$WORK"
log "sysbench prepare (over the socket, before any measurement)"
SYSBENCH_OPTIONS=(--mysql-user="$MYSQL_USER" --mysql-password="$MYSQL_PASSWORD" --mysql-db="$MYSQL_DATABASE"
  --tables=1 --table-size=1000 --mysql-ssl=off --db-ps-mode=auto)
sysbench oltp_read_only "${SYSBENCH_OPTIONS[@]}" --mysql-socket="$MYSQL_SOCKET" prepare >"$WORK/sysbench-prepare.out"

# The deep pipeline below relies on the default max_pending_calls of in-order protocols (65536).
ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port)
metaproto_bootstrap "$ADMIN_PORT" "$LISTEN_PORT" "$MYSQL_PORT" "$WASM" \
  '{"max_buffered_bytes": 1048576}' >"$WORK/envoy.yaml"
start_envoy "$WORK/envoy.yaml" "$ADMIN_PORT" "$WORK/envoy.log"

envoy_counter() { # stat name
  curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=^$1\$" | awk '{print $2}'
}
check() { python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$ADMIN_PORT" --wait 10 "$@"; }
client() { # scenario: runs test/mysql/clients.js through Envoy, keeps its output
  log "npm client scenario '$1' -> Envoy :$LISTEN_PORT -> MariaDB :$MYSQL_PORT"
  node "$REPO/test/mysql/clients.js" "$1" --port "$LISTEN_PORT" | tee "$WORK/client-$1.out"
  grep -q '^SUMMARY ' "$WORK/client-$1.out" || die "client scenario $1 did not finish"
}

mysql_com_status >"$WORK/com-before"

sysbench_run() { # test threads options...: runs a sysbench test through Envoy; prints its transactions
  local test=$1 threads=$2; shift 2
  log "sysbench $test through Envoy (prepared statements, $threads threads, $*)"
  sysbench "$test" "${SYSBENCH_OPTIONS[@]}" --mysql-host=127.0.0.1 --mysql-port="$LISTEN_PORT" --threads="$threads" "$@" run \
    >"$WORK/sysbench-$test.out"
  grep -Eq 'ignored errors: +0 ' "$WORK/sysbench-$test.out" || die "sysbench $test reported errors"
  grep -q 'FATAL' "$WORK/sysbench-$test.out" && die "sysbench $test failed"
  sed -n '/SQL statistics/,/ignored errors/p' "$WORK/sysbench-$test.out" >&2
  awk '/transactions:/ {print $2}' "$WORK/sysbench-$test.out"
}

# --- Phase 1: clients whose every byte belongs to a command (no auth switch, no LOCAL INFILE).
client mariadb
client mysql2-blob
client pipeline
client cursor-call
client wide
# Each sysbench transaction (event) runs its prepared statements once each, in a fixed mix:
# oltp_read_only BEGIN, 10 point SELECTs, 4 range SELECTs, COMMIT; oltp_read_write adds 2
# UPDATEs, a DELETE and an INSERT.
read_only_transactions=$(sysbench_run oltp_read_only 2 --time=4)
read_write_transactions=$(sysbench_run oltp_read_write 1 --events=300 --time=30)
[ "${read_only_transactions:-0}" -gt 0 ] && [ "${read_write_transactions:-0}" -gt 0 ] || die "sysbench ran no transactions"
sysbench_transactions=$((read_only_transactions + read_write_transactions))

log "every byte sent so far belongs to a decoded call or to a server greeting"
rx_bytes=$(envoy_counter 'tcp\.metaproto\.downstream_cx_rx_bytes_total')
tx_bytes=$(envoy_counter 'tcp\.metaproto\.downstream_cx_tx_bytes_total')
connections=$(envoy_counter 'tcp\.metaproto\.downstream_cx_total')
# The greeting (not a call) is the same size on every connection: read one straight from the server.
greeting_bytes=$(node -e '
  const s = require("net").connect(+process.argv[1], "127.0.0.1");
  s.once("data", (d) => { console.log(4 + d.readUIntLE(0, 3)); s.destroy(); });' "$MYSQL_PORT")
check --expect "metaproto_request_bytes_total{protocol=mysql} == $rx_bytes" \
  --expect "metaproto_response_bytes_total{protocol=mysql} == $((tx_bytes - connections * greeting_bytes))"

# --- Phase 2: mysql2 (COM_CHANGE_USER answered with an auth switch) and LOAD DATA LOCAL INFILE:
# the client's auth data and file contents belong to no command, so they are not byte-counted.
client mysql2
client infile
# The mariadb CLI sends a LOCAL INFILE in 4096-byte packets: 6.4 MB take some 1570, so the
# packets' sequence id wraps past 255 six times.
INFILE_LINES=350000
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])): f.write("%d\tword-%d\n" % (i, i))' "$WORK/load-data.tsv" "$INFILE_LINES"
log "mariadb CLI --ssl=0: LOAD DATA LOCAL INFILE of $(stat -c %s "$WORK/load-data.tsv") bytes -> Envoy"
mariadb --no-defaults -h 127.0.0.1 -P "$LISTEN_PORT" -u "$MYSQL_USER" "-p$MYSQL_PASSWORD" --ssl=0 --local-infile=1 -N -B \
  "$MYSQL_DATABASE" -e "CREATE TABLE big_load (id INT, word VARCHAR(32));
    LOAD DATA LOCAL INFILE '$WORK/load-data.tsv' INTO TABLE big_load; SELECT COUNT(*) FROM big_load" | tee "$WORK/big-load.out"
[ "$(cat "$WORK/big-load.out")" = "$INFILE_LINES" ] || die "LOAD DATA LOCAL did not load $INFILE_LINES rows"

mysql_com_status >"$WORK/com-after"
connections=$(envoy_counter 'tcp\.metaproto\.downstream_cx_total')

# Server-side deltas of SHOW GLOBAL STATUS, taken over the socket.
com() { # counter name -> delta
  local before after
  before=$(awk -v n="$1" '$1 == n {print $2}' "$WORK/com-before")
  after=$(awk -v n="$1" '$1 == n {print $2}' "$WORK/com-after")
  echo $(( ${after:-0} - ${before:-0} ))
}
summaries() { # field: the sum of a SUMMARY field over all client scenarios
  cat "$WORK"/client-*.out | sed -n 's/^SUMMARY //p' | node -e '
    const field = process.argv[1]; let n = 0;
    for (const line of require("fs").readFileSync(0, "utf8").split("\n")) if (line) n += Number(JSON.parse(line)[field] || 0);
    console.log(n);' "$1"
}
client_errors() { # errno: failures with that errno the clients provoked and saw
  cat "$WORK"/client-*.out | grep -c "errno=$1\$" || true
}
log "server Com_* deltas: $(for c in select insert update delete begin commit stmt_prepare stmt_execute stmt_close change_db create_table create_procedure drop_procedure call_procedure set_option load admin_commands; do printf '%s=%s ' "$c" "$(com Com_$c)"; done)"

extra_selects=$(summaries extraSelects)
pings=$(summaries pings); change_users=$(summaries changeUsers); resets=$(summaries resets)
# MariaDB counts admin commands (COM_PING, COM_CHANGE_USER, COM_RESET_CONNECTION here) in one counter.
[ $((pings + change_users + resets)) -eq "$(com Com_admin_commands)" ] \
  || die "Com_admin_commands $(com Com_admin_commands) != pings+change users+resets the clients sent"
# Com_<kind> counts statements of that kind however they came: as text (COM_QUERY:<KIND>), as
# executions of prepared ones (COM_STMT_EXECUTE:<KIND>), inside multi-statements and procedures
# (extraSelects). Prepared executions per kind: what sysbench ran (transactions times the mix
# above) plus what the npm clients report.
prepared_select=$(( 14 * sysbench_transactions + $(summaries preparedSelects) ))
prepared_update=$(( 2 * read_write_transactions ))
prepared_delete=$read_write_transactions
prepared_insert=$read_write_transactions
prepared_begin=$sysbench_transactions
prepared_commit=$sysbench_transactions
[ $((prepared_select + prepared_update + prepared_delete + prepared_insert + prepared_begin + prepared_commit)) -eq "$(com Com_stmt_execute)" ] \
  || die "Com_stmt_execute $(com Com_stmt_execute) != the prepared executions sysbench and the clients made"
M='metaproto_requests_total{protocol=mysql'
log "metrics against the server's Com_* counters"
check \
  --expect "$M,method=COM_QUERY:SELECT} == $(( $(com Com_select) - extra_selects - prepared_select ))" \
  --expect "$M,method=COM_STMT_EXECUTE:SELECT} == $prepared_select" \
  --expect "$M,method=COM_QUERY:BEGIN} == $(( $(com Com_begin) - prepared_begin ))" \
  --expect "$M,method=COM_STMT_EXECUTE:BEGIN} == $prepared_begin" \
  --expect "$M,method=COM_QUERY:COMMIT} == $(( $(com Com_commit) - prepared_commit ))" \
  --expect "$M,method=COM_STMT_EXECUTE:COMMIT} == $prepared_commit" \
  --expect "$M,method=COM_QUERY:INSERT} == $(( $(com Com_insert) - prepared_insert ))" \
  --expect "$M,method=COM_STMT_EXECUTE:INSERT} == $prepared_insert" \
  --expect "$M,method=COM_QUERY:UPDATE} == $(( $(com Com_update) - prepared_update ))" \
  --expect "$M,method=COM_STMT_EXECUTE:UPDATE} == $prepared_update" \
  --expect "$M,method=COM_QUERY:DELETE} == $(( $(com Com_delete) - prepared_delete ))" \
  --expect "$M,method=COM_STMT_EXECUTE:DELETE} == $prepared_delete" \
  --expect "$M,method=COM_STMT_EXECUTE} == 0" \
  --expect "$M,method=COM_STMT_PREPARE} == $(com Com_stmt_prepare)" \
  --expect "$M,method=COM_QUERY:USE} == $(com Com_change_db)" \
  --expect "$M,method=COM_QUERY:CREATE} == $(( $(com Com_create_table) + $(com Com_create_procedure) ))" \
  --expect "$M,method=COM_QUERY:DROP} == $(( $(com Com_drop_table) + $(com Com_drop_procedure) ))" \
  --expect "$M,method=COM_QUERY:CALL} == $(com Com_call_procedure)" \
  --expect "$M,method=COM_QUERY:SET} == $(com Com_set_option)" \
  --expect "$M,method=COM_QUERY:LOAD} == $(com Com_load)"

log "metrics against what the clients saw"
check \
  --expect "$M,method=COM_PING,response_status=ok,response_code=0} == $pings" \
  --expect "$M,method=COM_CHANGE_USER,response_status=ok,response_code=0} == $change_users" \
  --expect "$M,method=COM_RESET_CONNECTION,response_status=ok,response_code=0} == $resets" \
  --expect "$M,method=COM_QUERY:OTHER,response_status=client_error,response_code=1064} == $(client_errors 1064)" \
  --expect "$M,method=COM_QUERY:SELECT,response_status=client_error,response_code=1146} == $(client_errors 1146)" \
  --expect "$M,method=COM_QUERY:INSERT,response_status=client_error,response_code=1062} == $(client_errors 1062)" \
  --expect "$M,response_status=server_error} == 0" \
  --expect "$M,method=LOGIN,response_status=ok,response_code=0} == $connections" \
  --expect "$M,method=COM_QUIT,response_status=no_response,response_code=oneway} == $connections" \
  --expect "$M,service=$MYSQL_DATABASE,method=COM_STMT_EXECUTE:SELECT,response_status=ok,response_code=0} == $prepared_select" \
  --expect "metaproto_request_duration_microseconds_count{protocol=mysql,service=$MYSQL_DATABASE,method=COM_STMT_EXECUTE:SELECT} == $prepared_select" \
  --expect "metaproto_response_bytes_total{protocol=mysql,method=COM_QUERY:SELECT} > 20971520" \
  --expect "$M,response_status=no_response,response_code=evicted} == 0" \
  --expect "metaproto_passthrough_connections_total{protocol=mysql} == 0" \
  --expect "metaproto_decode_errors_total{protocol=mysql} == 0"

# --- Phase 3: what the codec must not decode.
log "the mariadb CLI over TLS (its default when the server offers TLS) -> Envoy: passed through"
mariadb --no-defaults -h 127.0.0.1 -P "$LISTEN_PORT" -u "$MYSQL_USER" "-p$MYSQL_PASSWORD" -N -B \
  -e "SHOW SESSION STATUS LIKE 'Ssl_cipher'" | tee "$WORK/tls.out"
grep -Eq '^Ssl_cipher\s+\S+' "$WORK/tls.out" || die "the CLI did not use TLS"

log "HTTP bytes where the client's handshake response belongs -> Envoy"
node -e '
  const s = require("net").connect(+process.argv[1], "127.0.0.1");
  s.once("data", () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  s.on("close", () => process.exit(0)); s.on("error", () => process.exit(0));
  setTimeout(() => { s.destroy(); process.exit(0); }, 3000);' "$LISTEN_PORT"

log "Envoy still serves the next connection"
client infile

check \
  --expect "metaproto_passthrough_connections_total{protocol=mysql,reason=tls} == 1" \
  --expect "metaproto_decode_errors_total{protocol=mysql,direction=downstream,reason=bad_handshake_response} == 1" \
  --expect "metaproto_decode_errors_total{protocol=mysql} == 1" \
  --expect "$M,method=LOGIN,response_status=ok,response_code=0} == $((connections + 1))"

# --- Phase 4: policies, on a second Envoy whose plugin denies DELETEs (text and prepared), lets
# two UPDATEs through a bucket, aborts TRUNCATE and delays DO. A refused command never reaches the
# server (Com_delete, Com_truncate); a COM_PING goes in its place (Com_admin_commands); the client
# gets the ERR in its reply's place and goes on using the same session. Its connection route can
# never apply: the server speaks first, so tcp_proxy connects before any request (the cluster
# named there does not even exist); every connection counts as server_first and works.
DENY_TEXT="DELETE is not allowed through MetaProto"
FAULT_TEXT="TRUNCATE is failing today (MetaProto fault)"
DELAY_MS=300
POLICY='{"policy": {"authz": {"deny_text": "'"$DENY_TEXT"'", "rules": [
    {"action": "deny", "match": {"method": {"exact": "COM_QUERY:DELETE"}}},
    {"action": "deny", "match": {"method": {"exact": "COM_STMT_EXECUTE:DELETE"}}}]},
  "rate_limits": [{"name": "updates", "match": {"method": {"exact": "COM_QUERY:UPDATE"}}, "max_tokens": 2, "tokens_per_fill": 1, "fill_interval_ms": 600000}],
  "faults": [{"match": {"method": {"exact": "COM_QUERY:TRUNCATE"}}, "abort": {"text": "'"$FAULT_TEXT"'"}},
    {"match": {"method": {"exact": "COM_QUERY:DO"}}, "delay": {"duration_ms": '"$DELAY_MS"'}}],
  "routes": [{"match": {"method": {"prefix": "COM_QUERY"}}, "cluster": "mysql_replicas"}]}}'
kill "$ENVOY_PID" && wait "$ENVOY_PID" || true # the first Envoy
POLICY_ADMIN=$(free_port); POLICY_PORT=$(free_port)
metaproto_bootstrap "$POLICY_ADMIN" "$POLICY_PORT" "$MYSQL_PORT" "$WASM" "$(echo "$POLICY" | tr -d '\n')" >"$WORK/envoy-policy.yaml"
start_envoy "$WORK/envoy-policy.yaml" "$POLICY_ADMIN" "$WORK/envoy-policy.log"
mysql_root -e "CREATE TABLE $MYSQL_DATABASE.pol (id INT PRIMARY KEY, n INT); INSERT INTO $MYSQL_DATABASE.pol VALUES (1, 0), (2, 0), (3, 0)"
mysql_com_status >"$WORK/com-before"
for scenario in policy-mysql2 policy-mariadb policy-faults; do
  log "npm client scenario '$scenario' -> policy Envoy :$POLICY_PORT"
  node "$REPO/test/mysql/clients.js" "$scenario" --port "$POLICY_PORT" | tee "$WORK/policy-$scenario.out"
  grep -q '^SUMMARY ' "$WORK/policy-$scenario.out" || die "client scenario $scenario did not finish"
done
# Statements on stdin: with -e the CLI stops at the first error even with --force.
log "mariadb CLI --ssl=0 --force: a DELETE, then a SELECT on the same session -> policy Envoy"
printf 'DELETE FROM pol WHERE id = 3;\nSELECT COUNT(*) FROM pol;\n' |
  mariadb --no-defaults -h 127.0.0.1 -P "$POLICY_PORT" -u "$MYSQL_USER" "-p$MYSQL_PASSWORD" --ssl=0 --force -N -B "$MYSQL_DATABASE" \
  >"$WORK/policy-cli.out" 2>&1 || true
cat "$WORK/policy-cli.out"
grep -qx "ERROR 1142 (42000) at line 1: $DENY_TEXT" "$WORK/policy-cli.out" && [ "$(tail -n1 "$WORK/policy-cli.out")" = 3 ] \
  || die "the mariadb CLI did not get the ERR, then the 3 rows"
mysql_com_status >"$WORK/com-after"
policy_executes=$(cat "$WORK"/policy-*.out | sed -n 's/^SUMMARY //p' | node -e '
  let n = 0; for (const line of require("fs").readFileSync(0, "utf8").split("\n")) if (line) n += JSON.parse(line).executes;
  console.log(n);')
denied=$(cat "$WORK"/policy-*.out | grep -c "errno=1142$" || true); denied=$((denied + 1)) # and the CLI's
rate_limited=$(cat "$WORK"/policy-*.out | grep -c "errno=1226$" || true)
aborted=$(cat "$WORK"/policy-*.out | grep -c "errno=1317$" || true)
delayed=$(sed -n 's/^DELAYED_MS //p' "$WORK/policy-policy-faults.out"); undelayed=$(sed -n 's/^UNDELAYED_MS //p' "$WORK/policy-policy-faults.out")
[ "$delayed" -ge "$DELAY_MS" ] || die "the delayed DO took $delayed ms, less than $DELAY_MS"
[ "$undelayed" -lt $((DELAY_MS / 2)) ] || die "the SELECT after the delayed DO took $undelayed ms: held up by the delay"
[ "$aborted" = 1 ] || die "expected the TRUNCATE aborted once, saw $aborted"
[ "$(com Com_truncate)" = 0 ] || die "the server ran $(com Com_truncate) TRUNCATEs; the fault aborts every one"
[ "$(com Com_do)" = 1 ] || die "the server ran $(com Com_do) DOs, expected the delayed one"
policy_connections=$(curl -sf "http://127.0.0.1:$POLICY_ADMIN/stats?filter=^tcp\.metaproto\.downstream_cx_total$" | awk '{print $2}')
log "server Com_* deltas: delete=$(com Com_delete) stmt_execute=$(com Com_stmt_execute) update=$(com Com_update) admin_commands=$(com Com_admin_commands)"
[ "$(com Com_delete)" = 0 ] || die "the server ran $(com Com_delete) DELETEs; every one was refused"
[ "$(com Com_stmt_execute)" = "$policy_executes" ] || die "Com_stmt_execute $(com Com_stmt_execute) != the $policy_executes allowed executions"
[ "$(com Com_update)" = 2 ] || die "the server ran $(com Com_update) UPDATEs, expected the 2 the bucket allows"
# The clients send no COM_PING of their own here: every one is a probe, one per refused command.
[ "$(com Com_admin_commands)" = $((denied + rate_limited + aborted)) ] || die "Com_admin_commands $(com Com_admin_commands) != $((denied + rate_limited + aborted)) probes"
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$POLICY_ADMIN" --wait 15 \
  --expect "metaproto_local_replies_total{protocol=mysql,reason=denied} == $denied" \
  --expect "metaproto_local_replies_total{protocol=mysql,reason=rate_limited} == $rate_limited" \
  --expect "metaproto_local_replies_total{protocol=mysql,reason=fault} == 1" \
  --expect "$M,method=COM_QUERY:TRUNCATE,response_status=server_error,response_code=1317} == 1" \
  --expect "$M,method=COM_QUERY:DO,response_status=ok,response_code=0} == 1" \
  --expect "metaproto_connection_routes_total{protocol=mysql,reason=server_first} == $policy_connections" \
  --expect "metaproto_connection_routes_total{protocol=mysql,reason=routed} == 0" \
  --expect "$M,method=COM_QUERY:DELETE,response_status=client_error,response_code=1142} == 3" \
  --expect "$M,method=COM_STMT_EXECUTE:DELETE,response_status=client_error,response_code=1142} == 2" \
  --expect "$M,method=COM_QUERY:UPDATE,response_status=server_error,response_code=1226} == 1" \
  --expect "$M,method=COM_QUERY:UPDATE,response_status=ok,response_code=0} == 2" \
  --expect "metaproto_policy_closes_total{protocol=mysql} == 0" \
  --expect "metaproto_decode_errors_total{protocol=mysql} == 0"

log "PASS: MariaDB through Envoy + dist/wasm/mysql.wasm; metrics agree with the server's Com_* counters and the clients"
if [ -n "${KEEP_RUNNING:-}" ]; then
  log "Envoy (with the policy) admin: http://127.0.0.1:$POLICY_ADMIN/stats/prometheus (metaproto_* lines)"
  log "MySQL via Envoy: mariadb -h 127.0.0.1 -P $POLICY_PORT -u $MYSQL_USER -p$MYSQL_PASSWORD --ssl=0 $MYSQL_DATABASE"
  log "running until Ctrl-C"
  wait "$ENVOY_PID" || true
fi
