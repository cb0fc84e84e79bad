import { Resource, ResourceSet, TCP_PROXY_TYPE_URL, TYPE_URLS, TypeUrl } from "../resources/types";
import { ANY_NODE, SimpleCache, Snapshot } from "./cache";
import { snapshotOf } from "./server/testing";

describe("snapshot cache", () => {
  test("versions are per type: a change to one type leaves the others' versions alone", () => {
    const before = snapshotOf({ clusters: ["a"], extensions: [{ name: "x", value: "1" }] });
    const after = snapshotOf({ clusters: ["a"], extensions: [{ name: "x", value: "2" }] });
    expect(after.version(TYPE_URLS.cluster)).toBe(before.version(TYPE_URLS.cluster));
    expect(after.version(TYPE_URLS.extensionConfig)).not.toBe(before.version(TYPE_URLS.extensionConfig));
  });

  test("a resource unchanged since the previous snapshot is not encoded again", () => {
    const set = (value: string): ResourceSet => new Map([[TYPE_URLS.extensionConfig as TypeUrl, new Map<string, Resource>([
      ["x", { name: "x", value: { name: "x", typed_config: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: "same" } } }],
      ["y", { name: "y", value: { name: "y", typed_config: { "@type": "type.googleapis.com/google.protobuf.StringValue", value } } }],
    ])]]);
    const first = new Snapshot(set("1"));
    const second = new Snapshot(set("2"), first);
    expect(second.resources(TYPE_URLS.extensionConfig).get("x")!.any).toBe(first.resources(TYPE_URLS.extensionConfig).get("x")!.any);
    expect(second.resources(TYPE_URLS.extensionConfig).get("y")!.any).not.toBe(first.resources(TYPE_URLS.extensionConfig).get("y")!.any);
    expect(second.resources(TYPE_URLS.extensionConfig).get("y")!.version).toBe(new Snapshot(set("2")).resources(TYPE_URLS.extensionConfig).get("y")!.version);
  });

  test("what changed since an earlier snapshot: new or changed resources, and those gone; and whether two name the same resources", () => {
    const names = (changes: { updated: { name: string }[]; removed: { name: string }[] }) => [changes.updated.map((r) => r.name), changes.removed.map((r) => r.name)];
    const first = snapshotOf({ clusters: ["a", "b", "c"], extensions: [{ name: "x", value: "1" }, { name: "y", value: "1" }] });
    const changed = snapshotOf({ clusters: ["a", "b", "c"], extensions: [{ name: "x", value: "1" }, { name: "y", value: "2" }] });
    const fewer = snapshotOf({ clusters: ["a", "d"] });
    expect(names(changed.changedSince(first, TYPE_URLS.cluster))).toEqual([[], []]);
    expect(names(changed.changedSince(first, TYPE_URLS.extensionConfig))).toEqual([["y"], []]);
    expect(names(fewer.changedSince(first, TYPE_URLS.cluster))).toEqual([["d"], ["b", "c"]]);
    // Any earlier snapshot of the same version gets the same answer; another version its own.
    expect(names(fewer.changedSince(changed, TYPE_URLS.cluster))).toEqual([["d"], ["b", "c"]]);
    expect(names(fewer.changedSince(snapshotOf({ clusters: ["e"] }), TYPE_URLS.cluster))).toEqual([["a", "d"], ["e"]]);
    expect(changed.namesKey(TYPE_URLS.cluster)).toBe(first.namesKey(TYPE_URLS.cluster));
    expect(fewer.namesKey(TYPE_URLS.cluster)).not.toBe(first.namesKey(TYPE_URLS.cluster));
    expect(fewer.all(TYPE_URLS.cluster).map((r) => r.name)).toEqual(["a", "d"]);
  });

  test("consistency: a listener to a missing cluster, a missing filter config, an EDS cluster without endpoints", () => {
    const set: ResourceSet = new Map(Object.values(TYPE_URLS).map((url) => [url as TypeUrl, new Map<string, Resource>()]));
    set.get(TYPE_URLS.cluster)!.set("c", { name: "c", value: { name: "c", type: "EDS" } });
    set.get(TYPE_URLS.listener)!.set("l", { name: "l", value: { name: "l", filter_chains: [{ filters: [
      { name: "metaproto.l", config_discovery: {} },
      { name: "tcp", typed_config: { "@type": TCP_PROXY_TYPE_URL, cluster: "gone" } },
    ] }] } });
    expect(Snapshot.consistencyErrors(set)).toEqual([
      "cluster c has no ClusterLoadAssignment",
      "listener l needs filter config metaproto.l, which is missing",
      "listener l routes to cluster gone, which is missing",
    ]);
  });

  test("a node without its own snapshot gets the default one, and is told of changes to it", () => {
    const cache = new SimpleCache();
    const seen: string[] = [];
    cache.watch("n1", (s) => seen.push(s.version(TYPE_URLS.cluster)));
    const shared = snapshotOf({ clusters: ["a"] });
    cache.setSnapshot(ANY_NODE, shared);
    expect(cache.getSnapshot("n1")).toBe(shared);
    const own = snapshotOf({ clusters: ["b"] });
    cache.setSnapshot("n1", own);
    cache.setSnapshot(ANY_NODE, snapshotOf({ clusters: ["c"] }));
    expect(cache.getSnapshot("n1")).toBe(own);
    expect(seen).toEqual([shared.version(TYPE_URLS.cluster), own.version(TYPE_URLS.cluster)]);
  });
});
