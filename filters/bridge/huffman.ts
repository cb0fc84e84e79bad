// HPACK's Huffman code (RFC 7541 Appendix B), decoding only: Envoy's encoders Huffman-code a
// string whenever that is shorter, whatever the dynamic table size we advertise. The code is
// canonical (codes of one length are consecutive, in symbol order), so the bit length of each
// of the 257 symbols (256 = EOS) is all the table we need; codes are derived from them.

const CODE_LENGTHS: StaticArray<u8> = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,];

const EOS: i32 = 256;
const MAX_CODE_LENGTH: i32 = 30;

// Per code length: the first code of that length, and where its symbols start in SYMBOLS.
const firstCode = new StaticArray<u32>(MAX_CODE_LENGTH + 2);
const firstSymbol = new StaticArray<i32>(MAX_CODE_LENGTH + 2);
const countOfLength = new StaticArray<i32>(MAX_CODE_LENGTH + 2);
/** Symbols ordered by (code length, symbol): the canonical order. */
const SYMBOLS = new StaticArray<i32>(257);
let built = false;

function build(): void {
  for (let i = 0; i <= EOS; i++) countOfLength[CODE_LENGTHS[i]]++;
  let code: u32 = 0;
  let symbolIndex = 0;
  for (let length = 1; length <= MAX_CODE_LENGTH; length++) {
    firstCode[length] = code;
    firstSymbol[length] = symbolIndex;
    for (let s = 0; s <= EOS; s++) if (<i32>CODE_LENGTHS[s] == length) SYMBOLS[symbolIndex++] = s;
    code = (code + <u32>countOfLength[length]) << 1;
  }
  built = true;
}

/**
 * Decodes `bytes[start, end)`; null when the input is not a valid Huffman string (EOS inside,
 * padding longer than 7 bits or not all ones), which HPACK treats as a decoding error.
 */
export function huffmanDecode(bytes: Uint8Array, start: i32, end: i32): Uint8Array | null {
  if (!built) build();
  // Every symbol is at least 5 bits, so the output is at most 8/5 of the input.
  const out = new Uint8Array(((end - start) * 8) / 5 + 1);
  let written = 0;
  let code: u32 = 0;
  let length = 0;
  let allOnes = true;
  for (let i = start; i < end; i++) {
    const byte = <u32>unchecked(bytes[i]);
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >>> <u32>bit) & 1;
      code = (code << 1) | b;
      length++;
      if (b == 0) allOnes = false;
      const offset = code - firstCode[length];
      if (offset < <u32>countOfLength[length]) {
        const symbol = SYMBOLS[firstSymbol[length] + <i32>offset];
        if (symbol == EOS) return null;
        unchecked(out[written++] = <u8>symbol);
        code = 0;
        length = 0;
        allOnes = true;
      } else if (length >= MAX_CODE_LENGTH) {
        return null;
      }
    }
  }
  if (length > 7 || !allOnes) return null;
  return out.slice(0, written);
}
