// When garbage is collected. The module is built with AssemblyScript's minimal runtime
// (asconfig.json): no write barrier on each reference stored, no shadow stack in each function,
// no collector steps inside allocations; garbage is collected only when __collect() is called.
// A proxy-wasm module runs only inside the host's callbacks, so the safe moment is the end of an
// outermost callback, when no Wasm frame holds a reference the collector cannot see.
//
// Garbage grows with the bytes decoded, so the collector runs once COLLECT_AFTER_INPUT bytes
// were decoded since the last run, at the latest every COLLECT_EVERY outermost callbacks, and
// after any callback during which linear memory grew (the allocator doubles memory when it runs
// out: collecting then keeps the next burst in what was freed). Memory thus stays within about
// twice what is live plus the garbage of COLLECT_AFTER_INPUT bytes and of one read (a read is
// bounded by the listener's per_connection_buffer_limit_bytes, 1 MiB by default).

/** Outermost callbacks between two collections. */
const COLLECT_EVERY: i32 = 1024;
/** Bytes decoded between two collections. */
const COLLECT_AFTER_INPUT: u64 = 16 * 1024;

let depth: i32 = 0;
let callbacksSinceCollect: i32 = 0;
let inputSinceCollect: u64 = 0;
let pagesAtCollect: i32 = memory.size();

/** Counts bytes read from the host's buffers: decoding them is what makes garbage. */
// @ts-ignore: decorator
@inline
export function countInput(bytes: u32): void {
  inputSinceCollect += <u64>bytes;
}

/** Called first in every host callback. */
// @ts-ignore: decorator
@inline
export function enterCallback(): void {
  depth++;
}

/** Called last in every host callback; collects at the end of an outermost one when due. */
export function leaveCallback(): void {
  depth--;
  if (depth > 0) return;
  callbacksSinceCollect++;
  const pages = memory.size();
  if (callbacksSinceCollect < COLLECT_EVERY && inputSinceCollect < COLLECT_AFTER_INPUT && pages == pagesAtCollect) return;
  __collect();
  callbacksSinceCollect = 0;
  inputSinceCollect = 0;
  pagesAtCollect = memory.size();
}
