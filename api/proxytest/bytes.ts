// Byte helpers shared by the emulator's files.

export const utf8 = new TextEncoder();
export const utf8Decoder = new TextDecoder();
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
export const EMPTY = new Uint8Array(0);

export function toBytes(x: string | Uint8Array | undefined): Uint8Array {
  if (x === undefined) return EMPTY;
  return typeof x === "string" ? utf8.encode(x) : x;
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0];
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function u64le(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}
