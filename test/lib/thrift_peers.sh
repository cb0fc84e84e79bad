# The Thrift peers of test/thrift (python3-thrift and npm thrift servers and clients, py-peer.py and
# node-peer.js), with their code generated now from test/thrift/demo.thrift by the Debian thrift
# compiler (0.17; nothing generated is checked in). Source it after test/lib/envoy.sh.

THRIFT_IDL="$REPO/test/thrift/demo.thrift"
PY=/usr/bin/python3 # the interpreter Debian's python3-thrift is installed for

# thrift_peers DIR: checks the compiler and python3-thrift, generates the Node and Python code into
# DIR, and sets NODE_PEER and PY_PEER (the peer commands, which take --gen DIR).
thrift_peers() {
  command -v thrift >/dev/null || die "the thrift compiler is missing: ./build.sh setup installs thrift-compiler"
  "$PY" -c 'import thrift' 2>/dev/null || die "python3-thrift is missing: ./build.sh setup installs it"
  log "generating code from demo.thrift with $(thrift --version)"
  thrift --gen js:node -out "$1" "$THRIFT_IDL" 2>/dev/null
  thrift --gen py -out "$1" "$THRIFT_IDL" 2>/dev/null
  export NODE_PATH="$REPO/node_modules" # the generated JS requires 'thrift'
  NODE_PEER=(node "$REPO/test/thrift/node-peer.js")
  PY_PEER=("$PY" "$REPO/test/thrift/py-peer.py")
}
