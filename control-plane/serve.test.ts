import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import pino from "pino";
import { TYPE_URLS } from "./resources/types";
import { ControlPlane } from "./serve";
import type { DiscoveryRequest, DiscoveryResponse } from "./xds/server/messages";
import { AdsClient } from "./xds/server/testing";
import { decodeMessage } from "./xds/api";
import { program } from "./cli/main";

// Real sockets and timers: leave room for a loaded machine.
jest.setTimeout(30000);

async function metaprotoStatus(port: number): Promise<string> {
  let out = "";
  const cli = program();
  for (const command of [cli, ...cli.commands]) command.exitOverride().configureOutput({ writeOut: (s) => { out += s; } });
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk) => { out += chunk; return true; });
  try {
    await cli.parseAsync(["node", "metaproto", "status", "--server", `127.0.0.1:${port}`]);
  } finally {
    stdout.mockRestore();
  }
  return out;
}

const config = (weights: [number, number]) => `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: cache }
spec:
  protocol: redis
  port: 6380
  subsets:
  - { name: v1, endpoints: [{ address: 127.0.0.1, port: 6379 }] }
  - { name: v2, endpoints: [{ address: 127.0.0.1, port: 6479 }] }
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: cache }
spec:
  hosts: [cache]
  routes:
  - route:
    - { destination: { host: cache, subset: v1 }, weight: ${weights[0]} }
    - { destination: { host: cache, subset: v2 }, weight: ${weights[1]} }
`;

const zonesOf = (response: DiscoveryResponse) =>
  (decodeMessage(response.type_url, response.resources[0].value) as any).endpoints.map((l: any) => l.locality.zone);

let dir: string;
let plane: ControlPlane;
let client: AdsClient<Partial<DiscoveryRequest>, DiscoveryResponse>;
let logged: string[];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "metaproto-serve-"));
  fs.writeFileSync(path.join(dir, "redis.wasm"), "");
  fs.writeFileSync(path.join(dir, "config.yaml"), config([100, 0]));
  logged = [];
  const log = pino({ level: "info" }, { write: (line: string) => { logged.push(line); } });
  plane = new ControlPlane({ files: [path.join(dir, "config.yaml")], wasmDir: dir, address: "127.0.0.1", port: 0, debounceMs: 100, log });
  const port = await plane.start();
  client = new AdsClient(`127.0.0.1:${port}`, "StreamAggregatedResources");
});
afterEach(async () => {
  client.close();
  await plane.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("metaproto serve", () => {
  test("pushes a saved change; a bad one is rejected with its field path and the last good keeps serving", async () => {
    client.send({ node: { id: "n", cluster: "c" }, type_url: TYPE_URLS.endpoint, resource_names: ["route|cache"] });
    const first = await client.next();
    expect(zonesOf(first)).toEqual(["cache.v1"]);
    client.send({ type_url: TYPE_URLS.endpoint, resource_names: ["route|cache"], version_info: first.version_info, response_nonce: first.nonce });

    fs.writeFileSync(path.join(dir, "config.yaml"), config([100, 0]).replace("port: 6380", "port: 0"));
    await client.none(600);
    expect(plane.rejected).toBe(1);
    expect(logged.join("")).toContain("config.yaml:6:3: document 1 (Service cache) spec.port: must be a whole number from 1 to 65535");

    fs.writeFileSync(path.join(dir, "config.yaml"), config([0, 100]));
    const moved = await client.next();
    expect(zonesOf(moved)).toEqual(["cache.v2"]);
  });

  test("metaproto status shows each node's versions, a NACK with its document, and a rejected file", async () => {
    const statusPort = await plane.serveHttp("127.0.0.1", 0);
    client.send({ node: { id: "edge-7", cluster: "c" }, type_url: TYPE_URLS.listener, resource_names: [] });
    const listeners = await client.next();
    client.send({ type_url: TYPE_URLS.listener, resource_names: [], version_info: "", response_nonce: listeners.nonce,
      error_detail: { code: 13, message: "Error adding/updating listener(s) cache: cannot bind '127.0.0.1:6380': Address already in use" } });
    fs.writeFileSync(path.join(dir, "config.yaml"), config([100, 0]).replace("protocol: redis", "protocol: 7"));
    await client.none(600);

    const shown = await metaprotoStatus(statusPort);
    expect(shown).toContain("configuration: 1 load(s) applied, 1 rejected; the last change was rejected (serving the last good one):");
    expect(shown).toContain("config.yaml:5:3: document 1 (Service cache) spec.protocol:");
    expect(shown).toContain("node edge-7: connected (1 stream)");
    expect(shown).toMatch(new RegExp(`Listener +${listeners.version_info} +- +1\n`));
    expect(shown).toContain(`NACK of ${listeners.version_info}`);
    expect(shown).toContain("cannot bind '127.0.0.1:6380': Address already in use");
    expect(shown).toContain(`resource cache from ${path.join(dir, "config.yaml")} document 1 (Service cache)`);
  });

  test("a burst of saves is loaded at most twice (its first save at once, the rest once it settles), ending with the last", async () => {
    const before = plane.applied;
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(path.join(dir, "config.yaml"), config([100 - i * 10, i * 10]));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(plane.applied - before).toBeGreaterThanOrEqual(1);
    expect(plane.applied - before).toBeLessThanOrEqual(2);
    const assignment = plane.cache.getSnapshot("*")!.resources(TYPE_URLS.endpoint).get("route|cache")!.any;
    expect((decodeMessage(assignment.type_url, assignment.value) as any).endpoints.map((l: any) => l.load_balancing_weight.value)).toEqual([60, 40]);
  });
});
