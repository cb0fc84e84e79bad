// Simulated Envoys: ADS clients on grpc-js with the control plane's own message definitions, each on
// its own connection and node id. They subscribe as Envoy does (CDS and LDS wildcard, then EDS for
// every cluster and ECDS for every filter config the listeners name) and ACK every response at once.
// Responses are read with a minimal wire-format reader (version, type, nonce, the resources' bytes):
// 100 clients decoding every resource would load the shared CPUs more than the control plane does.
// Resource names are decoded once per type and version, as every node gets the same resources.
import * as grpc from "@grpc/grpc-js";
import { Reader } from "protobufjs";
import { TYPE_URLS } from "../../control-plane/resources/types";
import { decodeMessage } from "../../control-plane/xds/api";
import { adsServiceDefinition } from "../../control-plane/xds/server/messages";

export type Variant = "sotw" | "delta";

interface ReceivedResponse {
  version: string;
  typeUrl: string;
  nonce: string;
  /** sotw: each Any's bytes; delta: each Resource's name (and Any bytes). */
  resources: { name?: string; any: Uint8Array }[];
  removed: string[];
}

function readAny(bytes: Uint8Array): { typeUrl: string; value: Uint8Array } {
  const reader = Reader.create(bytes);
  let typeUrl = "";
  let value: Uint8Array = new Uint8Array();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) typeUrl = reader.string();
    else if (tag >>> 3 === 2) value = reader.bytes();
    else reader.skipType(tag & 7);
  }
  return { typeUrl, value };
}

/** DiscoveryResponse: version_info 1, resources 2, type_url 4, nonce 5 (envoy/service/discovery/v3/discovery.proto). */
function readSotw(bytes: Buffer): ReceivedResponse {
  const reader = Reader.create(bytes);
  const out: ReceivedResponse = { version: "", typeUrl: "", nonce: "", resources: [], removed: [] };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    switch (tag >>> 3) {
      case 1: out.version = reader.string(); break;
      case 2: out.resources.push({ any: reader.bytes() }); break;
      case 4: out.typeUrl = reader.string(); break;
      case 5: out.nonce = reader.string(); break;
      default: reader.skipType(tag & 7);
    }
  }
  return out;
}

/** DeltaDiscoveryResponse: system_version_info 1, resources 2 (Resource: version 1, resource 2, name 3), type_url 4, nonce 5, removed_resources 6. */
function readDelta(bytes: Buffer): ReceivedResponse {
  const reader = Reader.create(bytes);
  const out: ReceivedResponse = { version: "", typeUrl: "", nonce: "", resources: [], removed: [] };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    switch (tag >>> 3) {
      case 1: out.version = reader.string(); break;
      case 2: {
        const inner = Reader.create(reader.bytes());
        const resource: { name?: string; any: Uint8Array } = { any: new Uint8Array() };
        while (inner.pos < inner.len) {
          const t = inner.uint32();
          if (t >>> 3 === 3) resource.name = inner.string();
          else if (t >>> 3 === 2) resource.any = inner.bytes();
          else inner.skipType(t & 7);
        }
        out.resources.push(resource);
        break;
      }
      case 4: out.typeUrl = reader.string(); break;
      case 5: out.nonce = reader.string(); break;
      case 6: out.removed.push(reader.string()); break;
      default: reader.skipType(tag & 7);
    }
  }
  return out;
}

/** What a node subscribes to next, decoded once per resource encoding and shared by all nodes. */
const followUps = new Map<string, string[]>();

/** The EDS names a cluster asks for, or the ECDS names a listener's filters ask for. */
function followUpNames(typeUrl: string, anyBytes: Uint8Array): string[] {
  const key = `${typeUrl}\0${Buffer.from(anyBytes).toString("base64")}`;
  let names = followUps.get(key);
  if (names) return names;
  const { typeUrl: innerType, value } = readAny(anyBytes);
  const message = decodeMessage(innerType, value) as Record<string, any>;
  if (typeUrl === TYPE_URLS.cluster) {
    names = message.type === "EDS" ? [message.eds_cluster_config?.service_name ?? message.name] : [];
  } else {
    names = (message.filter_chains ?? []).flatMap((chain: { filters?: { name: string; config_discovery?: unknown }[] }) =>
      (chain.filters ?? []).filter((f) => f.config_discovery).map((f) => f.name));
  }
  followUps.set(key, names!);
  return names!;
}

export interface Arrival {
  /** Epoch ms (fractional) when the response arrived at the node. */
  at: number;
  version: string;
  resources: number;
}

/** One simulated Envoy. */
export class AdsNode {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<object, Buffer>;
  /** Per type: the latest response's version and when it arrived. */
  readonly latest = new Map<string, Arrival>();
  private readonly subscribed = new Map<string, Set<string>>();
  /** Delta: the names each type holds (wildcard types are told about removals). */
  private readonly held = new Map<string, Set<string>>();
  private readonly waiters: (() => void)[] = [];
  error?: Error;

  constructor(address: string, readonly id: string, readonly variant: Variant) {
    const definition = adsServiceDefinition()[variant === "sotw" ? "StreamAggregatedResources" : "DeltaAggregatedResources"];
    // Own subchannel (TCP connection) per node, as separate Envoys have; no limit on response size.
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1, "grpc.max_receive_message_length": -1,
    });
    this.stream = this.client.makeBidiStreamRequest(definition.path, definition.requestSerialize as (r: object) => Buffer, (bytes: Buffer) => bytes);
    this.stream.on("data", (bytes: Buffer) => this.onResponse(bytes));
    this.stream.on("error", (err: Error) => {
      if (!this.closing) this.error = err;
    });
    const node = { id, cluster: "bench-nodes" };
    for (const typeUrl of [TYPE_URLS.cluster, TYPE_URLS.listener]) {
      this.subscribed.set(typeUrl, new Set());
      if (variant === "sotw") this.stream.write({ node, type_url: typeUrl, resource_names: [] });
      else this.stream.write({ node, type_url: typeUrl, resource_names_subscribe: [] });
    }
  }

  private closing = false;

  private onResponse(bytes: Buffer): void {
    const at = performance.timeOrigin + performance.now();
    const response = this.variant === "sotw" ? readSotw(bytes) : readDelta(bytes);
    const { typeUrl } = response;
    this.latest.set(typeUrl, { at, version: response.version, resources: response.resources.length });
    // Follow-up subscriptions first, as Envoy does: EDS for the clusters, ECDS for the listeners' filters.
    const next = typeUrl === TYPE_URLS.cluster ? TYPE_URLS.endpoint : typeUrl === TYPE_URLS.listener ? TYPE_URLS.extensionConfig : undefined;
    if (next) {
      let names: Set<string>;
      if (this.variant === "sotw") {
        names = new Set(response.resources.flatMap((r) => followUpNames(typeUrl, r.any)));
      } else {
        const held = this.held.get(typeUrl) ?? new Set<string>();
        for (const name of response.removed) held.delete(name);
        for (const r of response.resources) if (r.name) held.add(r.name);
        this.held.set(typeUrl, held);
        // Names of the follow-ups come from the resources' contents; those not resent keep theirs.
        const before = this.subscribed.get(next) ?? new Set<string>();
        names = new Set(typeUrl === TYPE_URLS.cluster ? held : before);
        for (const r of response.resources) for (const n of followUpNames(typeUrl, r.any)) names.add(n);
      }
      this.subscribe(next, names);
    }
    if (this.variant === "sotw") {
      this.stream.write({ type_url: typeUrl, version_info: response.version, response_nonce: response.nonce, resource_names: [...(this.subscribed.get(typeUrl) ?? [])] });
    } else {
      this.stream.write({ type_url: typeUrl, response_nonce: response.nonce });
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  private subscribe(typeUrl: string, names: Set<string>): void {
    const before = this.subscribed.get(typeUrl);
    const same = before !== undefined && before.size === names.size && [...names].every((n) => before.has(n));
    if (same) return;
    this.subscribed.set(typeUrl, names);
    if (this.variant === "sotw") {
      this.stream.write({ type_url: typeUrl, resource_names: [...names] });
    } else {
      const added = [...names].filter((n) => !before?.has(n));
      const removed = [...(before ?? [])].filter((n) => !names.has(n));
      this.stream.write({ type_url: typeUrl, resource_names_subscribe: added, resource_names_unsubscribe: removed });
    }
  }

  /** Resolves on the next response (or after `ms`). */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => { clearTimeout(timer); resolve(); });
    });
  }

  close(): void {
    this.closing = true;
    this.stream.end();
    this.client.close();
  }
}

/** Opens `count` nodes with ids `<prefix>-000`... */
export function openNodes(address: string, count: number, variant: Variant, prefix: string): AdsNode[] {
  return Array.from({ length: count }, (_, i) => new AdsNode(address, `${prefix}-${String(i).padStart(3, "0")}`, variant));
}
