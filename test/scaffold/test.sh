#!/usr/bin/env bash
# The codec author's first half hour, checked: in a scratch copy of this checkout (the files a
# clone of it would hold, the installed node_modules/.venv/Envoy API descriptors linked in), run
# `./build.sh new-codec NAME` for a throwaway name, then build it, run its unit tests, its rig
# through a real Envoy and `npm run bench -- --protocol NAME --smoke`, all as generated; the
# scratch copy is deleted at the end. Also keeps the private-protocol example's codec under 200 lines.
#   bash test/scaffold/test.sh
#   KEEP_SCRATCH=1 bash test/scaffold/test.sh   # keep the scratch copy to look at
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG=scaffold
. "$REPO/test/lib/envoy.sh"

NAME=${SCAFFOLD_NAME:-scratchrpc}
EXAMPLE_CODEC="$REPO/codecs/tinyrpc/tinyrpc_codec.ts"
lines=$(wc -l <"$EXAMPLE_CODEC")
[ "$lines" -lt 200 ] || die "the example codec $EXAMPLE_CODEC has $lines lines: keep it under 200"
log "the example codec has $lines lines"

SCRATCH=$(mktemp -d)
cleanup() {
  if [ -n "${KEEP_SCRATCH:-}" ]; then log "scratch copy kept: $SCRATCH"; else rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT
log "scratch copy of the checkout in $SCRATCH"
# Tracked and new files, as they are now; not what setup installs or the build writes (linked below),
# which may be symlinks git does not ignore.
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
  | xargs -0 sh -c 'for f; do case "$f" in node_modules|node_modules/*|.venv|.venv/*|build/*|dist/*) continue ;; esac; [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
  | tar --null -T - -cf -) | tar -xf - -C "$SCRATCH"
for installed in node_modules .venv; do
  [ ! -e "$SCRATCH/$installed" ] || die "$installed was copied into the scratch copy"
done
# What ./build.sh setup installs, shared rather than installed again. node_modules is a folder of links
# to the installed packages with the scratch copy's own install stamp, so the scratch build never runs
# npm ci, which would write through a link into the real node_modules.
[ -d "$REPO/node_modules" ] || die "no node_modules: run ./build.sh setup first"
mkdir "$SCRATCH/node_modules"
for installed in "$REPO"/node_modules/* "$REPO"/node_modules/.bin; do
  ln -s "$(readlink -f "$installed")" "$SCRATCH/node_modules/"
done
cp "$SCRATCH/package-lock.json" "$SCRATCH/node_modules/.metaproto-lock"
ln -s "$REPO/.venv" "$SCRATCH/.venv"
mkdir -p "$SCRATCH/build"
# The Envoy API descriptors (the control plane) and the OTLP .proto files (the collector of the
# benchmark's tracing targets), as ./build.sh setup left them.
for installed in "$REPO"/build/xds-protos-* "$REPO"/build/otlp-protos-*; do
  [ -e "$installed" ] || die "no $(basename "$installed") under build/: run ./build.sh setup"
  ln -s "$installed" "$SCRATCH/build/"
done
[ ! -e "$SCRATCH/codecs/$NAME" ] || die "codecs/$NAME exists in this checkout: choose another SCAFFOLD_NAME"

cd "$SCRATCH"
log "./build.sh new-codec $NAME"
./build.sh new-codec "$NAME"
[ -f "codecs/$NAME/${NAME}_codec.ts" ] && [ -x "test/$NAME/test.sh" ] && [ -f "bench/protocols/$NAME.ts" ] \
  || die "new-codec did not write the codec, its rig and its benchmark module"
grep -q "class .*Codec extends StatefulCodec<" "codecs/$NAME/${NAME}_codec.ts" || die "the generated codec has no typed state"

log "./build.sh build $NAME"
./build.sh build "$NAME"
[ -f "dist/wasm/$NAME.wasm" ] || die "dist/wasm/$NAME.wasm was not built"

log "npx jest codecs/$NAME"
npx --no-install jest --ci "codecs/$NAME" >"$SCRATCH/jest.log" 2>&1 || { tail -n 60 "$SCRATCH/jest.log" >&2; die "the generated unit tests failed"; }
grep -E '^Tests:' "$SCRATCH/jest.log"

log "bash test/$NAME/test.sh"
bash "test/$NAME/test.sh" >"$SCRATCH/rig.log" 2>&1 || { tail -n 40 "$SCRATCH/rig.log" >&2; die "the generated rig failed"; }
tail -n 3 "$SCRATCH/rig.log"

log "npm run bench -- --protocol $NAME --smoke"
npm run --silent bench -- --protocol "$NAME" --smoke >"$SCRATCH/bench.log" 2>&1 \
  || { tail -n 40 "$SCRATCH/bench.log" >&2; die "the benchmark could not run the generated codec"; }
grep -q "\[$NAME\] MetaProto counted" "$SCRATCH/bench.log" || { tail -n 40 "$SCRATCH/bench.log" >&2; die "the benchmark did not measure $NAME through MetaProto"; }
grep "\[$NAME\] MetaProto counted" "$SCRATCH/bench.log"
log "PASS: new-codec $NAME builds, its unit tests, rig and benchmark pass as generated"
