// The bridge facing a consumer, in front of HCM: each request becomes an HTTP/2 stream toward
// HCM (names as headers, the raw frame as the body); each HTTP response HCM writes back becomes
// the consumer's reply (the protocol's ConsumerProtocol says how, protocol.ts).
import { ConnectionFilter } from "../metaprotocol/runtime/filter";
import { BufferKind, LogLevel, closeDownstream, getBufferBytes, log, logEnabled, setBufferBytes } from "../metaprotocol/runtime/host";
import { ByteQueue, ByteWriter } from "./byte_buffers";
import { H2Endpoint, H2Handler, writeClientPreface } from "./h2";
import { HeaderField } from "./hpack";
import { BridgeConfig } from "./config";
import { ConsumerCall, ConsumerProtocol, describe } from "./protocol";

/** HTTP/2 client stream ids are odd and below 2^31. */
const LAST_STREAM_ID: u32 = 0x7fffffff;

/** One request sent as a stream, waiting for its response. */
class PendingCall {
  status: string = "";
  readonly body: ByteWriter = new ByteWriter();
  /** The consumer's reply once the stream ended (in-order protocols hold it until the calls before it are answered). */
  reply: Uint8Array | null = null;
  constructor(public call: ConsumerCall) {}
}

export class ConsumerSide extends ConnectionFilter {
  private readonly fromConsumer: ByteQueue = new ByteQueue();
  private readonly h2: H2Endpoint;
  private readonly calls: Map<u32, PendingCall> = new Map();
  /** Two-way calls not yet answered to the consumer, in request order (in-order protocols only). */
  private readonly replyOrder: Array<PendingCall> = [];
  private nextStreamId: u32 = 1;
  private prefaceSent: bool = false;
  /** Bytes for the consumer, produced while HCM's writes are parsed. */
  private readonly toConsumer: ByteWriter = new ByteWriter();
  private streamsOpened: i32 = 0;
  private repliesSent: i32 = 0;
  private localErrors: i32 = 0;

  constructor(contextId: u32, private config: BridgeConfig, private protocol: ConsumerProtocol) {
    super(contextId);
    this.h2 = new H2Endpoint(config.headerTableSize);
    this.h2.handler = new ConsumerSideHandler(this);
  }

  onDownstreamData(length: u32, endOfStream: bool): i32 {
    const bytes = getBufferBytes(BufferKind.Downstream, 0, length);
    if (bytes != null) this.fromConsumer.append(bytes);
    const out = new ByteWriter();
    if (!this.prefaceSent) {
      writeClientPreface(out);
      this.h2.writeSettings(out, true);
      this.prefaceSent = true;
    }
    this.h2.flushOwed(out);
    for (;;) {
      const frameLength = this.protocol.frameLength(this.fromConsumer, this.config.maxFrameBytes);
      if (frameLength == 0) break;
      if (frameLength < 0) return this.close("bytes that are not the consumer's protocol");
      const frame = this.fromConsumer.copy(0, frameLength);
      this.fromConsumer.consume(frameLength);
      const call = this.protocol.call(frame);
      if (call == null) {
        if (this.protocol.failure.length > 0) return this.close(this.protocol.failure);
        continue; // not a request (a consumer's answer to a provider's heartbeat): nothing to route
      }
      this.sendRequest(call, frame, out);
    }
    setBufferBytes(BufferKind.Downstream, 0, length, out.take());
    return 0;
  }

  private close(why: string): i32 {
    log(LogLevel.Warn, "bridge consumer side: " + why + "; closing");
    closeDownstream();
    return 0;
  }

  private sendRequest(call: ConsumerCall, frame: Uint8Array, out: ByteWriter): void {
    if (this.nextStreamId > LAST_STREAM_ID) {
      log(LogLevel.Error, "bridge consumer side: stream ids exhausted on this connection");
      return;
    }
    const streamId = this.nextStreamId;
    this.nextStreamId += 2;
    const pending = new PendingCall(call);
    this.calls.set(streamId, pending);
    if (call.twoWay && this.protocol.repliesInOrder()) this.replyOrder.push(pending);
    this.h2.writeHeaders(out, streamId, call.headers, false);
    this.h2.writeData(out, streamId, frame, true);
    this.streamsOpened++;
    if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "bridge consumer side: " + call.label + " -> stream " + streamId.toString());
  }

  onUpstreamData(length: u32, endOfStream: bool): i32 {
    const bytes = getBufferBytes(BufferKind.Upstream, 0, length);
    if (bytes != null) this.h2.receive(bytes);
    if (this.h2.error.length > 0) {
      log(LogLevel.Error, "bridge consumer side: HTTP/2 from HCM: " + this.h2.error);
      closeDownstream();
      return 0;
    }
    setBufferBytes(BufferKind.Upstream, 0, length, this.toConsumer.take());
    return 0;
  }

  onHeaders(streamId: u32, fields: Array<HeaderField>, endStream: bool): void {
    if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "bridge consumer side: stream " + streamId.toString() + " headers " + describe(fields));
    if (!this.calls.has(streamId)) return;
    const pending = this.calls.get(streamId);
    for (let i = 0; i < fields.length; i++) if (fields[i].name == ":status" && pending.status.length == 0) pending.status = fields[i].value;
    if (endStream) this.complete(streamId, pending);
  }

  onData(streamId: u32, data: Uint8Array, endStream: bool): void {
    if (!this.calls.has(streamId)) return;
    const pending = this.calls.get(streamId);
    if (pending.body.length + data.length <= this.config.maxFrameBytes) pending.body.bytes(data);
    if (endStream) this.complete(streamId, pending);
  }

  onReset(streamId: u32, code: u32): void {
    if (!this.calls.has(streamId)) return;
    const pending = this.calls.get(streamId);
    pending.status = "reset:" + code.toString();
    this.complete(streamId, pending);
  }

  onGoAway(lastStreamId: u32, code: u32): void {
    log(LogLevel.Info, "bridge consumer side: GOAWAY from HCM, last stream " + lastStreamId.toString() + ", code " + code.toString());
  }

  /** The stream ended: the consumer gets the provider's reply, or an error reply in its place. */
  private complete(streamId: u32, pending: PendingCall): void {
    this.calls.delete(streamId);
    if (!pending.call.twoWay) return; // oneway: the consumer expects nothing
    const body = pending.body.take();
    let reply = pending.status == "200" ? this.protocol.reply(pending.call, body) : null;
    if (reply != null) {
      this.repliesSent++;
    } else {
      this.localErrors++;
      const detail = body.length > 0 && pending.status != "200" ? String.UTF8.decode(body.buffer) : "";
      reply = this.protocol.errorReply(pending.call, pending.status, detail);
    }
    if (!this.protocol.repliesInOrder()) {
      if (reply != null) this.toConsumer.bytes(reply);
      return;
    }
    pending.reply = reply != null ? reply : new Uint8Array(0);
    while (this.replyOrder.length > 0 && this.replyOrder[0].reply != null) this.toConsumer.bytes(this.replyOrder.shift().reply!);
  }

  onDone(): void {
    log(LogLevel.Info, "bridge consumer side: connection done: streams=" + this.streamsOpened.toString() + " replies=" +
      this.repliesSent.toString() + " error_replies=" + this.localErrors.toString() + " unanswered=" + this.calls.size.toString() +
      " send_window_overruns=" + this.h2.sendWindowOverruns.toString() + " hpack " + this.h2.hpackStats);
  }
}

class ConsumerSideHandler extends H2Handler {
  constructor(private side: ConsumerSide) { super(); }
  onHeaders(streamId: u32, fields: Array<HeaderField>, endStream: bool): void { this.side.onHeaders(streamId, fields, endStream); }
  onData(streamId: u32, data: Uint8Array, endStream: bool): void { this.side.onData(streamId, data, endStream); }
  onReset(streamId: u32, code: u32): void { this.side.onReset(streamId, code); }
  onGoAway(lastStreamId: u32, code: u32): void { this.side.onGoAway(lastStreamId, code); }
}
