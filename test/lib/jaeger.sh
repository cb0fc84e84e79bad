# Shell helpers for Jaeger, the trace backend rigs forward spans to. Source it after test/lib/envoy.sh
# (it uses log, die, free_port, start_child and wait_for from there).

JAEGER_VERSION="v1.75.0"
JAEGER_MODULE="github.com/jaegertracing/jaeger/cmd/jaeger"

# Prints where the Jaeger binary is (or will be, once `./build.sh setup` built it): $JAEGER_BIN, else
# the per-machine cache keyed by version, shared by every clone and worktree.
jaeger_bin() {
  if [ -n "${JAEGER_BIN:-}" ]; then
    printf '%s\n' "$JAEGER_BIN"
    return
  fi
  printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/metaproto/jaeger-$JAEGER_VERSION/jaeger"
}

# start_jaeger DIR: starts Jaeger (memory storage) as a rig child on free 127.0.0.1 ports, and waits
# until it takes OTLP and answers its query API. Sets JAEGER_OTLP_GRPC_PORT, JAEGER_OTLP_HTTP_PORT,
# JAEGER_QUERY_PORT (HTTP API: /api/traces/<id>, /api/services) and JAEGER_PID. Called again with the
# same DIR after stop_jaeger, it restarts on the same ports (its memory storage starts empty).
# Jaeger's built-in configuration listens on fixed ports (4317, 4318, 16686, 8888, ...) that parallel
# rigs would fight over, so it always gets a configuration file naming every port it opens. No health
# check extension (readiness is the query API answering and the OTLP port open), no internal metrics.
start_jaeger() {
  local dir=$1
  local config="$dir/jaeger.yaml"
  mkdir -p "$dir"
  if [ ! -f "$config" ]; then
    JAEGER_OTLP_GRPC_PORT=$(free_port)
    JAEGER_OTLP_HTTP_PORT=$(free_port)
    JAEGER_QUERY_PORT=$(free_port)
    local query_grpc_port
    query_grpc_port=$(free_port)
    cat >"$config" <<YAML
# ports: otlp_grpc=$JAEGER_OTLP_GRPC_PORT otlp_http=$JAEGER_OTLP_HTTP_PORT query=$JAEGER_QUERY_PORT
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    # Else the query service traces itself to the default OTLP port, 127.0.0.1:4317: whoever listens
    # there gets Jaeger's own spans, and with nobody there Jaeger's shutdown waits 10 s to flush them.
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:$JAEGER_QUERY_PORT
    grpc:
      endpoint: 127.0.0.1:$query_grpc_port
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$JAEGER_OTLP_GRPC_PORT
      http:
        endpoint: 127.0.0.1:$JAEGER_OTLP_HTTP_PORT
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
  else
    read -r JAEGER_OTLP_GRPC_PORT JAEGER_OTLP_HTTP_PORT JAEGER_QUERY_PORT < <(
      sed -n 's/^# ports: otlp_grpc=\([0-9]*\) otlp_http=\([0-9]*\) query=\([0-9]*\)$/\1 \2 \3/p' "$config")
  fi
  local bin
  bin=$(jaeger_bin)
  [ -x "$bin" ] || die "Jaeger is not built at $bin: run ./build.sh setup (or set JAEGER_BIN)"
  # Each start keeps its own log: a restart must not hide why the previous run ended.
  local logfile="$dir/jaeger.log" run=1
  while [ -e "$logfile" ]; do run=$((run + 1)); logfile="$dir/jaeger.$run.log"; done
  start_child jaeger "$logfile" "$bin" --config "$config"
  JAEGER_PID=${CHILD_PIDS[-1]}
  wait_for "jaeger (otlp grpc $JAEGER_OTLP_GRPC_PORT, query http $JAEGER_QUERY_PORT)" 60 jaeger_ready ||
    { tail -n 30 "$logfile" >&2; die "jaeger did not start; see $logfile"; }
}

jaeger_ready() {
  kill -0 "$JAEGER_PID" 2>/dev/null &&
    curl -sf "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services" >/dev/null &&
    (exec 3<>"/dev/tcp/127.0.0.1/$JAEGER_OTLP_GRPC_PORT") 2>/dev/null
}

# stop_jaeger: stops the Jaeger start_jaeger started (SIGTERM, by its recorded PID) and waits for it.
stop_jaeger() {
  [ -n "${JAEGER_PID:-}" ] || return 0
  kill "$JAEGER_PID" 2>/dev/null || true
  wait "$JAEGER_PID" 2>/dev/null || true
  local kept=() pid
  for pid in "${CHILD_PIDS[@]:-}"; do
    [ -n "$pid" ] && [ "$pid" != "$JAEGER_PID" ] && kept+=("$pid")
  done
  CHILD_PIDS=("${kept[@]:-}")
  log "stopped jaeger (pid $JAEGER_PID)"
  JAEGER_PID=
}
