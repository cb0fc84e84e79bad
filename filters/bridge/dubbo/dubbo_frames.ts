// What the bridge needs to know about Dubbo framing: the 16-byte header (magic, flags, status,
// 8-byte id, body length). Bodies are decoded only for their names, by codecs/dubbo.
import { ByteQueue } from "../byte_buffers";
import { header } from "../../../codecs/dubbo/local_reply";
import { hessianString } from "../../../codecs/dubbo/hessian_writer";

export const DUBBO_HEADER_LENGTH: i32 = 16;
export const FLAG_REQUEST: u8 = 0x80;
export const FLAG_TWO_WAY: u8 = 0x40;
export const FLAG_EVENT: u8 = 0x20;
export const SERIALIZATION_MASK: u8 = 0x1f;
const HESSIAN_NULL: u8 = 0x4e;

/** Dubbo response statuses the bridge sends in a reply's place. */
export enum DubboStatus { Ok = 20, ServerTimeout = 31, BadRequest = 40, ServiceNotFound = 60, ServerError = 80, ThreadPoolExhausted = 100 }

/** Length of the complete frame at the front of `queue`; 0 while incomplete, -1 if the bytes are not Dubbo. */
export function completeFrameLength(queue: ByteQueue, maxFrameBytes: i32): i32 {
  if (queue.length >= 1 && queue.byteAt(0) != 0xda) return -1;
  if (queue.length >= 2 && queue.byteAt(1) != 0xbb) return -1;
  if (queue.length < DUBBO_HEADER_LENGTH) return 0;
  const body = queue.u32At(12);
  if (body > <u32>(maxFrameBytes - DUBBO_HEADER_LENGTH)) return -1;
  const total = DUBBO_HEADER_LENGTH + <i32>body;
  return queue.length >= total ? total : 0;
}

export function frameId(frame: Uint8Array): u64 {
  let id: u64 = 0;
  for (let i = 0; i < 8; i++) id = (id << 8) | <u64>frame[4 + i];
  return id;
}

/** Rewrites the id in place: each side of the bridge owns the id space of its Dubbo connection. */
export function setFrameId(frame: Uint8Array, id: u64): void {
  for (let i = 0; i < 8; i++) frame[4 + i] = <u8>(id >> (<u64>(56 - 8 * i)));
}

export function isDubboFrame(bytes: Uint8Array): bool {
  return bytes.length >= DUBBO_HEADER_LENGTH && bytes[0] == 0xda && bytes[1] == 0xbb &&
    <i64>bytes.length == <i64>DUBBO_HEADER_LENGTH + ((<i64>bytes[12] << 24) | (<i64>bytes[13] << 16) | (<i64>bytes[14] << 8) | <i64>bytes[15]);
}

/** An error response to request `id`, its message `text` (hessian2 string). */
export function errorResponse(id: u64, serialization: u8, status: DubboStatus, text: string): Uint8Array {
  const body = hessianString(text);
  const out = header(serialization, <u8>status, id, body.length);
  out.set(body, DUBBO_HEADER_LENGTH);
  return out;
}

/** The answer to a heartbeat: an event response with a null body, same id. */
export function heartbeatResponse(id: u64, serialization: u8): Uint8Array {
  const out = header(FLAG_EVENT | serialization, <u8>DubboStatus.Ok, id, 1);
  out[DUBBO_HEADER_LENGTH] = HESSIAN_NULL;
  return out;
}

/** A heartbeat request (two-way event): the provider answers it at once, which lets the bridge write toward Envoy. */
export function heartbeatRequest(id: u64, serialization: u8): Uint8Array {
  const out = header(FLAG_REQUEST | FLAG_TWO_WAY | FLAG_EVENT | serialization, 0, id, 1);
  out[DUBBO_HEADER_LENGTH] = HESSIAN_NULL;
  return out;
}
