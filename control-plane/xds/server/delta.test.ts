import { TYPE_URLS } from "../../resources/types";
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from "./messages";
import { AdsClient, namesIn, snapshotOf, startServer } from "./testing";

// Real sockets and timers: leave room for a loaded machine.
jest.setTimeout(30000);

type Delta = AdsClient<Partial<DeltaDiscoveryRequest>, DeltaDiscoveryResponse>;
const node = { id: "envoy-d", cluster: "edge" };

let env: Awaited<ReturnType<typeof startServer>>;
let clients: Delta[] = [];
const connect = (): Delta => {
  const client = new AdsClient<Partial<DeltaDiscoveryRequest>, DeltaDiscoveryResponse>(env.address, "DeltaAggregatedResources");
  clients.push(client);
  return client;
};
const names = (response: DeltaDiscoveryResponse) => namesIn(response.resources.map((r) => r.resource));

beforeEach(async () => { env = await startServer(); clients = []; });
afterEach(async () => { for (const c of clients) c.close(); env.server.forceStop(); });

describe("ADS delta", () => {
  test("wildcard CDS gets everything, then only what changed, and removals by name, after the other types", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "b"] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.cluster });
    const first = await client.next();
    expect(names(first)).toEqual(["a", "b"]);
    client.send({ type_url: TYPE_URLS.cluster, response_nonce: first.nonce });
    client.send({ type_url: TYPE_URLS.endpoint, resource_names_subscribe: ["a", "c"] });
    const endpoints = await client.next();
    expect(names(endpoints)).toEqual(["a"]);
    client.send({ type_url: TYPE_URLS.endpoint, response_nonce: endpoints.nonce });
    await client.none();

    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "c"] }));
    const added = await client.next();
    expect([added.type_url, names(added), added.removed_resources]).toEqual([TYPE_URLS.cluster, ["c"], []]);
    const newEndpoints = await client.next();
    expect([newEndpoints.type_url, names(newEndpoints)]).toEqual([TYPE_URLS.endpoint, ["c"]]);
    const removed = await client.next();
    expect([removed.type_url, names(removed), removed.removed_resources]).toEqual([TYPE_URLS.cluster, [], ["b"]]);
  });

  test("a NACKed resource version is not resent; a changed one is", async () => {
    env.cache.setSnapshot("*", snapshotOf({ extensions: [{ name: "x", value: "1" }] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.extensionConfig, resource_names_subscribe: ["x"] });
    const sent = await client.next();
    client.send({ type_url: TYPE_URLS.extensionConfig, response_nonce: sent.nonce, error_detail: { code: 3, message: "x: bad configuration" } });
    await client.none();
    expect(env.server.status.type(node.id, TYPE_URLS.extensionConfig).nack?.origins).toEqual(["test.yaml (x)"]);
    env.cache.setSnapshot("*", snapshotOf({ extensions: [{ name: "x", value: "1" }] }));
    await client.none();
    env.cache.setSnapshot("*", snapshotOf({ extensions: [{ name: "x", value: "2" }] }));
    const fixed = await client.next();
    expect(names(fixed)).toEqual(["x"]);
    client.send({ type_url: TYPE_URLS.extensionConfig, response_nonce: fixed.nonce });
    await client.none();
    expect(env.server.status.type(node.id, TYPE_URLS.extensionConfig).nack).toBeUndefined();
  });

  test("a NACK clears when the rejected resource leaves the configuration", async () => {
    env.cache.setSnapshot("*", snapshotOf({ listeners: [{ name: "good", cluster: "c" }] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.listener });
    client.send({ type_url: TYPE_URLS.listener, response_nonce: (await client.next()).nonce });
    env.cache.setSnapshot("*", snapshotOf({ listeners: [{ name: "good", cluster: "c" }, { name: "bad", cluster: "c", port: 1 }] }));
    const bad = await client.next();
    expect(names(bad)).toEqual(["bad"]);
    client.send({ type_url: TYPE_URLS.listener, response_nonce: bad.nonce, error_detail: { code: 13, message: "listener bad: cannot bind" } });
    await client.none();
    expect(env.server.status.type(node.id, TYPE_URLS.listener).nack?.origins).toEqual(["test.yaml (bad)"]);
    env.cache.setSnapshot("*", snapshotOf({ listeners: [{ name: "good", cluster: "c" }] }));
    // Envoy never had "bad": nothing to remove, nothing to send.
    await client.none();
    expect(env.server.status.type(node.id, TYPE_URLS.listener).nack).toBeUndefined();
  });

  test("a reconnect with initial_resource_versions gets only what it does not have; re-subscribing is answered", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "b"] }));
    const first = connect();
    first.send({ node, type_url: TYPE_URLS.endpoint, resource_names_subscribe: ["a", "b"] });
    const response = await first.next();
    const versions = Object.fromEntries(response.resources.map((r) => [r.name, r.version]));
    first.close();

    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "b", "c"] }));
    const again = connect();
    again.send({ node, type_url: TYPE_URLS.endpoint, resource_names_subscribe: ["a", "b", "c"], initial_resource_versions: versions });
    const update = await again.next();
    expect(names(update)).toEqual(["c"]);
    again.send({ type_url: TYPE_URLS.endpoint, response_nonce: update.nonce, resource_names_unsubscribe: ["a"] });
    await again.none();
    again.send({ type_url: TYPE_URLS.endpoint, resource_names_subscribe: ["a"] });
    expect(names(await again.next())).toEqual(["a"]);
  });
});
