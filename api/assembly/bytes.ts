// Byte access for the decode loops. With the incremental runtime every function that takes a
// managed reference gets shadow-stack bookkeeping, which keeps Uint8Array's own `[]`, `{}`
// and `length` accessors from being inlined: a loop over `unchecked(bytes[i])` pays a call per
// byte. These are inlined by the compiler itself and come down to a bare load or store.
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
