#!/usr/bin/env bash
# Every example's model (examples/<example>/<example>.yaml) validates, and the Envoy configuration
# `metaproto bootstrap --static` generates from it is accepted by Envoy 1.40 (`--mode validate`,
# which also loads and configures each Wasm module).
#   bash test/examples/test.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=examples
. "$REPO/test/lib/envoy.sh"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ENVOY=$(envoy_bin)
checked=0
for dir in "$REPO"/examples/*/; do
  name=$(basename "$dir")
  model="$dir$name.yaml"
  [ -f "$dir/README.md" ] || die "examples/$name has no README.md"
  [ -f "$model" ] || die "examples/$name has no model $name.yaml"
  node "$REPO/control-plane/bin/metaproto.js" validate "$model" >/dev/null || die "examples/$name/$name.yaml does not validate"
  node "$REPO/control-plane/bin/metaproto.js" bootstrap --static "$model" --wasm-dir "$REPO/dist/wasm" \
    --admin-port "$(free_port)" -o "$WORK/$name.envoy.yaml"
  "$ENVOY" --mode validate -c "$WORK/$name.envoy.yaml" --base-id "$(( $(free_port) % 60000 ))" >"$WORK/$name.log" 2>&1 \
    || { tail -n 20 "$WORK/$name.log" >&2; die "Envoy rejects the configuration generated from examples/$name/$name.yaml"; }
  for protocol in $(grep -o 'dist/wasm/[a-z0-9_]*\.wasm' "$WORK/$name.envoy.yaml" | sort -u | sed 's|dist/wasm/||; s|\.wasm||'); do
    grep -q "metaproto $protocol: configured" "$WORK/$name.log" || die "examples/$name: Envoy did not configure $protocol.wasm"
  done
  log "examples/$name: model valid, Envoy accepts its generated configuration"
  checked=$((checked + 1))
done
[ "$checked" -gt 0 ] || die "no examples found"
log "PASS: $checked examples"
