// Rewrites a request's attachments (the map after its arguments): entries left alone keep their
// original bytes (and Hessian types); set entries are written as strings; the body length in the
// header follows.
import { Attribute } from "../../api/assembly/codec";
import { concatBytes } from "../../api/assembly/bytes";
import { HessianReader } from "./hessian";
import { hessianString } from "./hessian_writer";
import { countDescriptorArguments } from "./dubbo_codec";

const HEADER_LENGTH = 16;
const MAP_UNTYPED: u8 = 0x48; // 'H'
const MAP_TYPED: u8 = 0x4d; // 'M'
const NULL: u8 = 0x4e; // 'N'
const MAP_END: u8 = 0x5a; // 'Z'

/**
 * `frame` (one whole hessian2 request) with `set` attachments written (replacing any of the same key)
 * and `remove` keys dropped; null when the frame is not a request this can rewrite.
 */
export function withAttachments(frame: Uint8Array, set: Array<Attribute>, remove: Array<string>): Uint8Array | null {
  if (frame.byteLength < HEADER_LENGTH) return null;
  const body = new HessianReader(frame, HEADER_LENGTH, frame.byteLength);
  body.skipValue(); // dubbo protocol version
  body.skipValue(); // path
  body.skipValue(); // version
  body.skipValue(); // method
  const descriptor = body.readString();
  if (!body.ok) return null;
  const argumentCount = descriptor == null ? 0 : countDescriptorArguments(descriptor);
  if (argumentCount < 0) return null;
  for (let i = 0; i < argumentCount && body.ok; i++) body.skipValue();
  if (!body.ok) return null;
  const mapStart = body.pos;

  const kept = new Array<Uint8Array>();
  if (body.remaining > 0 && body.peek() != NULL) {
    const tag = <u8>body.peek();
    body.pos++;
    if (tag == MAP_TYPED) body.skipValue();
    else if (tag != MAP_UNTYPED) return null;
    while (body.ok && body.remaining > 0 && body.peek() != MAP_END) {
      const entryStart = body.pos;
      const key = body.readScalarAsString();
      body.skipValue();
      if (!body.ok) return null;
      if (!remove.includes(key) && !isSet(set, key)) kept.push(frame.subarray(entryStart, body.pos));
    }
    if (!body.ok || body.remaining == 0) return null;
    body.pos++; // 'Z'
  } else if (body.remaining > 0) {
    body.pos++; // null map
  }
  if (body.pos != frame.byteLength) return null; // bytes after the attachments: not a request we know

  const parts = new Array<Uint8Array>();
  parts.push(frame.subarray(0, mapStart));
  const open = new Uint8Array(1);
  open[0] = MAP_UNTYPED;
  parts.push(open);
  for (let i = 0; i < kept.length; i++) parts.push(kept[i]);
  for (let i = 0; i < set.length; i++) {
    parts.push(hessianString(set[i].key));
    parts.push(hessianString(set[i].value));
  }
  const close = new Uint8Array(1);
  close[0] = MAP_END;
  parts.push(close);

  const out = concatBytes(parts);
  const bodyLength = out.byteLength - HEADER_LENGTH;
  out[12] = <u8>(bodyLength >>> 24);
  out[13] = <u8>(bodyLength >>> 16);
  out[14] = <u8>(bodyLength >>> 8);
  out[15] = <u8>bodyLength;
  return out;
}

function isSet(set: Array<Attribute>, key: string): bool {
  for (let i = 0; i < set.length; i++) if (set[i].key == key) return true;
  return false;
}
