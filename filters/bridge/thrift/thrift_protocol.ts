// Thrift's halves of the bridge (../protocol.ts). A call becomes a stream on `/<service>/<method>`:
// the service is TMultiplexedProtocol's prefix when the name has one ("Greeter:sayHello"), else
// the plugin configuration's `service` (Thrift names no service on the wire); headers
// `x-thrift-service`, `x-thrift-method`, `x-thrift-kind` (call, oneway) and each THeader info header
// as `x-thrift-header-<key>`; the raw frame as the body. Thrift clients pair replies with calls in
// order (python3-thrift's send seqid 0 and never look), so the consumer side answers in request
// order. Toward the provider the seqid (and THeader's) is the stream id, put back in the response:
// calls of many consumers share that connection, and a server may answer out of order (npm thrift's).
import { CALL, EXCEPTION, ONEWAY, REPLY } from "../../../codecs/thrift/protocol_reader";
import { APP_EXCEPTION_LOADSHEDDING, APP_EXCEPTION_UNKNOWN, HeaderFields, applicationException, probeCall } from "../../../codecs/thrift/local_reply";
import { ByteQueue } from "../byte_buffers";
import { HeaderField } from "../hpack";
import {
  ConsumerCall, ConsumerProtocol, ProviderCall, ProviderFrame, ProviderFrameKind, ProviderProtocol, pushAttributeHeaders, pushRequestStart,
} from "../protocol";
import { ThriftMessage, parseMessage, thriftFrameLength, withSeqids } from "./thrift_frames";

export const SERVICE_HEADER = "x-thrift-service";
export const METHOD_HEADER = "x-thrift-method";
export const KIND_HEADER = "x-thrift-kind";
/** THeader info headers become `x-thrift-header-<key>` when key and value are valid in HTTP/2. */
export const INFO_HEADER_PREFIX = "x-thrift-header-";
const CONTENT_TYPE = "application/x-thrift";

// TApplicationException types beyond codecs/thrift's: Apache Thrift's, and fbthrift's TIMEOUT.
const APP_EXCEPTION_UNKNOWN_METHOD: i32 = 1;
const APP_EXCEPTION_INTERNAL_ERROR: i32 = 6;
const APP_EXCEPTION_TIMEOUT: i32 = 12;

/**
 * HCM's answers without a reply, as the TApplicationException type a client understands: a denial
 * is UNKNOWN (as the codec's policy denials), no route UNKNOWN_METHOD (nothing serves that call
 * here), a rate limit LOADSHEDDING (not run, try later), a route timeout TIMEOUT; 503s, other
 * statuses and resets INTERNAL_ERROR.
 */
export function appExceptionTypeForStatus(status: string): i32 {
  if (status == "403") return APP_EXCEPTION_UNKNOWN;
  if (status == "404") return APP_EXCEPTION_UNKNOWN_METHOD;
  if (status == "429") return APP_EXCEPTION_LOADSHEDDING;
  if (status == "504") return APP_EXCEPTION_TIMEOUT;
  return APP_EXCEPTION_INTERNAL_ERROR;
}

class ThriftCall extends ConsumerCall {
  constructor(public message: ThriftMessage, public method: string) { super(); }
}

export class ThriftConsumer extends ConsumerProtocol {
  /** `service`: the service of calls without a multiplexing prefix (plugin configuration). */
  constructor(private service: string) { super(); }

  frameLength(queue: ByteQueue, maxFrameBytes: i32): i32 { return thriftFrameLength(queue, maxFrameBytes); }

  call(frame: Uint8Array): ConsumerCall | null {
    const message = parseMessage(frame);
    if (message == null) {
      this.failure = "a Thrift message the bridge does not carry (JSON, a THeader transform, or corrupt)";
      return null;
    }
    if (message.type != CALL && message.type != ONEWAY) {
      this.failure = "a reply from the client";
      return null;
    }
    const name = message.name;
    const colon = name.indexOf(":");
    const service = colon < 0 ? this.service : name.substring(0, colon);
    const method = colon < 0 ? name : name.substring(colon + 1);
    const call = new ThriftCall(message, method);
    call.twoWay = message.type == CALL;
    const kind = call.twoWay ? "call" : "oneway";
    const path = service.length > 0 ? "/" + service + "/" + method : "/" + method;
    const fields = call.headers;
    pushRequestStart(fields, path, service.length > 0 ? service : "thrift", CONTENT_TYPE);
    if (service.length > 0) fields.push(new HeaderField(SERVICE_HEADER, service));
    fields.push(new HeaderField(METHOD_HEADER, method));
    fields.push(new HeaderField(KIND_HEADER, kind));
    const keys = new Array<string>();
    const values = new Array<string>();
    for (let i = 0; i < message.attributes.length; i++) {
      keys.push(message.attributes[i].key);
      values.push(message.attributes[i].value);
    }
    pushAttributeHeaders(fields, INFO_HEADER_PREFIX, keys, values);
    call.label = "thrift seqid " + message.seqid.toString() + " " + kind + " " + path;
    return call;
  }

  /** The provider side already put the client's seqid back: the body is the reply as the server wrote it. */
  reply(call: ConsumerCall, body: Uint8Array): Uint8Array | null {
    const message = parseMessage(body);
    if (message == null || (message.type != REPLY && message.type != EXCEPTION)) return null;
    if (message.seqid != (<ThriftCall>call).message.seqid) return null;
    return body;
  }

  errorReply(call: ConsumerCall, status: string, detail: string): Uint8Array | null {
    const thrift = <ThriftCall>call;
    const request = thrift.message;
    const text = (status == "403" ? "denied by MetaProto router" : "MetaProto router") + " (HTTP " + status + ")" + (detail.length > 0 ? ": " + detail : "");
    return applicationException(request.envelope, request.protocol, request.header, thrift.method, request.seqid, text, appExceptionTypeForStatus(status));
  }

  repliesInOrder(): bool { return true; }
}

/** A call written to the provider: what its response must get back, and what a probe after it repeats. */
class ThriftProviderCall extends ProviderCall {
  constructor(frame: Uint8Array, twoWay: bool, public message: ThriftMessage) { super(frame, twoWay); }
}

export class ThriftProvider extends ProviderProtocol {
  name(): string { return "thrift"; }

  /** Nothing to say before the first call (its variant is unknown until then): Envoy's client sends it without waiting for our SETTINGS, and its answer carries them. */
  probesAtStart(): bool { return false; }

  frameLength(queue: ByteQueue, maxFrameBytes: i32): i32 { return thriftFrameLength(queue, maxFrameBytes); }

  forward(body: Uint8Array, streamId: u32): ProviderCall | null {
    const message = parseMessage(body);
    if (message == null || (message.type != CALL && message.type != ONEWAY)) return null;
    return new ThriftProviderCall(withSeqids(body, message, <i32>streamId, streamId), message.type == CALL, message);
  }

  /** A call of `__metaproto_probe` (codecs/thrift/local_reply.ts), with the oneway's service prefix and variant: the server answers UNKNOWN_METHOD. */
  probe(probeId: u32, after: ProviderCall | null): Uint8Array | null {
    if (after == null) return null;
    const message = (<ThriftProviderCall>after).message;
    const header = new HeaderFields();
    header.flags = message.header.flags;
    header.seqid = probeId;
    return probeCall(message.envelope, message.protocol, header, null, message.name, <i32>probeId);
  }

  inspect(frame: Uint8Array): ProviderFrame {
    const message = parseMessage(frame);
    if (message == null || (message.type != REPLY && message.type != EXCEPTION)) return new ProviderFrame(ProviderFrameKind.Other, 0);
    return new ProviderFrame(ProviderFrameKind.Response, <u64><u32>message.seqid);
  }

  response(frame: Uint8Array, call: ProviderCall): Uint8Array {
    const sent = (<ThriftProviderCall>call).message;
    const message = parseMessage(frame)!; // inspect() read it
    return withSeqids(frame, message, sent.seqid, sent.header.seqid);
  }

  responseHeaders(frame: Uint8Array): Array<HeaderField> {
    const fields = new Array<HeaderField>();
    fields.push(new HeaderField("content-type", CONTENT_TYPE));
    return fields;
  }
}
