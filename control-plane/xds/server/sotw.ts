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
import { DiscoveryRequest, DiscoveryResponse, encodeDiscoveryResponse, encodeDiscoveryResponseBody } from "./messages";

interface TypeState {
  names: Set<string>;
  wildcard: boolean;
  sentVersion?: string;
  sentNonce?: string;
  nackedVersion?: string;
  /** Resources of the last response, and of the last one Envoy accepted. */
  sent: EncodedResource[];
  accepted: EncodedResource[];
  /** The resource_names of the last request, as sent: an ACK repeats them (thousands for EDS), so they are compared, not rebuilt. */
  requested: string[];
  /** Snapshot.namesKey of a snapshot whose every resource of the type `names` took: it takes all of the next one with that key too. */
  takesAllOf?: string;
}

/**
 * Nonces come from one counter for every stream, so that a response encoded once, nonce and all, can go
 * to every stream that takes it (a hundred Envoys get the same bytes). A nonce only has to tell a
 * stream's responses apart: two streams may share one, and a stream gets a shared one again only for
 * the very same response (never twice in a row).
 */
let lastNonce = 0;
const sharedResponses = new WeakMap<Uint8Array, EncodedResponse>();

interface EncodedResponse {
  nonce: string;
  bytes: Buffer;
}

function encodeResponse(version: string, typeUrl: string, body: Uint8Array): EncodedResponse {
  const nonce = String(++lastNonce);
  return { nonce, bytes: encodeDiscoveryResponse({ version_info: version, resources: [], type_url: typeUrl, nonce, encodedBody: body }) };
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
    if (!state) this.states.set(typeUrl, (state = { names: new Set(), wildcard: false, sent: [], accepted: [], requested: [] }));

    // A nonce on the first request of a type comes from an earlier stream (a reconnect): not ours to check.
    if (request.response_nonce && !first) {
      if (request.response_nonce !== state.sentNonce) {
        this.ctx.log.debug({ node: this.nodeId, typeUrl, nonce: request.response_nonce }, "stale nonce: request ignored");
        return;
      }
      const status = this.ctx.status.type(this.nodeId!, typeUrl);
      if (request.error_detail) {
        state.nackedVersion = state.sentVersion;
        const accepted = new Map(state.accepted.map((r) => [r.name, r.version]));
        const changed = state.sent.filter((r) => accepted.get(r.name) !== r.version);
        const { resources, origins } = describeRejection(request.error_detail.message, changed.length ? changed : state.sent);
        status.nack = { version: state.sentVersion ?? "", message: request.error_detail.message, resources, origins, at: new Date() };
        this.ctx.log.error({ node: this.nodeId, typeUrl, version: state.sentVersion, resources, origins, error: request.error_detail.message },
          "Envoy rejected the configuration (NACK); it keeps its previous one. Fix the documents named in origins");
      } else {
        status.ackedVersion = request.version_info;
        state.accepted = state.sent;
        if (status.nack && status.nack.version !== request.version_info) status.nack = undefined;
        this.ctx.log.debug({ node: this.nodeId, typeUrl, version: request.version_info }, "ACK");
      }
    }

    // An ACK or NACK naming what the last request named (as every ACK of a steady Envoy does): nothing to answer.
    if (!first && request.response_nonce && sameNames(request.resource_names, state.requested)) return;
    state.requested = request.resource_names;
    const names = new Set(request.resource_names);
    const wildcard = names.has("*") || (names.size === 0 && isFullStateType(typeUrl) && (first || state.wildcard));
    names.delete("*");
    const subscriptionChanged = wildcard !== state.wildcard || names.size !== state.names.size || [...names].some((n) => !state!.names.has(n));
    state.names = names;
    state.wildcard = wildcard;
    state.takesAllOf = undefined;
    // The first request of a type, or one without a nonce, opens a subscription: always answered.
    if (first || !request.response_nonce || subscriptionChanged) this.respond(typeUrl, true);
  }

  protected onSnapshot(next: Snapshot): void {
    const previous = this.snapshot;
    this.snapshot = next;
    const clusters = this.states.get(TYPE_URLS.cluster);
    const stale = previous && clusters ? next.changedSince(previous, TYPE_URLS.cluster).removed : [];
    // Make before break: new clusters arrive next to the old ones, the old go once listeners moved off them.
    if (stale.length && next.version(TYPE_URLS.cluster) !== clusters!.nackedVersion) {
      this.send(TYPE_URLS.cluster, `${next.version(TYPE_URLS.cluster)}+stale`, [...this.select(TYPE_URLS.cluster, next).resources, ...stale]);
    }
    for (const typeUrl of PUSH_ORDER) {
      if (typeUrl !== TYPE_URLS.cluster || !stale.length) this.respond(typeUrl, false);
    }
    if (stale.length) this.respond(TYPE_URLS.cluster, false);
  }

  /** The resources the subscription takes; `all` when they are every one of the type (so the shared response fits). */
  private select(typeUrl: string, snapshot: Snapshot): { resources: EncodedResource[]; all: boolean } {
    const state = this.states.get(typeUrl)!;
    const all = snapshot.all(typeUrl);
    if (state.wildcard || state.takesAllOf === snapshot.namesKey(typeUrl)) return { resources: all, all: true };
    const byName = snapshot.resources(typeUrl);
    const resources = [...state.names].map((name) => byName.get(name)).filter((r): r is EncodedResource => r !== undefined);
    if (resources.length < all.length) return { resources, all: false };
    state.takesAllOf = snapshot.namesKey(typeUrl);
    return { resources: all, all: true };
  }

  private respond(typeUrl: string, subscriptionChanged: boolean): void {
    const state = this.states.get(typeUrl);
    if (!state || !this.snapshot) return;
    const version = this.snapshot.version(typeUrl);
    if (!subscriptionChanged && (version === state.sentVersion || version === state.nackedVersion)) return;
    const { resources, all } = this.select(typeUrl, this.snapshot);
    this.send(typeUrl, version, resources, all ? this.snapshot.responseBody(typeUrl) : undefined);
  }

  /** body: the response but its nonce, when it is the snapshot's shared one; else encoded here. */
  private send(typeUrl: string, version: string, resources: EncodedResource[], body?: Uint8Array): void {
    const state = this.states.get(typeUrl)!;
    let response = body ? sharedResponses.get(body) : undefined;
    if (body && !response) sharedResponses.set(body, (response = encodeResponse(version, typeUrl, body)));
    if (!response || response.nonce === state.sentNonce) {
      response = encodeResponse(version, typeUrl, body ?? encodeDiscoveryResponseBody(version, typeUrl, resources.map((r) => r.anyBytes)));
    }
    const { nonce } = response;
    state.sentVersion = version;
    state.sentNonce = nonce;
    state.sent = resources;
    const status = this.ctx.status.type(this.nodeId!, typeUrl);
    status.sentVersion = version;
    status.responses++;
    if (this.ctx.log.isLevelEnabled("debug")) this.ctx.log.debug({ node: this.nodeId, typeUrl, version, nonce, names: resources.map((r) => r.name) }, "response sent");
    this.call.write({ version_info: version, resources: [], type_url: typeUrl, nonce, encoded: response.bytes });
  }
}

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
