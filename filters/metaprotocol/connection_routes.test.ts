// Connection routing: the first request of a connection sets `envoy.tcp_proxy.cluster`.
import { compiledLine, lineHost } from "./testdata/line_host";

let line: WebAssembly.Module;
beforeAll(async () => {
  line = await compiledLine();
}, 120_000);

const ROUTES = { policy: { routes: [{ match: { service: { exact: "b" } }, cluster: "cluster_b" }, { match: { method: { prefix: "admin" } }, cluster: "cluster_admin" }] } };
const routes = (h: Awaited<ReturnType<typeof lineHost>>, reason: string) =>
  h.counterValue(`metaproto_connection_routes_total;protocol=line;reason=${reason}`);

test("the first request chooses the cluster; a later one that would choose another is counted", async () => {
  const h = await lineHost(line, ROUTES);
  const c = h.newConnection();
  c.downstream("CALL b m\n");
  expect(c.filterState.get("envoy.tcp_proxy.cluster")).toBe("cluster_b");
  c.downstream("CALL b n\nCALL a admin1\n");
  expect(c.filterState.get("envoy.tcp_proxy.cluster")).toBe("cluster_b");
  expect(routes(h, "routed")).toBe(1);
  expect(routes(h, "mismatch")).toBe(1);
});

test("no route matches: tcp_proxy's own cluster, counted as default", async () => {
  const h = await lineHost(line, ROUTES);
  const c = h.newConnection();
  c.downstream("CALL a m\n");
  expect(c.filterState.has("envoy.tcp_proxy.cluster")).toBe(false);
  expect(routes(h, "default")).toBe(1);
});

test("the server spoke first: tcp_proxy connected already, counted as server_first", async () => {
  const h = await lineHost(line, ROUTES);
  const c = h.newConnection();
  c.upstream("PUSH\n");
  c.downstream("CALL b m\n");
  expect(c.filterState.has("envoy.tcp_proxy.cluster")).toBe(false);
  expect(routes(h, "server_first")).toBe(1);
});
