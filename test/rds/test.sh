#!/usr/bin/env bash
# The control plane end to end: a stock Envoy bootstrapped by `metaproto bootstrap` and configured
# only over ADS by `metaproto serve`, with two real redis-server children as the subsets v1 and v2
# of one Service and redis-cli plus a long-lived socket client as clients. Run once with state-of-
# the-world xDS and once with delta xDS:
#   - traffic flows through the MetaProto filter (dist/wasm/redis.wasm, delivered through ECDS): the
#     GET count in Envoy's /stats/prometheus equals the serving redis-server's own commandstats;
#   - weights moved from 100/0 to 0/100: new connections go to v2, a connection opened before keeps
#     working on v1, also past Envoy's drain time (1 s here): the change is an EDS update, no listener
#     is replaced;
#   - a policy (deny DEL) saved into the Service's codec options reaches the next command of the
#     connection opened before it (an ECDS update reuses the VM; the filter reads the plugin's live
#     policy per read), the denied DEL never reaches redis-server, and removing the policy restores it;
#   - a bad YAML saved over the config file is rejected with its field path (serve's log and
#     `metaproto validate`), nothing reaches Envoy, and traffic keeps flowing on the last good config;
#   - a configuration Envoy NACKs (a second Service on a port already taken) is shown by
#     `metaproto status` with Envoy's error and its YAML document, the server sends no more LDS
#     responses for it (counted), the first Service keeps serving, and removing it clears the NACK;
#   - the control plane restarted mid-traffic: Envoy keeps serving and reconnects;
#   - a new codec build saved over dist/wasm-like folder rolls out with no Envoy restart: serve pins it
#     under its sha256, new connections run it (a new VM, their calls counted), the held one keeps working.
# Then `metaproto bootstrap --static` (the same configuration inlined, no control plane, plus a route
# matched on the connection's first command) through a real Envoy, `metaproto up --check` on the shipped demo configuration (moved to free ports), and the Envoy
# behaviours the control plane relies on (test/rds/envoy_facts.js, a further Envoy
# driven by the ADS server directly): ADS needs node id and cluster; a listener waits for its ECDS
# config; a filter config Envoy NACKs is traced to its YAML document and not sent again.
#   bash test/rds/test.sh        (after ./build.sh build)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=rds
. "$REPO/test/lib/envoy.sh"
trap stop_children EXIT

WASM="$REPO/dist/wasm/redis.wasm"
[ -f "$WASM" ] || die "$WASM is missing: run ./build.sh build"
[ -f "$REPO/build/cp/control-plane/cli/main.js" ] || die "the control plane is not compiled: run ./build.sh build"
command -v redis-server >/dev/null || die "redis-server is missing: run ./build.sh setup"
WORK=$(mktemp -d)
log "work dir $WORK"
metaproto() { node "$REPO/control-plane/bin/metaproto.js" "$@"; }

V1_PORT=$(free_port); V2_PORT=$(free_port)
for subset in v1 v2; do
  port_var=${subset^^}_PORT
  start_child "redis-server $subset" "$WORK/redis-$subset.log" redis-server --port "${!port_var}" --bind 127.0.0.1 \
    --save "" --appendonly no --daemonize no --dir "$WORK"
  wait_for "redis-server $subset :${!port_var}" 10 redis-cli -p "${!port_var}" ping || die "redis-server $subset did not start"
  # Each server knows which subset it is: a GET through Envoy tells where the connection went.
  redis-cli -p "${!port_var}" set subset "$subset" >/dev/null
done

# The configuration: one Service with two subsets, and a MetaRouter giving them weights.
write_config() { # weight_v1 weight_v2 [port of a second Service]
  {
    cat <<YAML
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: cache }
spec:
  protocol: redis
  port: $LISTEN_PORT
  codec: ${CODEC_YAML:-{ on_decode_error: pass_through \}}
  subsets:
  - { name: v1, labels: { version: v1 }, endpoints: [{ address: 127.0.0.1, port: $V1_PORT }] }
  - { name: v2, labels: { version: v2 }, endpoints: [{ address: 127.0.0.1, port: $V2_PORT }] }
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: cache }
spec:
  hosts: [cache]
  routes:
$([ -z "${MATCHED_ROUTE:-}" ] || echo "  - { name: readonly, match: { attributes: { method: { exact: READONLY } } }, route: [{ destination: { host: cache, subset: v2 } }] }")
  - name: by-weight
    route:
    - { destination: { host: cache, subset: v1 }, weight: $1 }
    - { destination: { host: cache, subset: v2 }, weight: $2 }
YAML
    [ -z "${3:-}" ] || cat <<YAML
---
apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: squatter }
spec:
  protocol: redis
  port: $3
  subsets: [{ name: v1, endpoints: [{ address: 127.0.0.1, port: $V1_PORT }] }]
YAML
  } >"$RUN/config.yaml.new"
  # Saved the way editors do: a new file renamed over the old one.
  mv "$RUN/config.yaml.new" "$RUN/config.yaml"
}

start_serve() {
  start_child "metaproto serve" "$RUN/serve.log" node "$REPO/control-plane/bin/metaproto.js" serve "$RUN/config.yaml" \
    --listen "127.0.0.1:$XDS_PORT" --http-listen "127.0.0.1:$STATUS_PORT" --debounce 100 \
    --wasm-dir "$RUN/wasm" --pin-dir "$RUN/pinned"
  SERVE_PID=${CHILD_PIDS[-1]}
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# As start_envoy, with a drain time of 1 s: connections of a replaced listener or filter chain are
# closed 1 s after the change, so the rig sees if a change replaced one.
DRAIN_SECONDS=1
start_envoy_short_drain() { # bootstrap_file admin_port logfile
  start_child envoy "$3" "$(envoy_bin)" -c "$1" --concurrency 1 --log-level "${ENVOY_LOG_LEVEL:-info}" \
    --base-id "$(( $2 % 60000 ))" --disable-hot-restart --drain-time-s "$DRAIN_SECONDS"
  ENVOY_PID=${CHILD_PIDS[-1]}
  wait_for "envoy (admin :$2)" 30 sh -c "curl -sf http://127.0.0.1:$2/ready | grep -q LIVE" \
    || { tail -n 40 "$3" >&2; die "Envoy did not become ready; its log is above ($3)"; }
}

stat() { curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=$1\$" | awk -F': ' -v name="$1" '$1 == name { print $2 }'; }
# Which subset a new connection reaches (a fresh redis-cli connection per call).
expect_new_connections_on() { # subset count
  local i got
  for i in $(seq "$2"); do
    got=$(redis-cli -p "$LISTEN_PORT" get subset)
    [ "$got" = "$1" ] || die "a new connection reached '$got', expected $1"
  done
}
held() { # command -> the reply on the connection opened before the changes
  local reply
  echo "$1" >&"${HELD[1]}"
  read -r -t 5 reply <&"${HELD[0]}" || die "the held connection did not answer '$1'"
  printf '%s\n' "$reply"
}
envoy_gets() {
  curl -sf "http://127.0.0.1:$ADMIN_PORT/stats/prometheus" \
    | awk '/^metaproto_requests_total\{/ && /protocol="redis"/ && /method="GET"/ { sum += $2 } END { print sum + 0 }'
}
redis_gets() { redis-cli -p "$1" info commandstats | { grep -o 'cmdstat_get:calls=[0-9]*' || echo =0; } | cut -d= -f2; }
# ECDS updates Envoy applied (extension_config_discovery.<prefix>.<name>.config_reload).
ecds_reloads() {
  curl -sf "http://127.0.0.1:$ADMIN_PORT/stats?filter=^extension_config_discovery\..*\.config_reload$" | awk -F': ' '{ s += $2 } END { print s + 0 }'
}
ecds_reloaded_since() { [ "$(ecds_reloads)" -gt "$1" ]; }
DENY_DEL='{ on_decode_error: pass_through, policy: { authz: { rules: [{ action: deny, match: { method: { exact: DEL } } }] } } }'
no_rejections() {
  [ "$(stat listener_manager.lds.update_rejected)" = 0 ] && [ "$(stat cluster_manager.cds.update_rejected)" = 0 ] \
    || die "Envoy rejected a pushed configuration; see $RUN/envoy.log"
}

scenario() { # sotw | delta
  local api=$1
  RUN="$WORK/$api"; mkdir -p "$RUN"
  XDS_PORT=$(free_port); STATUS_PORT=$(free_port); ADMIN_PORT=$(free_port); LISTEN_PORT=$(free_port)
  log "[$api] Envoy on ${api} xDS"
  mkdir -p "$RUN/wasm"; cp "$WASM" "$RUN/wasm/redis.wasm"
  write_config 100 0
  metaproto validate --wasm-dir "$RUN/wasm" "$RUN/config.yaml" >&2
  metaproto bootstrap --node "rds-$api" --xds "127.0.0.1:$XDS_PORT" --admin-port "$ADMIN_PORT" --stats-flush-interval 1s \
    $([ "$api" = delta ] && echo --delta) -o "$RUN/envoy.yaml"
  start_serve
  start_envoy_short_drain "$RUN/envoy.yaml" "$ADMIN_PORT" "$RUN/envoy.log"
  wait_for "listener :$LISTEN_PORT (configured over ADS)" 20 sh -c "redis-cli -p $LISTEN_PORT ping | grep -q PONG" \
    || { tail -n 30 "$RUN/envoy.log" "$RUN/serve.log" >&2; die "Envoy never served the listener pushed by metaproto serve"; }
  grep -q "metaproto redis: configured" "$RUN/envoy.log" || die "the Wasm filter (from ECDS) never ran its configuration; see $RUN/envoy.log"
  grep -q "xDS stream opened ($([ "$api" = delta ] && echo delta || echo state of the world))" "$RUN/serve.log" \
    || die "Envoy did not use $api xDS; see $RUN/serve.log"
  [ "$(stat listener_manager.lds.update_rejected)" = 0 ] || die "Envoy rejected the first configuration; see $RUN/envoy.log"

  log "[$api] weights 100/0: new connections go to v1"
  local gets_before served envoy_before
  gets_before=$(redis_gets "$V1_PORT")
  envoy_before=$(envoy_gets)
  expect_new_connections_on v1 5
  coproc HELD { exec node "$REPO/test/rds/line_client.js" "$LISTEN_PORT"; }
  CHILD_PIDS+=("$HELD_PID")
  local held_pid=$HELD_PID
  [ "$(held 'GET subset')" = v1 ] || die "the held connection did not reach v1"

  log "[$api] traffic went through the MetaProto filter: Envoy's GET count equals redis-server v1's own"
  served=$(( $(redis_gets "$V1_PORT") - gets_before ))
  wait_for "metaproto_requests_total{method=\"GET\"} +$served (redis-server's count)" 10 \
    sh -c "[ \$(( \$(curl -sf http://127.0.0.1:$ADMIN_PORT/stats/prometheus | awk '/^metaproto_requests_total\\{/ && /protocol=\"redis\"/ && /method=\"GET\"/ { s += \$2 } END { print s + 0 }') - $envoy_before )) = $served ]" \
    || die "Envoy counted $(( $(envoy_gets) - envoy_before )) GETs, redis-server v1 served $served"

  log "[$api] weights 0/100: new connections move to v2, the held connection stays on v1 past the drain time"
  local lds_before
  lds_before="$(stat listener_manager.lds.update_attempt) $(stat cluster_manager.cds.update_attempt)"
  write_config 0 100
  wait_for "new connections on v2" 10 sh -c "[ \"\$(redis-cli -p $LISTEN_PORT get subset)\" = v2 ]" \
    || { tail -n 20 "$RUN/serve.log" >&2; die "new connections did not move to v2"; }
  expect_new_connections_on v2 5
  [ "$(stat listener_manager.lds.update_attempt) $(stat cluster_manager.cds.update_attempt)" = "$lds_before" ] \
    || die "a weight change reached Envoy as an LDS or CDS update (it replaces the listener: held connections close)"
  sleep $((DRAIN_SECONDS + 1))
  [ "$(held 'GET subset')" = v1 ] || die "the connection opened before the change lost v1"
  [ "$(held "SET held-$api yes")" = +OK ] && [ "$(redis-cli -p "$V1_PORT" get "held-$api")" = yes ] \
    || die "the held connection no longer writes to v1"

  log "[$api] a policy change reaches the next request of the connection opened before it"
  local denied
  CODEC_YAML="$DENY_DEL" write_config 0 100
  wait_for "the held connection's DEL denied" 10 sh -c "redis-cli -p $LISTEN_PORT del nothing | grep -q NOPERM" \
    || { tail -n 20 "$RUN/serve.log" >&2; die "the policy never reached Envoy"; }
  denied=$(held "DEL held-$api")
  [ "${denied#-NOPERM }" != "$denied" ] || die "the held connection's DEL got '$denied', expected the policy's -NOPERM"
  [ "$(redis-cli -p "$V1_PORT" get "held-$api")" = yes ] || die "the denied DEL reached redis-server v1"
  [ "$(held 'GET subset')" = v1 ] || die "the held connection did not stay usable after the denial"
  log "[$api] the policy removed: the held connection's DEL runs again"
  write_config 0 100
  wait_for "DEL allowed again" 10 sh -c "[ \"\$(redis-cli -p $LISTEN_PORT del nothing)\" = 0 ]" || die "removing the policy did not restore DEL"
  [ "$(held "DEL held-$api")" = :1 ] || die "the held connection's DEL did not run after the policy was removed"
  [ "$(held "SET held-$api yes")" = +OK ] || die "the held connection could not write again"
  log "[$api] the policy back, then off again (configurations Envoy had before): each reaches the held connection's"
  log "[$api] next DEL with no new connection opened (serve gives each change a new revision)"
  local reloads
  reloads=$(ecds_reloads)
  CODEC_YAML="$DENY_DEL" write_config 0 100
  wait_for "Envoy took the policy through ECDS" 10 ecds_reloaded_since "$reloads" || die "the policy never reached Envoy"
  denied=$(held "DEL held-$api")
  [ "${denied#-NOPERM }" != "$denied" ] || die "the held connection's DEL got '$denied' once the policy was back, expected -NOPERM"
  reloads=$(ecds_reloads)
  write_config 0 100
  wait_for "Envoy took the policy's removal through ECDS" 10 ecds_reloaded_since "$reloads" || die "the removal never reached Envoy"
  [ "$(held "DEL held-$api")" = :1 ] || die "the held connection's DEL did not run once the policy was off again"
  [ "$(held "SET held-$api yes")" = +OK ] || die "the held connection could not write again"

  log "[$api] a bad YAML is rejected with its field path; Envoy gets nothing and traffic keeps flowing"
  local updates_before
  updates_before="$(stat listener_manager.lds.update_attempt) $(stat cluster_manager.cds.update_attempt)"
  write_config 0 150
  wait_for "serve's rejection" 10 grep -q 'configuration rejected' "$RUN/serve.log" || die "serve did not reject the bad file"
  grep -q 'spec.routes\[0\].route\[1\].weight: must be a whole number from 0 to 100' "$RUN/serve.log" \
    || { tail -n 5 "$RUN/serve.log" >&2; die "serve's log does not name the bad field"; }
  if metaproto validate --wasm-dir "$RUN/wasm" "$RUN/config.yaml" 2>"$RUN/validate.err"; then die "metaproto validate accepted the bad file"; fi
  grep -q "config.yaml:[0-9]*:[0-9]*: document 2 (MetaRouter cache) spec.routes\[0\].route\[1\].weight: must be a whole number from 0 to 100" "$RUN/validate.err" \
    || { cat "$RUN/validate.err" >&2; die "validate did not name the file, document and field"; }
  log "[$api] validate: $(head -n1 "$RUN/validate.err")"
  sleep 1
  [ "$updates_before" = "$(stat listener_manager.lds.update_attempt) $(stat cluster_manager.cds.update_attempt)" ] \
    || die "the rejected file still reached Envoy"
  expect_new_connections_on v2 5
  [ "$(held 'GET subset')" = v1 ] || die "the held connection stopped working after the bad file"

  log "[$api] a configuration Envoy NACKs: a second Service on a port redis-server v1 holds"
  write_config 0 100 "$V1_PORT"
  wait_for "a NACK in metaproto status" 10 sh -c "node '$REPO/control-plane/bin/metaproto.js' status --server 127.0.0.1:$STATUS_PORT | grep -q 'NACK of'" \
    || { metaproto status --server "127.0.0.1:$STATUS_PORT" >&2; die "metaproto status shows no NACK"; }
  metaproto status --server "127.0.0.1:$STATUS_PORT" >"$RUN/status.txt"
  grep -A2 'NACK of' "$RUN/status.txt" >&2
  grep -q "resource squatter from .*config.yaml document 3 (Service squatter)" "$RUN/status.txt" || die "the NACK is not traced to the squatter's document"
  grep -qi "address already in use" "$RUN/status.txt" || die "the NACK does not carry Envoy's error"
  lds_responses() { metaproto status --server "127.0.0.1:$STATUS_PORT" --json | node -e '
    const report = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const node = report.nodes.find((n) => n.id === process.argv[1]);
    console.log(node.types.find((t) => t.type === "Listener").responses);' "rds-$api"; }
  local responses
  responses=$(lds_responses)
  sleep 3
  [ "$(lds_responses)" = "$responses" ] || die "the server kept sending LDS responses after the NACK ($responses, then $(lds_responses))"
  log "[$api] $responses LDS responses in all, none after the NACK in 3 s; traffic still flows"
  expect_new_connections_on v2 3
  [ "$(held 'GET subset')" = v1 ] || die "the held connection broke after the NACK"
  write_config 0 100
  wait_for "the NACK cleared by the next ACK" 10 sh -c "! node '$REPO/control-plane/bin/metaproto.js' status --server 127.0.0.1:$STATUS_PORT | grep -q 'NACK of'" \
    || die "the NACK stayed after the configuration was fixed"

  log "[$api] the control plane restarts mid-traffic: Envoy keeps serving and reconnects"
  stop_pid "$SERVE_PID"
  mv "$RUN/serve.log" "$RUN/serve.1.log"
  expect_new_connections_on v2 3
  [ "$(held 'GET subset')" = v1 ] || die "the held connection broke when the control plane went away"
  write_config 0 100
  start_serve
  wait_for "Envoy reconnected to metaproto serve" 20 grep -q 'xDS stream opened' "$RUN/serve.log" \
    || die "Envoy did not reconnect to the restarted control plane"
  wait_for "Envoy's control_plane.connected_state = 1" 10 sh -c "curl -sf 'http://127.0.0.1:$ADMIN_PORT/stats?filter=control_plane.connected_state' | grep -q ': 1'" \
    || die "Envoy's control_plane.connected_state did not return to 1"
  expect_new_connections_on v2 3
  [ "$(held 'GET subset')" = v1 ] || die "the held connection broke across the control plane restart"
  [ "$(stat cluster_manager.cds.update_rejected)" = 0 ] || die "Envoy rejected a cluster update; see $RUN/envoy.log"

  log "[$api] a new codec build rolls out with no Envoy restart"
  local configured_before gets_before_build new_sha
  configured_before=$(grep -c "metaproto redis: configured" "$RUN/envoy.log")
  # The same module with one more custom section: another build, another sha256, the same behaviour.
  cp "$RUN/wasm/redis.wasm" "$RUN/wasm/.redis.wasm.new"
  printf '\x00\x07\x05build%s' "${api:0:1}" >>"$RUN/wasm/.redis.wasm.new"
  new_sha=$(sha256sum "$RUN/wasm/.redis.wasm.new" | cut -c1-16)
  mv "$RUN/wasm/.redis.wasm.new" "$RUN/wasm/redis.wasm"
  wait_for "Envoy configured the new build" 15 sh -c "[ \$(grep -c 'metaproto redis: configured' '$RUN/envoy.log') -gt $configured_before ]" \
    || die "Envoy never ran the new build; see $RUN/envoy.log and $RUN/serve.log"
  curl -sf "http://127.0.0.1:$ADMIN_PORT/config_dump?resource=ecds_filters" | grep -q "redis-$new_sha.wasm" \
    || die "Envoy's filter config does not name the new build redis-$new_sha.wasm"
  gets_before_build=$(envoy_gets)
  expect_new_connections_on v2 3
  wait_for "the new build counts new connections' calls" 10 sh -c "[ \$(curl -sf http://127.0.0.1:$ADMIN_PORT/stats/prometheus | awk '/^metaproto_requests_total\\{/ && /method=\"GET\"/ { s += \$2 } END { print s + 0 }') -ge $((gets_before_build + 3)) ]" \
    || die "calls on new connections were not counted after the new build ($(envoy_gets) GETs, before $gets_before_build)"
  [ "$(held 'GET subset')" = v1 ] || die "the held connection broke when the new build rolled out"
  kill -0 "$ENVOY_PID" 2>/dev/null || die "Envoy exited during the rollout"

  log "[$api] metaproto_requests_total in Envoy's /stats/prometheus:"
  metaproto_metrics "$ADMIN_PORT" | grep -E '^metaproto_requests_total' >&2
  stop_pid "$held_pid"
  stop_pid "$ENVOY_PID"
  stop_pid "$SERVE_PID"
}

scenario sotw
scenario delta

log "metaproto bootstrap --static: the same model inlined into a bootstrap, no control plane, with a matched"
log "route: connections opening with READONLY go to v2, the others by weight (100/0) to v1"
RUN="$WORK/static"; mkdir -p "$RUN"; LISTEN_PORT=$(free_port); ADMIN_PORT=$(free_port)
MATCHED_ROUTE=1 write_config 100 0
metaproto bootstrap --static "$RUN/config.yaml" --admin-port "$ADMIN_PORT" --stats-flush-interval 1s -o "$RUN/envoy.yaml"
start_envoy "$RUN/envoy.yaml" "$ADMIN_PORT" "$RUN/envoy.log"
static_gets_before=$(envoy_gets)
readonly_calls() { redis-cli -p "$V2_PORT" info commandstats | { grep -o 'cmdstat_readonly:calls=[0-9]*' || echo =0; } | cut -d= -f2; }
readonly_before=$(readonly_calls)
redis-cli -p "$LISTEN_PORT" READONLY | grep -q 'cluster support disabled' || die "READONLY got no answer from a redis-server"
[ "$(readonly_calls)" = $((readonly_before + 1)) ] || die "the connection opening with READONLY did not reach v2"
expect_new_connections_on v1 3
python3 "$REPO/test/lib/check_metrics.py" --admin "127.0.0.1:$ADMIN_PORT" --wait 10 \
  --expect "metaproto_connection_routes_total{protocol=redis,reason=routed} == 1" \
  --expect "metaproto_connection_routes_total{protocol=redis,reason=default} == 3"
wait_for "the static Envoy's filter counted the GETs" 10 sh -c "[ \$(curl -sf http://127.0.0.1:$ADMIN_PORT/stats/prometheus | awk '/^metaproto_requests_total\\{/ && /method=\"GET\"/ { s += \$2 } END { print s + 0 }') -ge $((static_gets_before + 3)) ]" \
  || die "the static bootstrap's Envoy did not count the calls"
stop_pid "$ENVOY_PID"

log "metaproto up --check: the demo configuration, on free ports"
UP_PORTS=($(free_port) $(free_port) $(free_port))
sed "s/port: 6380/port: ${UP_PORTS[0]}/; s/port: 16379/port: ${UP_PORTS[1]}/; s/port: 16479/port: ${UP_PORTS[2]}/" \
  "$REPO/control-plane/examples/up.yaml" >"$WORK/up.yaml"
metaproto --log-level warn up --check "$WORK/up.yaml" --admin-port "$(free_port)" --xds "127.0.0.1:$(free_port)" \
  --http-listen "127.0.0.1:$(free_port)" --work-dir "$WORK/up" | tee "$WORK/up.out" >&2
grep -q "^  cache: redis-cli -p ${UP_PORTS[0]} " "$WORK/up.out" && grep -q 'metaproto_requests_total{protocol="redis".*method="GET"' "$WORK/up.out" \
  || die "metaproto up did not report calls through its Envoy"
for port in "${UP_PORTS[@]}"; do
  ! redis-cli -p "$port" ping >/dev/null 2>&1 || die "metaproto up left something listening on :$port"
done

log "Envoy behaviours the control plane relies on (a further Envoy, driven by the ADS server directly)"
if ! node "$REPO/test/rds/envoy_facts.js" "$(envoy_bin)" "$WORK" "$REPO/dist/wasm" "$V1_PORT" | tee "$WORK/facts.out" >&2; then
  die "an Envoy behaviour did not hold; see $WORK/facts.out and $WORK/facts-envoy*.log"
fi
[ "$(grep -c "^fact" "$WORK/facts.out")" = 6 ] || die "envoy_facts.js did not check every behaviour; see $WORK/facts.out"
log "rds rig passed"
