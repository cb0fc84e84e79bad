"""Writes Envoy's API descriptors (from the PyPI package xds-protos) as one FileDescriptorSet.

Usage: python descriptors.py OUT_FILE
The control plane loads OUT_FILE with protobufjs. Only the modules below are imported; every file
they depend on (xds, udpa, validate, google) is collected transitively.
"""
import importlib
import sys

from google.protobuf import descriptor_pb2

MODULES = [
    "envoy.config.bootstrap.v3.bootstrap_pb2",
    "envoy.config.listener.v3.listener_pb2",
    "envoy.config.cluster.v3.cluster_pb2",
    "envoy.config.endpoint.v3.endpoint_pb2",
    "envoy.config.route.v3.route_pb2",
    "envoy.config.core.v3.extension_pb2",
    "envoy.extensions.filters.network.wasm.v3.wasm_pb2",
    "envoy.extensions.filters.network.tcp_proxy.v3.tcp_proxy_pb2",
    "envoy.extensions.wasm.v3.wasm_pb2",
    "envoy.extensions.upstreams.http.v3.http_protocol_options_pb2",
    # Router mode: HCM and its router, internal listeners and what addresses their endpoints.
    "envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2",
    "envoy.extensions.filters.http.router.v3.router_pb2",
    "envoy.extensions.bootstrap.internal_listener.v3.internal_listener_pb2",
    "envoy.extensions.transport_sockets.internal_upstream.v3.internal_upstream_pb2",
    "envoy.extensions.transport_sockets.raw_buffer.v3.raw_buffer_pb2",
    "envoy.extensions.filters.listener.original_dst.v3.original_dst_pb2",
    # Router mode's per-request policy: HCM's RBAC and local rate limit, retries to other endpoints.
    "envoy.extensions.filters.http.rbac.v3.rbac_pb2",
    "envoy.extensions.filters.http.local_ratelimit.v3.local_rate_limit_pb2",
    "envoy.extensions.retry.host.previous_hosts.v3.previous_hosts_pb2",
    "envoy.service.discovery.v3.ads_pb2",
    "envoy.service.discovery.v3.discovery_pb2",
    "google.protobuf.wrappers_pb2",
    "google.protobuf.struct_pb2",
]


def main(out_path):
    ordered, seen = [], set()

    def visit(file_descriptor):
        if file_descriptor.name in seen:
            return
        seen.add(file_descriptor.name)
        for dependency in file_descriptor.dependencies:
            visit(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(proto)
        ordered.append(proto)

    for name in MODULES:
        visit(importlib.import_module(name).DESCRIPTOR)
    descriptor_set = descriptor_pb2.FileDescriptorSet(file=ordered)
    data = descriptor_set.SerializeToString()
    with open(out_path, "wb") as out:
        out.write(data)
    print(f"{len(ordered)} files, {len(data)} bytes -> {out_path}")


if __name__ == "__main__":
    main(sys.argv[1])
