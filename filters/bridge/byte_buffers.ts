// Byte accumulators for the bridge: bytes arrive in arbitrary chunks on both sides and frames of
// either protocol may span reads, so each direction keeps what it could not use yet.

/** Bytes received but not yet consumed; appended at the end, consumed from the front. */
export class ByteQueue {
  private buffer: Uint8Array = new Uint8Array(256);
  private start: i32 = 0;
  private end: i32 = 0;

  get length(): i32 { return this.end - this.start; }

  append(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n == 0) return;
    if (this.end + n > this.buffer.length) {
      const live = this.end - this.start;
      let capacity = this.buffer.length;
      while (capacity < live + n) capacity <<= 1;
      // Reuse the buffer when moving the live bytes to its front is enough.
      const target = capacity == this.buffer.length ? this.buffer : new Uint8Array(capacity);
      if (target === this.buffer) this.buffer.copyWithin(0, this.start, this.end);
      else target.set(this.buffer.subarray(this.start, this.end), 0);
      this.buffer = target;
      this.start = 0;
      this.end = live;
    }
    this.buffer.set(bytes, this.end);
    this.end += n;
  }

  byteAt(offset: i32): u8 { return unchecked(this.buffer[this.start + offset]); }

  u16At(offset: i32): u32 { return (<u32>this.byteAt(offset) << 8) | <u32>this.byteAt(offset + 1); }

  u24At(offset: i32): u32 { return (<u32>this.byteAt(offset) << 16) | (<u32>this.byteAt(offset + 1) << 8) | <u32>this.byteAt(offset + 2); }

  u32At(offset: i32): u32 { return (this.u16At(offset) << 16) | this.u16At(offset + 2); }

  /** A view of [offset, offset+length): valid until the next append or consume. */
  view(offset: i32, length: i32): Uint8Array {
    return this.buffer.subarray(this.start + offset, this.start + offset + length);
  }

  /** A copy of [offset, offset+length) that outlives the queue's next change. */
  copy(offset: i32, length: i32): Uint8Array {
    return this.buffer.slice(this.start + offset, this.start + offset + length);
  }

  consume(n: i32): void {
    this.start += n;
    if (this.start >= this.end) {
      this.start = 0;
      this.end = 0;
    }
  }
}

/** Bytes being produced for one write; take() hands them over and starts again. */
export class ByteWriter {
  private buffer: Uint8Array = new Uint8Array(256);
  length: i32 = 0;

  private ensure(extra: i32): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length;
    while (capacity < this.length + extra) capacity <<= 1;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length), 0);
    this.buffer = grown;
  }

  u8(value: u32): void {
    this.ensure(1);
    unchecked(this.buffer[this.length++] = <u8>value);
  }

  u16(value: u32): void {
    this.u8(value >>> 8);
    this.u8(value);
  }

  u24(value: u32): void {
    this.u8(value >>> 16);
    this.u16(value);
  }

  u32(value: u32): void {
    this.u16(value >>> 16);
    this.u16(value);
  }

  bytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Overwrites one byte already written (a length or flag known only later). */
  patch(at: i32, value: u8): void { this.buffer[at] = value; }

  take(): Uint8Array {
    const out = this.buffer.slice(0, this.length);
    this.length = 0;
    return out;
  }
}
