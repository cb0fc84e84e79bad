# Shell helpers for rigs: the pinned Envoy, its bootstraps, free ports, starting and stopping children.
# Source it from a rig's test.sh; it expects REPO to point at the repository root.

ENVOY_VERSION="1.40.0"

log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "${RIG:-rig}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Prints the Envoy binary to use: $ENVOY_BIN, else the pinned one in the project venv.
envoy_bin() {
  if [ -n "${ENVOY_BIN:-}" ]; then
    [ -x "$ENVOY_BIN" ] || die "ENVOY_BIN=$ENVOY_BIN is not an executable file"
    printf '%s\n' "$ENVOY_BIN"
    return
  fi
  local bin
  bin=$(ls "$REPO"/.venv/lib/python3*/site-packages/envoy/_bin/envoy 2>/dev/null | head -n1)
  [ -n "$bin" ] || die "Envoy is not installed: run ./build.sh setup (or set ENVOY_BIN)"
  printf '%s\n' "$bin"
}

# A TCP port nobody listens on right now, and not handed out before by this shell: the kernel may
# give the same free port to two calls in a row when nothing has bound the first one yet.
# Call it as `x=$(free_port)`: the list of ports handed out lives in a file, since a command
# substitution runs in a subshell.
FREE_PORTS_TAKEN=$(mktemp)
free_port() {
  local port
  while :; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    grep -qx "$port" "$FREE_PORTS_TAKEN" || break
  done
  echo "$port" >>"$FREE_PORTS_TAKEN"
  echo "$port"
}

# Children started by the rig, stopped by their recorded PIDs on exit.
CHILD_PIDS=()
start_child() { # name logfile command...
  local name=$1 logfile=$2; shift 2
  "$@" >"$logfile" 2>&1 &
  CHILD_PIDS+=($!)
  log "started $name (pid $!, log $logfile)"
}
stop_children() {
  local pid
  for pid in "${CHILD_PIDS[@]:-}"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  # A child killed by SIGTERM exits 143; that is the expected end, not a failure.
  for pid in "${CHILD_PIDS[@]:-}"; do
    if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  done
  CHILD_PIDS=()
}

# wait_for "what" seconds command...: polls until the command succeeds. On timeout it says so
# (with the command's last output) before returning 1, so a rig that stops there under `set -e`
# does not end without a word.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds)) output
  until output=$("$@" 2>&1); do
    if [ $SECONDS -ge $deadline ]; then
      log "ERROR: $what not ready after ${seconds}s (waited for: $*)${output:+; last output: $output}"
      return 1
    fi
    sleep 0.2
  done
  log "$what is ready"
}

# Every Envoy configuration here is written by the control plane (control-plane/resources/pieces.ts),
# through its compiled CLI (./build.sh build compiles it into build/cp/).
metaproto_cli() {
  node "$REPO/control-plane/bin/metaproto.js" "$@"
}

# The body of the bootstrap's stats_config (unindented, as JSON, which YAML reads too), from
# api/telemetry/metrics.json: stats_tags turn the encoded metric names (`name;label=value;...`) into
# Prometheus labels, histogram_bucket_settings give the duration histogram buckets that fit microseconds.
metaproto_stats_config_yaml() {
  metaproto_cli bootstrap --node stats --format json \
    | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["stats_config"], indent=2))'
}

# One more STATIC cluster at 127.0.0.1:port, as an item of a bootstrap's clusters list: appended to
# the output of metaproto_bootstrap[_listeners], whose YAML ends with that list (for connection routes).
metaproto_cluster_yaml() { # name port
  metaproto_cli bootstrap --static --cluster "$1:$2" --format json \
    | python3 -c 'import json, sys; print("  - " + json.dumps(json.load(sys.stdin)["static_resources"]["clusters"][0]))'
}

# The same for a gRPC (HTTP/2) cluster: the OTLP collector tracing and flow logs export to.
metaproto_grpc_cluster_yaml() { # name port
  metaproto_cli bootstrap --static --grpc-cluster "$1:$2" --format json \
    | python3 -c 'import json, sys; print("  - " + json.dumps(json.load(sys.stdin)["static_resources"]["clusters"][0]))'
}

# A bootstrap with one listener per NAME on 127.0.0.1:LISTEN_PORT: the Wasm MetaProtocol filter running
# wasm_file with plugin_config_json (passed as given), then tcp_proxy to its own cluster NAME at
# 127.0.0.1:UPSTREAM_PORT. tcp_proxy's stat_prefix is NAME, so tcp.NAME.downstream_cx_rx_bytes_total
# counts what that listener's clients sent. Stats are flushed every second.
# METAPROTO_CONNECT_ON_DATA=1: tcp_proxy connects once the first read has passed the Wasm filter,
# which may have chosen the cluster (filter state envoy.tcp_proxy.cluster) from the first request.
# Args: admin_port wasm_file plugin_config_json NAME:LISTEN_PORT:UPSTREAM_PORT...
metaproto_bootstrap_listeners() {
  local admin_port=$1 wasm=$2 config=$3; shift 3
  local spec options=()
  for spec in "$@"; do options+=(--listener "$spec"); done
  if [ -n "${METAPROTO_CONNECT_ON_DATA:-}" ]; then options+=(--connect-on-data); fi
  metaproto_cli bootstrap --static --admin-port "$admin_port" --stats-flush-interval 1s \
    --module "$wasm" --plugin-config "$config" "${options[@]}"
}

# The same with a single listener named "metaproto".
# Args: admin_port listen_port upstream_port wasm_file plugin_config_json
metaproto_bootstrap() {
  metaproto_bootstrap_listeners "$1" "$4" "${5:-}" "metaproto:$2:$3"
}

# Starts Envoy on a bootstrap file and waits until its admin says LIVE. ENVOY_CONCURRENCY sets
# its worker threads (default 1).
start_envoy() { # bootstrap_file admin_port logfile
  local bin
  bin=$(envoy_bin)
  start_child envoy "$3" "$bin" -c "$1" --concurrency "${ENVOY_CONCURRENCY:-1}" --log-level "${ENVOY_LOG_LEVEL:-info}" \
    --base-id "$(( $2 % 60000 ))" --disable-hot-restart
  ENVOY_PID=${CHILD_PIDS[-1]}
  if ! wait_for "envoy (admin :$2)" 30 sh -c "curl -sf http://127.0.0.1:$2/ready | grep -q LIVE"; then
    tail -n 40 "$3" >&2
    die "Envoy did not become ready; its log is above ($3)"
  fi
}

# Prints the metaproto_* lines of Envoy's Prometheus output.
metaproto_metrics() { # admin_port
  curl -sf "http://127.0.0.1:$1/stats/prometheus" | grep -E '^metaproto_' || true
}
