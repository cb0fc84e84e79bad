// Dubbo's halves of the bridge (../protocol.ts). A request becomes a stream on
// `/<service>/<method>` with `x-dubbo-*` headers (events on `/_dubbo/heartbeat`); the consumer's
// id is kept by stream and written back into the reply, so replies go back as they come. Toward
// the provider the id is the stream id (odd); the bridge's heartbeats take even ids.
import { DecodeResult, DecodeStatus, Direction, MessageKind } from "../../../api/assembly/codec";
import { DubboCodec } from "../../../codecs/dubbo/dubbo_codec";
import { ByteQueue } from "../byte_buffers";
import { HeaderField } from "../hpack";
import {
  ConsumerCall, ConsumerProtocol, ProviderCall, ProviderFrame, ProviderFrameKind, ProviderProtocol, pushAttributeHeaders, pushRequestStart,
} from "../protocol";
import {
  DubboStatus, FLAG_EVENT, FLAG_REQUEST, FLAG_TWO_WAY, SERIALIZATION_MASK, completeFrameLength, errorResponse, frameId,
  heartbeatRequest, heartbeatResponse, isDubboFrame, setFrameId,
} from "./dubbo_frames";

/** Header names the bridge sets; routes match on them (or on `:path` = /service/method). */
export const SERVICE_HEADER = "x-dubbo-service";
export const METHOD_HEADER = "x-dubbo-method";
export const VERSION_HEADER = "x-dubbo-version";
export const KIND_HEADER = "x-dubbo-kind";
/** Attachments become `x-dubbo-attachment-<key>` when key and value are valid in HTTP/2. */
export const ATTACHMENT_PREFIX = "x-dubbo-attachment-";
const CONTENT_TYPE = "application/x-dubbo";
const HESSIAN2: u8 = 2;

const codec = new DubboCodec();

class DubboCall extends ConsumerCall {
  constructor(public consumerId: u64, public serialization: u8, public heartbeat: bool) { super(); }
}

export class DubboConsumer extends ConsumerProtocol {
  constructor() {
    super();
    codec.attributesWanted = true;
  }

  frameLength(queue: ByteQueue, maxFrameBytes: i32): i32 { return completeFrameLength(queue, maxFrameBytes); }

  call(frame: Uint8Array): ConsumerCall | null {
    const flags = frame[2];
    // A consumer's answer to a provider's heartbeat: the provider side answers those itself.
    if ((flags & FLAG_REQUEST) == 0) return null;
    const event = (flags & FLAG_EVENT) != 0;
    const call = new DubboCall(frameId(frame), flags & SERIALIZATION_MASK, event);
    call.twoWay = (flags & FLAG_TWO_WAY) != 0;
    const fields = call.headers;
    let kind = event ? "heartbeat" : call.twoWay ? "request" : "oneway";
    let path = "";
    const decoded: DecodeResult | null = event ? null : codec.decode(Direction.Downstream, frame, false, null);
    if (decoded != null && decoded.status == DecodeStatus.Done && decoded.message != null) {
      const message = decoded.message!;
      const service = message.service;
      if (message.kind == MessageKind.Heartbeat) kind = "heartbeat";
      path = "/" + service + "/" + message.method;
      pushRequestStart(fields, path, service.length > 0 ? service : "dubbo", CONTENT_TYPE);
      fields.push(new HeaderField(SERVICE_HEADER, service));
      fields.push(new HeaderField(METHOD_HEADER, message.method));
      if (message.version.length > 0) fields.push(new HeaderField(VERSION_HEADER, message.version));
      const keys = new Array<string>();
      const values = new Array<string>();
      for (let i = 0; i < message.attributes.length; i++) {
        keys.push(message.attributes[i].key);
        values.push(message.attributes[i].value);
      }
      pushAttributeHeaders(fields, ATTACHMENT_PREFIX, keys, values);
    } else {
      // Events (heartbeats) and frames the codec cannot name still go through, on their own path.
      path = "/_dubbo/" + (event ? "heartbeat" : "undecoded");
      pushRequestStart(fields, path, "dubbo", CONTENT_TYPE);
    }
    fields.push(new HeaderField(KIND_HEADER, kind));
    call.label = "dubbo id " + call.consumerId.toString() + " " + kind + " " + path;
    return call;
  }

  reply(call: ConsumerCall, body: Uint8Array): Uint8Array | null {
    if (!isDubboFrame(body)) return null;
    setFrameId(body, (<DubboCall>call).consumerId);
    return body;
  }

  errorReply(call: ConsumerCall, status: string, detail: string): Uint8Array | null {
    const dubbo = <DubboCall>call;
    // The consumer's keep-alive must not fail because no provider answered it.
    if (dubbo.heartbeat) return heartbeatResponse(dubbo.consumerId, dubbo.serialization);
    const text = (status == "403" ? "denied by MetaProto router" : "MetaProto router") + " (HTTP " + status + ")" + (detail.length > 0 ? ": " + detail : "");
    return errorResponse(dubbo.consumerId, dubbo.serialization, dubboStatusFor(status), text);
  }
}

/** HCM's local replies (and resets) as the Dubbo status a consumer understands. */
export function dubboStatusFor(httpStatus: string): DubboStatus {
  if (httpStatus == "504") return DubboStatus.ServerTimeout;
  if (httpStatus == "429") return DubboStatus.ThreadPoolExhausted;
  if (httpStatus == "403") return DubboStatus.BadRequest;
  if (httpStatus == "404") return DubboStatus.ServiceNotFound;
  return DubboStatus.ServerError;
}

export class DubboProvider extends ProviderProtocol {
  name(): string { return "dubbo"; }

  /** A heartbeat right away: its answer carries our SETTINGS to the router. */
  probesAtStart(): bool { return true; }

  frameLength(queue: ByteQueue, maxFrameBytes: i32): i32 { return completeFrameLength(queue, maxFrameBytes); }

  forward(body: Uint8Array, streamId: u32): ProviderCall | null {
    if (!isDubboFrame(body) || (body[2] & FLAG_REQUEST) == 0) return null;
    setFrameId(body, <u64>streamId);
    return new ProviderCall(body, (body[2] & FLAG_TWO_WAY) != 0);
  }

  probe(probeId: u32, after: ProviderCall | null): Uint8Array | null { return heartbeatRequest(<u64>probeId, HESSIAN2); }

  inspect(frame: Uint8Array): ProviderFrame {
    const flags = frame[2];
    const id = frameId(frame);
    if ((flags & FLAG_REQUEST) == 0) return new ProviderFrame(ProviderFrameKind.Response, id);
    const heartbeat = (flags & FLAG_EVENT) != 0 && (flags & FLAG_TWO_WAY) != 0;
    return new ProviderFrame(ProviderFrameKind.OwnRequest, id, heartbeat ? heartbeatResponse(id, flags & SERIALIZATION_MASK) : null);
  }

  /** The consumer side puts the consumer's id back (it kept it by stream). */
  response(frame: Uint8Array, call: ProviderCall): Uint8Array { return frame; }

  responseHeaders(frame: Uint8Array): Array<HeaderField> {
    const fields = new Array<HeaderField>();
    fields.push(new HeaderField("content-type", CONTENT_TYPE));
    fields.push(new HeaderField("x-dubbo-status", frame[3].toString()));
    return fields;
  }
}
