// Dubbo 2 ("dubbo" protocol) over hessian2: a 16-byte header, then a hessian2 body.
import {
  Attribute, Codec, ConnectionState, DecodeResult, Direction, LocalReply, LocalReplyKind, Message, MessageKind, Pairing,
  ResponseStatus,
} from "../../api/assembly/codec";
import { HessianFailure, HessianReader } from "./hessian";
import { errorResponse, heartbeatRequest } from "./local_reply";
import { withAttachments } from "./attachments";

export const HEADER_LENGTH: i32 = 16;
const MAGIC_HIGH: u8 = 0xda;
const MAGIC_LOW: u8 = 0xbb;
const FLAG_REQUEST: u8 = 0x80;
const FLAG_TWO_WAY: u8 = 0x40;
const FLAG_EVENT: u8 = 0x20;
const SERIALIZATION_MASK: u8 = 0x1f;
const SERIALIZATION_HESSIAN2: u8 = 2;

export const STATUS_OK: u8 = 20;

// Response body flags (the first hessian int of an OK response body).
const RESPONSE_WITH_EXCEPTION: i32 = 0;
const RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS: i32 = 3;
const RESPONSE_VALUE_WITH_ATTACHMENTS: i32 = 4;
const RESPONSE_NULL_VALUE_WITH_ATTACHMENTS: i32 = 5;

/**
 * Maps a Dubbo header status to our response status. 20 OK is refined by the body flag;
 * timeouts seen by the client, bad requests and client errors are the client's fault,
 * everything else the server's (the same split DeepFlow's Dubbo parser makes).
 */
export function statusOf(status: u8): ResponseStatus {
  switch (status) {
    case 20: return ResponseStatus.Ok;
    case 30: case 40: case 90: return ResponseStatus.ClientError;
    default: return ResponseStatus.ServerError;
  }
}

const STATUS_TEXT = new Array<string>(256);
/** An error text from the server is kept up to this many characters. */
const MAX_EXCEPTION_LENGTH = 256;

function cutException(text: string): string {
  return text.length > MAX_EXCEPTION_LENGTH ? text.substring(0, MAX_EXCEPTION_LENGTH) : text;
}

/** The header status as text, made once per value: it labels every response. */
function statusText(status: u8): string {
  let text = unchecked(STATUS_TEXT[status]);
  if (changetype<usize>(text) == 0) {
    text = status.toString();
    unchecked(STATUS_TEXT[status] = text);
  }
  return text;
}

function readU32(bytes: Uint8Array, at: i32): u32 {
  return (<u32>unchecked(bytes[at]) << 24) | (<u32>unchecked(bytes[at + 1]) << 16) |
    (<u32>unchecked(bytes[at + 2]) << 8) | <u32>unchecked(bytes[at + 3]);
}

/** Counts the arguments a JVM method descriptor such as "Ljava/lang/String;[I" declares. */
export function countDescriptorArguments(descriptor: string): i32 {
  let count = 0;
  let i = 0;
  const n = descriptor.length;
  while (i < n) {
    let c = descriptor.charCodeAt(i);
    while (c == 0x5b /* [ */ && i + 1 < n) c = descriptor.charCodeAt(++i);
    if (c == 0x4c /* L */) {
      const end = descriptor.indexOf(";", i);
      if (end < 0) return -1;
      i = end + 1;
    } else if ("ZBCDFIJSV".indexOf(String.fromCharCode(c)) >= 0) {
      i++;
    } else {
      return -1;
    }
    count++;
  }
  return count;
}

export class DubboCodec extends Codec {
  // The framework reads each message before the next decode: one instance serves them all.
  private readonly message: Message = new Message();

  /** Serialization id of the request decoded last: a local reply answers in the same. */
  private lastSerialization: u8 = SERIALIZATION_HESSIAN2;

  name(): string { return "dubbo"; }

  pairing(): Pairing { return Pairing.ById; }

  /** An error response with the request's id; only for hessian2, whose string encoding we write. */
  encodeLocalReply(request: Message, kind: LocalReplyKind, text: string, state: ConnectionState | null): LocalReply | null {
    if (this.lastSerialization != SERIALIZATION_HESSIAN2) return null;
    return errorResponse(request.requestId, this.lastSerialization, kind, text);
  }

  /** Attachments rewritten in place; hessian2 requests only, whole frames only. */
  attributesWritable(request: Message, state: ConnectionState | null): bool {
    return this.attributesWanted;
  }

  setAttributes(request: Message, frame: Uint8Array, set: Array<Attribute>, remove: Array<string>, state: ConnectionState | null): Uint8Array | null {
    if (this.lastSerialization != SERIALIZATION_HESSIAN2 || request.truncated) return null;
    return withAttachments(frame, set, remove);
  }

  /** A heartbeat: every provider answers it, with the heartbeat's id, whatever the call was. */
  probeRequest(request: Message, id: u64, state: ConnectionState | null): Uint8Array | null {
    return heartbeatRequest(id);
  }

  decode(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: ConnectionState | null): DecodeResult {
    const available = bytes.length;
    // Reject non-Dubbo bytes as soon as the magic can be checked, not after 16 bytes.
    if (available >= 1 && unchecked(bytes[0]) != MAGIC_HIGH) return DecodeResult.error("bad_magic");
    if (available >= 2 && unchecked(bytes[1]) != MAGIC_LOW) return DecodeResult.error("bad_magic");
    if (available < HEADER_LENGTH) return DecodeResult.needMore(HEADER_LENGTH);

    const bodyLength = readU32(bytes, 12);
    if (bodyLength > <u32>(i32.MAX_VALUE - HEADER_LENGTH)) return DecodeResult.error("frame_too_large");
    const frameLength = <u32>HEADER_LENGTH + bodyLength;
    if (<u32>available < frameLength && !frameIsTruncated) return DecodeResult.needMore(frameLength);

    const flag = unchecked(bytes[2]);
    if ((flag & FLAG_REQUEST) != 0) this.lastSerialization = flag & SERIALIZATION_MASK;
    const message = this.message.reset();
    message.hasRequestId = true;
    message.requestId = (<u64>readU32(bytes, 4) << 32) | <u64>readU32(bytes, 8);
    message.frameLength = frameLength;
    message.truncated = <u32>available < frameLength;
    const end = message.truncated ? available : <i32>frameLength;
    const body = new HessianReader(bytes, HEADER_LENGTH, end);
    const hessian = (flag & SERIALIZATION_MASK) == SERIALIZATION_HESSIAN2;

    if ((flag & FLAG_REQUEST) != 0) {
      if ((flag & FLAG_EVENT) != 0) {
        message.kind = this.isHeartbeatBody(body, hessian) ? MessageKind.Heartbeat : MessageKind.Event;
      } else {
        message.kind = (flag & FLAG_TWO_WAY) != 0 ? MessageKind.Request : MessageKind.Oneway;
        if (hessian) {
          const failure = this.decodeRequestBody(body, message);
          if (failure != null) return DecodeResult.error(failure);
        }
      }
    } else {
      message.code = statusText(unchecked(bytes[3]));
      if ((flag & FLAG_EVENT) != 0) {
        message.kind = this.isHeartbeatBody(body, hessian) ? MessageKind.Heartbeat : MessageKind.Event;
        message.isReply = true;
      } else {
        message.kind = MessageKind.Response;
        message.status = statusOf(unchecked(bytes[3]));
        if (hessian && unchecked(bytes[3]) == STATUS_OK) {
          const failure = this.decodeOkResponseBody(body, message);
          if (failure != null) return DecodeResult.error(failure);
        } else if (hessian && this.attributesWanted) {
          // Other statuses carry the error message as a string; a body that is not one is no error.
          const text = body.readString();
          if (text != null) message.exception = cutException(text);
        }
      }
    }
    return DecodeResult.done(message, <u32>end);
  }

  private isHeartbeatBody(body: HessianReader, hessian: bool): bool {
    // A heartbeat carries a null body; other events (e.g. "R" readonly) carry a value.
    return !hessian || body.remaining == 0 || body.peek() == 0x4e;
  }

  /** Returns a decode-error reason, or null. A truncated frame keeps what was read. */
  private decodeRequestBody(body: HessianReader, message: Message): string | null {
    body.skipValue(); // dubbo protocol version
    const path = body.readString();
    const version = body.readString();
    const method = body.readString();
    if (path != null) message.service = path;
    if (version != null) message.version = version;
    if (method != null) message.method = method;
    if (!body.ok) return this.failureReason(body, message, "bad_request_header");
    // The attachments sit behind every argument: reach them only when someone reads them.
    if (!this.attributesWanted) return null;
    const descriptor = body.readString();
    if (!body.ok) return this.failureReason(body, message, "bad_request_header");

    const argumentCount = descriptor == null ? 0 : countDescriptorArguments(descriptor);
    if (argumentCount < 0) return "bad_descriptor";
    for (let i = 0; i < argumentCount && body.ok; i++) body.skipValue();
    if (!body.ok) return this.failureReason(body, message, "bad_arguments");
    if (body.remaining > 0) this.readAttachments(body, message);
    if (!body.ok) return this.failureReason(body, message, "bad_attachments");
    return null;
  }

  private decodeOkResponseBody(body: HessianReader, message: Message): string | null {
    const flag = body.readInt();
    if (!body.ok) return this.failureReason(body, message, "bad_response_flag");
    if (flag == RESPONSE_WITH_EXCEPTION || flag == RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS) {
      // The call reached the service and the service threw: a server-side error.
      message.status = ResponseStatus.ServerError;
      // The Throwable's class name, from the class definition ('C') that opens the object; its
      // message is a field deeper inside, not read here.
      if (this.attributesWanted && body.peek() == 0x43) {
        const start = body.pos;
        body.pos++;
        const type = body.readString();
        if (type != null) message.exception = cutException(type);
        body.pos = start;
        body.failure = HessianFailure.None;
      }
    } else if (flag < 0 || flag > RESPONSE_NULL_VALUE_WITH_ATTACHMENTS) {
      return "bad_response_flag";
    }
    if (!this.attributesWanted) return null;
    if (flag == RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS || flag == RESPONSE_VALUE_WITH_ATTACHMENTS) {
      body.skipValue();
      if (body.ok) this.readAttachments(body, message);
    } else if (flag == RESPONSE_NULL_VALUE_WITH_ATTACHMENTS) {
      this.readAttachments(body, message);
    }
    if (!body.ok) return this.failureReason(body, message, "bad_response_body");
    return null;
  }

  /** Truncated frames legitimately end early; anything else is a decode error. */
  private failureReason(body: HessianReader, message: Message, reason: string): string | null {
    if (message.truncated && body.failure == HessianFailure.EndOfInput) return null;
    return body.failure == HessianFailure.TooDeep ? "too_deep" : reason;
  }

  private readAttachments(body: HessianReader, message: Message): void {
    const tag = body.peek();
    if (tag == 0x4e) return; // null map
    if (tag == 0x4d) {
      body.pos++;
      body.readScalarAsString(); // map type
    } else if (tag == 0x48) {
      body.pos++;
    } else {
      body.fail(HessianFailure.Malformed);
      return;
    }
    while (body.ok && body.peek() != 0x5a) {
      const key = body.readScalarAsString();
      const value = body.readScalarAsString();
      if (body.ok) message.attributes.push(new Attribute(key, value));
    }
    if (body.ok) {
      if (body.peek() == 0x5a) body.pos++;
      else body.fail(HessianFailure.EndOfInput);
    }
  }
}
