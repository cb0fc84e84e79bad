#!/usr/bin/env bash
# Router mode for Thrift end to end (README "Router mode"): a stock Envoy on `metaproto bootstrap
# --static` of a YAML model whose Thrift Services are in router mode, real peers from test/thrift
# (code generated now from test/thrift/demo.thrift by the Debian thrift compiler):
#   Service greeter: python3-thrift THeader servers v1 and v2 (each answers THeader, framed and
#     buffered, binary and compact); MetaRouter routes: lookup -> v2, THeader info header tenant=beta
#     -> v2, crash -> Service stuck (a server that never answers) with a 500 ms timeout, the rest
#     50/50 per request;
#   Service npm-greeter: the npm thrift server (compact, framed, TMultiplexedProtocol "Greeter").
# Checked, from what the clients got, the servers' own logs and Envoy's stats:
#   1. python clients (THeader binary and compact, framed binary and compact) and npm clients
#      (framed binary and compact, buffered binary; 3 pipelined calls each) run the whole demo on one
#      connection each: answers, declared exceptions, oneways, unknown method, a rich echo; every
#      crash gets TApplicationException TIMEOUT (12) from the route timeout and the connection goes on;
#      every lookup served by v2, none by v1; no crash served by anyone; THeader info headers reach
#      the server; a tenant=beta client is served by v2 only;
#   2. 200 sayHello on ONE npm connection split per request between v1 and v2 (binomial, 5 sigma);
#      the servers' counts and Envoy's cluster stats agree;
#   3. the npm multiplexed client through npm-greeter (service from the multiplexing prefix);
#   4. the policy clients: sayHello, crash (504 -> TApplicationException 12, with the call's seqid),
#      sayHello on the same connection; npm's also pipelined (the timeout's answer in its place).
#   bash test/router_thrift/test.sh        (after ./build.sh build)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=router_thrift
. "$REPO/test/lib/envoy.sh"
. "$REPO/test/lib/thrift_peers.sh"
trap stop_children EXIT

[ -f "$REPO/dist/wasm/thrift_bridge.wasm" ] || die "dist/wasm/thrift_bridge.wasm is missing: run ./build.sh build"
[ -f "$REPO/build/cp/control-plane/cli/main.js" ] || die "the control plane is not compiled: run ./build.sh build"
WORK=$(mktemp -d)
log "work dir $WORK"
thrift_peers "$WORK"
SPLIT_CALLS=200

V1_PORT=$(free_port); V2_PORT=$(free_port); NPM_PORT=$(free_port); BLACKHOLE_PORT=$(free_port)
ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port); STUCK_LISTEN_PORT=$(free_port); NPM_LISTEN_PORT=$(free_port)
for subset in v1 v2; do
  port_var=${subset^^}_PORT
  start_child "python THeader server $subset" "$WORK/server-$subset.log" "${PY_PEER[@]}" server --gen "$WORK" --protocol header --port "${!port_var}"
done
start_child "npm server (compact, framed, multiplexed)" "$WORK/server-npm.log" "${NODE_PEER[@]}" server --gen "$WORK" \
  --transport framed --protocol compact --multiplex Greeter --port "$NPM_PORT"
start_child blackhole "$WORK/blackhole.log" node -e 'require("net").createServer((s) => s.on("data", () => {})).listen(+process.argv[1], "127.0.0.1")' "$BLACKHOLE_PORT"
for server in v1 v2 npm; do
  wait_for "server $server" 20 grep -q "SERVER READY" "$WORK/server-$server.log" || { cat "$WORK/server-$server.log" >&2; die "server $server did not start"; }
done

cat >"$WORK/config.yaml" <<YAML
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: greeter }
spec:
  protocol: thrift
  mode: router
  port: $LISTEN_PORT
  subsets:
  - { name: v1, endpoints: [{ address: 127.0.0.1, port: $V1_PORT }] }
  - { name: v2, endpoints: [{ address: 127.0.0.1, port: $V2_PORT }] }
---
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: stuck }
spec:
  protocol: thrift
  mode: router
  port: $STUCK_LISTEN_PORT
  subsets: [{ name: all, endpoints: [{ address: 127.0.0.1, port: $BLACKHOLE_PORT }] }]
---
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: npm-greeter }
spec:
  protocol: thrift
  mode: router
  port: $NPM_LISTEN_PORT
  subsets: [{ name: all, endpoints: [{ address: 127.0.0.1, port: $NPM_PORT }] }]
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: greeter }
spec:
  hosts: [greeter]
  routes:
  - name: lookup-to-v2
    match: { attributes: { method: { exact: lookup } } }
    route: [{ destination: { host: greeter, subset: v2 } }]
  - name: beta-to-v2
    match: { attributes: { tenant: { exact: beta } } }
    route: [{ destination: { host: greeter, subset: v2 } }]
  - name: crash-times-out
    match: { attributes: { method: { exact: crash } } }
    route: [{ destination: { host: stuck } }]
    timeout: 500ms
  - name: by-weight
    route:
    - { destination: { host: greeter, subset: v1 }, weight: 50 }
    - { destination: { host: greeter, subset: v2 }, weight: 50 }
YAML
metaproto_cli validate "$WORK/config.yaml" >&2
metaproto_cli bootstrap --static "$WORK/config.yaml" --admin-port "$ADMIN_PORT" --stats-flush-interval 1s -o "$WORK/envoy.yaml"
start_envoy "$WORK/envoy.yaml" "$ADMIN_PORT" "$WORK/envoy.log"

stat() { curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=^$1\$" | awk -F': ' -v name="$1" '$1 == name { print $2 }'; }
# What a server itself logged: "SERVED <method>" per call its handler ran, "NOTIFY <event>" per oneway.
count() { grep -c "^$2" "$WORK/server-$1.log" || true; }
served() { count "$1" "SERVED $2\$"; }
# A client's run on one connection; its output kept in $WORK/<name>.log.
client() { # name peer-command...
  local name=$1; shift
  timeout 60 "$@" >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log" >&2; die "client $name failed (or hung for 60 s)"; }
}
observed() { grep -c "^OBSERVED .*method=$2 outcome=$3\$" "$WORK/$1.log" || true; }

log "1. the whole demo through the bridge: python and npm clients, one connection each"
PY_CLIENTS=(py-header-binary py-header-compact py-framed-binary py-framed-compact)
NPM_CLIENTS=(npm-framed-binary npm-framed-compact npm-buffered-binary)
client py-header-binary "${PY_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --protocol header --header tenant=t1 --header trace=abc
client py-header-compact "${PY_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --protocol header --sub-protocol compact
client py-framed-binary "${PY_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --protocol binary --transport framed
client py-framed-compact "${PY_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --protocol compact --transport framed
client npm-framed-binary "${NODE_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --transport framed --protocol binary
client npm-framed-compact "${NODE_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --transport framed --protocol compact
client npm-buffered-binary "${NODE_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --transport buffered --protocol binary
clients=$(( ${#PY_CLIENTS[@]} + ${#NPM_CLIENTS[@]} ))
hellos=0
for name in "${PY_CLIENTS[@]}" "${NPM_CLIENTS[@]}"; do
  grep -q "^CLIENT OK" "$WORK/$name.log" || die "$name did not finish"
  # python: 3 sayHello; npm: 3, then 3 pipelined.
  want_hellos=3; [[ $name == npm-* ]] && want_hellos=6
  [ "$(observed "$name" sayHello ok)" = "$want_hellos" ] && [ "$(observed "$name" notify oneway)" = 2 ] \
    && [ "$(observed "$name" lookup NotFound)" = 1 ] && [ "$(observed "$name" lookup Invalid)" = 1 ] \
    && [ "$(observed "$name" crash 'TApplicationException:12')" = 1 ] && [ "$(observed "$name" missing 'TApplicationException:1')" = 1 ] \
    && [ "$(observed "$name" echo ok)" = 1 ] || { cat "$WORK/$name.log" >&2; die "$name did not see the expected answers"; }
  hellos=$((hellos + want_hellos))
done
[ "$(served v1 lookup)" = 0 ] && [ "$(served v2 lookup)" = $((2 * clients)) ] \
  || die "lookup must go to v2 only: v1 served $(served v1 lookup), v2 $(served v2 lookup), expected 0 and $((2 * clients))"
[ "$(served v1 crash)" = 0 ] && [ "$(served v2 crash)" = 0 ] || die "crash must time out at the stuck server, yet v1/v2 served it"
[ $(( $(served v1 sayHello) + $(served v2 sayHello) )) = "$hellos" ] \
  || die "the servers ran $(( $(served v1 sayHello) + $(served v2 sayHello) )) sayHello, the clients got $hellos answers"
[ $(( $(count v1 NOTIFY) + $(count v2 NOTIFY) )) = $((2 * clients)) ] || die "the servers got $(( $(count v1 NOTIFY) + $(count v2 NOTIFY) )) oneways, expected $((2 * clients))"
[ "$(served v1 sayHello)" -gt 0 ] && [ "$(served v2 sayHello)" -gt 0 ] || die "sayHello did not reach both v1 and v2"
grep -q "^HEADERS .*tenant=t1,trace=abc" "$WORK/server-v1.log" "$WORK/server-v2.log" || die "no server received the THeader info headers tenant=t1,trace=abc"
[ "$(stat http.greeter.downstream_rq_5xx)" = "$clients" ] && [ "$(stat cluster.stuck.upstream_rq_timeout)" = "$clients" ] \
  || die "Envoy counted $(stat http.greeter.downstream_rq_5xx) 5xx and $(stat cluster.stuck.upstream_rq_timeout) route timeouts, expected $clients"
log "1. $clients clients OK: lookup v1 0 / v2 $(served v2 lookup); sayHello v1 $(served v1 sayHello) / v2 $(served v2 sayHello); $clients crashes answered TIMEOUT (Envoy: $(stat http.greeter.downstream_rq_5xx) 5xx, $(stat cluster.stuck.upstream_rq_timeout) route timeouts)"

log "1b. a THeader client with tenant=beta: every call to v2"
v1_before=$(grep -c "^SERVED" "$WORK/server-v1.log"); v2_before=$(grep -c "^SERVED" "$WORK/server-v2.log")
client py-beta "${PY_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --protocol header --header tenant=beta
v1_after=$(grep -c "^SERVED" "$WORK/server-v1.log"); v2_after=$(grep -c "^SERVED" "$WORK/server-v2.log")
# Served: 3 sayHello, 2 lookup, crash (beta-to-v2 comes before crash-times-out: the first match wins), echo;
# missing runs no handler.
[ "$v1_after" = "$v1_before" ] && [ $((v2_after - v2_before)) = 7 ] || die "tenant=beta: v1 served $((v1_after - v1_before)), v2 $((v2_after - v2_before)); expected 0 and 7"
[ "$(observed py-beta crash 'TApplicationException:6')" = 1 ] || die "tenant=beta: crash was not answered by v2's handler (INTERNAL_ERROR)"

log "2. $SPLIT_CALLS sayHello on one npm connection: split per request 50/50"
v1_before=$(served v1 sayHello); v2_before=$(served v2 sayHello)
rq_v1_before=$(stat cluster.greeter.v1.upstream_rq_total); rq_v2_before=$(stat cluster.greeter.v2.upstream_rq_total)
client npm-split "${NODE_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --transport framed --protocol compact --timed sayHello --calls "$SPLIT_CALLS"
[ "$(grep -c '^LATENCY' "$WORK/npm-split.log")" = "$SPLIT_CALLS" ] || die "the split client got $(grep -c '^LATENCY' "$WORK/npm-split.log") answers, expected $SPLIT_CALLS"
to_v1=$(( $(served v1 sayHello) - v1_before )); to_v2=$(( $(served v2 sayHello) - v2_before ))
[ $((to_v1 + to_v2)) = "$SPLIT_CALLS" ] || die "the servers ran $((to_v1 + to_v2)) calls, expected $SPLIT_CALLS"
node -e 'const [n, k] = process.argv.slice(1).map(Number); const sigma = Math.sqrt(n / 4);
  if (Math.abs(k - n / 2) > 5 * sigma) { console.error(`v1 got ${k} of ${n}, expected ${n / 2} +- ${Math.round(5 * sigma)}`); process.exit(1); }' \
  "$SPLIT_CALLS" "$to_v1" || die "the split is not 50/50"
wait_for "Envoy's cluster stats" 10 sh -c "[ \$(( \$(curl -sf 'http://127.0.0.1:$ADMIN_PORT/stats?filter=^cluster.greeter.v1.upstream_rq_total\$' | awk -F': ' '{print \$2}') - $rq_v1_before )) = $to_v1 ]" \
  || die "Envoy's cluster greeter.v1 counted $(( $(stat cluster.greeter.v1.upstream_rq_total) - rq_v1_before )), v1 served $to_v1"
[ $(( $(stat cluster.greeter.v2.upstream_rq_total) - rq_v2_before )) = "$to_v2" ] \
  || die "Envoy's cluster greeter.v2 counted $(( $(stat cluster.greeter.v2.upstream_rq_total) - rq_v2_before )), v2 served $to_v2"
log "2. split v1 $to_v1 / v2 $to_v2 on one connection (the servers and Envoy's cluster stats agree); HCM downstream connections: $(stat http.greeter.downstream_cx_total)"

log "3. npm multiplexed client (service Greeter from the prefix) through npm-greeter to the npm server"
client npm-multiplexed "${NODE_PEER[@]}" client --gen "$WORK" --port "$NPM_LISTEN_PORT" --transport framed --protocol compact --multiplex Greeter
grep -q "^CLIENT OK calls=13" "$WORK/npm-multiplexed.log" || { cat "$WORK/npm-multiplexed.log" >&2; die "the multiplexed client did not get its 13 answers"; }
[ "$(observed npm-multiplexed crash 'TApplicationException:0')" = 1 ] && [ "$(served npm crash)" = 1 ] && [ "$(served npm sayHello)" = 6 ] && [ "$(count npm NOTIFY)" = 2 ] \
  || die "npm server: $(served npm sayHello) sayHello, $(served npm crash) crash, $(count npm NOTIFY) oneways; expected 6, 1, 2"
# For the record (docs/router-mode-spike.md): call latency through the bridges and HCM, and straight to
# the npm server (the python servers serve one connection at a time, the router's).
NPM_TIMED=(client --gen "$WORK" --transport framed --protocol compact --multiplex Greeter --timed sayHello --calls "$SPLIT_CALLS")
client npm-bridged "${NODE_PEER[@]}" "${NPM_TIMED[@]}" --port "$NPM_LISTEN_PORT"
client npm-direct "${NODE_PEER[@]}" "${NPM_TIMED[@]}" --port "$NPM_PORT"
median() { grep '^LATENCY' "$1" | sed 's/.*ms=//' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
[ "$(served npm sayHello)" = $((6 + 2 * SPLIT_CALLS)) ] || die "the npm server ran $(served npm sayHello) sayHello, expected $((6 + 2 * SPLIT_CALLS))"
log "3. median sayHello latency, one call at a time on one connection: $(median "$WORK/npm-bridged.log") ms through the bridges and HCM, $(median "$WORK/npm-direct.log") ms straight to the server"

log "4. policy clients: sayHello, crash (route timeout), sayHello on one connection"
client py-timeout "${PY_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --protocol header --policy
client npm-timeout "${NODE_PEER[@]}" client --gen "$WORK" --port "$LISTEN_PORT" --transport framed --protocol binary --policy --pipelined
for name in py-timeout npm-timeout; do
  grep -q "^CLIENT OK" "$WORK/$name.log" || die "$name did not finish"
  want=1; [ "$name" = npm-timeout ] && want=2
  [ "$(grep -c '^REFUSED method=crash type=12 message=MetaProto router (HTTP 504): upstream request timeout$' "$WORK/$name.log")" = "$want" ] \
    || { cat "$WORK/$name.log" >&2; die "$name: crash did not get TApplicationException TIMEOUT ($want expected)"; }
  grep '^SEQID' "$WORK/$name.log" | awk '{ split($3, s, "="); split($4, a, "="); if (s[2] != a[2]) bad = 1 } END { exit bad }' \
    || { cat "$WORK/$name.log" >&2; die "$name: the TIMEOUT exception did not carry the call's seqid"; }
  [ "$(grep -c '^ALLOWED sayHello' "$WORK/$name.log")" = $((want == 2 ? 4 : 2)) ] || die "$name: the calls around the timeout were not all answered"
done
log "4. TIMEOUT with the call's seqid, the connection reused ($(grep -h '^SEQID' "$WORK/py-timeout.log" "$WORK/npm-timeout.log" | tr '\n' ';'))"

grep -E "bridge (consumer|provider) side: connection done" "$WORK/envoy.log" | tail -n 3 >&2 || true
log "PASS"
