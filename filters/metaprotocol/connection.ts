// One downstream connection: decodes both directions, pairs responses with requests, records
// per-call metrics and applies the plugin's policy to each request. Bytes pass unchanged unless
// a policy answers a request itself: then the request is replaced by the codec's probe and the
// probe's answer by the codec's error reply (provoke-and-replace; README "Policies").
import { ConnectionFilter } from "./runtime/filter";
import { Codec, ConnectionState, Direction, Message, MessageKind, Pairing } from "../../api/assembly/codec";
import {
  BufferKind, FilterStatus, LogLevel, borrowBufferBytes, closeDownstream, log, logEnabled, nowNanos,
} from "./runtime/host";
import { Verdict, VerdictKind, localReplyReason } from "./policy/verdict";
import { RequestPolicy } from "./request_policy";
import { StreamEditor } from "./stream_editor";
import { forget, holdUntil, isHeld } from "./delays";
import { DecodeErrorPolicy, FilterConfig } from "./config";
import { FrameReader, MessageSink } from "./frame_reader";
import { PendingById } from "./pending_by_id";
import { PendingCalls, PendingLocalReply, defaultPendingCalls } from "./pending_calls";
import { PendingInOrder } from "./pending_in_order";
import { CallStats, ProtocolStats, responseStatusLabel } from "./stats";
import { CallRecord } from "./call_record";
import { CallObserver } from "./tracing/observer";
import { ResponseStatus } from "../../api/assembly/codec";

const NANOS_PER_MICRO: u64 = 1_000;
/** Ids of probes, for protocols paired by id: far from the small counters clients use. */
const FIRST_PROBE_ID: u64 = 0x7fff_ffff_0000_0000;

function newPendingCalls(pairing: Pairing, capacity: i32, stats: ProtocolStats): PendingCalls {
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
  private policy!: RequestPolicy;
  /** Requests answered locally whose probe's answer has not come back yet, and how many may be. */
  private localRepliesPending: i32 = 0;
  private maxLocalReplies: i32;
  private nextProbeId: u64 = FIRST_PROBE_ID;
  /** Set when the connection must close: the editors hand on nothing past their cut. */
  private closing: bool = false;
  /** Bytes Envoy holds for us while the downstream side is paused by a delay. */
  private pausedLength: u32 = 0;
  /** Spans and flow logs of this connection's calls; null when neither is configured (no per-call work). */
  private observer: CallObserver | null = null;
  /** Requests are held back until whole so trace context can be written into them. */
  private holdRequests: bool = false;

  constructor(contextId: u32, private codec: Codec, private config: FilterConfig, private stats: ProtocolStats, policyKey: string) {
    super(contextId);
    const state = codec.newConnectionState();
    this.state = state;
    this.downstream = new FrameReader(codec, Direction.Downstream, <i32>config.maxBufferedBytes, state, this);
    this.upstream = new FrameReader(codec, Direction.Upstream, <i32>config.maxBufferedBytes, state, this);
    const capacity = config.maxPendingCalls > 0 ? config.maxPendingCalls : defaultPendingCalls(codec.pairing());
    this.pending = newPendingCalls(codec.pairing(), capacity, stats);
    this.maxLocalReplies = capacity;
    this.policy = new RequestPolicy(policyKey, codec, stats);
    if (config.tracing != null || config.flowLogs != null) {
      this.observer = new CallObserver(config.tracing, config.flowLogs, codec, stats.protocol);
      this.holdRequests = config.tracing != null;
    }
  }

  /**
   * With connection routes, the filters after this one (tcp_proxy) wait for the first read: tcp_proxy
   * then starts on it, after this filter has set the cluster from the first request.
   */
  onNewConnection(): i32 {
    return this.policy.routesConnections() ? FilterStatus.Pause : FilterStatus.Continue;
  }

  onDownstreamData(length: u32, endOfStream: bool): i32 {
    this.readNanos = 0;
    this.policy.refresh();
    // While paused, Envoy presents the bytes it holds again, with what arrived since behind them.
    let front: u32 = 0;
    if (this.pausedLength > 0 && isHeld(this.contextId)) front = min(this.pausedLength, length);
    this.pausedLength = 0;
    // Under a policy, requests are held back until whole, so a refused one can still be dropped.
    const kept = this.read(this.downstream, this.downstreamEditor, BufferKind.Downstream, length, this.policy.chain != null || this.holdRequests, front);
    const releaseAt = this.policy.releaseAt;
    if (releaseAt != 0 && releaseAt > this.now()) {
      holdUntil(this.contextId, releaseAt);
      this.pausedLength = front + kept;
      return FilterStatus.Pause;
    }
    if (front > 0) forget(this.contextId); // its time came before the timer's
    return FilterStatus.Continue;
  }

  onUpstreamData(length: u32, endOfStream: bool): i32 {
    if (length > 0) this.policy.serverSpoke();
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
        // Without tracing, flow logs or a policy (the common case) nothing of them runs per call.
        let record: CallRecord | null = null;
        const observer = this.observer;
        if (observer != null) record = observer.onRequest(message, this.now(), this.policy.peerAddress(), false, this.state);
        if (this.policy.chain != null) {
          const verdict = this.policy.decide(message, this.now());
          if (verdict.kind == VerdictKind.Reply) {
            this.answerLocally(message, frameStart, verdict, stats, record);
            break;
          }
        }
        if (this.policy.chain != null || (record != null && record.injected != null)) {
          this.policy.mutate(message, frameStart, frameEnd(message, frameStart), this.downstreamEditor, this.state, record != null ? record.injected : null);
        }
        const evicted = this.pending.add(message.requestId, stats, this.now(), record);
        if (evicted != null) {
          evicted.countCall("no_response", "evicted");
          this.unanswered(this.pending.evictedRecord, "evicted");
        }
        break;
      }
      case MessageKind.Oneway: {
        const stats = this.stats.forCall(message.service, message.method);
        stats.addRequestBytes(message.frameLength);
        let record: CallRecord | null = null;
        const observer = this.observer;
        if (observer != null) record = observer.onRequest(message, this.now(), this.policy.peerAddress(), true, this.state);
        if (this.policy.chain != null) {
          const verdict = this.policy.decide(message, this.now());
          if (verdict.kind == VerdictKind.Reply && this.downstreamEditor.canEdit(frameStart)) {
            // The client expects no answer: the call is just not sent.
            this.downstreamEditor.replace(frameStart, frameEnd(message, frameStart), null);
            stats.countCall("no_response", localReplyReason(verdict.reply));
            if (record != null) record.localReply = localReplyReason(verdict.reply);
            this.unanswered(record, localReplyReason(verdict.reply));
            break;
          }
        }
        if (this.policy.chain != null || (record != null && record.injected != null)) {
          this.policy.mutate(message, frameStart, frameEnd(message, frameStart), this.downstreamEditor, this.state, record != null ? record.injected : null);
        }
        // No response will come: the call is complete once sent.
        stats.countCall("no_response", "oneway");
        this.unanswered(record, "oneway");
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
    const record = this.pending.takenRecord;
    stats.recordDurationMicros(now > start ? (now - start) / NANOS_PER_MICRO : 0);
    if (local == null) {
      stats.addResponseBytes(message.frameLength);
      stats.countCall(responseStatusLabel(message.status), message.code);
      if (record != null) this.observed(record, message.status, message.code, message.exception, message.frameLength);
      return;
    }
    this.localRepliesPending--;
    this.upstreamEditor.replace(frameStart, frameEnd(message, frameStart), local.reply.bytes);
    stats.addResponseBytes(<u32>local.reply.bytes.byteLength);
    stats.countCall(responseStatusLabel(local.reply.status), local.reply.code);
    this.stats.localReply(local.reason);
    if (record != null) {
      record.localReply = local.reason;
      this.observed(record, local.reply.status, local.reply.code, "", <u32>local.reply.bytes.byteLength);
    }
  }

  /** Ends an observed call that was answered. */
  private observed(record: CallRecord, status: ResponseStatus, code: string, exception: string, responseBytes: u32): void {
    record.answered = true;
    record.status = status;
    record.code = code;
    record.exception = exception;
    record.responseBytes = responseBytes;
    record.endNanos = this.now();
    this.observer!.finish(record);
  }

  /** Ends an observed call that gets no response (`why`: oneway, evicted, closed, a local reply's reason). */
  private unanswered(record: CallRecord | null, why: string): void {
    if (record == null) return;
    record.code = why;
    record.endNanos = this.now();
    this.observer!.finish(record);
  }

  /**
   * Sends the codec's probe in the request's place; its answer will be replaced by the codec's
   * error reply. Where that cannot be done, closes the connection rather than let client and
   * server disagree on what was asked.
   */
  private answerLocally(request: Message, frameStart: u64, verdict: Verdict, stats: CallStats, record: CallRecord | null): void {
    const reason = localReplyReason(verdict.reply);
    if (!this.downstreamEditor.canEdit(frameStart)) {
      this.closeForPolicy(frameStart, "request_already_forwarded", stats);
      this.unanswered(record, "closed");
      return;
    }
    if (this.localRepliesPending >= this.maxLocalReplies) {
      this.closeForPolicy(frameStart, "too_many_local_replies", stats);
      this.unanswered(record, "closed");
      return;
    }
    const reply = this.codec.encodeLocalReply(request, verdict.reply, verdict.text, this.state);
    const probeId = this.nextProbeId++;
    let probe: Uint8Array | null = null;
    if (reply != null) probe = this.codec.probeRequest(request, probeId, this.state);
    if (reply == null || probe == null) {
      this.closeForPolicy(frameStart, "no_probe", stats);
      this.unanswered(record, "closed");
      return;
    }
    this.downstreamEditor.replace(frameStart, frameEnd(request, frameStart), probe);
    this.pending.addLocalReply(probeId, new PendingLocalReply(stats, reply, reason), this.now(), record);
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
    this.readNanos = 0;
    forget(this.contextId);
    const left = this.pending.drain();
    for (let i = 0; i < left.length; i++) unchecked(left[i]).countCall("no_response", "closed");
    if (this.observer != null) {
      const records = this.pending.drainedRecords;
      for (let i = 0; i < records.length; i++) this.unanswered(unchecked(records[i]), "closed");
      records.length = 0;
    }
    this.stats.flush();
  }
}

/** Stream offset just past a decoded message's frame. */
function frameEnd(message: Message, frameStart: u64): u64 {
  return frameStart + <u64>message.frameLength;
}
