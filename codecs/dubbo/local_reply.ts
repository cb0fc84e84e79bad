// Replies the proxy sends in a call's place, and the heartbeat that makes room for them.
import { LocalReply, LocalReplyKind, ResponseStatus } from "../../api/assembly/codec";
import { hessianString } from "./hessian_writer";

const HEADER_LENGTH = 16;
const MAX_TEXT = 1000;
/** Request, two-way, event, hessian2: a heartbeat the server answers with the same id. */
const HEARTBEAT_FLAGS: u8 = 0xe2;
const HESSIAN_NULL: u8 = 0x4e; // 'N'

/** Dubbo statuses: 40 bad request for a denied call, 100 (thread pool exhausted) for a rate limit, 80 server error for a fault. */
function statusFor(kind: LocalReplyKind): u8 {
  if (kind == LocalReplyKind.Denied) return 40;
  if (kind == LocalReplyKind.RateLimited) return 100;
  return 80;
}

export function header(flags: u8, status: u8, id: u64, bodyLength: i32): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + bodyLength);
  out[0] = 0xda;
  out[1] = 0xbb;
  out[2] = flags;
  out[3] = status;
  for (let i = 0; i < 8; i++) out[4 + i] = <u8>(id >> (<u64>(56 - 8 * i)));
  out[12] = <u8>(bodyLength >>> 24);
  out[13] = <u8>(bodyLength >>> 16);
  out[14] = <u8>(bodyLength >>> 8);
  out[15] = <u8>bodyLength;
  return out;
}

/** An error response to request `id` (hessian2): the status, and the text as the error message. */
export function errorResponse(id: u64, serialization: u8, kind: LocalReplyKind, text: string): LocalReply {
  const status = statusFor(kind);
  const body = hessianString(text.length > MAX_TEXT ? text.substring(0, MAX_TEXT) : text);
  const out = header(serialization, status, id, body.byteLength);
  out.set(body, HEADER_LENGTH);
  const label = status == 40 ? ResponseStatus.ClientError : ResponseStatus.ServerError;
  return new LocalReply(out, label, status.toString());
}

export function heartbeatRequest(id: u64): Uint8Array {
  const out = header(HEARTBEAT_FLAGS, 0, id, 1);
  out[HEADER_LENGTH] = HESSIAN_NULL;
  return out;
}
