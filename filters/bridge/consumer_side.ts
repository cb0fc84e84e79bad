// The bridge facing a Dubbo consumer, in front of HCM: each Dubbo request becomes an HTTP/2 stream
// toward HCM (names as headers, the raw frame as the body); each HTTP response HCM writes back
// becomes the Dubbo reply, with the consumer's own request id.
import { ConnectionFilter } from "../metaprotocol/runtime/filter";
import { BufferKind, LogLevel, closeDownstream, getBufferBytes, log, logEnabled, setBufferBytes } from "../metaprotocol/runtime/host";
import { DecodeResult, Direction, DecodeStatus, MessageKind } from "../../api/assembly/codec";
import { DubboCodec } from "../../codecs/dubbo/dubbo_codec";
import { ByteQueue, ByteWriter } from "./byte_buffers";
import {
  DUBBO_HEADER_LENGTH, DubboStatus, FLAG_EVENT, FLAG_REQUEST, FLAG_TWO_WAY, SERIALIZATION_MASK, completeFrameLength,
  errorResponse, frameId, heartbeatResponse, isDubboFrame, setFrameId,
} from "./dubbo_frames";
import { H2Endpoint, H2Handler, writeClientPreface } from "./h2";
import { HeaderField } from "./hpack";
import { BridgeConfig } from "./config";

/** Header names the bridge sets; routes match on them (or on `:path` = /service/method). */
export const SERVICE_HEADER = "x-dubbo-service";
export const METHOD_HEADER = "x-dubbo-method";
export const VERSION_HEADER = "x-dubbo-version";
export const KIND_HEADER = "x-dubbo-kind";
/** Attachments become `x-dubbo-attachment-<key>` when key and value are valid in HTTP/2. */
export const ATTACHMENT_PREFIX = "x-dubbo-attachment-";
/** Headers beyond this many bytes are left out (HCM refuses requests over max_request_headers_kb, 60 KiB by default). */
const MAX_ATTACHMENT_HEADER_BYTES: i32 = 8 * 1024;
/** HTTP/2 client stream ids are odd and below 2^31. */
const LAST_STREAM_ID: u32 = 0x7fffffff;

/** One request sent as a stream, waiting for its response. */
class PendingCall {
  status: string = "";
  readonly body: ByteWriter = new ByteWriter();
  constructor(public consumerId: u64, public serialization: u8, public twoWay: bool, public heartbeat: bool) {}
}

const codec = new DubboCodec();

export class ConsumerSide extends ConnectionFilter {
  private readonly fromConsumer: ByteQueue = new ByteQueue();
  private readonly h2: H2Endpoint;
  private readonly calls: Map<u32, PendingCall> = new Map();
  private nextStreamId: u32 = 1;
  private prefaceSent: bool = false;
  /** Dubbo bytes for the consumer, produced while HCM's writes are parsed. */
  private readonly toConsumer: ByteWriter = new ByteWriter();
  private streamsOpened: i32 = 0;
  private repliesSent: i32 = 0;
  private localErrors: i32 = 0;

  constructor(contextId: u32, private config: BridgeConfig) {
    super(contextId);
    this.h2 = new H2Endpoint(config.headerTableSize);
    this.h2.handler = new ConsumerSideHandler(this);
    codec.attributesWanted = true;
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
      const frameLength = completeFrameLength(this.fromConsumer, this.config.maxFrameBytes);
      if (frameLength == 0) break;
      if (frameLength < 0) {
        log(LogLevel.Warn, "bridge consumer side: bytes that are not Dubbo; closing");
        closeDownstream();
        return 0;
      }
      const frame = this.fromConsumer.copy(0, frameLength);
      this.fromConsumer.consume(frameLength);
      this.sendRequest(frame, out);
    }
    setBufferBytes(BufferKind.Downstream, 0, length, out.take());
    return 0;
  }

  private sendRequest(frame: Uint8Array, out: ByteWriter): void {
    const flags = frame[2];
    if ((flags & FLAG_REQUEST) == 0) {
      // A consumer's answer to a provider's heartbeat: the provider side answers those itself.
      return;
    }
    if (this.nextStreamId > LAST_STREAM_ID) {
      log(LogLevel.Error, "bridge consumer side: stream ids exhausted on this connection");
      return;
    }
    const streamId = this.nextStreamId;
    this.nextStreamId += 2;
    const twoWay = (flags & FLAG_TWO_WAY) != 0;
    const event = (flags & FLAG_EVENT) != 0;
    const fields = new Array<HeaderField>();
    let service = "";
    let method = "";
    let kind = event ? "event" : twoWay ? "request" : "oneway";
    let path = "";
    const decoded: DecodeResult | null = event ? null : codec.decode(Direction.Downstream, frame, false, null);
    if (decoded != null && decoded.status == DecodeStatus.Done && decoded.message != null) {
      const message = decoded.message!;
      service = message.service;
      method = message.method;
      if (message.kind == MessageKind.Heartbeat) kind = "heartbeat";
      fields.push(new HeaderField(":method", "POST"));
      fields.push(new HeaderField(":scheme", "http"));
      path = "/" + service + "/" + method;
      fields.push(new HeaderField(":path", path));
      fields.push(new HeaderField(":authority", service.length > 0 ? service : "dubbo"));
      fields.push(new HeaderField("content-type", "application/x-dubbo"));
      fields.push(new HeaderField(SERVICE_HEADER, service));
      fields.push(new HeaderField(METHOD_HEADER, method));
      if (message.version.length > 0) fields.push(new HeaderField(VERSION_HEADER, message.version));
      let attachmentBytes = 0;
      const attributes = message.attributes;
      for (let i = 0; i < attributes.length; i++) {
        const key = attributes[i].key.toLowerCase();
        const value = attributes[i].value;
        if (!isHeaderToken(key) || !isHeaderValue(value)) continue;
        attachmentBytes += key.length + value.length + ATTACHMENT_PREFIX.length;
        if (attachmentBytes > MAX_ATTACHMENT_HEADER_BYTES) break;
        fields.push(new HeaderField(ATTACHMENT_PREFIX + key, value));
      }
    } else {
      // Events (heartbeats) and frames the codec cannot name still go through, on their own path.
      fields.push(new HeaderField(":method", "POST"));
      fields.push(new HeaderField(":scheme", "http"));
      path = "/_dubbo/" + (event ? "heartbeat" : "undecoded");
      fields.push(new HeaderField(":path", path));
      fields.push(new HeaderField(":authority", "dubbo"));
      fields.push(new HeaderField("content-type", "application/x-dubbo"));
    }
    if (event) kind = "heartbeat";
    fields.push(new HeaderField(KIND_HEADER, kind));
    this.calls.set(streamId, new PendingCall(frameId(frame), flags & SERIALIZATION_MASK, twoWay, event));
    this.h2.writeHeaders(out, streamId, fields, false);
    this.h2.writeData(out, streamId, frame, true);
    this.streamsOpened++;
    if (logEnabled(LogLevel.Debug)) {
      log(LogLevel.Debug, "bridge consumer side: dubbo id " + frameId(frame).toString() + " -> stream " + streamId.toString() + " " + kind + " " + path);
    }
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
    const call = this.calls.get(streamId);
    for (let i = 0; i < fields.length; i++) if (fields[i].name == ":status" && call.status.length == 0) call.status = fields[i].value;
    if (endStream) this.complete(streamId, call);
  }

  onData(streamId: u32, data: Uint8Array, endStream: bool): void {
    if (!this.calls.has(streamId)) return;
    const call = this.calls.get(streamId);
    if (call.body.length + data.length <= this.config.maxFrameBytes) call.body.bytes(data);
    if (endStream) this.complete(streamId, call);
  }

  onReset(streamId: u32, code: u32): void {
    if (!this.calls.has(streamId)) return;
    const call = this.calls.get(streamId);
    call.status = "reset:" + code.toString();
    this.complete(streamId, call);
  }

  onGoAway(lastStreamId: u32, code: u32): void {
    log(LogLevel.Info, "bridge consumer side: GOAWAY from HCM, last stream " + lastStreamId.toString() + ", code " + code.toString());
  }

  /** The stream ended: the consumer gets the provider's reply, or an error reply in its place. */
  private complete(streamId: u32, call: PendingCall): void {
    this.calls.delete(streamId);
    if (!call.twoWay) return; // oneway: the consumer expects nothing
    const body = call.body.take();
    if (call.status == "200" && isDubboFrame(body)) {
      setFrameId(body, call.consumerId);
      this.toConsumer.bytes(body);
      this.repliesSent++;
      return;
    }
    this.localErrors++;
    if (call.heartbeat) {
      // The consumer's keep-alive must not fail because no provider answered it.
      this.toConsumer.bytes(heartbeatResponse(call.consumerId, call.serialization));
      return;
    }
    const detail = body.length > 0 && !isDubboFrame(body) ? ": " + String.UTF8.decode(body.buffer) : "";
    const text = (call.status == "403" ? "denied by MetaProto router" : "MetaProto router") + " (HTTP " + call.status + ")" + detail;
    this.toConsumer.bytes(errorResponse(call.consumerId, call.serialization, dubboStatusFor(call.status), text));
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

/** HCM's local replies (and resets) as the Dubbo status a consumer understands. */
export function dubboStatusFor(httpStatus: string): DubboStatus {
  if (httpStatus == "504") return DubboStatus.ServerTimeout;
  if (httpStatus == "429") return DubboStatus.ThreadPoolExhausted;
  if (httpStatus == "403") return DubboStatus.BadRequest;
  if (httpStatus == "404") return DubboStatus.ServiceNotFound;
  return DubboStatus.ServerError;
}

export function describe(fields: Array<HeaderField>): string {
  let text = "";
  for (let i = 0; i < fields.length; i++) text += (i > 0 ? ", " : "") + fields[i].name + ": " + fields[i].value;
  return text;
}

/** HTTP/2 header names: lowercase token characters only. */
function isHeaderToken(name: string): bool {
  if (name.length == 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f || c == 0x2e;
    if (!ok) return false;
  }
  return true;
}

/** Visible ASCII and spaces, no leading or trailing space: what Envoy accepts unchanged. */
function isHeaderValue(value: string): bool {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return value.length == 0 || (value.charCodeAt(0) != 0x20 && value.charCodeAt(value.length - 1) != 0x20);
}
