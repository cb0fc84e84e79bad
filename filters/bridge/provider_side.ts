// The bridge facing a provider, on an internal listener in front of tcp_proxy: Envoy's router (an
// HTTP/2 client) sends streams whose body is a request; each becomes the frame again, its id
// replaced by the stream id (streams of many consumers share this provider connection, their ids
// may collide), and each response goes back on its stream (protocol.ts: ProviderProtocol).
//
// A network filter can only write toward Envoy while the provider's bytes pass. So whenever the
// bridge owes Envoy something the provider will not answer (our SETTINGS at connection start,
// the end of a oneway stream), it sends the provider a probe (Dubbo: a heartbeat; Thrift: a call
// of a method nobody defines), whose answer opens that chance.
import { ConnectionFilter } from "../metaprotocol/runtime/filter";
import { BufferKind, LogLevel, closeDownstream, getBufferBytes, log, logEnabled, setBufferBytes } from "../metaprotocol/runtime/host";
import { ByteQueue, ByteWriter } from "./byte_buffers";
import { CLIENT_PREFACE, CLIENT_PREFACE_LENGTH, ErrorCode, H2Endpoint, H2Handler, writeRstStream } from "./h2";
import { HeaderField } from "./hpack";
import { BridgeConfig } from "./config";
import { ProviderCall, ProviderFrameKind, ProviderProtocol, describe } from "./protocol";

/** Probe ids are even and below 2^31, so they never meet a stream id (odd) in any protocol's id field. */
const PROBE_ID_MASK: u32 = 0x7ffffffe;

class IncomingStream {
  readonly body: ByteWriter = new ByteWriter();
}

export class ProviderSide extends ConnectionFilter {
  private prefaceSeen: i32 = 0;
  private readonly h2: H2Endpoint;
  private readonly streams: Map<u32, IncomingStream> = new Map();
  /** Requests forwarded to the provider whose response will come, by stream id. */
  private readonly awaiting: Map<u32, ProviderCall> = new Map();
  /** Oneway streams forwarded: Envoy gets their (empty) 200 at the next chance. */
  private readonly onewaysToEnd: Array<u32> = [];
  /** Probe ids the bridge sent itself. */
  private readonly probes: Set<u64> = new Set();
  private nextProbeId: u32 = 2;
  private settingsSent: bool = false;
  private readonly toProvider: ByteWriter = new ByteWriter();
  /** Answers to the provider's own requests (heartbeats), sent with the next bytes toward it. */
  private readonly owedToProvider: ByteWriter = new ByteWriter();
  private readonly fromProvider: ByteQueue = new ByteQueue();
  /** Frames for Envoy that wait for the next write. */
  private readonly h2Owed: ByteWriter = new ByteWriter();
  private requests: i32 = 0;
  private responses: i32 = 0;
  private probesSent: i32 = 0;

  constructor(contextId: u32, private config: BridgeConfig, private protocol: ProviderProtocol) {
    super(contextId);
    this.h2 = new H2Endpoint(config.headerTableSize);
    this.h2.handler = new ProviderSideHandler(this);
  }

  onDownstreamData(length: u32, endOfStream: bool): i32 {
    let bytes = getBufferBytes(BufferKind.Downstream, 0, length);
    if (bytes == null) bytes = new Uint8Array(0);
    let at = 0;
    while (this.prefaceSeen < CLIENT_PREFACE_LENGTH && at < bytes.length) {
      if (bytes[at] != <u8>CLIENT_PREFACE.charCodeAt(this.prefaceSeen)) {
        log(LogLevel.Error, "bridge provider side: no HTTP/2 client preface; closing");
        closeDownstream();
        return 0;
      }
      at++;
      this.prefaceSeen++;
      if (this.prefaceSeen == CLIENT_PREFACE_LENGTH && this.protocol.probesAtStart()) this.probe(null);
    }
    if (at < bytes.length) this.h2.receive(bytes.subarray(at));
    if (this.h2.error.length > 0) {
      log(LogLevel.Error, "bridge provider side: HTTP/2 from the router: " + this.h2.error);
      closeDownstream();
      return 0;
    }
    const out = new ByteWriter();
    if (this.owedToProvider.length > 0) out.bytes(this.owedToProvider.take());
    if (this.toProvider.length > 0) out.bytes(this.toProvider.take());
    setBufferBytes(BufferKind.Downstream, 0, length, out.take());
    return 0;
  }

  /** A request toward the provider whose answer gives the bridge a write toward Envoy. */
  private probe(after: ProviderCall | null): void {
    const id = this.nextProbeId;
    const probe = this.protocol.probe(id, after);
    if (probe == null) return;
    this.nextProbeId = (id + 2) & PROBE_ID_MASK;
    if (this.nextProbeId == 0) this.nextProbeId = 2;
    this.probes.add(<u64>id);
    this.toProvider.bytes(probe);
    this.probesSent++;
  }

  onHeaders(streamId: u32, fields: Array<HeaderField>, endStream: bool): void {
    if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "bridge provider side: stream " + streamId.toString() + " headers " + describe(fields));
    if (!this.streams.has(streamId)) this.streams.set(streamId, new IncomingStream());
    if (endStream) this.forward(streamId);
  }

  onData(streamId: u32, data: Uint8Array, endStream: bool): void {
    if (!this.streams.has(streamId)) return;
    const stream = this.streams.get(streamId);
    if (stream.body.length + data.length <= this.config.maxFrameBytes) stream.body.bytes(data);
    if (endStream) this.forward(streamId);
  }

  onReset(streamId: u32, code: u32): void {
    // The router gave up on the stream (timeout, client gone): a late response is dropped.
    this.streams.delete(streamId);
    this.awaiting.delete(streamId);
  }

  private forward(streamId: u32): void {
    const stream = this.streams.get(streamId);
    this.streams.delete(streamId);
    const call = this.protocol.forward(stream.body.take(), streamId);
    if (call == null) {
      log(LogLevel.Warn, "bridge provider side: stream " + streamId.toString() + " carries no " + this.protocol.name() + " request; refused");
      writeRstStream(this.h2Owed, streamId, ErrorCode.ProtocolError);
      return;
    }
    this.toProvider.bytes(call.frame);
    this.requests++;
    if (call.twoWay) {
      this.awaiting.set(streamId, call);
      return;
    }
    this.onewaysToEnd.push(streamId);
    this.probe(call);
  }

  onUpstreamData(length: u32, endOfStream: bool): i32 {
    const bytes = getBufferBytes(BufferKind.Upstream, 0, length);
    if (bytes != null) this.fromProvider.append(bytes);
    const out = new ByteWriter();
    if (!this.settingsSent) {
      this.h2.writeSettings(out, false);
      this.settingsSent = true;
    }
    this.h2.flushOwed(out);
    if (this.h2Owed.length > 0) out.bytes(this.h2Owed.take());
    for (let i = 0; i < this.onewaysToEnd.length; i++) {
      const fields = new Array<HeaderField>();
      fields.push(new HeaderField(":status", "200"));
      fields.push(new HeaderField("x-" + this.protocol.name() + "-kind", "oneway"));
      this.h2.writeHeaders(out, this.onewaysToEnd[i], fields, true);
    }
    this.onewaysToEnd.length = 0;
    for (;;) {
      const frameLength = this.protocol.frameLength(this.fromProvider, this.config.maxFrameBytes);
      if (frameLength == 0) break;
      if (frameLength < 0) {
        log(LogLevel.Error, "bridge provider side: the provider sent bytes that are not " + this.protocol.name() + "; closing");
        closeDownstream();
        return 0;
      }
      const frame = this.fromProvider.copy(0, frameLength);
      this.fromProvider.consume(frameLength);
      this.onProviderFrame(frame, out);
    }
    setBufferBytes(BufferKind.Upstream, 0, length, out.take());
    return 0;
  }

  private onProviderFrame(frame: Uint8Array, out: ByteWriter): void {
    const seen = this.protocol.inspect(frame);
    if (seen.kind == ProviderFrameKind.OwnRequest) {
      // The provider's own heartbeat: answered with the next bytes toward it.
      const answer = seen.answer;
      if (answer != null) this.owedToProvider.bytes(answer);
      return;
    }
    if (seen.kind != ProviderFrameKind.Response) return;
    const id = seen.id;
    if (this.probes.has(id)) {
      this.probes.delete(id);
      return;
    }
    if (id > 0x7fffffff || !this.awaiting.has(<u32>id)) return; // its stream was reset
    const streamId = <u32>id;
    const call = this.awaiting.get(streamId);
    this.awaiting.delete(streamId);
    const fields = new Array<HeaderField>();
    fields.push(new HeaderField(":status", "200"));
    const extra = this.protocol.responseHeaders(frame);
    for (let i = 0; i < extra.length; i++) fields.push(extra[i]);
    this.h2.writeHeaders(out, streamId, fields, false);
    this.h2.writeData(out, streamId, this.protocol.response(frame, call), true);
    this.responses++;
  }

  onDone(): void {
    log(LogLevel.Info, "bridge provider side: connection done: requests=" + this.requests.toString() + " responses=" +
      this.responses.toString() + " probes=" + this.probesSent.toString() + " unanswered=" + this.awaiting.size.toString() +
      " hpack " + this.h2.hpackStats);
  }
}

class ProviderSideHandler extends H2Handler {
  constructor(private side: ProviderSide) { super(); }
  onHeaders(streamId: u32, fields: Array<HeaderField>, endStream: bool): void { this.side.onHeaders(streamId, fields, endStream); }
  onData(streamId: u32, data: Uint8Array, endStream: bool): void { this.side.onData(streamId, data, endStream); }
  onReset(streamId: u32, code: u32): void { this.side.onReset(streamId, code); }
}
