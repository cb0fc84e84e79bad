# Envoy bootstrap for the Thrift rig: one listener per Thrift variant, each
# [Wasm MetaProtocol filter with dist/wasm/thrift.wasm] + tcp_proxy to its own upstream.
# Source after test/lib/envoy.sh (it reuses metaproto_stats_tags_yaml).

# thrift_bootstrap admin_port wasm_file plugin_config_json NAME:LISTEN_PORT:UPSTREAM_PORT...
# tcp_proxy's stat_prefix is NAME, so tcp.NAME.downstream_cx_rx_bytes_total counts what that
# listener's clients sent.
thrift_bootstrap() {
  local admin_port=$1 wasm=$2 config=$3; shift 3
  local spec name listen upstream
  cat <<YAML
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: $admin_port } }
stats_flush_interval: 1s
stats_config:
  stats_tags:
$(metaproto_stats_tags_yaml)
static_resources:
  listeners:
YAML
  for spec in "$@"; do
    IFS=: read -r name listen upstream <<<"$spec"
    cat <<YAML
  - name: $name
    address: { socket_address: { address: 127.0.0.1, port_value: $listen } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.wasm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm
          config:
            name: metaproto
            root_id: metaproto
            configuration:
              "@type": type.googleapis.com/google.protobuf.StringValue
              value: '$config'
            vm_config:
              runtime: envoy.wasm.runtime.v8
              code: { local: { filename: "$wasm" } }
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: $name
          cluster: $name
YAML
  done
  echo "  clusters:"
  for spec in "$@"; do
    IFS=: read -r name listen upstream <<<"$spec"
    cat <<YAML
  - name: $name
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: $name
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $upstream } } }
YAML
  done
}
