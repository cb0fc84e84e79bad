// Snapshots of Envoy resources per node, as go-control-plane's cache: the server reads them, the
// configuration loop writes them. A snapshot is encoded once; each type has its own version (a hash
// of its resources), so a change to one type resends only that type.
import { createHash } from "crypto";
import { PUSH_ORDER, ResourceSet, TCP_PROXY_TYPE_URL, TYPE_URLS, TypeUrl } from "../resources/types";
import { packAny } from "./api";
import { encodeAny, encodeDiscoveryResponseBody } from "./server/messages";

export interface EncodedResource {
  name: string;
  /** The resource as an Any: what goes into a DiscoveryResponse. */
  any: { type_url: string; value: Uint8Array };
  /** That Any's wire encoding, copied into responses. */
  anyBytes: Uint8Array;
  /** The delta xDS Resource carrying it (name, version, Any), encoded on first use for every stream. */
  deltaBytes?: Uint8Array;
  /** Hash of the encoded bytes: the resource's version in delta xDS. */
  version: string;
  origin?: string;
  /** The plain value as JSON: an unchanged resource is not encoded again. */
  json: string;
}

export class Snapshot {
  private readonly byType = new Map<string, Map<string, EncodedResource>>();
  private readonly versions = new Map<string, string>();
  /** Per type, every resource in name order, and the state-of-the-world response carrying them (made on first use). */
  private readonly lists = new Map<string, EncodedResource[]>();
  private readonly bodies = new Map<string, Uint8Array>();
  private readonly nameKeys = new Map<string, string>();
  /** By the type version of the snapshot they were worked out against (not the snapshot: that would keep every snapshot alive). */
  private readonly changes = new Map<string, { from: string; changes: Changes }>();

  /**
   * Encodes every resource (reusing the encoding of those unchanged since `previous`); throws when
   * one is not a valid message of its type.
   */
  constructor(resources: ResourceSet, previous?: Snapshot) {
    for (const typeUrl of PUSH_ORDER) {
      const encoded = new Map<string, EncodedResource>();
      const typeHash = createHash("sha256");
      const before = previous?.resources(typeUrl);
      for (const resource of [...(resources.get(typeUrl)?.values() ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const json = JSON.stringify(resource.value);
        const reused = before?.get(resource.name);
        if (reused?.json === json) {
          encoded.set(resource.name, { ...reused, origin: resource.origin });
        } else {
          const any = packAny(typeUrl, resource.value);
          const version = createHash("sha256").update(any.value).digest("hex").slice(0, 16);
          encoded.set(resource.name, { name: resource.name, any, anyBytes: encodeAny(any), version, origin: resource.origin, json });
        }
        const { version } = encoded.get(resource.name)!;
        typeHash.update(resource.name).update("\0").update(version).update("\0");
      }
      this.byType.set(typeUrl, encoded);
      this.versions.set(typeUrl, typeHash.digest("hex").slice(0, 16));
    }
  }

  version(typeUrl: string): string {
    return this.versions.get(typeUrl) ?? "";
  }

  resources(typeUrl: string): Map<string, EncodedResource> {
    return this.byType.get(typeUrl) ?? new Map();
  }

  /** Every resource of the type, by name: one array for all the streams that take them all. */
  all(typeUrl: string): EncodedResource[] {
    let list = this.lists.get(typeUrl);
    if (!list) this.lists.set(typeUrl, (list = [...this.resources(typeUrl).values()]));
    return list;
  }

  /** The type's resource names as one string: equal in two snapshots when their sets of names are (a change of values keeps it). */
  namesKey(typeUrl: string): string {
    let key = this.nameKeys.get(typeUrl);
    if (key === undefined) this.nameKeys.set(typeUrl, (key = [...this.resources(typeUrl).keys()].join("\n")));
    return key;
  }

  /**
   * What changed in the type since `previous`: its resources that are new or have another version,
   * and those it no longer has. Worked out once for every stream (the same for any earlier snapshot
   * of that type version).
   */
  changedSince(previous: Snapshot, typeUrl: string): Changes {
    const from = previous.version(typeUrl);
    const known = this.changes.get(typeUrl);
    if (known?.from === from) return known.changes;
    const before = previous.resources(typeUrl);
    const now = this.resources(typeUrl);
    const changes = from === this.version(typeUrl) ? { updated: [], removed: [] } : {
      updated: this.all(typeUrl).filter((r) => before.get(r.name)?.version !== r.version),
      removed: previous.all(typeUrl).filter((r) => !now.has(r.name)),
    };
    this.changes.set(typeUrl, { from, changes });
    return changes;
  }

  /**
   * A state-of-the-world response of the type's version and all its resources, but for its nonce:
   * encoded once for every stream (a hundred Envoys get the same bytes; only their nonces differ).
   */
  responseBody(typeUrl: string): Uint8Array {
    let body = this.bodies.get(typeUrl);
    if (!body) this.bodies.set(typeUrl, (body = encodeDiscoveryResponseBody(this.version(typeUrl), typeUrl, this.all(typeUrl).map((r) => r.anyBytes))));
    return body;
  }

  /** References that would leave Envoy waiting or failing: listeners to missing clusters or filter configs, EDS clusters without endpoints. */
  static consistencyErrors(resources: ResourceSet): string[] {
    const errors: string[] = [];
    const has = (typeUrl: TypeUrl, name: string) => resources.get(typeUrl)?.has(name) ?? false;
    for (const cluster of resources.get(TYPE_URLS.cluster)?.values() ?? []) {
      if (cluster.value.type === "EDS" && !has(TYPE_URLS.endpoint, cluster.name)) errors.push(`cluster ${cluster.name} has no ClusterLoadAssignment`);
    }
    for (const listener of resources.get(TYPE_URLS.listener)?.values() ?? []) {
      const chains = (listener.value.filter_chains ?? []) as { filters?: Record<string, any>[] }[];
      for (const filter of chains.flatMap((chain) => chain.filters ?? [])) {
        if (filter.config_discovery && !has(TYPE_URLS.extensionConfig, filter.name)) errors.push(`listener ${listener.name} needs filter config ${filter.name}, which is missing`);
        const config = filter.typed_config;
        const routeConfig = config?.rds?.route_config_name;
        if (routeConfig !== undefined && !has(TYPE_URLS.route, routeConfig)) errors.push(`listener ${listener.name} needs route configuration ${routeConfig}, which is missing`);
        if (config?.["@type"] !== TCP_PROXY_TYPE_URL) continue;
        const clusters: string[] = config.cluster ? [config.cluster] : (config.weighted_clusters?.clusters ?? []).map((c: { name: string }) => c.name);
        for (const name of clusters) if (!has(TYPE_URLS.cluster, name)) errors.push(`listener ${listener.name} routes to cluster ${name}, which is missing`);
      }
    }
    return errors;
  }
}

export interface Changes {
  updated: EncodedResource[];
  /** As the earlier snapshot had them. */
  removed: EncodedResource[];
}

/** Node id whose snapshot serves every node that has none of its own. */
export const ANY_NODE = "*";

export type SnapshotListener = (snapshot: Snapshot) => void;

export interface SnapshotCache {
  setSnapshot(nodeId: string, snapshot: Snapshot): void;
  /** The node's snapshot, else the ANY_NODE one. */
  getSnapshot(nodeId: string): Snapshot | undefined;
  /** Calls listener with every later snapshot that applies to the node; returns the cancel function. */
  watch(nodeId: string, listener: SnapshotListener): () => void;
}

export class SimpleCache implements SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly watches = new Map<string, Set<SnapshotListener>>();

  setSnapshot(nodeId: string, snapshot: Snapshot): void {
    this.snapshots.set(nodeId, snapshot);
    for (const [watchedNode, listeners] of this.watches) {
      if (nodeId !== watchedNode && (nodeId !== ANY_NODE || this.snapshots.has(watchedNode))) continue;
      for (const listener of [...listeners]) listener(snapshot);
    }
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId) ?? this.snapshots.get(ANY_NODE);
  }

  watch(nodeId: string, listener: SnapshotListener): () => void {
    let listeners = this.watches.get(nodeId);
    if (!listeners) this.watches.set(nodeId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners!.delete(listener);
      if (listeners!.size === 0) this.watches.delete(nodeId);
    };
  }
}
