import * as YAML from "yaml";
import { encodeMessage } from "../../control-plane/xds/api";
import { bootstrapYaml, tcpProxyChain } from "./envoy";
import { ROUTER_SERVICE, ROUTER_TARGET, routerBridge, routerResources } from "./router_target";

describe("the metaproto_router target", () => {
  test("exists where router mode has a bridge", () => {
    expect(routerBridge("dubbo", "/w")).toEqual({ module: "/w/dubbo_bridge.wasm", built: false });
    expect(routerBridge("thrift", "/w")?.module).toBe("/w/thrift_bridge.wasm");
    expect(routerBridge("redis", "/w")).toBeUndefined();
  });

  test("is the control plane's translation: the bridge and HCM on the port, an internal listener with tcp_proxy to the backend", () => {
    const r = routerResources("dubbo", "/w", 7001, 20880);
    expect(r.listeners.map((l: any) => l.name)).toEqual([ROUTER_SERVICE, `bridge|${ROUTER_SERVICE}`]);
    const [consumer] = r.listeners as any[];
    expect(consumer.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 7001 });
    const [bridge, hcm] = consumer.filter_chains[0].filters;
    expect(bridge.typed_config.config.vm_config.code.local.filename).toBe("/w/dubbo_bridge.wasm");
    // Routes inline (no RDS): the heartbeat route, then the model's one route to the backend's subset.
    const routes = hcm.typed_config.route_config.virtual_hosts[0].routes;
    expect(routes.map((x: any) => [x.name, x.route.cluster])).toEqual([["heartbeat", ROUTER_SERVICE], ["all", `${ROUTER_SERVICE}.backend`]]);
    const subset = (r.clusters as any[]).find((c) => c.name === `${ROUTER_SERVICE}.backend`);
    expect(subset.type).toBe("STATIC");
    expect(subset.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.envoy_internal_address)
      .toEqual({ server_listener_name: `bridge|${ROUTER_SERVICE}`, endpoint_id: "127.0.0.1:20880" });
    expect(r.bootstrapExtensions.map((e) => e.name)).toEqual(["envoy.bootstrap.internal_listener"]);
    expect(r.upstreamCluster).toBe(`bridge|${ROUTER_SERVICE}`);
  });

  test("joins the other targets in one valid bootstrap, the internal listener extension once", () => {
    const value = YAML.parse(bootstrapYaml(9901, 9090, [
      { name: "tcp_proxy", port: 7000, filters: tcpProxyChain },
      { name: ROUTER_TARGET, port: 7001, resources: (port, backendPort) => routerResources("thrift", "/w", port, backendPort) },
    ]));
    expect(() => encodeMessage("envoy.config.bootstrap.v3.Bootstrap", value)).not.toThrow();
    expect(value.bootstrap_extensions.map((e: any) => e.name)).toEqual(["envoy.bootstrap.internal_listener"]);
    expect(value.static_resources.listeners.map((l: any) => l.name)).toEqual(["tcp_proxy", ROUTER_SERVICE, `bridge|${ROUTER_SERVICE}`]);
    expect(value.static_resources.clusters.map((c: any) => c.name))
      .toEqual(["backend_tcp_proxy", ROUTER_SERVICE, `${ROUTER_SERVICE}.backend`, `bridge|${ROUTER_SERVICE}`]);
  });
});
