// Apache Thrift: binary (strict and non-strict), compact and JSON protocols, over the framed
// and buffered (unframed) transports, and THeader (binary or compact inside). The variant is
// detected from the first bytes of a connection and kept in its state; replies come back in the
// client's variant.
import {
  Attribute, Codec, ConnectionState, DecodeResult, DecodeStatus, Direction, LocalReply, LocalReplyKind, Message, MessageKind, Pairing,
  ResponseStatus,
} from "../../api/assembly/codec";
import {
  CALL, COMPACT_PROTOCOL_ID, EXCEPTION, ONEWAY, REPLY, ReadFailure, T_I32, T_STOP, ThriftReader,
} from "./protocol_reader";
import { JSON_MESSAGE_START, JsonMessageScanner, JsonReader } from "./json_protocol";
import { HEADER_MAGIC_HIGH, HeaderOutcome, MAX_FRAME_LENGTH, PROTOCOL_COMPACT, readTHeader } from "./theader";
import {
  Envelope, HeaderFields, PROBE_METHOD, WireProtocol, appExceptionTypeFor, applicationException, probeCall,
} from "./local_reply";
import { withInfoHeaders } from "./theader_mutation";

export enum Transport { Unknown = 0, Unframed = 1, Framed = 2, Header = 3 }
export enum Encoding { Unknown = 0, Binary = 1, Compact = 2, Json = 3 }

/** The variant a connection speaks, fixed by its first decoded message. */
export class ThriftConnectionState extends ConnectionState {
  transport: Transport = Transport.Unknown;
  /** For framed and unframed connections; a THeader frame names its own protocol. */
  encoding: Encoding = Encoding.Unknown;
  // Unframed JSON: where each direction's message in progress has been scanned to.
  private downstreamJson: JsonMessageScanner | null = null;
  private upstreamJson: JsonMessageScanner | null = null;

  // The last call decoded, as it was on the wire: what a local reply to it and its probe repeat.
  lastCallName: string = "";
  lastCallProtocol: WireProtocol = WireProtocol.Binary;
  readonly lastCallHeader: HeaderFields = new HeaderFields();

  // Where probes' answers are due: two-way calls and responses decoded so far, and for each probe
  // sent, its call's place among the calls and its seqid (the server echoes it).
  callsDecoded: u64 = 0;
  responsesDecoded: u64 = 0;
  probePlaces: Array<u64> = [];
  probeSeqids: Array<i32> = [];

  jsonScanner(direction: Direction): JsonMessageScanner {
    if (direction == Direction.Downstream) {
      let scanner = this.downstreamJson;
      if (scanner == null) this.downstreamJson = scanner = new JsonMessageScanner();
      return scanner;
    }
    let scanner = this.upstreamJson;
    if (scanner == null) this.upstreamJson = scanner = new JsonMessageScanner();
    return scanner;
  }
}

/** Smallest possible message: compact header with an empty name, seqid 0, and a stop byte. */
const MIN_FRAME_LENGTH: i32 = 5;
const LENGTH_PREFIX: i32 = 4;

// The `type` field of a TApplicationException (its message is field 1, a string).
const APP_EXCEPTION_TYPE_FIELD: i32 = 2;

/** The result struct's field 0 is the return value; ids from 1 are the declared exceptions. */
const SUCCESS_FIELD: i32 = 0;
export const SUCCESS_CODE = "0";
const APP_EXCEPTION_PREFIX = "app_exception:";

/**
 * TApplicationException type → response status. The caller's fault: UNKNOWN_METHOD (1),
 * INVALID_MESSAGE_TYPE (2), WRONG_METHOD_NAME (3), BAD_SEQUENCE_ID (4), PROTOCOL_ERROR (7),
 * INVALID_TRANSFORM (8), INVALID_PROTOCOL (9), UNSUPPORTED_CLIENT_TYPE (10). The server's:
 * UNKNOWN (0), MISSING_RESULT (5), INTERNAL_ERROR (6), and any type this list does not know.
 */
export function appExceptionStatus(type: i32): ResponseStatus {
  switch (type) {
    case 1: case 2: case 3: case 4: case 7: case 8: case 9: case 10: return ResponseStatus.ClientError;
    default: return ResponseStatus.ServerError;
  }
}

function readI32BE(bytes: Uint8Array, at: i32): i32 {
  return (<i32>unchecked(bytes[at]) << 24) | (<i32>unchecked(bytes[at + 1]) << 16) |
    (<i32>unchecked(bytes[at + 2]) << 8) | <i32>unchecked(bytes[at + 3]);
}

/** True for the first byte of a binary (strict or not), compact or JSON message inside a frame. */
function startsPlainMessage(b: u8): bool {
  return b == 0x80 || b == COMPACT_PROTOCOL_ID || b == 0x00 || b == JSON_MESSAGE_START;
}

/** The protocol of a message from its first byte (binary unless compact's or JSON's marker). */
function encodingOf(b: u8): Encoding {
  if (b == COMPACT_PROTOCOL_ID) return Encoding.Compact;
  if (b == JSON_MESSAGE_START) return Encoding.Json;
  return Encoding.Binary;
}

/** Strict binary starts with its version word (0x80 0x01), non-strict with the name's length. */
function binaryProtocolOf(firstByte: u8): WireProtocol {
  return firstByte == 0x80 ? WireProtocol.Binary : WireProtocol.BinaryNonStrict;
}

function envelopeOf(transport: Transport): Envelope {
  if (transport == Transport.Header) return Envelope.Header;
  return transport == Transport.Framed ? Envelope.Framed : Envelope.Unframed;
}

/** What the first bytes of a connection say about its transport; Unknown when too few arrived. */
export class Detection {
  transport: Transport = Transport.Unknown;
  notThrift: bool = false;
}

/**
 * Tells the transport from a connection's first bytes. Strict binary (0x80 0x01), compact
 * (0x82) and JSON (`[`) messages start unframed; anything else starts with a big-endian length:
 * a frame's (framed, THeader) or a method name's (non-strict binary, unframed). The byte after
 * it tells them apart: a frame holds a message header (0x80, 0x82, `[`, or 0x00 for a non-strict
 * name length) or THeader's 0x0FFF, where a non-strict name starts with the name's first
 * character (never `[`: names are identifiers).
 */
export function detectTransport(bytes: Uint8Array): Detection {
  const d = new Detection();
  const n = bytes.length;
  if (n < 1) return d;
  const b0 = unchecked(bytes[0]);
  if (b0 == 0x80 || b0 == COMPACT_PROTOCOL_ID || b0 == JSON_MESSAGE_START) {
    d.transport = Transport.Unframed;
    return d;
  }
  // A length this large (or negative) is neither a frame's nor a name's.
  if (b0 >= 0x40) {
    d.notThrift = true;
    return d;
  }
  if (n < 5) return d;
  const b4 = unchecked(bytes[4]);
  if (b4 == HEADER_MAGIC_HIGH) d.transport = Transport.Header;
  else if (startsPlainMessage(b4)) d.transport = Transport.Framed;
  else d.transport = Transport.Unframed;
  return d;
}

export class ThriftCodec extends Codec {
  // The framework reads each message before the next decode: one instance serves them all.
  private readonly message: Message = new Message();

  name(): string { return "thrift"; }

  /** Seqids are not unique (Python clients always send 0): replies are matched in order. */
  pairing(): Pairing { return Pairing.Fifo; }

  newConnectionState(): ConnectionState | null { return new ThriftConnectionState(); }

  decode(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: ConnectionState | null): DecodeResult {
    const connection = state instanceof ThriftConnectionState ? <ThriftConnectionState>state : new ThriftConnectionState();
    let transport = connection.transport;
    if (transport == Transport.Unknown) {
      const detected = detectTransport(bytes);
      if (detected.notThrift) return DecodeResult.error("bad_magic");
      if (detected.transport == Transport.Unknown) return DecodeResult.needMore(0);
      transport = detected.transport;
    }
    const result = transport == Transport.Unframed
      ? this.decodeUnframed(direction, bytes, connection)
      : this.decodeFrame(direction, bytes, frameIsTruncated, transport, connection);
    if (result.status != DecodeStatus.Done) return result;
    connection.transport = transport;
    const message = this.message;
    if (message.kind == MessageKind.Request) connection.callsDecoded++;
    else if (message.kind == MessageKind.Response && !this.answersInPlace(connection, message)) {
      return DecodeResult.error("probe_answer_out_of_order");
    }
    return result;
  }

  /**
   * Pairing is in order, so a probe's answer must come back exactly in its call's place, and no
   * other answer there. Servers that answer out of order (npm thrift's answers an unknown method at
   * once, ahead of slower calls before it) would hand the error reply to the wrong call: refused
   * instead (a decode error closes the connection while a probe's answer is due).
   */
  private answersInPlace(connection: ThriftConnectionState, message: Message): bool {
    const place = connection.responsesDecoded++;
    const probes = connection.probePlaces;
    const isProbeAnswer = message.method == PROBE_METHOD && message.code.startsWith(APP_EXCEPTION_PREFIX);
    if (probes.length == 0 || unchecked(probes[0]) != place) return !isProbeAnswer;
    probes.shift();
    const seqid = connection.probeSeqids.shift();
    return isProbeAnswer && <i32><u32>message.requestId == seqid;
  }

  /** Buffered transport: the message ends where its struct ends, found by walking all of it. */
  private decodeUnframed(direction: Direction, bytes: Uint8Array, connection: ThriftConnectionState): DecodeResult {
    const encoding = bytes.length > 0 ? encodingOf(unchecked(bytes[0])) : Encoding.Binary;
    const mismatch = this.checkEncoding(connection, encoding);
    if (mismatch != null) return mismatch;
    if (encoding == Encoding.Json) return this.decodeUnframedJson(direction, bytes, connection);
    const compact = encoding == Encoding.Compact;
    const reader = new ThriftReader(bytes, 0, bytes.length, compact);
    const message = this.message.reset();
    this.readMessage(reader, message, true);
    if (reader.failure == ReadFailure.EndOfInput) return DecodeResult.needMore(0);
    if (!reader.ok) return DecodeResult.error(reader.reason);
    const wrongDirection = this.checkDirection(direction, message);
    if (wrongDirection != null) return wrongDirection;
    message.frameLength = <u32>reader.pos;
    connection.encoding = encoding;
    this.rememberCall(connection, message, compact ? WireProtocol.Compact : binaryProtocolOf(unchecked(bytes[0])));
    return DecodeResult.done(message, <u32>reader.pos);
  }

  /**
   * Buffered JSON: the message ends where its array closes. The scanner keeps its place between
   * reads, so a message arriving in many reads is scanned once; its header is checked as soon as
   * it has arrived, so bytes that only start like JSON are refused early.
   */
  private decodeUnframedJson(direction: Direction, bytes: Uint8Array, connection: ThriftConnectionState): DecodeResult {
    const scanner = connection.jsonScanner(direction);
    const end = scanner.scan(bytes);
    if (end < 0) return DecodeResult.error(scanner.reason);
    if (end == 0) {
      if (scanner.headerChecked) return DecodeResult.needMore(0);
      const early = new JsonReader(bytes, 0, bytes.length);
      early.readMessageHeader();
      if (early.ok) scanner.headerChecked = true;
      else if (early.failure != ReadFailure.EndOfInput) {
        scanner.reset();
        return DecodeResult.error(early.reason);
      }
      return DecodeResult.needMore(0);
    }
    const reader = new JsonReader(bytes, 0, end);
    const message = this.message.reset();
    this.readJsonMessage(reader, message);
    // The array closed before the header (or a reply's outcome) did: not a Thrift message.
    if (reader.failure == ReadFailure.EndOfInput) return DecodeResult.error(reader.headerRead ? "bad_body" : "bad_magic");
    if (!reader.ok) return DecodeResult.error(reader.reason);
    const wrongDirection = this.checkDirection(direction, message);
    if (wrongDirection != null) return wrongDirection;
    message.frameLength = <u32>end;
    connection.encoding = Encoding.Json;
    this.rememberCall(connection, message, WireProtocol.Json);
    return DecodeResult.done(message, <u32>end);
  }

  /**
   * Framed and THeader transports: a 4-byte length announces the frame, so a frame too large
   * to buffer is decoded from its prefix. Before the whole frame is there, what has arrived is
   * checked already, so bytes that are not Thrift are refused at once.
   */
  private decodeFrame(
    direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, transport: Transport, connection: ThriftConnectionState,
  ): DecodeResult {
    const available = bytes.length;
    if (available < LENGTH_PREFIX) return DecodeResult.needMore(0);
    const length = readI32BE(bytes, 0);
    if (length < MIN_FRAME_LENGTH || length > MAX_FRAME_LENGTH) return DecodeResult.error("bad_frame_length");
    const frameEnd = LENGTH_PREFIX + length;
    if (available == LENGTH_PREFIX) return DecodeResult.needMore(<u32>frameEnd);
    const complete = available >= frameEnd;
    const end = complete ? frameEnd : available;

    const message = this.message.reset();
    message.frameLength = <u32>frameEnd;
    message.truncated = !complete;
    let payloadStart = LENGTH_PREFIX;
    let encoding = Encoding.Binary;
    if (transport == Transport.Header) {
      if (startsPlainMessage(unchecked(bytes[LENGTH_PREFIX]))) return DecodeResult.error("variant_changed");
      const header = readTHeader(bytes, end, frameEnd);
      if (header.outcome == HeaderOutcome.Malformed) return DecodeResult.error("bad_header");
      if (header.outcome == HeaderOutcome.Transformed) return DecodeResult.passThrough("theader_transform");
      if (header.outcome == HeaderOutcome.OtherProtocol) return DecodeResult.passThrough("theader_protocol");
      if (header.outcome == HeaderOutcome.EndOfInput) {
        if (complete) return DecodeResult.error("bad_header");
        // A prefix that ends inside the header block holds no message header either.
        return frameIsTruncated ? DecodeResult.error("frame_too_large") : DecodeResult.needMore(<u32>frameEnd);
      }
      message.attributes = header.attributes;
      payloadStart = header.payloadStart;
      if (header.protocolId == PROTOCOL_COMPACT) encoding = Encoding.Compact;
    } else {
      if (unchecked(bytes[LENGTH_PREFIX]) == HEADER_MAGIC_HIGH) return DecodeResult.error("variant_changed");
      encoding = encodingOf(unchecked(bytes[LENGTH_PREFIX]));
      const mismatch = this.checkEncoding(connection, encoding);
      if (mismatch != null) return mismatch;
    }

    let failure: ReadFailure;
    let reason: string;
    let headerRead: bool;
    if (encoding == Encoding.Json) {
      const reader = new JsonReader(bytes, payloadStart, end);
      this.readJsonMessage(reader, message);
      failure = reader.failure;
      reason = reader.reason;
      headerRead = reader.headerRead;
    } else {
      const reader = new ThriftReader(bytes, payloadStart, end, encoding == Encoding.Compact);
      this.readMessage(reader, message, false);
      failure = reader.failure;
      reason = reader.reason;
      headerRead = reader.headerRead;
    }
    if (failure == ReadFailure.EndOfInput) {
      // The message runs past the frame it came in: corrupt. Past the bytes seen so far: wait.
      if (complete) return DecodeResult.error("bad_body");
      if (!frameIsTruncated) return DecodeResult.needMore(<u32>frameEnd);
      // A prefix too short for even the message header (a name longer than the buffer cap).
      if (!headerRead) return DecodeResult.error("frame_too_large");
    } else if (failure != ReadFailure.None) {
      return DecodeResult.error(reason);
    } else if (!complete && !frameIsTruncated) {
      return DecodeResult.needMore(<u32>frameEnd);
    }
    const wrongDirection = this.checkDirection(direction, message);
    if (wrongDirection != null) return wrongDirection;
    if (transport == Transport.Framed) connection.encoding = encoding;
    const protocol = encoding == Encoding.Json ? WireProtocol.Json
      : encoding == Encoding.Compact ? WireProtocol.Compact : binaryProtocolOf(unchecked(bytes[payloadStart]));
    if (this.rememberCall(connection, message, protocol) && transport == Transport.Header) {
      connection.lastCallHeader.flags = <u16>((<u32>unchecked(bytes[6]) << 8) | <u32>unchecked(bytes[7]));
      connection.lastCallHeader.seqid = <u32>readI32BE(bytes, 8);
    }
    return DecodeResult.done(message, <u32>end);
  }

  /** Keeps what a local reply to a call needs of it; true when `message` is a call. */
  private rememberCall(connection: ThriftConnectionState, message: Message, protocol: WireProtocol): bool {
    if (message.kind != MessageKind.Request) return false;
    connection.lastCallName = this.lastName; // the whole name, multiplexing prefix included
    connection.lastCallProtocol = protocol;
    return true;
  }

  /**
   * A TApplicationException answering the call just decoded, in its variant, with its seqid and
   * its method name without the multiplexing prefix, as multiplexed servers answer (npm thrift's
   * client finds the call's reader by that name and never settles the call otherwise): UNKNOWN for
   * a denial, LOADSHEDDING for a rate limit, INJECTED_FAILURE for a fault (README "Local replies").
   * Counted as the codec counts the same bytes from a server.
   */
  encodeLocalReply(request: Message, kind: LocalReplyKind, text: string, state: ConnectionState | null): LocalReply | null {
    const connection = this.refusedCallConnection(request, state);
    if (connection == null) return null;
    const type = appExceptionTypeFor(kind);
    const bytes = applicationException(envelopeOf(connection.transport), connection.lastCallProtocol, connection.lastCallHeader,
      request.method, <i32><u32>request.requestId, text, type);
    return new LocalReply(bytes, appExceptionStatus(type), APP_EXCEPTION_PREFIX + type.toString());
  }

  /**
   * A call of `__metaproto_probe` (with the refused call's service prefix), in the refused call's
   * variant: a server runs nothing and answers one UNKNOWN_METHOD exception, which decodes as the
   * refused call's response (pairing is in order). None for a oneway call: it gets no answer.
   */
  probeRequest(request: Message, id: u64, state: ConnectionState | null): Uint8Array | null {
    const connection = this.refusedCallConnection(request, state);
    if (connection == null) return null;
    const probe = probeCall(envelopeOf(connection.transport), connection.lastCallProtocol, connection.lastCallHeader,
      connection.transport == Transport.Header ? request.attributes : null, connection.lastCallName, <i32><u32>request.requestId);
    if (probe == null) return null;
    connection.probePlaces.push(connection.callsDecoded - 1);
    connection.probeSeqids.push(<i32><u32>request.requestId);
    return probe;
  }

  /**
   * THeader info headers set and removed in the call's frame (README "Mutation"). Other transports
   * carry no headers; a frame decoded from its prefix is already on its way.
   */
  /** THeader calls carry info headers: the tracer can write its trace context there. */
  attributesWritable(request: Message, state: ConnectionState | null): bool {
    return this.attributesWanted && !request.truncated && state instanceof ThriftConnectionState &&
      (<ThriftConnectionState>state).transport == Transport.Header;
  }

  setAttributes(request: Message, frame: Uint8Array, set: Array<Attribute>, remove: Array<string>, state: ConnectionState | null): Uint8Array | null {
    if (request.truncated || !(state instanceof ThriftConnectionState)) return null;
    if ((<ThriftConnectionState>state).transport != Transport.Header) return null;
    return withInfoHeaders(frame, set, remove);
  }

  /** The connection of a two-way call decoded just now, or null. */
  private refusedCallConnection(request: Message, state: ConnectionState | null): ThriftConnectionState | null {
    if (request.kind != MessageKind.Request || !(state instanceof ThriftConnectionState)) return null;
    const connection = <ThriftConnectionState>state;
    if (connection.transport == Transport.Unknown) return null;
    return connection;
  }

  private checkEncoding(connection: ThriftConnectionState, encoding: Encoding): DecodeResult | null {
    if (connection.encoding == Encoding.Unknown || connection.encoding == encoding) return null;
    return DecodeResult.error("variant_changed");
  }

  /** Calls come from the client, replies from the server. */
  private checkDirection(direction: Direction, message: Message): DecodeResult | null {
    const fromClient = message.kind == MessageKind.Request || message.kind == MessageKind.Oneway;
    if (fromClient != (direction == Direction.Downstream)) return DecodeResult.error("unexpected_message_type");
    return null;
  }

  /**
   * Reads the message header and as much of the body as the metadata needs; with `wholeBody`
   * the whole struct (to find where an unframed message ends).
   */
  private readMessage(reader: ThriftReader, message: Message, wholeBody: bool): void {
    reader.readMessageHeader();
    if (!reader.ok) return;
    this.nameMessage(message, reader.name);
    // Pairing is FIFO (seqids repeat), but the seqid is still the call's id on the wire: keep it
    // for logs and traces.
    message.hasRequestId = true;
    message.requestId = <u64><u32>reader.seqid;
    switch (reader.messageType) {
      case CALL:
        message.kind = MessageKind.Request;
        if (wholeBody) reader.skipStructFields(0, 0);
        break;
      case ONEWAY:
        message.kind = MessageKind.Oneway;
        if (wholeBody) reader.skipStructFields(0, 0);
        break;
      case REPLY:
        message.kind = MessageKind.Response;
        this.readResult(reader, message, wholeBody);
        break;
      case EXCEPTION:
        message.kind = MessageKind.Response;
        this.readApplicationException(reader, message);
        break;
    }
  }

  /**
   * A JSON message's header and outcome, as readMessage does for binary and compact: its end
   * is already known (a frame, or the scanner), so no body is walked here.
   */
  private readJsonMessage(reader: JsonReader, message: Message): void {
    reader.readMessageHeader();
    if (!reader.ok) return;
    this.nameMessage(message, reader.name);
    message.hasRequestId = true;
    message.requestId = <u64><u32>reader.seqid;
    switch (reader.messageType) {
      case CALL: message.kind = MessageKind.Request; break;
      case ONEWAY: message.kind = MessageKind.Oneway; break;
      case REPLY: {
        message.kind = MessageKind.Response;
        this.setResultOutcome(message, SUCCESS_FIELD); // also what a prefix that ends first counts as
        const fieldId = reader.readFirstFieldId();
        if (reader.ok && fieldId >= 0) this.setResultOutcome(message, fieldId);
        break;
      }
      case EXCEPTION:
        message.kind = MessageKind.Response;
        this.setApplicationExceptionOutcome(message, reader.readI32Field(APP_EXCEPTION_TYPE_FIELD));
        break;
    }
  }

  // The split of the last name: names come from the recent strings, so a repeat is the same instance.
  private lastName: string = "";
  private lastService: string = "";
  private lastMethod: string = "";

  /** TMultiplexedProtocol sends "Service:method"; plain Thrift has no service name on the wire. */
  private nameMessage(message: Message, name: string): void {
    if (name != this.lastName) {
      const colon = name.indexOf(":");
      this.lastName = name;
      this.lastService = colon < 0 ? "" : name.substring(0, colon);
      this.lastMethod = colon < 0 ? name : name.substring(colon + 1);
    }
    message.service = this.lastService;
    message.method = this.lastMethod;
  }

  /** A REPLY's result struct sets field 0 (the return value) or one declared exception (ids 1+). */
  private readResult(reader: ThriftReader, message: Message, wholeBody: bool): void {
    message.status = ResponseStatus.Ok;
    message.code = SUCCESS_CODE;
    const type = reader.readFieldBegin(0);
    if (type <= T_STOP) return; // void success, or a failure the caller sees on the reader
    this.setResultOutcome(message, reader.fieldId);
    if (!wholeBody) return;
    const fieldId = reader.fieldId;
    reader.skipFieldValue(type, 1);
    if (reader.ok) reader.skipStructFields(fieldId, 0);
  }

  /** An EXCEPTION message carries a TApplicationException: message (1: string), type (2: i32). */
  private readApplicationException(reader: ThriftReader, message: Message): void {
    let type = 0; // UNKNOWN when absent
    let last = 0;
    while (reader.ok) {
      const fieldType = reader.readFieldBegin(last);
      if (fieldType <= T_STOP) break;
      last = reader.fieldId;
      if (last == APP_EXCEPTION_TYPE_FIELD && fieldType == T_I32) type = reader.readI32();
      else reader.skipFieldValue(fieldType, 1);
    }
    this.setApplicationExceptionOutcome(message, type);
  }

  /** Field 0 of a result struct is the return value (or none: void); ids from 1 the declared exceptions. */
  private setResultOutcome(message: Message, fieldId: i32): void {
    if (fieldId == SUCCESS_FIELD) {
      message.status = ResponseStatus.Ok;
      message.code = SUCCESS_CODE;
    } else {
      // The method threw an exception it declares: the call reached the service and failed there.
      message.status = ResponseStatus.ServerError;
      message.code = "exception:" + fieldId.toString();
    }
  }

  private setApplicationExceptionOutcome(message: Message, type: i32): void {
    message.status = appExceptionStatus(type);
    message.code = APP_EXCEPTION_PREFIX + type.toString();
  }
}
