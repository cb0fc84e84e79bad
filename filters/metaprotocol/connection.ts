// One downstream connection: decodes both directions, pairs responses with requests, records
// per-call metrics and applies the plugin's policy to each request. Bytes pass unchanged unless
// a policy answers a request itself: then the request is replaced by the codec's probe and the
// probe's answer by the codec's error reply (provoke-and-replace; README "Policies").
import { ConnectionFilter } from "./runtime/filter";
import { Codec, ConnectionState, Direction, Message, MessageKind, Pairing } from "../../api/assembly/codec";
import {
  BufferKind, FilterStatus, HostResult, LogLevel, borrowBufferBytes, closeDownstream, getProperty, log, logEnabled, nowNanos,
  setFilterState,
} from "./runtime/host";
import { PolicyChain, livePolicy, policyGeneration } from "./policy/chain";
import { Peer, parseIpv4 } from "./policy/match";
import { CONTINUE, Verdict, VerdictKind, localReplyReason } from "./policy/verdict";
import { StreamEditor } from "./stream_editor";
import { forget, holdUntil, isHeld } from "./delays";
import { DecodeErrorPolicy, FilterConfig } from "./config";
import { FrameReader, MessageSink } from "./frame_reader";
import { PendingById } from "./pending_by_id";
import { PendingCalls, PendingLocalReply, defaultPendingCalls } from "./pending_calls";
import { PendingInOrder } from "./pending_in_order";
import { CallStats, ProtocolStats, responseStatusLabel } from "./stats";

const NANOS_PER_MICRO: u64 = 1_000;
/** Ids of probes, for protocols paired by id: far from the small counters clients use. */
const FIRST_PROBE_ID: u64 = 0x7fff_ffff_0000_0000;

function newPendingCalls(pairing: Pairing, configured: i32, stats: ProtocolStats): PendingCalls {
  const capacity = configured > 0 ? configured : defaultPendingCalls(pairing);
  if (pairing == Pairing.ById) return new PendingById(capacity);
  return new PendingInOrder(capacity, stats);
}

export class MetaProtocolConnection extends ConnectionFilter implements MessageSink {
  private downstream!: FrameReader;
  private upstream!: FrameReader;
  private downstreamEditor: StreamEditor = new StreamEditor();
  private upstreamEditor: StreamEditor = new StreamEditor();
  private pending!: PendingCalls;
  private state: ConnectionState | null;
  /** The policy in force for the read being handled, looked up again when it changed. */
  private policy: PolicyChain | null = null;
  private policySeen: i32 = -1;
  private peer: Peer | null = null;
  /** Requests answered locally whose probe's answer has not come back yet. */
  private localRepliesPending: i32 = 0;
  private nextProbeId: u64 = FIRST_PROBE_ID;
  /** Set when the connection must close: the editors hand on nothing past their cut. */
  private closing: bool = false;
  /** A fault delay holds the downstream bytes until then (host clock, nanoseconds). */
  private releaseAt: u64 = 0;
  /** Bytes Envoy holds for us while the downstream side is paused by a delay. */
  private pausedLength: u32 = 0;
  /** The cluster the first request chose ("" for tcp_proxy's own), or null before it. */
  private routedTo: string | null = null;
  /** Server bytes came before any request (a server-first protocol): tcp_proxy connected already. */
  private upstreamFirst: bool = false;

  constructor(contextId: u32, private codec: Codec, private config: FilterConfig, private stats: ProtocolStats, private policyKey: string) {
    super(contextId);
    const state = codec.newConnectionState();
    this.state = state;
    this.downstream = new FrameReader(codec, Direction.Downstream, <i32>config.maxBufferedBytes, state, this);
    this.upstream = new FrameReader(codec, Direction.Upstream, <i32>config.maxBufferedBytes, state, this);
    this.pending = newPendingCalls(codec.pairing(), config.maxPendingCalls, stats);
  }

  /**
   * With connection routes, the filters after this one (tcp_proxy) wait for the first read: tcp_proxy
   * then starts on it, after this filter has set the cluster from the first request.
   */
  onNewConnection(): i32 {
    const policy = livePolicy(this.policyKey);
    return policy != null && policy.routes != null ? FilterStatus.Pause : FilterStatus.Continue;
  }

  onDownstreamData(length: u32, endOfStream: bool): i32 {
    this.readNanos = 0;
    if (this.policySeen != policyGeneration()) {
      this.policy = livePolicy(this.policyKey);
      this.policySeen = policyGeneration();
    }
    // While paused, Envoy presents the bytes it holds again, with what arrived since behind them.
    let front: u32 = 0;
    if (this.pausedLength > 0 && isHeld(this.contextId)) front = min(this.pausedLength, length);
    this.pausedLength = 0;
    // Under a policy, requests are held back until whole, so a refused one can still be dropped.
    const kept = this.read(this.downstream, this.downstreamEditor, BufferKind.Downstream, length, this.policy != null, front);
    if (this.releaseAt > this.now()) {
      holdUntil(this.contextId, this.releaseAt);
      this.pausedLength = front + kept;
      return FilterStatus.Pause;
    }
    if (front > 0) forget(this.contextId); // its time came before the timer's
    return FilterStatus.Continue;
  }

  onUpstreamData(length: u32, endOfStream: bool): i32 {
    if (this.routedTo == null && length > 0) this.upstreamFirst = true;
    // While a probe's answer is due, answers are held back until whole, so it can be replaced.
    this.read(this.upstream, this.upstreamEditor, BufferKind.Upstream, length, this.localRepliesPending > 0);
    return FilterStatus.Continue;
  }

  /** Handles the bytes of Envoy's buffer after its first `front`; returns what stays in their place. */
  private read(reader: FrameReader, editor: StreamEditor, kind: BufferKind, length: u32, holdIncomplete: bool, front: u32 = 0): u32 {
    if (length <= front) return 0;
    if (reader.stopped && editor.heldBytes == 0) {
      editor.released += <u64>(length - front);
      return length - front;
    }
    // FrameReader copies whatever it keeps past this call, and so does the editor.
    const bytes = borrowBufferBytes(kind, front, length - front);
    if (bytes == null) return length - front;
    this.readNanos = 0;
    editor.begin(bytes, reader.fed);
    reader.feed(bytes);
    let releaseUpTo = holdIncomplete && !reader.stopped ? reader.wholeMessagesUpTo : reader.fed;
    const closing = this.closing;
    if (closing) releaseUpTo = min<u64>(releaseUpTo, max<u64>(editor.cutAt, editor.released));
    const kept = editor.finish(releaseUpTo, kind, length, front);
    this.stats.flush();
    if (closing) closeDownstream();
    return kept;
  }

  // Every message of one read arrived at the same moment: the clock is asked once per read.
  private readNanos: u64 = 0;

  private now(): u64 {
    if (this.readNanos == 0) this.readNanos = nowNanos();
    return this.readNanos;
  }

  onMessage(direction: Direction, message: Message, frameStart: u64): void {
    if (logEnabled(LogLevel.Debug)) {
      log(LogLevel.Debug, "metaproto " + this.stats.protocol + ": decoded " +
        (direction == Direction.Downstream ? "downstream " : "upstream ") + message.toJson());
    }
    if (this.closing) return;
    switch (message.kind) {
      case MessageKind.Request: {
        const stats = this.stats.forCall(message.service, message.method);
        stats.addRequestBytes(message.frameLength);
        this.route(message);
        const verdict = this.verdictFor(message);
        if (verdict.kind == VerdictKind.Reply) {
          this.answerLocally(message, frameStart, verdict, stats);
          break;
        }
        if (verdict.kind == VerdictKind.Delay) this.delay(verdict.delayNanos);
        this.mutate(message, frameStart);
        const evicted = this.pending.add(message.requestId, stats, this.now());
        if (evicted != null) evicted.countCall("no_response", "evicted");
        break;
      }
      case MessageKind.Oneway: {
        const stats = this.stats.forCall(message.service, message.method);
        stats.addRequestBytes(message.frameLength);
        this.route(message);
        const verdict = this.verdictFor(message);
        if (verdict.kind == VerdictKind.Delay) this.delay(verdict.delayNanos);
        if (verdict.kind == VerdictKind.Reply && this.downstreamEditor.canEdit(frameStart)) {
          // The client expects no answer: the call is just not sent.
          this.downstreamEditor.replace(frameStart, frameEnd(message, frameStart), null);
          stats.countCall("no_response", localReplyReason(verdict.reply));
          break;
        }
        this.mutate(message, frameStart);
        // No response will come: the call is complete once sent.
        stats.countCall("no_response", "oneway");
        break;
      }
      case MessageKind.Response: {
        if (!this.pending.take(message.requestId)) {
          this.stats.decodeError("upstream", "unmatched_response");
          break;
        }
        this.answered(message, frameStart);
        break;
      }
      default:
        // Heartbeats, events and stream frames are not calls; one may answer a probe.
        if (message.isReply && this.localRepliesPending > 0 && message.hasRequestId &&
            message.requestId >= FIRST_PROBE_ID && this.pending.take(message.requestId)) {
          this.answered(message, frameStart);
        }
        break;
    }
  }

  /** Counts the call pending.take() just found, replacing a probe's answer by its local reply. */
  private answered(message: Message, frameStart: u64): void {
    const stats = this.pending.takenStats!;
    const start = this.pending.takenStartNanos;
    const local = this.pending.takenLocalReply;
    const now = this.now();
    stats.recordDurationMicros(now > start ? (now - start) / NANOS_PER_MICRO : 0);
    if (local == null) {
      stats.addResponseBytes(message.frameLength);
      stats.countCall(responseStatusLabel(message.status), message.code);
      return;
    }
    this.localRepliesPending--;
    this.upstreamEditor.replace(frameStart, frameEnd(message, frameStart), local.reply.bytes);
    stats.addResponseBytes(<u32>local.reply.bytes.byteLength);
    stats.countCall(responseStatusLabel(local.reply.status), local.reply.code);
    this.stats.localReply(local.reason);
  }

  /**
   * The first request chooses the connection's cluster; a later one that would choose another is
   * counted (a connection cannot move).
   */
  private route(message: Message): void {
    const policy = this.policy;
    if (policy == null) return;
    const routes = policy.routes;
    if (routes == null) return;
    const cluster = routes.choose(message, this.peerAddress());
    const chosen = this.routedTo;
    if (chosen != null) {
      if (cluster != chosen) this.stats.connectionRoute("mismatch");
      return;
    }
    this.routedTo = cluster;
    if (this.upstreamFirst) {
      this.stats.connectionRoute("server_first");
    } else if (cluster.length == 0) {
      this.stats.connectionRoute("default");
    } else {
      this.stats.connectionRoute(setFilterState(TCP_PROXY_CLUSTER, cluster) == HostResult.Ok ? "routed" : "refused");
    }
  }

  /** Applies the policy's attribute changes to a request on its way to the server. */
  private mutate(message: Message, frameStart: u64): void {
    const policy = this.policy;
    if (policy == null) return;
    const mutations = policy.mutations;
    if (mutations == null || !mutations.collect(message, this.peerAddress())) return;
    const end = frameEnd(message, frameStart);
    const frame = this.downstreamEditor.bytes(frameStart, end);
    let rewritten: Uint8Array | null = null;
    if (frame != null) rewritten = this.codec.setAttributes(message, frame, mutations.toSet, mutations.toRemove, this.state);
    if (rewritten == null) {
      this.stats.mutation(frame == null ? "request_already_forwarded" : "unsupported");
      return;
    }
    this.downstreamEditor.replace(frameStart, end, rewritten);
    this.stats.mutation("applied");
  }

  /** Holds this read (and what follows it) until `nanos` from now. */
  private delay(nanos: u64): void {
    const until = this.now() + nanos;
    if (until > this.releaseAt) this.releaseAt = until;
  }

  private verdictFor(message: Message): Verdict {
    const policy = this.policy;
    if (policy == null) return CONTINUE;
    return policy.evaluate(message, this.peerAddress(), this.now());
  }

  private peerAddress(): Peer {
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

  /**
   * Sends the codec's probe in the request's place; its answer will be replaced by the codec's
   * error reply. Where that cannot be done, closes the connection rather than let client and
   * server disagree on what was asked.
   */
  private answerLocally(request: Message, frameStart: u64, verdict: Verdict, stats: CallStats): void {
    const reason = localReplyReason(verdict.reply);
    if (!this.downstreamEditor.canEdit(frameStart)) {
      this.closeForPolicy(frameStart, "request_already_forwarded", stats);
      return;
    }
    if (this.localRepliesPending >= this.config.maxPendingCalls && this.config.maxPendingCalls > 0) {
      this.closeForPolicy(frameStart, "too_many_local_replies", stats);
      return;
    }
    const reply = this.codec.encodeLocalReply(request, verdict.reply, verdict.text, this.state);
    const probeId = this.nextProbeId++;
    let probe: Uint8Array | null = null;
    if (reply != null) probe = this.codec.probeRequest(request, probeId, this.state);
    if (reply == null || probe == null) {
      this.closeForPolicy(frameStart, "no_probe", stats);
      return;
    }
    this.downstreamEditor.replace(frameStart, frameEnd(request, frameStart), probe);
    this.pending.addLocalReply(probeId, new PendingLocalReply(stats, reply, reason), this.now());
    this.localRepliesPending++;
  }

  private closeForPolicy(frameStart: u64, why: string, stats: CallStats): void {
    this.stats.policyClose(why);
    stats.countCall("no_response", "closed");
    this.closeAfter(this.downstreamEditor, frameStart);
  }

  /** Closes the connection at the end of this read, handing on nothing of `editor`'s from `cut` on. */
  private closeAfter(editor: StreamEditor, cut: u64): void {
    this.closing = true;
    editor.cutAt = cut;
  }

  private editorOf(direction: Direction): StreamEditor {
    return direction == Direction.Downstream ? this.downstreamEditor : this.upstreamEditor;
  }

  onDecodeError(direction: Direction, reason: string): void {
    this.stats.decodeError(direction == Direction.Downstream ? "downstream" : "upstream", reason);
    if (this.localRepliesPending > 0) {
      // A probe's answer is still due: bytes passed now could hand it to the client. Nothing more
      // of this read goes on; the connection closes.
      this.stats.policyClose("probe_answer_undecoded");
      const editor = this.editorOf(direction);
      this.closeAfter(editor, editor.released);
      return;
    }
    if (this.config.onDecodeError == DecodeErrorPolicy.Close) {
      closeDownstream();
      return;
    }
    this.stopDecoding();
  }

  onPassThrough(direction: Direction, reason: string): void {
    this.stats.passThrough(reason);
    if (this.localRepliesPending > 0) {
      this.stats.policyClose("probe_answer_undecoded");
      const editor = this.editorOf(direction);
      this.closeAfter(editor, editor.released);
      return;
    }
    this.stopDecoding();
  }

  /** One direction we cannot follow makes pairing meaningless: stop both. */
  private stopDecoding(): void {
    this.downstream.release();
    this.upstream.release();
  }

  onDone(): void {
    forget(this.contextId);
    const left = this.pending.drain();
    for (let i = 0; i < left.length; i++) unchecked(left[i]).countCall("no_response", "closed");
    this.stats.flush();
  }
}

function utf8(bytes: Uint8Array): string {
  return String.UTF8.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The filter state tcp_proxy reads its cluster from. */
const TCP_PROXY_CLUSTER = "envoy.tcp_proxy.cluster";

/** Stream offset just past a decoded message's frame. */
function frameEnd(message: Message, frameStart: u64): u64 {
  return frameStart + <u64>message.frameLength;
}
