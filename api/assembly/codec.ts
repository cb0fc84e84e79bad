// The codec SDK: what a protocol author implements. The framework (filters/metaprotocol)
// owns buffering, pairing, metrics and policy; a codec only turns bytes into messages and
// messages into bytes. See docs/codec-sdk.md.

/** Which way bytes travel. Downstream bytes come from the client, upstream from the server. */
export enum Direction { Downstream = 0, Upstream = 1 }

export enum MessageKind {
  /** A call that expects a response. */
  Request = 0,
  /** A call that expects no response (Dubbo two-way flag clear, Thrift ONEWAY). */
  Oneway = 1,
  Response = 2,
  /** Keep-alive traffic; not a call. */
  Heartbeat = 3,
  /** Protocol events other than heartbeats (e.g. Dubbo readonly events); not a call. */
  Event = 4,
  /** One frame of a streaming call. */
  StreamFrame = 5,
}

export enum ResponseStatus { None = 0, Ok = 1, ClientError = 2, ServerError = 3 }

/** How responses find their request. */
export enum Pairing {
  /** Responses carry the request id (Dubbo). */
  ById = 0,
  /** Responses come back in request order (Thrift, Redis, MySQL). */
  Fifo = 1,
}

/** Reasons a local reply is generated (the `reason` of metaproto_local_replies_total). */
export enum LocalReplyKind { RateLimited = 0, Denied = 1, Fault = 2, Overloaded = 3 }

/** An error reply the proxy sends in a request's place, and how it will be counted. */
export class LocalReply {
  constructor(public bytes: Uint8Array, public status: ResponseStatus, public code: string) {}
}

export class Attribute {
  constructor(public key: string, public value: string) {}
}

/** A decoded protocol message: the metadata the framework routes, counts and traces on. */
export class Message {
  kind: MessageKind = MessageKind.Request;
  /** True when requestId is meaningful (protocols paired ById). */
  hasRequestId: bool = false;
  requestId: u64 = 0;
  service: string = "";
  /** Service version, where the protocol has one. */
  version: string = "";
  method: string = "";
  /** Attachments / headers, in wire order; routable. Created on first use: most calls have none read. */
  private attributeList: Array<Attribute> | null = null;

  get attributes(): Array<Attribute> {
    let list = this.attributeList;
    if (list == null) {
      list = new Array<Attribute>();
      this.attributeList = list;
    }
    return list;
  }

  set attributes(list: Array<Attribute>) {
    this.attributeList = list;
  }
  status: ResponseStatus = ResponseStatus.None;
  /** The protocol's own status code, as text (Dubbo "20", MySQL "1064"). */
  code: string = "";
  /** Whole frame length on the wire, header included. */
  frameLength: u32 = 0;
  /** True when only a prefix of the frame was decoded (frame larger than the buffer cap). */
  truncated: bool = false;
  /**
   * For an error response: the error text the server sent (exception message, Redis error line,
   * MySQL error message), when the codec decodes it; "" otherwise. Flow logs' response_exception.
   */
  exception: string = "";
  /**
   * For a request to a database: the statement (SQL text), when the codec decodes it and
   * `attributesWanted` is set; "" otherwise. Spans' db.query.text, flow logs' request_resource.
   */
  statement: string = "";

  attribute(key: string): string | null {
    for (let i = 0; i < this.attributes.length; i++) {
      if (this.attributes[i].key == key) return this.attributes[i].value;
    }
    return null;
  }

  /** For heartbeats and events: true when this one answers another. */
  isReply: bool = false;

  /**
   * Clears every field for the next message. The framework reads a message before it asks
   * for the next one, so a codec may keep one instance and reset it instead of allocating a
   * new one per message (the per-call path stays free of garbage).
   */
  reset(): Message {
    this.kind = MessageKind.Request;
    this.hasRequestId = false;
    this.requestId = 0;
    this.service = "";
    this.version = "";
    this.method = "";
    const list = this.attributeList;
    if (list != null) list.length = 0;
    this.status = ResponseStatus.None;
    this.code = "";
    this.frameLength = 0;
    this.truncated = false;
    this.exception = "";
    this.statement = "";
    this.isReply = false;
    return this;
  }

  /** One-line JSON for debug logs; tests and codec authors read decoded messages from it. */
  toJson(): string {
    let attributes = "";
    for (let i = 0; i < this.attributes.length; i++) {
      if (i > 0) attributes += ",";
      attributes += jsonString(this.attributes[i].key) + ":" + jsonString(this.attributes[i].value);
    }
    return "{\"kind\":" + jsonString(MESSAGE_KIND_NAMES[this.kind]) +
      ",\"request_id\":" + (this.hasRequestId ? jsonString(this.requestId.toString()) : "null") +
      ",\"service\":" + jsonString(this.service) +
      ",\"version\":" + jsonString(this.version) +
      ",\"method\":" + jsonString(this.method) +
      ",\"attributes\":{" + attributes + "}" +
      ",\"status\":" + jsonString(RESPONSE_STATUS_NAMES[this.status]) +
      ",\"code\":" + jsonString(this.code) +
      ",\"is_reply\":" + (this.isReply ? "true" : "false") +
      ",\"frame_length\":" + this.frameLength.toString() +
      ",\"truncated\":" + (this.truncated ? "true" : "false") + "}";
  }
}

const MESSAGE_KIND_NAMES = ["request", "oneway", "response", "heartbeat", "event", "stream_frame"];
const RESPONSE_STATUS_NAMES = ["none", "ok", "client_error", "server_error"];

/**
 * A JSON string literal for `s`, kept on one log line: control characters and the Unicode
 * line and paragraph separators (which line-splitting readers treat as breaks) are escaped.
 */
export function jsonString(s: string): string {
  let out = "\"";
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c && c != 0x2028 && c != 0x2029) continue;
    out += s.substring(runStart, i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else out += "\\u" + c.toString(16).padStart(4, "0");
    runStart = i + 1;
  }
  return out + s.substring(runStart) + "\"";
}

export enum DecodeStatus {
  /** Not enough bytes yet; `needed` says how many in total, or 0 if unknown. */
  NeedMore = 0,
  /** `message` holds one message that spans `consumed` bytes. */
  Done = 1,
  /** The bytes are not this protocol, or are corrupt; `reason` names why (a metric label). */
  Error = 2,
  /** `consumed` bytes belong to a message still in progress (e.g. rows of a result set). */
  Skip = 3,
  /**
   * Valid traffic the codec will not follow (TLS after a STARTTLS-style upgrade, compression,
   * a connection turned into a stream): stop decoding and forward bytes, whatever the
   * decode-error policy. `reason` names why (a metric label).
   */
  PassThrough = 4,
}

/**
 * What one decode call found. A single instance serves every call (decoding is on the per-byte
 * path and the framework reads the result before the next call): return it straight from
 * `decode`, never keep it.
 */
export class DecodeResult {
  status: DecodeStatus = DecodeStatus.NeedMore;
  consumed: u32 = 0;
  /** With NeedMore: total frame length when known (lets the framework skip huge frames). */
  needed: u32 = 0;
  message: Message | null = null;
  reason: string = "";

  private static of(status: DecodeStatus): DecodeResult {
    const r = SHARED_RESULT;
    r.status = status;
    r.consumed = 0;
    r.needed = 0;
    r.message = null;
    r.reason = "";
    return r;
  }

  static needMore(needed: u32): DecodeResult {
    const r = DecodeResult.of(DecodeStatus.NeedMore);
    r.needed = needed;
    return r;
  }

  static done(message: Message, consumed: u32): DecodeResult {
    const r = DecodeResult.of(DecodeStatus.Done);
    r.message = message;
    r.consumed = consumed;
    return r;
  }

  static skip(consumed: u32): DecodeResult {
    const r = DecodeResult.of(DecodeStatus.Skip);
    r.consumed = consumed;
    return r;
  }

  static passThrough(reason: string): DecodeResult {
    const r = DecodeResult.of(DecodeStatus.PassThrough);
    r.reason = reason;
    return r;
  }

  static error(reason: string): DecodeResult {
    const r = DecodeResult.of(DecodeStatus.Error);
    r.reason = reason;
    return r;
  }
}

const SHARED_RESULT = new DecodeResult();

/**
 * One protocol. A single instance serves every connection of a VM; per-connection state,
 * if the protocol needs it, lives in the object `newConnectionState` returns.
 */
export abstract class Codec {
  /**
   * Whether anything will read `Message.attributes` (debug logs today; routing and tracing
   * later). The framework sets it before decoding; a codec may skip the bytes that only carry
   * attributes when it is false (e.g. arguments and attachments of a Dubbo call).
   */
  attributesWanted: bool = true;

  /**
   * The configured caps, set by the framework before any decode (README "Filter configuration"):
   * the largest frame it buffers whole (`max_buffered_bytes`) and how many calls a connection may
   * have awaiting a response (`max_pending_calls`, or the pairing's default). A codec that keeps
   * a queue of its own bounds it by `maxPendingCalls`, as the framework bounds its own.
   */
  maxBufferedBytes: u32 = 0;
  maxPendingCalls: i32 = 0;

  /** The `protocol` metric label and span attribute: "dubbo", "thrift", "redis", "mysql". */
  abstract name(): string;

  abstract pairing(): Pairing;

  /**
   * Decodes at most one message from `bytes` (which start at a message boundary).
   * `frameIsTruncated` is true when the framework could not buffer a whole frame of the
   * announced length and hands over a prefix: decode what the prefix holds and return Done
   * with `message.truncated` set and `consumed` equal to the prefix length.
   * Must never throw or trap on any input. `bytes` is valid during this call only (the framework
   * re-points it afterwards): copy what you keep. The returned message may be the same instance
   * every time (the framework is done with it before the next call). docs/codec-sdk.md lists every
   * rule the framework holds a result to, and the metric each produces.
   */
  abstract decode(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: ConnectionState | null): DecodeResult;

  /**
   * A copy of request `frame` (the whole frame of `request`, just decoded) with the attributes in
   * `set` written (replacing any of the same key) and the keys in `remove` dropped, its length
   * fields fixed; null when the protocol carries no attributes there or the frame cannot be rewritten.
   */
  setAttributes(request: Message, frame: Uint8Array, set: Array<Attribute>, remove: Array<string>, state: ConnectionState | null): Uint8Array | null { return null; }

  /**
   * True when setAttributes can write attributes into this request (its protocol carries them
   * there): the tracer then injects trace context. False by default.
   */
  attributesWritable(request: Message, state: ConnectionState | null): bool { return false; }

  /**
   * A protocol-correct error reply to `request` (decoded just now, on this connection) saying
   * `text`, with the status and code a client will see; null when the protocol has none.
   */
  encodeLocalReply(request: Message, kind: LocalReplyKind, text: string, state: ConnectionState | null): LocalReply | null { return null; }

  /**
   * A harmless request the server always answers with exactly one response, sent in place of a
   * request the proxy answers itself (provoke-and-replace: only bytes arriving from the server can
   * carry a reply to the client). Its answer is replaced by encodeLocalReply's bytes. `request` is
   * the request it stands in for, already decoded: the codec's connection state must stay true
   * when the probe's answer arrives in that request's place. Protocols paired by id give the probe
   * `id`, and its answer comes back as a reply (heartbeat/event with isReply) carrying it.
   * Return null when no probe fits this request or state (then the connection is closed).
   */
  probeRequest(request: Message, id: u64, state: ConnectionState | null): Uint8Array | null { return null; }

  /** True for protocols where the server speaks first (MySQL). */
  serverFirst(): bool { return false; }

  newConnectionState(): ConnectionState | null { return null; }
}

/** Base for per-connection codec state (handshake phase, negotiated capabilities...). */
export class ConnectionState {}

/**
 * A codec with per-connection state of its own type `S`: implement `newState` and `decodeWith`
 * (and, for policies, `localReplyWith`/`probeWith`), which get the connection's `S` itself. The
 * framework only knows `ConnectionState`; the one unchecked cast here is safe because every
 * state it hands back was made by `newState` of this codec.
 */
export abstract class StatefulCodec<S extends ConnectionState> extends Codec {
  /** A fresh state for a new connection, shared by both directions. */
  abstract newState(): S;

  abstract decodeWith(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: S): DecodeResult;

  localReplyWith(request: Message, kind: LocalReplyKind, text: string, state: S): LocalReply | null { return null; }

  probeWith(request: Message, id: u64, state: S): Uint8Array | null { return null; }

  newConnectionState(): ConnectionState | null { return this.newState(); }

  decode(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: ConnectionState | null): DecodeResult {
    return this.decodeWith(direction, bytes, frameIsTruncated, changetype<S>(state));
  }

  encodeLocalReply(request: Message, kind: LocalReplyKind, text: string, state: ConnectionState | null): LocalReply | null {
    return this.localReplyWith(request, kind, text, changetype<S>(state));
  }

  probeRequest(request: Message, id: u64, state: ConnectionState | null): Uint8Array | null {
    return this.probeWith(request, id, changetype<S>(state));
  }
}
