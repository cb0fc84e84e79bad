#!/usr/bin/env bash
# Build (once) and run the real Apache Dubbo 3.3.6 peers.
#   run.sh build                      # build only
#   run.sh provider PORT              # prints "PROVIDER READY PORT", runs until SIGTERM
#   run.sh consumer --url dubbo://[::ffff:127.0.0.1]:PORT [--count N] [--attach k=v]...
# Loopback only: DUBBO_IP_TO_BIND=::ffff:127.0.0.1 + -Djava.net.preferIPv4Stack=true
# (Dubbo drops 127.* as a bind host and listens on all interfaces otherwise).
# Env: MVN_OFFLINE=1 to force `mvn -o`; JAVA_OPTS for extra JVM flags.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAR="$HERE/target/dubbo-peers-0.1.0.jar"
CP_FILE="$HERE/target/classpath.txt"

build() {
  local stale=0
  if [[ ! -f "$JAR" || ! -f "$CP_FILE" ]]; then
    stale=1
  elif [[ -n "$(find "$HERE/pom.xml" "$HERE/src" -newer "$JAR" -type f -print -quit)" ]]; then
    stale=1
  fi
  if [[ $stale -eq 0 ]]; then
    return 0
  fi
  echo "[run.sh] building dubbo peers (mvn package)..." >&2
  local t0=$SECONDS offline=()
  [[ "${MVN_OFFLINE:-}" == 1 ]] && offline=(-o)
  # -q still prints bare ANSI resets; strip them.
  (cd "$HERE" && mvn -q -B -Dstyle.color=never "${offline[@]}" package) 2>&1 \
    | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
  echo "[run.sh] build done in $((SECONDS - t0))s" >&2
}

java_run() {
  local main="$1"; shift
  export DUBBO_IP_TO_BIND="${DUBBO_IP_TO_BIND:-::ffff:127.0.0.1}"
  # shellcheck disable=SC2086
  exec java -Djava.net.preferIPv4Stack=true \
    -Ddubbo.application.qos-enable=false \
    -Ddubbo.service.shutdown.wait=500 \
    -XX:TieredStopAtLevel=1 -Xshare:auto \
    ${JAVA_OPTS:-} \
    -cp "$JAR:$(cat "$CP_FILE")" "io.metaproto.demo.$main" "$@"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  build) build ;;
  provider)
    build
    java_run Provider "${1:-${DUBBO_PORT:-20880}}" ;;
  consumer)
    build
    java_run Consumer "$@" ;;
  *)
    echo "usage: $0 build | provider PORT | consumer --url dubbo://[::ffff:127.0.0.1]:PORT [--count N] [--attach k=v]..." >&2
    exit 2 ;;
esac
