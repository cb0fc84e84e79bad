// Byte access for the decode loops, inlined by the compiler itself down to a bare load or store
// (Uint8Array's own `[]` checks bounds; under the incremental runtime its accessors were not even
// inlined, and a loop over `unchecked(bytes[i])` paid a call per byte).
// Like unchecked(), they do no bounds check: callers index below `bytes.byteLength`.

// @ts-ignore: decorator
@inline
export function byteAt(bytes: Uint8Array, index: i32): u8 {
  return load<u8>(bytes.dataStart + <usize>index);
}

// @ts-ignore: decorator
@inline
export function putByte(bytes: Uint8Array, index: i32, value: u8): void {
  store<u8>(bytes.dataStart + <usize>index, value);
}

/**
 * Points `view` at `length` bytes of `source` from `offset` (same buffer): what
 * `source.subarray(offset, offset + length)` gives, without a new object per call. Done with the
 * same stores and GC link as the standard library's subarray. Whoever held `view` before sees
 * the new bytes: use it for views that live only within one callback.
 */
export function repoint(view: Uint8Array, source: Uint8Array, offset: i32, length: i32): Uint8Array {
  const target = changetype<usize>(view);
  const buffer = changetype<usize>(source.buffer);
  store<usize>(target, buffer, offsetof<Uint8Array>("buffer"));
  __link(target, buffer, false);
  store<usize>(target, source.dataStart + <usize>offset, offsetof<Uint8Array>("dataStart"));
  store<i32>(target, length, offsetof<Uint8Array>("byteLength"));
  return view;
}

/** The parts one after the other, in one new array. */
export function concatBytes(parts: Array<Uint8Array>): Uint8Array {
  let size = 0;
  for (let i = 0; i < parts.length; i++) size += parts[i].byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i], at);
    at += parts[i].byteLength;
  }
  return out;
}
