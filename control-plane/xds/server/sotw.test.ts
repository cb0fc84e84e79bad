import { TYPE_URLS } from "../../resources/types";
import type { DiscoveryRequest, DiscoveryResponse } from "./messages";
import { AdsClient, namesIn, snapshotOf, startServer } from "./testing";

// Real sockets and timers: leave room for a loaded machine.
jest.setTimeout(30000);

type Sotw = AdsClient<Partial<DiscoveryRequest>, DiscoveryResponse>;
const node = { id: "envoy-1", cluster: "edge" };

let env: Awaited<ReturnType<typeof startServer>>;
let clients: Sotw[] = [];
const connect = (): Sotw => {
  const client = new AdsClient<Partial<DiscoveryRequest>, DiscoveryResponse>(env.address, "StreamAggregatedResources");
  clients.push(client);
  return client;
};
const ack = (client: Sotw, response: DiscoveryResponse, names: string[] = []) =>
  client.send({ type_url: response.type_url, version_info: response.version_info, response_nonce: response.nonce, resource_names: names });

beforeEach(async () => { env = await startServer(); clients = []; });
afterEach(async () => { for (const c of clients) c.close(); env.server.forceStop(); });

describe("ADS state of the world", () => {
  test("empty names on the first CDS/LDS request mean wildcard: every cluster and listener", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "b"], listeners: [{ name: "l1", cluster: "a" }] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.cluster, resource_names: [] });
    const clusters = await client.next();
    expect(namesIn(clusters.resources)).toEqual(["a", "b"]);
    // Envoy rejects a response whose resources' type URLs differ from the response's in any way.
    expect(clusters.resources.map((r) => r.type_url)).toEqual([TYPE_URLS.cluster, TYPE_URLS.cluster]);
    client.send({ type_url: TYPE_URLS.listener, resource_names: [] });
    expect(namesIn((await client.next()).resources)).toEqual(["l1"]);
  });

  test("EDS, RDS and ECDS get only the names asked for, and an answer even when the snapshot holds others or none", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "b", "c"], routes: ["r1", "r2"], extensions: [{ name: "x1", value: "1" }, { name: "x2", value: "2" }] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.endpoint, resource_names: ["b"] });
    expect(namesIn((await client.next()).resources)).toEqual(["b"]);
    client.send({ type_url: TYPE_URLS.route, resource_names: ["r2"] });
    expect(namesIn((await client.next()).resources)).toEqual(["r2"]);
    client.send({ type_url: TYPE_URLS.extensionConfig, resource_names: ["x1", "missing"] });
    expect(namesIn((await client.next()).resources)).toEqual(["x1"]);
    const other = connect();
    other.send({ node, type_url: TYPE_URLS.endpoint, resource_names: ["nothing-here"] });
    expect((await other.next()).resources).toEqual([]);
  });

  test("a request whose nonce is not the latest is ignored", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "b"] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.endpoint, resource_names: ["a"] });
    const first = await client.next();
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "b", "c"] }));
    const second = await client.next();
    expect(second.nonce).not.toBe(first.nonce);
    // The ACK of the first response arrives late and asks for more names: stale, so no answer.
    client.send({ type_url: TYPE_URLS.endpoint, resource_names: ["a", "b"], response_nonce: first.nonce, version_info: first.version_info });
    await client.none();
    client.send({ type_url: TYPE_URLS.endpoint, resource_names: ["a", "b"], response_nonce: second.nonce, version_info: second.version_info });
    expect(namesIn((await client.next()).resources)).toEqual(["a", "b"]);
  });

  test("a NACK is told by error_detail; the rejected version is never resent, a new configuration is", async () => {
    env.cache.setSnapshot("*", snapshotOf({ listeners: [{ name: "l1", cluster: "a" }] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.listener, resource_names: [] });
    const good = await client.next();
    ack(client, good);
    env.cache.setSnapshot("*", snapshotOf({ listeners: [{ name: "l1", cluster: "a" }, { name: "l2", cluster: "a" }] }));
    const bad = await client.next();
    // Envoy's NACK carries the version it still runs and the error.
    client.send({ type_url: TYPE_URLS.listener, version_info: good.version_info, response_nonce: bad.nonce, resource_names: [], error_detail: { code: 3, message: "Error adding/updating listener(s) l2: address already in use" } });
    await client.none();
    const status = env.server.status.type(node.id, TYPE_URLS.listener);
    expect(status.nack).toMatchObject({ version: bad.version_info, message: expect.stringContaining("l2"), resources: ["l2"], origins: ["test.yaml (l2)"] });
    // The same configuration again (e.g. the file saved unchanged): nothing is sent.
    env.cache.setSnapshot("*", snapshotOf({ listeners: [{ name: "l1", cluster: "a" }, { name: "l2", cluster: "a" }] }));
    await client.none();
    env.cache.setSnapshot("*", snapshotOf({ listeners: [{ name: "l1", cluster: "a" }, { name: "l2", cluster: "a", port: 10001 }] }));
    const fixed = await client.next();
    expect(fixed.version_info).not.toBe(bad.version_info);
    ack(client, fixed);
    await client.none();
    expect(env.server.status.type(node.id, TYPE_URLS.listener)).toMatchObject({ ackedVersion: fixed.version_info, nack: undefined });
    expect(env.server.status.type(node.id, TYPE_URLS.listener).responses).toBe(3);
  });

  test("a request with error_detail is a NACK even when its version_info is the one sent", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a"] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.cluster, resource_names: [] });
    const response = await client.next();
    client.send({ type_url: TYPE_URLS.cluster, version_info: response.version_info, response_nonce: response.nonce, resource_names: [], error_detail: { code: 13, message: "cluster a: bad" } });
    await client.none();
    expect(env.server.status.type(node.id, TYPE_URLS.cluster).nack).toMatchObject({ message: "cluster a: bad", origins: ["test.yaml (a)"] });
    expect(env.server.status.type(node.id, TYPE_URLS.cluster).ackedVersion).toBeUndefined();
  });

  test("a NACK that names no resource is traced to the resources the rejected response changed", async () => {
    env.cache.setSnapshot("*", snapshotOf({ extensions: [{ name: "x1", value: "1" }, { name: "x2", value: "1" }] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.extensionConfig, resource_names: ["x1", "x2"] });
    const good = await client.next();
    ack(client, good, ["x1", "x2"]);
    await client.none(200);
    env.cache.setSnapshot("*", snapshotOf({ extensions: [{ name: "x1", value: "1" }, { name: "x2", value: "2" }] }));
    const bad = await client.next();
    client.send({ type_url: TYPE_URLS.extensionConfig, version_info: good.version_info, response_nonce: bad.nonce, resource_names: ["x1", "x2"], error_detail: { code: 3, message: "Unable to create Wasm plugin" } });
    await client.none();
    expect(env.server.status.type(node.id, TYPE_URLS.extensionConfig).nack).toMatchObject({ resources: ["x2"], origins: ["test.yaml (x2)"] });
  });

  test("streams taking every resource of a type get the same response but for the nonce; one taking some gets those", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a", "b", "c"] }));
    const [every, named, some] = [connect(), connect(), connect()];
    every.send({ node, type_url: TYPE_URLS.endpoint, resource_names: ["a", "b", "c"] });
    named.send({ node: { ...node, id: "envoy-2" }, type_url: TYPE_URLS.endpoint, resource_names: ["c", "a", "b", "missing"] });
    some.send({ node: { ...node, id: "envoy-3" }, type_url: TYPE_URLS.endpoint, resource_names: ["c", "a"] });
    const [first, second, partial] = [await every.next(), await named.next(), await some.next()];
    expect(namesIn(first.resources)).toEqual(["a", "b", "c"]);
    expect({ ...second, nonce: first.nonce }).toEqual(first);
    expect([namesIn(partial.resources), partial.version_info]).toEqual([["c", "a"], first.version_info]);
    // An ACK naming the same resources again is not answered; one naming fewer is.
    ack(named, second, ["c", "a", "b", "missing"]);
    await named.none();
    ack(named, second, ["b"]);
    const fewer = await named.next();
    expect(namesIn(fewer.resources)).toEqual(["b"]);
    // Asked for everything again, then again: the same resources, but never the nonce just sent.
    ack(named, fewer, ["a", "b", "c"]);
    const again = await named.next();
    expect([namesIn(again.resources), again.nonce === fewer.nonce]).toEqual([["a", "b", "c"], false]);
    named.send({ type_url: TYPE_URLS.endpoint, resource_names: ["a", "b", "c"] });
    const once = await named.next();
    expect([namesIn(once.resources), once.nonce === again.nonce]).toEqual([["a", "b", "c"], false]);
    ack(named, once, ["a", "b", "c"]);
    await named.none();
    expect(env.server.status.type("envoy-2", TYPE_URLS.endpoint).ackedVersion).toBe(first.version_info);
  });

  test("an ACK of the current version is not answered (no resend loop)", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a"] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.cluster, resource_names: [] });
    const response = await client.next();
    for (let i = 0; i < 3; i++) ack(client, response);
    await client.none();
  });

  test("a change is pushed CDS → EDS → LDS → RDS → ECDS, and removed clusters go last", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["old"], listeners: [{ name: "l", cluster: "old" }], routes: ["r"], extensions: [{ name: "x", value: "1" }] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.extensionConfig, resource_names: ["x"] });
    client.send({ type_url: TYPE_URLS.route, resource_names: ["r"] });
    client.send({ type_url: TYPE_URLS.listener, resource_names: [] });
    client.send({ type_url: TYPE_URLS.endpoint, resource_names: ["old", "new"] });
    client.send({ type_url: TYPE_URLS.cluster, resource_names: [] });
    const subscribed: Record<string, string[]> = { [TYPE_URLS.extensionConfig]: ["x"], [TYPE_URLS.route]: ["r"], [TYPE_URLS.endpoint]: ["old", "new"] };
    for (let i = 0; i < 5; i++) {
      const response = await client.next();
      ack(client, response, subscribed[response.type_url] ?? []);
    }
    await client.none();

    env.cache.setSnapshot("*", snapshotOf({ clusters: ["new"], listeners: [{ name: "l", cluster: "new" }], routes: ["r"], extensions: [{ name: "x", value: "2" }] }));
    const pushed: [string, string[]][] = [];
    for (let i = 0; i < 5; i++) {
      const response = await client.next();
      pushed.push([response.type_url.split(".").pop()!, namesIn(response.resources)]);
    }
    await client.none();
    expect(pushed).toEqual([
      ["Cluster", ["new", "old"]],
      ["ClusterLoadAssignment", ["new"]],
      ["Listener", ["l"]],
      ["TypedExtensionConfig", ["x"]],
      ["Cluster", ["new"]],
    ]);
  });

  test("re-subscribing to a name is answered again; per-node snapshots override the default", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a"] }));
    env.cache.setSnapshot("special", snapshotOf({ clusters: ["s"] }));
    const client = connect();
    client.send({ node, type_url: TYPE_URLS.endpoint, resource_names: ["a"] });
    const first = await client.next();
    client.send({ type_url: TYPE_URLS.endpoint, resource_names: [], response_nonce: first.nonce, version_info: first.version_info });
    const emptied = await client.next();
    expect(emptied.resources).toEqual([]);
    client.send({ type_url: TYPE_URLS.endpoint, resource_names: ["a"], response_nonce: emptied.nonce, version_info: emptied.version_info });
    expect(namesIn((await client.next()).resources)).toEqual(["a"]);

    const other = connect();
    other.send({ node: { id: "special", cluster: "edge" }, type_url: TYPE_URLS.cluster, resource_names: [] });
    expect(namesIn((await other.next()).resources)).toEqual(["s"]);
  });

  test("a reconnecting client gets the current state again", async () => {
    env.cache.setSnapshot("*", snapshotOf({ clusters: ["a"] }));
    const first = connect();
    first.send({ node, type_url: TYPE_URLS.cluster, resource_names: [] });
    const response = await first.next();
    first.close();
    const again = connect();
    // Its first request may carry the version and nonce it had on the old stream.
    again.send({ node, type_url: TYPE_URLS.cluster, resource_names: [], version_info: response.version_info, response_nonce: response.nonce });
    expect((await again.next()).version_info).toBe(response.version_info);
  });
});
