// ADS, incremental (delta) variant: responses carry only resources that changed, and removals by name.
// Per type: subscribed names (or wildcard), the version of each resource the client has, and the
// versions it rejected, which are not sent again until the resource changes.
import type * as grpc from "@grpc/grpc-js";
import { isFullStateType, PUSH_ORDER, TYPE_URLS } from "../../resources/types";
import type { EncodedResource, Snapshot } from "../cache";
import { DeltaDiscoveryRequest, DeltaDiscoveryResponse, encodeDeltaResource } from "./messages";
import { describeRejection, ServerContext } from "./context";
import { AdsStream } from "./stream";

interface DeltaTypeState {
  names: Set<string>;
  wildcard: boolean;
  /** name → version the client has (or was last sent). */
  known: Map<string, string>;
  /** nonce → the name@version pairs that response carried, until ACKed or NACKed. */
  pending: Map<string, Map<string, string>>;
  /** name → version the client rejected. */
  rejected: Map<string, string>;
}

export class DeltaStream extends AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  private readonly states = new Map<string, DeltaTypeState>();

  constructor(call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>, ctx: ServerContext) {
    super(call, ctx, "delta");
  }

  protected onRequest(request: DeltaDiscoveryRequest): void {
    const typeUrl = request.type_url;
    if (!typeUrl) return;
    let state = this.states.get(typeUrl);
    const first = state === undefined;
    if (!state) {
      state = { names: new Set(), wildcard: false, known: new Map(Object.entries(request.initial_resource_versions ?? {})), pending: new Map(), rejected: new Map() };
      this.states.set(typeUrl, state);
    }

    if (request.response_nonce) {
      const carried = state.pending.get(request.response_nonce);
      state.pending.delete(request.response_nonce);
      const status = this.ctx.status.type(this.nodeId!, typeUrl);
      if (request.error_detail && carried) {
        for (const [name, version] of carried) {
          state.rejected.set(name, version);
          state.known.delete(name);
        }
        const all = this.snapshot?.resources(typeUrl);
        const { resources, origins } = describeRejection(request.error_detail.message,
          [...carried.keys()].map((name) => all?.get(name)).filter((r): r is EncodedResource => r !== undefined));
        status.nack = { version: this.snapshot?.version(typeUrl) ?? "", message: request.error_detail.message, resources, origins, at: new Date() };
        this.ctx.log.error({ node: this.nodeId, typeUrl, resources, origins, error: request.error_detail.message },
          "Envoy rejected the configuration (NACK); it keeps its previous one. Fix the documents named in origins");
      } else if (carried) {
        status.ackedVersion = this.snapshot?.version(typeUrl);
        for (const name of carried.keys()) state.rejected.delete(name);
        if (state.rejected.size === 0) status.nack = undefined;
      }
    }

    const subscribe = request.resource_names_subscribe;
    if (subscribe.includes("*") || (first && subscribe.length === 0 && isFullStateType(typeUrl))) state.wildcard = true;
    for (const name of request.resource_names_unsubscribe) {
      if (name === "*") state.wildcard = false;
      state.names.delete(name);
      state.known.delete(name);
    }
    for (const name of subscribe) {
      if (name === "*") continue;
      state.names.add(name);
      // Re-subscribing asks for the resource again, even if it was sent before.
      if (!request.initial_resource_versions?.[name]) state.known.delete(name);
    }
    this.respond(typeUrl, first, "all");
  }

  protected onSnapshot(next: Snapshot): void {
    const previous = this.snapshot;
    this.snapshot = next;
    // A rejected resource the configuration no longer has is no longer a problem: Envoy never took it.
    for (const [typeUrl, state] of this.states) {
      for (const name of state.rejected.keys()) if (!next.resources(typeUrl).has(name)) state.rejected.delete(name);
      if (state.rejected.size === 0 && this.nodeId !== undefined) this.ctx.status.type(this.nodeId, typeUrl).nack = undefined;
    }
    // Make before break: additions and updates in CDS → EDS → LDS → RDS → ECDS order, removed clusters last.
    // A type whose version stayed has the same resources: the client is as up to date as before.
    const changed = PUSH_ORDER.filter((typeUrl) => previous?.version(typeUrl) !== next.version(typeUrl));
    for (const typeUrl of changed) this.respond(typeUrl, false, typeUrl === TYPE_URLS.cluster ? "updates" : "all", previous);
    if (changed.includes(TYPE_URLS.cluster)) this.respond(TYPE_URLS.cluster, false, "all", previous);
  }

  /**
   * Sends what the client lacks of the type. `since`: the snapshot the client was brought up to date
   * with, so only what changed since is looked at (the client holds the rest, or rejected it).
   */
  private respond(typeUrl: string, evenIfEmpty: boolean, what: "updates" | "all", since?: Snapshot): void {
    const state = this.states.get(typeUrl);
    if (!state || !this.snapshot) return;
    const all = this.snapshot.resources(typeUrl);
    const wanted = (name: string) => state.wildcard || state.names.has(name);
    const changes = since ? this.snapshot.changedSince(since, typeUrl) : undefined;
    const updates: EncodedResource[] = [];
    for (const resource of changes?.updated ?? all.values()) {
      if (!wanted(resource.name) || state.known.get(resource.name) === resource.version) continue;
      if (state.rejected.get(resource.name) === resource.version) continue;
      updates.push(resource);
    }
    const gone = changes ? changes.removed.map((r) => r.name).filter((name) => state.known.has(name)) : [...state.known.keys()];
    const removed = what === "all" ? gone.filter((name) => !all.has(name) && wanted(name)) : [];
    if (!updates.length && !removed.length && !evenIfEmpty) return;
    const nonce = String(++this.nonce);
    const carried = new Map(updates.map((r) => [r.name, r.version]));
    for (const r of updates) state.known.set(r.name, r.version);
    for (const name of removed) state.known.delete(name);
    state.pending.set(nonce, carried);
    const status = this.ctx.status.type(this.nodeId!, typeUrl);
    status.sentVersion = this.snapshot.version(typeUrl);
    status.responses++;
    this.call.write({
      system_version_info: this.snapshot.version(typeUrl),
      resources: updates.map((r) => ({ name: r.name, version: r.version, resource: r.any, encoded: (r.deltaBytes ??= encodeDeltaResource({ ...r, resource: r.any })) })),
      type_url: typeUrl,
      removed_resources: removed,
      nonce,
    });
  }
}
