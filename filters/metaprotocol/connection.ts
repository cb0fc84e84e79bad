// One downstream connection: decodes both directions, pairs responses with requests and
// records per-call metrics. Bytes are never held back or changed (sidecar mode, no policy).
import { ConnectionFilter } from "../../api/assembly/filter";
import { Codec, Direction, Message, MessageKind } from "../../api/assembly/codec";
import {
  BufferKind, FilterStatus, LogLevel, borrowBufferBytes, closeDownstream, log, logEnabled, nowNanos,
} from "../../api/assembly/host";
import { DecodeErrorPolicy, FilterConfig } from "./config";
import { FrameReader, MessageSink } from "./frame_reader";
import { PendingCalls, newPendingCall, recyclePendingCall } from "./pending_calls";
import { ProtocolStats, responseStatusLabel } from "./stats";

const NANOS_PER_MILLI: u64 = 1_000_000;

export class MetaProtocolConnection extends ConnectionFilter implements MessageSink {
  private downstream!: FrameReader;
  private upstream!: FrameReader;
  private pending!: PendingCalls;

  constructor(contextId: u32, codec: Codec, private config: FilterConfig, private stats: ProtocolStats) {
    super(contextId);
    const state = codec.newConnectionState();
    this.downstream = new FrameReader(codec, Direction.Downstream, <i32>config.maxBufferedBytes, state, this);
    this.upstream = new FrameReader(codec, Direction.Upstream, <i32>config.maxBufferedBytes, state, this);
    this.pending = new PendingCalls(codec.pairing(), config.maxPendingCalls);
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
        const call = newPendingCall(message.requestId, this.stats.forCall(message.service, message.method), this.now());
        call.stats.addRequestBytes(message.frameLength);
        const evicted = this.pending.add(call);
        if (evicted != null) evicted.stats.countCall("no_response", "evicted");
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
        const call = this.pending.take(message.requestId);
        if (call == null) {
          this.stats.decodeError("upstream", "unmatched_response");
          break;
        }
        call.stats.addResponseBytes(message.frameLength);
        call.stats.countCall(responseStatusLabel(message.status), message.code);
        const now = this.now();
        call.stats.recordDurationMillis(now > call.startNanos ? (now - call.startNanos) / NANOS_PER_MILLI : 0);
        recyclePendingCall(call);
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
    for (let i = 0; i < left.length; i++) left[i].stats.countCall("no_response", "closed");
    this.stats.flush();
  }
}
