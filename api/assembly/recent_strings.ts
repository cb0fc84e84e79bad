// Strings decoded from the same few byte sequences over and over (service paths, method names,
// attachment keys): the last ones decoded are kept and handed out again when the bytes match,
// so decoding them on the per-call path allocates nothing.

const SLOTS = 64;
const MAX_LENGTH = 128;
const recent = new StaticArray<string>(SLOTS);
let next = 0;

function sameAscii(s: string, data: usize, length: i32): bool {
  if (s.length != length) return false;
  const chars = changetype<usize>(s);
  for (let i = 0; i < length; i++) {
    if (load<u16>(chars + (<usize>i << 1)) != <u16>load<u8>(data + <usize>i)) return false;
  }
  return true;
}

/**
 * The UTF-8 bytes [data, data + length) as a string. Short ASCII strings come from (and go to)
 * the recent set; others are decoded afresh (byte-for-unit comparison only holds for ASCII).
 */
export function recentString(data: usize, length: i32): string {
  if (length > MAX_LENGTH) return String.UTF8.decodeUnsafe(data, <usize>length);
  for (let i = 0; i < length; i++) {
    if (load<u8>(data + <usize>i) >= 0x80) return String.UTF8.decodeUnsafe(data, <usize>length);
  }
  for (let i = 0; i < SLOTS; i++) {
    const s = unchecked(recent[i]);
    if (changetype<usize>(s) != 0 && sameAscii(s, data, length)) return s;
  }
  const s = String.UTF8.decodeUnsafe(data, <usize>length);
  unchecked(recent[next] = s);
  next = (next + 1) % SLOTS;
  return s;
}
