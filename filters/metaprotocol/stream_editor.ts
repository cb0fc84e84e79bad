// Changes one direction of a connection as it passes: drops a frame, puts other bytes in its
// place, holds an incomplete frame back until it is whole. Envoy lets a filter change a buffer
// only inside the data callback of its direction, by replacing it from the front, so each read's
// bytes are handed on (or not) as one rewrite of the whole read.
//
// Offsets are stream offsets: bytes of this direction since the connection began.
import { concatBytes } from "../../api/assembly/bytes";
import { BufferKind, getBufferBytes, setBufferBytes } from "./runtime/host";

class Edit {
  constructor(public start: u64, public end: u64, public replacement: Uint8Array | null) {}
}

const EMPTY = new Uint8Array(0);

export class StreamEditor {
  /** Bytes taken out of earlier reads and not handed on yet, starting at `heldStart`. */
  private held: Uint8Array = EMPTY;
  private heldStart: u64 = 0;
  private edits: Array<Edit> = [];
  private chunk: Uint8Array = EMPTY;
  private chunkStart: u64 = 0;
  /** Stream offset up to which bytes were handed on to Envoy (or dropped). */
  released: u64 = 0;
  /** Nothing from this offset on is handed on (the connection is closing). */
  cutAt: u64 = U64.MAX_VALUE;

  /** Starts a read: `chunk` is the whole read buffer, starting at stream offset `chunkStart`. */
  begin(chunk: Uint8Array, chunkStart: u64): void {
    this.chunk = chunk;
    this.chunkStart = chunkStart;
  }

  /** True when [start, end) can still be changed: none of it was handed on yet. */
  canEdit(start: u64): bool {
    return start >= this.released;
  }

  /** The bytes [start, end) of the read, when none of them was handed on and all are here. */
  bytes(start: u64, end: u64): Uint8Array | null {
    const chunkEnd = this.chunkStart + <u64>this.chunk.byteLength;
    const from = this.held.byteLength > 0 ? this.heldStart : this.chunkStart;
    if (start < this.released || start < from || end > chunkEnd || end < start) return null;
    const parts = new Array<Uint8Array>();
    this.copy(parts, start, end);
    return parts.length == 1 ? parts[0] : concatBytes(parts);
  }

  /** Replaces [start, end) with `replacement` (null: drops it). Edits come in stream order. */
  replace(start: u64, end: u64, replacement: Uint8Array | null): void {
    this.edits.push(new Edit(start, end, replacement));
  }

  /**
   * Ends the read: hands on the bytes up to `releaseUpTo` with the edits applied, keeps the rest
   * for a later read. `kind` and `length` name Envoy's buffer for this read; its first `front`
   * bytes are not part of the chunk (a paused read's bytes, which stay). Returns the bytes of the
   * chunk's place in Envoy's buffer after the rewrite.
   */
  finish(releaseUpTo: u64, kind: BufferKind, length: u32, front: u32 = 0): u32 {
    const chunkEnd = this.chunkStart + <u64>this.chunk.byteLength;
    if (this.held.byteLength == 0 && this.edits.length == 0 && releaseUpTo == chunkEnd) {
      this.released = chunkEnd; // the common case: the read goes on as it is
      const size = this.chunk.byteLength;
      this.chunk = EMPTY;
      return <u32>size;
    }
    const out = new Array<Uint8Array>();
    if (front > 0) {
      // Envoy replaces from the front only: the paused bytes are written back as they are.
      const paused = getBufferBytes(kind, 0, front);
      if (paused != null) out.push(paused);
    }
    let pos = this.released;
    let kept = 0;
    for (let i = 0; i < this.edits.length; i++) {
      const edit = unchecked(this.edits[i]);
      if (edit.start >= releaseUpTo) {
        this.edits[kept++] = edit;
        continue;
      }
      this.copy(out, pos, edit.start);
      const replacement = edit.replacement;
      if (replacement != null) out.push(replacement);
      pos = min<u64>(edit.end, releaseUpTo);
      if (edit.end > releaseUpTo) {
        // The rest of a dropped frame is still to come: drop it as it arrives.
        edit.start = releaseUpTo;
        edit.replacement = null;
        this.edits[kept++] = edit;
      }
    }
    this.edits.length = kept;
    this.copy(out, pos, releaseUpTo);
    this.keepFrom(max<u64>(releaseUpTo, pos), chunkEnd);
    this.released = releaseUpTo;
    this.chunk = EMPTY;
    const bytes = concatBytes(out);
    setBufferBytes(kind, 0, length, bytes);
    return <u32>bytes.byteLength - front;
  }

  /** Appends the bytes [from, to) of held + chunk to `out`. */
  private copy(out: Array<Uint8Array>, from: u64, to: u64): void {
    if (to <= from) return;
    const heldEnd = this.heldStart + <u64>this.held.byteLength;
    if (from < heldEnd) {
      out.push(this.held.subarray(<i32>(from - this.heldStart), <i32>(min<u64>(to, heldEnd) - this.heldStart)));
      from = heldEnd;
    }
    if (from < to) out.push(this.chunk.subarray(<i32>(from - this.chunkStart), <i32>(to - this.chunkStart)));
  }

  /** Keeps a copy of [from, to) of held + chunk as the held bytes. */
  private keepFrom(from: u64, to: u64): void {
    if (from >= to) {
      this.held = EMPTY;
      return;
    }
    const parts = new Array<Uint8Array>();
    this.copy(parts, from, to);
    this.held = concatBytes(parts);
    this.heldStart = from;
  }

  /** Bytes held back right now (for memory accounting and tests). */
  get heldBytes(): i32 {
    return this.held.byteLength;
  }
}
