// ADS, state of the world: one stream per Envoy carrying every resource type.
// The rules that keep Envoy and the server in step (go-control-plane's bug history):
//  - state per type URL: version and nonce last sent, subscribed names, wildcard or not;
//  - a request whose response_nonce is not the latest sent is stale: ignored;
//  - a NACK is a request with error_detail (its version_info is the last good one, not ours);
//  - a NACKed version is never sent again: only a new configuration (a new version) is;
//  - empty resource_names on the first LDS/CDS request mean wildcard;
//  - LDS/CDS responses carry every resource; EDS/RDS/ECDS only the names asked for, answered even
//    when the snapshot holds others or none of them;
//  - pushes go CDS → EDS → LDS → RDS → ECDS, and clusters that went away are removed last;
//  - a changed subscription (including re-subscribing to a name) is answered.
import type * as grpc from "@grpc/grpc-js";
import { isFullStateType, PUSH_ORDER, TYPE_URLS } from "../../resources/types";
import type { EncodedResource, Snapshot } from "../cache";
import { describeRejection, ServerContext } from "./context";
import { AdsStream } from "./stream";
import type { DiscoveryRequest, DiscoveryResponse } from "./messages";

interface TypeState {
  names: Set<string>;
  wildcard: boolean;
  sentVersion?: string;
  sentNonce?: string;
  nackedVersion?: string;
  /** Resources of the last response, and of the last one Envoy accepted (name → version). */
  sent: EncodedResource[];
  accepted: Map<string, string>;
}

export class SotwStream extends AdsStream<DiscoveryRequest, DiscoveryResponse> {
  private readonly states = new Map<string, TypeState>();

  constructor(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>, ctx: ServerContext) {
    super(call, ctx, "state of the world");
  }

  protected onRequest(request: DiscoveryRequest): void {
    const typeUrl = request.type_url;
    if (!typeUrl) return;
    let state = this.states.get(typeUrl);
    const first = state === undefined;
    if (!state) this.states.set(typeUrl, (state = { names: new Set(), wildcard: false, sent: [], accepted: new Map() }));

    // A nonce on the first request of a type comes from an earlier stream (a reconnect): not ours to check.
    if (request.response_nonce && !first) {
      if (request.response_nonce !== state.sentNonce) {
        this.ctx.log.debug({ node: this.nodeId, typeUrl, nonce: request.response_nonce }, "stale nonce: request ignored");
        return;
      }
      const status = this.ctx.status.type(this.nodeId!, typeUrl);
      if (request.error_detail) {
        state.nackedVersion = state.sentVersion;
        const changed = state.sent.filter((r) => state!.accepted.get(r.name) !== r.version);
        const { resources, origins } = describeRejection(request.error_detail.message, changed.length ? changed : state.sent);
        status.nack = { version: state.sentVersion ?? "", message: request.error_detail.message, resources, origins, at: new Date() };
        this.ctx.log.error({ node: this.nodeId, typeUrl, version: state.sentVersion, resources, origins, error: request.error_detail.message },
          "Envoy rejected the configuration (NACK); it keeps its previous one. Fix the documents named in origins");
      } else {
        status.ackedVersion = request.version_info;
        state.accepted = new Map(state.sent.map((r) => [r.name, r.version]));
        if (status.nack && status.nack.version !== request.version_info) status.nack = undefined;
        this.ctx.log.debug({ node: this.nodeId, typeUrl, version: request.version_info }, "ACK");
      }
    }

    const names = new Set(request.resource_names);
    const wildcard = names.has("*") || (names.size === 0 && isFullStateType(typeUrl) && (first || state.wildcard));
    names.delete("*");
    const subscriptionChanged = wildcard !== state.wildcard || names.size !== state.names.size || [...names].some((n) => !state!.names.has(n));
    state.names = names;
    state.wildcard = wildcard;
    // The first request of a type, or one without a nonce, opens a subscription: always answered.
    if (first || !request.response_nonce || subscriptionChanged) this.respond(typeUrl, true);
  }

  protected onSnapshot(next: Snapshot): void {
    const previous = this.snapshot;
    this.snapshot = next;
    const clusters = this.states.get(TYPE_URLS.cluster);
    const stale = previous && clusters ? [...previous.resources(TYPE_URLS.cluster).values()].filter((r) => !next.resources(TYPE_URLS.cluster).has(r.name)) : [];
    // Make before break: new clusters arrive next to the old ones, the old go once listeners moved off them.
    if (stale.length && next.version(TYPE_URLS.cluster) !== clusters!.nackedVersion) {
      this.send(TYPE_URLS.cluster, `${next.version(TYPE_URLS.cluster)}+stale`, [...this.select(TYPE_URLS.cluster, next), ...stale]);
    }
    for (const typeUrl of PUSH_ORDER) {
      if (typeUrl !== TYPE_URLS.cluster || !stale.length) this.respond(typeUrl, false);
    }
    if (stale.length) this.respond(TYPE_URLS.cluster, false);
  }

  private select(typeUrl: string, snapshot: Snapshot): EncodedResource[] {
    const state = this.states.get(typeUrl)!;
    const all = snapshot.resources(typeUrl);
    if (state.wildcard) return [...all.values()];
    return [...state.names].map((name) => all.get(name)).filter((r): r is EncodedResource => r !== undefined);
  }

  private respond(typeUrl: string, subscriptionChanged: boolean): void {
    const state = this.states.get(typeUrl);
    if (!state || !this.snapshot) return;
    const version = this.snapshot.version(typeUrl);
    if (!subscriptionChanged && (version === state.sentVersion || version === state.nackedVersion)) return;
    this.send(typeUrl, version, this.select(typeUrl, this.snapshot));
  }

  private send(typeUrl: string, version: string, resources: EncodedResource[]): void {
    const state = this.states.get(typeUrl)!;
    const nonce = String(++this.nonce);
    state.sentVersion = version;
    state.sentNonce = nonce;
    state.sent = resources;
    const status = this.ctx.status.type(this.nodeId!, typeUrl);
    status.sentVersion = version;
    status.responses++;
    this.ctx.log.debug({ node: this.nodeId, typeUrl, version, nonce, names: resources.map((r) => r.name) }, "response sent");
    this.call.write({ version_info: version, resources: [], encodedResources: resources.map((r) => r.anyBytes), type_url: typeUrl, nonce });
  }
}
