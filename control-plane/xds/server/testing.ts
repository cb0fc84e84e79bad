// Test helpers: snapshots built from names, and an ADS client on a real grpc-js channel.
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { Resource, ResourceSet, TCP_PROXY_TYPE_URL, TYPE_URLS, TypeUrl } from "../../resources/types";
import { decodeMessage } from "../api";
import { SimpleCache, Snapshot } from "../cache";
import { adsServiceDefinition, Any } from "./messages";
import { XdsServer } from "./server";

export interface SnapshotSpec {
  clusters?: string[];
  listeners?: { name: string; cluster: string; port?: number }[];
  routes?: string[];
  extensions?: { name: string; value: string }[];
}

export function snapshotOf(spec: SnapshotSpec): Snapshot {
  const set: ResourceSet = new Map(Object.values(TYPE_URLS).map((url) => [url as TypeUrl, new Map<string, Resource>()]));
  const add = (typeUrl: TypeUrl, name: string, value: Record<string, unknown>) => set.get(typeUrl)!.set(name, { name, value, origin: `test.yaml (${name})` });
  for (const name of spec.clusters ?? []) {
    add(TYPE_URLS.cluster, name, { name, type: "EDS", eds_cluster_config: { eds_config: { ads: {} } } });
    add(TYPE_URLS.endpoint, name, { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: 1000 } } } }] }] });
  }
  for (const { name, cluster, port } of spec.listeners ?? []) {
    add(TYPE_URLS.listener, name, {
      name, address: { socket_address: { address: "127.0.0.1", port_value: port ?? 10000 } },
      filter_chains: [{ filters: [{ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP_PROXY_TYPE_URL, stat_prefix: name, cluster } }] }],
    });
  }
  for (const name of spec.routes ?? []) add(TYPE_URLS.route, name, { name });
  for (const { name, value } of spec.extensions ?? []) {
    add(TYPE_URLS.extensionConfig, name, { name, typed_config: { "@type": "type.googleapis.com/google.protobuf.StringValue", value } });
  }
  return new Snapshot(set);
}

/** Names of the resources in a response (ClusterLoadAssignments by cluster_name). */
export function namesIn(resources: Any[]): string[] {
  return resources.map((any) => {
    const value = decodeMessage(any.type_url, any.value) as { name?: string; cluster_name?: string };
    return value.name ?? value.cluster_name ?? "";
  });
}

export async function startServer(): Promise<{ server: XdsServer; cache: SimpleCache; address: string }> {
  const cache = new SimpleCache();
  const server = new XdsServer(cache, pino({ level: "silent" }));
  const port = await server.listen("127.0.0.1", 0);
  return { server, cache, address: `127.0.0.1:${port}` };
}

/** One ADS stream: send requests, await responses in order. */
export class AdsClient<Req extends object, Res> {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<Req, Res>;
  private readonly received: Res[] = [];
  private waiter?: () => void;
  /** Every response, in order, including those already taken. */
  readonly all: Res[] = [];

  constructor(address: string, method: "StreamAggregatedResources" | "DeltaAggregatedResources") {
    const definition = adsServiceDefinition()[method];
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
    this.stream = this.client.makeBidiStreamRequest(definition.path, definition.requestSerialize as (r: Req) => Buffer,
      definition.responseDeserialize as (b: Buffer) => Res);
    this.stream.on("data", (response: Res) => {
      this.received.push(response);
      this.all.push(response);
      this.waiter?.();
    });
    this.stream.on("error", () => undefined);
  }

  send(request: Req): void {
    this.stream.write(request);
  }

  async next(timeoutMs = 5000): Promise<Res> {
    const deadline = Date.now() + timeoutMs;
    while (!this.received.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
    return this.received.shift()!;
  }

  /** Resolves if no response arrives within ms; rejects with the response otherwise. */
  async none(ms = 300): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.received.length) throw new Error(`unexpected response: ${JSON.stringify(this.received[0])}`);
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }
}
