// Hessian 2 encodings the proxy writes itself: strings (attachment keys and values, error texts).

/**
 * A Hessian 2 string: its length counts UTF-16 units (at most 65535 here), each unit written in
 * UTF-8 form on its own (a surrogate pair as two 3-byte units), as Java's Hessian writes them.
 */
export function hessianString(text: string): Uint8Array {
  const length = min(text.length, 0xffff);
  let size = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    size += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  const prefix = length < 32 ? 1 : length < 1024 ? 2 : 3;
  const out = new Uint8Array(prefix + size);
  if (length < 32) out[0] = <u8>length;
  else if (length < 1024) {
    out[0] = <u8>(0x30 + (length >> 8));
    out[1] = <u8>(length & 0xff);
  } else {
    out[0] = 0x53; // 'S': final chunk with a 16-bit length
    out[1] = <u8>(length >> 8);
    out[2] = <u8>(length & 0xff);
  }
  let at = prefix;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = <u8>c;
    } else if (c < 0x800) {
      out[at++] = <u8>(0xc0 | (c >> 6));
      out[at++] = <u8>(0x80 | (c & 0x3f));
    } else {
      out[at++] = <u8>(0xe0 | (c >> 12));
      out[at++] = <u8>(0x80 | ((c >> 6) & 0x3f));
      out[at++] = <u8>(0x80 | (c & 0x3f));
    }
  }
  return out;
}
