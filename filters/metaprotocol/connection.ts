// One downstream connection: decodes both directions, pairs responses with requests and
// records per-call metrics. Bytes are never held back or changed (sidecar mode, no policy).
import { ConnectionFilter } from "../../api/assembly/filter";
import { Codec, Direction, Message, MessageKind, Pairing } from "../../api/assembly/codec";
import {
  BufferKind, FilterStatus, LogLevel, borrowBufferBytes, closeDownstream, log, logEnabled, nowNanos,
} from "../../api/assembly/host";
import { DecodeErrorPolicy, FilterConfig } from "./config";
import { FrameReader, MessageSink } from "./frame_reader";
import { PendingById } from "./pending_by_id";
import { PendingCalls, defaultPendingCalls } from "./pending_calls";
import { PendingInOrder } from "./pending_in_order";
import { ProtocolStats, responseStatusLabel } from "./stats";

const NANOS_PER_MICRO: u64 = 1_000;

function newPendingCalls(pairing: Pairing, configured: i32, stats: ProtocolStats): PendingCalls {
  const capacity = configured > 0 ? configured : defaultPendingCalls(pairing);
  if (pairing == Pairing.ById) return new PendingById(capacity);
  return new PendingInOrder(capacity, stats);
}

export class MetaProtocolConnection extends ConnectionFilter implements MessageSink {
  private downstream!: FrameReader;
  private upstream!: FrameReader;
  private pending!: PendingCalls;

  constructor(contextId: u32, codec: Codec, private config: FilterConfig, private stats: ProtocolStats) {
    super(contextId);
    const state = codec.newConnectionState();
    this.downstream = new FrameReader(codec, Direction.Downstream, <i32>config.maxBufferedBytes, state, this);
    this.upstream = new FrameReader(codec, Direction.Upstream, <i32>config.maxBufferedBytes, state, this);
    this.pending = newPendingCalls(codec.pairing(), config.maxPendingCalls, stats);
  }

  onDownstreamData(length: u32, endOfStream: bool): i32 {
    this.read(this.downstream, BufferKind.Downstream, length);
    return FilterStatus.Continue;
  }

  onUpstreamData(length: u32, endOfStream: bool): i32 {
    this.read(this.upstream, BufferKind.Upstream, length);
    return FilterStatus.Continue;
  }

  private read(reader: FrameReader, kind: BufferKind, length: u32): void {
    if (reader.stopped || length == 0) return;
    // FrameReader copies whatever it keeps past this call, so a borrowed view is enough.
    const bytes = borrowBufferBytes(kind, 0, length);
    this.readNanos = 0;
    if (bytes != null) reader.feed(bytes);
    this.stats.flush();
  }

  // Every message of one read arrived at the same moment: the clock is asked once per read.
  private readNanos: u64 = 0;

  private now(): u64 {
    if (this.readNanos == 0) this.readNanos = nowNanos();
    return this.readNanos;
  }

  onMessage(direction: Direction, message: Message): void {
    if (logEnabled(LogLevel.Debug)) {
      log(LogLevel.Debug, "metaproto " + this.stats.protocol + ": decoded " +
        (direction == Direction.Downstream ? "downstream " : "upstream ") + message.toJson());
    }
    switch (message.kind) {
      case MessageKind.Request: {
        const stats = this.stats.forCall(message.service, message.method);
        stats.addRequestBytes(message.frameLength);
        const evicted = this.pending.add(message.requestId, stats, this.now());
        if (evicted != null) evicted.countCall("no_response", "evicted");
        break;
      }
      case MessageKind.Oneway: {
        const stats = this.stats.forCall(message.service, message.method);
        stats.addRequestBytes(message.frameLength);
        // No response will come: the call is complete once sent.
        stats.countCall("no_response", "oneway");
        break;
      }
      case MessageKind.Response: {
        if (!this.pending.take(message.requestId)) {
          this.stats.decodeError("upstream", "unmatched_response");
          break;
        }
        const stats = this.pending.takenStats!;
        const start = this.pending.takenStartNanos;
        stats.addResponseBytes(message.frameLength);
        stats.countCall(responseStatusLabel(message.status), message.code);
        const now = this.now();
        stats.recordDurationMicros(now > start ? (now - start) / NANOS_PER_MICRO : 0);
        break;
      }
      default:
        // Heartbeats, events and stream frames are not calls.
        break;
    }
  }

  onDecodeError(direction: Direction, reason: string): void {
    this.stats.decodeError(direction == Direction.Downstream ? "downstream" : "upstream", reason);
    if (this.config.onDecodeError == DecodeErrorPolicy.Close) {
      closeDownstream();
      return;
    }
    this.stopDecoding();
  }

  onPassThrough(direction: Direction, reason: string): void {
    this.stats.passThrough(reason);
    this.stopDecoding();
  }

  /** One direction we cannot follow makes pairing meaningless: stop both. */
  private stopDecoding(): void {
    this.downstream.release();
    this.upstream.release();
  }

  onDone(): void {
    const left = this.pending.drain();
    for (let i = 0; i < left.length; i++) unchecked(left[i]).countCall("no_response", "closed");
    this.stats.flush();
  }
}
