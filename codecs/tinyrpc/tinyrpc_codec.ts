// tinyrpc: a small length-prefixed RPC whose responses carry the request's id, so a server may
// answer out of order. The wire format (big-endian), as examples/tinyrpc/wire.js writes it:
//
//   0  u16 magic 0x7472 ("tr")
//   2  u8  kind: 0 request, 1 oneway, 2 response, 3 ping, 4 pong
//   3  u8  status of a response: 0 ok, 1 client error, 2 server error (0 otherwise)
//   4  u32 body length: the bytes after this 16-byte header
//   8  u64 request id (a pong carries its ping's; 64 bits, so it can carry the framework's probe ids)
//   16 body: request/oneway: u8 service length, service, u8 method length, method, payload
//            (a service length of 0 means "the service of this connection's previous request");
//            response: the payload, or the error text when status is not 0
import {
  ConnectionState, DecodeResult, Direction, LocalReply, LocalReplyKind, Message, MessageKind, Pairing,
  ResponseStatus, StatefulCodec,
} from "../../api/assembly/codec";
import { byteAt, putByte } from "../../api/assembly/bytes";
import { recentString } from "../../api/assembly/recent_strings";

const HEADER = 16;
const MAGIC_HI: u8 = 0x74;
const MAGIC_LO: u8 = 0x72;
const KIND_REQUEST: u8 = 0;
const KIND_ONEWAY: u8 = 1;
const KIND_RESPONSE: u8 = 2;
const KIND_PING: u8 = 3;
const KIND_PONG: u8 = 4;
const STATUS_CODES = ["0", "1", "2"];
const STATUS_VALUES = [ResponseStatus.Ok, ResponseStatus.ClientError, ResponseStatus.ServerError];

/** What a connection remembers between calls: the service its requests may leave out. */
export class TinyRpcState extends ConnectionState {
  service: string = "";
}

export class TinyRpcCodec extends StatefulCodec<TinyRpcState> {
  // One Message serves every decode: the framework reads it before asking for the next.
  private readonly message: Message = new Message();

  name(): string { return "tinyrpc"; }

  pairing(): Pairing { return Pairing.ById; }

  newState(): TinyRpcState { return new TinyRpcState(); }

  decodeWith(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: TinyRpcState): DecodeResult {
    const available = bytes.byteLength;
    // The magic first, byte by byte: TLS or HTTP on the wrong port is refused at once.
    if (available >= 1 && byteAt(bytes, 0) != MAGIC_HI) return DecodeResult.error("bad_magic");
    if (available >= 2 && byteAt(bytes, 1) != MAGIC_LO) return DecodeResult.error("bad_magic");
    if (available < HEADER) return DecodeResult.needMore(HEADER);
    const kind = byteAt(bytes, 2);
    const status = byteAt(bytes, 3);
    if (kind > KIND_PONG) return DecodeResult.error("bad_kind");
    if (status > 2) return DecodeResult.error("bad_status");
    const bodyLength = readU32(bytes, 4);
    if (bodyLength > u32.MAX_VALUE - HEADER) return DecodeResult.error("bad_length");
    const frameLength = <u32>HEADER + bodyLength;
    // Asking for the whole frame lets the framework hand a frame over the cap as a prefix.
    if (<u32>available < frameLength && !frameIsTruncated) return DecodeResult.needMore(frameLength);

    const m = this.message.reset();
    m.frameLength = frameLength;
    m.truncated = <u32>available < frameLength;
    m.hasRequestId = true;
    m.requestId = (<u64>readU32(bytes, 8) << 32) | <u64>readU32(bytes, 12);
    const consumed = min<u32>(frameLength, <u32>available);
    const fromClient = direction == Direction.Downstream;
    if (kind == KIND_PING || kind == KIND_PONG) {
      if (fromClient != (kind == KIND_PING)) return DecodeResult.error("bad_kind");
      m.kind = MessageKind.Heartbeat;
      m.isReply = kind == KIND_PONG;
      return DecodeResult.done(m, consumed);
    }
    if (kind == KIND_RESPONSE) {
      if (fromClient) return DecodeResult.error("bad_kind");
      m.kind = MessageKind.Response;
      m.status = STATUS_VALUES[status];
      m.code = STATUS_CODES[status];
      return DecodeResult.done(m, consumed);
    }
    if (!fromClient) return DecodeResult.error("bad_kind");
    m.kind = kind == KIND_REQUEST ? MessageKind.Request : MessageKind.Oneway;
    // The names; a truncated frame's prefix (at least 256 bytes) may end inside them.
    const end = <i32>consumed;
    if (end < HEADER + 1) return DecodeResult.error("bad_body");
    const serviceLength = <i32>byteAt(bytes, HEADER);
    const methodAt = HEADER + 1 + serviceLength;
    if (methodAt >= end) {
      if (!m.truncated) return DecodeResult.error("bad_body");
      return DecodeResult.done(m, consumed);
    }
    if (serviceLength == 0) m.service = state.service;
    else state.service = m.service = recentString(bytes.dataStart + <usize>(HEADER + 1), serviceLength);
    const methodLength = <i32>byteAt(bytes, methodAt);
    if (methodAt + 1 + methodLength > end) {
      if (!m.truncated) return DecodeResult.error("bad_body");
      return DecodeResult.done(m, consumed);
    }
    m.method = recentString(bytes.dataStart + <usize>(methodAt + 1), methodLength);
    return DecodeResult.done(m, consumed);
  }

  // Policies answer a refused request with a client-error response carrying its id...
  localReplyWith(request: Message, kind: LocalReplyKind, text: string, state: TinyRpcState): LocalReply | null {
    const body = String.UTF8.encode(text);
    const frame = header(KIND_RESPONSE, 1, request.requestId, <u32>body.byteLength);
    frame.set(Uint8Array.wrap(body), HEADER);
    return new LocalReply(frame, ResponseStatus.ClientError, STATUS_CODES[1]);
  }

  // ...sent in place of a ping with the framework's id: the server's pong carries it back.
  probeWith(request: Message, id: u64, state: TinyRpcState): Uint8Array | null {
    return header(KIND_PING, 0, id, 0);
  }
}

function readU32(bytes: Uint8Array, at: i32): u32 {
  return (<u32>byteAt(bytes, at) << 24) | (<u32>byteAt(bytes, at + 1) << 16) | (<u32>byteAt(bytes, at + 2) << 8) | <u32>byteAt(bytes, at + 3);
}

/** A frame of `HEADER + bodyLength` bytes with its header written. */
function header(kind: u8, status: u8, id: u64, bodyLength: u32): Uint8Array {
  const frame = new Uint8Array(HEADER + <i32>bodyLength);
  putByte(frame, 0, MAGIC_HI);
  putByte(frame, 1, MAGIC_LO);
  putByte(frame, 2, kind);
  putByte(frame, 3, status);
  for (let i = 0; i < 4; i++) putByte(frame, 4 + i, <u8>(bodyLength >> (24 - 8 * i)));
  for (let i = 0; i < 8; i++) putByte(frame, 8 + i, <u8>(id >> (56 - 8 * i)));
  return frame;
}
