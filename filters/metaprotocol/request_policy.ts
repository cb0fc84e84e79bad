// What the plugin's policy does to one connection's requests: the verdict (a delay moves the
// connection's release time), attribute changes, and the cluster the first request chooses. Local
// replies are the connection's own business: they span both directions.
import { Attribute, Codec, ConnectionState, Message } from "../../api/assembly/codec";
import { HostResult, getProperty, setFilterState } from "./runtime/host";
import { PolicyChain, livePolicy, policyGeneration } from "./policy/chain";
import { Peer, parseIpv4 } from "./policy/match";
import { CONTINUE, Verdict, VerdictKind } from "./policy/verdict";
import { ProtocolStats } from "./stats";
import { StreamEditor } from "./stream_editor";

/** The filter state tcp_proxy reads its cluster from. */
const TCP_PROXY_CLUSTER = "envoy.tcp_proxy.cluster";
const NOTHING_TO_SET = new Array<Attribute>();
const NOTHING_TO_REMOVE = new Array<string>();

export class RequestPolicy {
  /** The policy in force for the read being handled, looked up again when it changed. */
  chain: PolicyChain | null = null;
  private seen: i32 = -1;
  private peer: Peer | null = null;
  /** The cluster the first request chose ("" for tcp_proxy's own), or null before it. */
  private routedTo: string | null = null;
  /** Server bytes came before any request (a server-first protocol): tcp_proxy connected already. */
  private upstreamFirst: bool = false;
  /** A fault delay holds the downstream bytes until then (host clock, nanoseconds); 0: none. */
  releaseAt: u64 = 0;

  constructor(private key: string, private codec: Codec, private stats: ProtocolStats) {
    this.upstreamFirst = codec.serverFirst();
  }

  /** Picks up a policy published since the last read. */
  refresh(): void {
    if (this.seen == policyGeneration()) return;
    this.chain = livePolicy(this.key);
    this.seen = policyGeneration();
  }

  /**
   * True when the connection's first request chooses its cluster (tcp_proxy must wait for it).
   * Never for a server-first protocol: its client waits for the server, which tcp_proxy would
   * never connect to.
   */
  routesConnections(): bool {
    if (this.codec.serverFirst()) return false;
    const chain = livePolicy(this.key);
    return chain != null && chain.routes != null;
  }

  serverSpoke(): void {
    if (this.routedTo == null) this.upstreamFirst = true;
  }

  /** The verdict for a request, once it has chosen the connection's route. */
  decide(message: Message, now: u64): Verdict {
    const chain = this.chain;
    if (chain == null) return CONTINUE;
    this.route(chain, message);
    const verdict = chain.evaluate(message, this.peerAddress(), now);
    if (verdict.kind == VerdictKind.Delay && now + verdict.delayNanos > this.releaseAt) this.releaseAt = now + verdict.delayNanos;
    return verdict;
  }

  /**
   * Rewrites the request's attributes in `editor` as the policy says, if it says anything, and
   * writes `traceContext` (attributes the tracer injects; they win over the policy's for the same key).
   */
  mutate(message: Message, frameStart: u64, frameEnd: u64, editor: StreamEditor, state: ConnectionState | null, traceContext: Array<Attribute> | null = null): void {
    const chain = this.chain;
    let toSet: Array<Attribute> | null = null;
    let toRemove: Array<string> = NOTHING_TO_REMOVE;
    if (chain != null) {
      const mutations = chain.mutations;
      if (mutations != null && mutations.collect(message, this.peerAddress())) {
        toSet = mutations.toSet;
        toRemove = mutations.toRemove;
      }
    }
    if (traceContext != null) toSet = toSet == null ? traceContext : toSet.concat(traceContext);
    if (toSet == null) {
      if (toRemove.length == 0) return;
      toSet = NOTHING_TO_SET;
    }
    const frame = editor.bytes(frameStart, frameEnd);
    let rewritten: Uint8Array | null = null;
    if (frame != null) rewritten = this.codec.setAttributes(message, frame, toSet, toRemove, state);
    if (rewritten == null) {
      this.stats.mutation(frame == null ? "request_already_forwarded" : "unsupported");
      return;
    }
    editor.replace(frameStart, frameEnd, rewritten);
    this.stats.mutation("applied");
  }

  /**
   * The first request chooses the connection's cluster; a later one that would choose another is
   * counted (a connection cannot move).
   */
  private route(chain: PolicyChain, message: Message): void {
    const routes = chain.routes;
    if (routes == null) return;
    const cluster = routes.choose(message, this.peerAddress());
    const chosen = this.routedTo;
    if (chosen != null) {
      if (cluster != chosen) this.stats.connectionRoute("mismatch");
      return;
    }
    this.routedTo = cluster;
    if (this.upstreamFirst) this.stats.connectionRoute("server_first");
    else if (cluster.length == 0) this.stats.connectionRoute("default");
    else this.stats.connectionRoute(setFilterState(TCP_PROXY_CLUSTER, cluster) == HostResult.Ok ? "routed" : "refused");
  }

  /** The client's address and certificate, read once per connection. */
  peerAddress(): Peer {
    let peer = this.peer;
    if (peer == null) {
      peer = new Peer();
      const address = getProperty(["source", "address"]);
      if (address != null) {
        const text = utf8(address);
        const colon = text.lastIndexOf(":");
        parseIpv4(colon > 0 ? text.substring(0, colon) : text, peer);
      }
      // Envoy has it only when it terminated TLS and the client sent a certificate.
      const principal = getProperty(["connection", "uri_san_peer_certificate"]);
      if (principal != null && principal.byteLength > 0) peer.principal = utf8(principal);
      this.peer = peer;
    }
    return peer;
  }
}

function utf8(bytes: Uint8Array): string {
  return String.UTF8.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
