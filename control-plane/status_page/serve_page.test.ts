// The status page mounted on `metaproto serve`: an ADS client names its admin address in node metadata,
// serve scrapes it (here an HTTP server answering /stats/prometheus with a real Envoy scrape), and the
// page's routes, the metrics and Prometheus' targets show it.
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import pino from "pino";
import { ControlPlane } from "../serve";
import { TYPE_URLS } from "../resources/types";
import type { DiscoveryRequest, DiscoveryResponse } from "../xds/server/messages";
import { AdsClient } from "../xds/server/testing";
import type { MetricsView } from "./aggregation";
import { ADMIN_METADATA_KEY } from "./envoy_admin";

jest.setTimeout(30000);

const SCRAPE = fs.readFileSync(path.join(__dirname, "fixtures", "redis.prom"), "utf8");
let dir: string;
let plane: ControlPlane;
let admin: http.Server;
let adminRequests: string[];
/** A request whose node carries metadata (google.protobuf.Struct as protobufjs takes it). */
type NodeRequest = Omit<Partial<DiscoveryRequest>, "node"> & { node?: { id: string; cluster: string; metadata?: unknown } };
let client: AdsClient<NodeRequest, DiscoveryResponse>;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "metaproto-page-"));
  fs.writeFileSync(path.join(dir, "redis.wasm"), "");
  fs.writeFileSync(path.join(dir, "config.yaml"), "apiVersion: metaproto.io/v1alpha1\nkind: Service\nmetadata: { name: cache }\nspec:\n  protocol: redis\n  port: 6380\n  subsets: [{ name: v1, endpoints: [{ address: 127.0.0.1, port: 6379 }] }]\n");
  adminRequests = [];
  admin = http.createServer((request, response) => {
    adminRequests.push(request.url ?? "");
    response.end(SCRAPE);
  });
  await new Promise<void>((resolve) => admin.listen(0, "127.0.0.1", resolve));
  plane = new ControlPlane({
    files: [path.join(dir, "config.yaml")], wasmDir: dir, address: "127.0.0.1", port: 0, debounceMs: 100, log: pino({ level: "silent" }),
    http: { address: "127.0.0.1", port: 0 }, scrape: { intervalMs: 100, windowMs: 60_000, rateWindowMs: 1000 },
  });
  client = new AdsClient(`127.0.0.1:${await plane.start()}`, "StreamAggregatedResources");
});
afterEach(async () => {
  client.close();
  await plane.stop();
  admin.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("an Envoy naming its admin in node metadata is scraped; the page, metrics and Prometheus targets show it", async () => {
  const adminAddress = `127.0.0.1:${(admin.address() as { port: number }).port}`;
  client.send({ node: { id: "edge-3", cluster: "c", metadata: { fields: { [ADMIN_METADATA_KEY]: { string_value: adminAddress } } } }, type_url: TYPE_URLS.listener, resource_names: [] });
  await client.next();
  const base = `http://127.0.0.1:${(plane as unknown as { httpPort: number }).httpPort}`;
  let view: MetricsView;
  const deadline = Date.now() + 10_000;
  do {
    await new Promise((resolve) => setTimeout(resolve, 100));
    view = (await (await fetch(`${base}/api/metrics`)).json()) as MetricsView;
  } while (!view.envoys.length && Date.now() < deadline);
  expect(view.envoys).toMatchObject([{ address: adminAddress, node: "edge-3", up: true }]);
  expect(adminRequests[0]).toBe("/stats/prometheus?filter=metaproto_");
  const expected = SCRAPE.split("\n").filter((l) => l.startsWith("metaproto_requests_total{")).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
  expect(view.calls.reduce((sum, c) => sum + c.total, 0)).toBe(expected);

  expect(await (await fetch(`${base}/prometheus/targets`)).json()).toEqual([{ targets: [adminAddress], labels: { envoy_node: "edge-3" } }]);
  const page = await fetch(`${base}/`);
  expect(page.headers.get("content-type")).toContain("text/html");
  expect(await page.text()).toContain('<script src="/vendor/uplot.js">');
  for (const asset of ["/vendor/uplot.js", "/vendor/uplot.css", "/page/app.js", "/page/style.css"]) expect((await fetch(`${base}${asset}`)).status).toBe(200);
  const status = (await (await fetch(`${base}/api/status`)).json()) as { nodes: { id: string; admin?: string }[]; documents: Record<string, string> };
  expect(status.nodes).toMatchObject([{ id: "edge-3", admin: adminAddress }]);
});
