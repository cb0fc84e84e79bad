import { decodeMessage, encodeMessage, messageType, packAny } from "./api";

const roundTrip = (typeName: string, value: object) => decodeMessage(typeName, encodeMessage(typeName, value));

const wasmFilter = {
  config: {
    name: "metaproto",
    root_id: "metaproto",
    failure_policy: "FAIL_RELOAD",
    configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: '{"on_decode_error":"close"}' },
    vm_config: { runtime: "envoy.wasm.runtime.v8", code: { remote: { http_uri: { uri: "http://127.0.0.1:1/redis.wasm", cluster: "metaproto_wasm", timeout: { seconds: 5 } }, sha256: "ab" } } },
  },
};

describe("Envoy API descriptors from xds-protos", () => {
  test("a Listener whose Wasm filter comes through ECDS, then tcp_proxy, survives encode and decode", () => {
    const listener = {
      name: "redis",
      address: { socket_address: { address: "127.0.0.1", port_value: 6380 } },
      filter_chains: [{
        filters: [
          { name: "metaproto.redis", config_discovery: { config_source: { ads: {}, resource_api_version: "V3" }, type_urls: ["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"] } },
          { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: "redis", cluster: "redis", upstream_connect_mode: "ON_DOWNSTREAM_DATA", max_early_data_bytes: { value: 65536 } } },
        ],
      }],
    };
    expect(roundTrip("envoy.config.listener.v3.Listener", listener)).toEqual(listener);
  });

  test("Cluster, ClusterLoadAssignment and RouteConfiguration survive encode and decode", () => {
    const cluster = { name: "redis", type: "EDS", connect_timeout: { seconds: 2 }, eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" } } };
    expect(roundTrip("envoy.config.cluster.v3.Cluster", cluster)).toEqual(cluster);
    const assignment = { cluster_name: "redis", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: 6379 } } } }] }] };
    expect(roundTrip("envoy.config.endpoint.v3.ClusterLoadAssignment", assignment)).toEqual(assignment);
    const routes = { name: "r", virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "redis" } }] }] };
    expect(roundTrip("envoy.config.route.v3.RouteConfiguration", routes)).toEqual(routes);
  });

  test("a TypedExtensionConfig carries the Wasm filter with failure_policy", () => {
    const extension = { name: "metaproto.redis", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm", ...wasmFilter } };
    const decoded = roundTrip("envoy.config.core.v3.TypedExtensionConfig", extension);
    expect(decoded).toEqual(extension);
    expect((decoded.typed_config as { config: { failure_policy: string } }).config.failure_policy).toBe("FAIL_RELOAD");
  });

  test("DiscoveryRequest/Response and their Delta forms survive encode and decode", () => {
    const resource = packAny("envoy.config.cluster.v3.Cluster", { name: "redis" });
    expect(resource.type_url).toBe("type.googleapis.com/envoy.config.cluster.v3.Cluster");
    const response = messageType("envoy.service.discovery.v3.DiscoveryResponse");
    const bytes = response.encode(response.fromObject({ version_info: "3", nonce: "7", type_url: resource.type_url, resources: [resource] })).finish();
    const back = response.toObject(response.decode(bytes)) as { resources: { type_url: string; value: Uint8Array }[]; nonce: string };
    expect(back.nonce).toBe("7");
    expect(decodeMessage("envoy.config.cluster.v3.Cluster", back.resources[0].value)).toEqual({ name: "redis" });

    const request = { version_info: "3", node: { id: "n1", cluster: "c" }, resource_names: ["a"], type_url: resource.type_url, response_nonce: "7", error_detail: { code: 3, message: "bad" } };
    expect(roundTrip("envoy.service.discovery.v3.DiscoveryRequest", request)).toEqual(request);
    const deltaRequest = { node: { id: "n1" }, type_url: resource.type_url, resource_names_subscribe: ["a"], resource_names_unsubscribe: ["b"], initial_resource_versions: { a: "1" }, response_nonce: "2" };
    expect(roundTrip("envoy.service.discovery.v3.DeltaDiscoveryRequest", deltaRequest)).toEqual(deltaRequest);
    const deltaResponse = messageType("envoy.service.discovery.v3.DeltaDiscoveryResponse");
    const deltaBytes = deltaResponse.encode(deltaResponse.fromObject({ system_version_info: "3", type_url: resource.type_url, nonce: "9", removed_resources: ["b"], resources: [{ name: "redis", version: "1", resource }] })).finish();
    expect((deltaResponse.toObject(deltaResponse.decode(deltaBytes)) as { removed_resources: string[] }).removed_resources).toEqual(["b"]);
  });

  test("a Struct in Envoy's YAML form (a plain object: endpoint metadata) is encoded, not dropped", () => {
    const endpoints = {
      cluster_name: "c",
      endpoints: [{ lb_endpoints: [{ metadata: { filter_metadata: { "envoy.filters.listener.original_dst": { local: "127.0.0.1:20880", n: 1, on: true, list: ["a"], nested: { x: null } } } } }] }],
    };
    const decoded: any = decodeMessage("envoy.config.endpoint.v3.ClusterLoadAssignment", encodeMessage("envoy.config.endpoint.v3.ClusterLoadAssignment", endpoints));
    expect(decoded.endpoints[0].lb_endpoints[0].metadata.filter_metadata["envoy.filters.listener.original_dst"].fields).toEqual({
      local: { string_value: "127.0.0.1:20880" }, n: { number_value: 1 }, on: { bool_value: true },
      list: { list_value: { values: [{ string_value: "a" }] } }, nested: { struct_value: { fields: { x: { null_value: "NULL_VALUE" } } } },
    });
  });

  test("a field the API does not have is an error naming its path, not a silent default", () => {
    expect(() => encodeMessage("envoy.config.cluster.v3.Cluster", { name: "x", connect_timeout: { seconds: 1 }, load_assignment: { cluster_nme: "x" } }))
      .toThrow("load_assignment.cluster_nme: no such field in envoy.config.endpoint.v3.ClusterLoadAssignment");
    expect(() => encodeMessage("envoy.config.core.v3.TypedExtensionConfig", { name: "x", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm", config: { failure_polcy: "FAIL_OPEN" } } }))
      .toThrow("typed_config.config.failure_polcy");
  });
});
