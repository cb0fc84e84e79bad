import { encodeMessage } from "../xds/api";
import { proxyListenersBootstrap } from "./bootstrap";

type Filter = { name: string; typed_config: any };
const filtersOf = (value: any, listener: number): Filter[] => value.static_resources.listeners[listener].filter_chains[0].filters;

describe("a bootstrap of proxy listeners (the rigs' Envoys)", () => {
  const value: any = proxyListenersBootstrap({
    adminPort: 9901, statsFlushInterval: "1s", moduleFile: "/m/thrift.wasm", pluginConfig: '{"max_buffered_bytes": 1048576}',
    listeners: [{ name: "thrift_buffered", port: 7001, upstreamPort: 9001 }, { name: "thrift_framed", port: 7002, upstreamPort: 9002 }],
    clusters: [{ name: "other", port: 9003 }],
  });

  test("is a valid Bootstrap with admin on the given port and stats flushed as asked", () => {
    expect(() => encodeMessage("envoy.config.bootstrap.v3.Bootstrap", value)).not.toThrow();
    expect(value.admin.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 9901 });
    expect(value.stats_flush_interval).toEqual({ seconds: 1 });
    expect(value.stats_config.stats_tags.length).toBeGreaterThan(0);
    expect(value.node).toBeUndefined();
  });

  test("one listener per name: the Wasm filter with the configuration as given, then tcp_proxy named after the listener", () => {
    expect(value.static_resources.listeners.map((l: any) => [l.name, l.address.socket_address.port_value])).toEqual([["thrift_buffered", 7001], ["thrift_framed", 7002]]);
    const [wasm, tcp] = filtersOf(value, 1);
    expect(wasm.name).toBe("envoy.filters.network.wasm");
    expect(wasm.typed_config.config.configuration.value).toBe('{"max_buffered_bytes": 1048576}');
    expect(wasm.typed_config.config.vm_config.code.local.filename).toBe("/m/thrift.wasm");
    expect(wasm.typed_config.config.failure_policy).toBeUndefined();
    expect(tcp.typed_config).toMatchObject({ stat_prefix: "thrift_framed", cluster: "thrift_framed" });
    expect(tcp.typed_config.upstream_connect_mode).toBeUndefined();
  });

  test("a STATIC cluster per listener at its upstream port, then the extra clusters", () => {
    expect(value.static_resources.clusters.map((c: any) => [c.name, c.type, c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value]))
      .toEqual([["thrift_buffered", "STATIC", 9001], ["thrift_framed", "STATIC", 9002], ["other", "STATIC", 9003]]);
  });

  test("connecting on data; tcp_proxy alone without a module", () => {
    const routed: any = proxyListenersBootstrap({ adminPort: 1, moduleFile: "/m/dubbo.wasm", connectOnData: true, listeners: [{ name: "a", port: 2, upstreamPort: 3 }] });
    expect(filtersOf(routed, 0)[1].typed_config.upstream_connect_mode).toBe("ON_DOWNSTREAM_DATA");
    expect(filtersOf(routed, 0)[0].typed_config.config.configuration.value).toBe("{}");
    const plain: any = proxyListenersBootstrap({ adminPort: 1, listeners: [{ name: "a", port: 2, upstreamPort: 3 }] });
    expect(filtersOf(plain, 0).map((f) => f.name)).toEqual(["envoy.filters.network.tcp_proxy"]);
  });

  test("refuses a cluster named twice and a configuration without a module", () => {
    expect(() => proxyListenersBootstrap({ adminPort: 1, listeners: [{ name: "a", port: 2, upstreamPort: 3 }], clusters: [{ name: "a", port: 4 }] }))
      .toThrow("cluster a is named twice");
    expect(() => proxyListenersBootstrap({ adminPort: 1, pluginConfig: "{}", listeners: [] })).toThrow("a plugin configuration needs a Wasm module");
  });
});
