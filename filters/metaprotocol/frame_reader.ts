// Reassembles one direction of a connection into messages. Bytes are forwarded by Envoy
// untouched; this keeps only a copy of an incomplete frame, never more than the cap. A frame
// announced larger than the cap is decoded from its prefix and the rest is skipped unseen.
import { repoint } from "../../api/assembly/bytes";
import { Codec, ConnectionState, DecodeResult, DecodeStatus, Direction, Message } from "../../api/assembly/codec";

export interface MessageSink {
  /** `frameStart` is the stream offset of the message's first byte in its direction. */
  onMessage(direction: Direction, message: Message, frameStart: u64): void;
  onDecodeError(direction: Direction, reason: string): void;
  onPassThrough(direction: Direction, reason: string): void;
}

const NO_BYTES = new Uint8Array(0);
const NONE: u64 = U64.MAX_VALUE;

export class FrameReader {
  private pending: Uint8Array = new Uint8Array(0);
  private pendingLength: i32 = 0;
  private skipRemaining: u64 = 0;
  /** What is left of the data being decoded, re-pointed after each message (no allocation). */
  private rest: Uint8Array = new Uint8Array(0);
  /** Set by release(): the direction is passed through without decoding. */
  stopped: bool = false;
  /** Bytes fed so far: the stream offset just past the last chunk. */
  fed: u64 = 0;
  /** Stream offset of the first byte of the data being decoded. */
  private dataStart: u64 = 0;
  /** Offset in the data being decoded of the message being decoded. */
  private position: i32 = 0;
  /** Stream offset of the first Skip of a message still in progress, or NONE. */
  private skippedFrom: u64 = NONE;

  constructor(
    private codec: Codec,
    private direction: Direction,
    private maxBuffered: i32,
    private state: ConnectionState | null,
    private sink: MessageSink,
  ) {}

  feed(chunk: Uint8Array): void {
    if (this.stopped || chunk.byteLength == 0) return;
    this.fed += <u64>chunk.byteLength;
    let data = chunk;
    if (this.skipRemaining > 0) {
      const skip = <i32>min<u64>(this.skipRemaining, <u64>data.byteLength);
      this.skipRemaining -= <u64>skip;
      if (skip == data.byteLength) return;
      data = data.subarray(skip);
    }
    if (this.pendingLength > 0) {
      this.append(data);
      data = this.pending.subarray(0, this.pendingLength);
    }
    this.dataStart = this.fed - <u64>data.byteLength;
    const used = this.decodeAll(data);
    this.keep(data, used);
  }

  /**
   * Stream offset up to which every byte belongs to a decoded (or skipped) frame: what follows is
   * an incomplete frame the reader keeps a copy of.
   */
  get completeUpTo(): u64 {
    return this.stopped ? this.fed : this.fed - <u64>this.pendingLength;
  }

  /**
   * Like completeUpTo, but a message whose first parts were skipped (streamed, not buffered) and
   * whose end has not come counts as incomplete, as long as it spans at most `maxBuffered` bytes.
   */
  get wholeMessagesUpTo(): u64 {
    const complete = this.completeUpTo;
    if (this.stopped || this.skippedFrom == NONE || complete - this.skippedFrom > <u64>this.maxBuffered) return complete;
    return this.skippedFrom;
  }

  /** Decodes as many messages as `data` holds; returns the bytes consumed. */
  private decodeAll(data: Uint8Array): i32 {
    let pos = 0;
    while (pos < data.byteLength && !this.stopped) {
      this.position = pos;
      const view = pos == 0 ? data : repoint(this.rest, data, pos, data.byteLength - pos);
      const result = this.codec.decode(this.direction, view, false, this.state);
      if (result.status != DecodeStatus.NeedMore) {
        const used = this.accept(result, view.byteLength);
        if (used < 0) break;
        pos += used;
      } else if (<u64>result.needed > <u64>this.maxBuffered) {
        if (view.byteLength < this.maxBuffered) break;
        pos += this.decodeTruncated(view, result.needed);
        break; // what follows in `data` is the skipped body; keep() accounts for it
      } else {
        if (view.byteLength >= this.maxBuffered) this.stop("frame_too_large");
        break;
      }
    }
    // Let go of the buffer: it may be a large reassembly buffer that keep() is about to drop.
    if (pos > 0) repoint(this.rest, NO_BYTES, 0, 0);
    return pos;
  }

  /** A frame too large to buffer: decode the prefix we hold, skip the rest as it streams by. */
  private decodeTruncated(view: Uint8Array, frameLength: u32): i32 {
    const prefix = view.subarray(0, this.maxBuffered);
    const result = this.codec.decode(this.direction, prefix, true, this.state);
    if (result.status == DecodeStatus.NeedMore) {
      this.stop("frame_too_large");
      return 0;
    }
    const used = this.accept(result, prefix.byteLength);
    if (used < 0) return 0;
    this.skipRemaining = <u64>frameLength - <u64>used;
    return used;
  }

  /** Acts on a result other than NeedMore; returns the bytes consumed, or -1 when decoding stopped. */
  private accept(result: DecodeResult, available: i32): i32 {
    switch (result.status) {
      case DecodeStatus.Done:
      case DecodeStatus.Skip: {
        if (result.consumed == 0 || <i32>result.consumed > available) {
          this.stop("codec_consumed_nothing");
          return -1;
        }
        if (result.status == DecodeStatus.Skip) {
          if (this.skippedFrom == NONE) this.skippedFrom = this.dataStart + <u64>this.position;
        } else {
          this.skippedFrom = NONE;
          const message = result.message!;
          const consumed = <u64>result.consumed;
          const end = this.dataStart + <u64>this.position + consumed;
          // A message whose earlier parts were Skips ends here: its frame spans frameLength back.
          // A truncated one starts where its decoded prefix does.
          const frameLength = <u64>message.frameLength;
          const start = !message.truncated && frameLength > consumed && frameLength <= end ? end - frameLength : end - consumed;
          this.sink.onMessage(this.direction, message, start);
        }
        return <i32>result.consumed;
      }
      case DecodeStatus.PassThrough:
        this.release();
        this.sink.onPassThrough(this.direction, result.reason);
        return -1;
      default:
        this.stop(result.reason);
        return -1;
    }
  }

  private stop(reason: string): void {
    this.release();
    this.sink.onDecodeError(this.direction, reason);
  }

  /** Stops decoding this direction and frees its buffer. */
  release(): void {
    this.stopped = true;
    this.pending = new Uint8Array(0);
    this.pendingLength = 0;
  }

  private append(data: Uint8Array): void {
    const needed = this.pendingLength + data.byteLength;
    if (needed > this.pending.byteLength) {
      let capacity = max(this.pending.byteLength * 2, 256);
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(data, this.pendingLength);
    this.pendingLength = needed;
  }

  /** Keeps data[used..] for the next chunk, dropping a consumed skip prefix if any. */
  private keep(data: Uint8Array, used: i32): void {
    if (this.stopped) return;
    if (this.skipRemaining > 0 && used < data.byteLength) {
      // A truncated frame ended inside this chunk's data: what follows is still its body.
      const skip = <i32>min<u64>(this.skipRemaining, <u64>(data.byteLength - used));
      this.skipRemaining -= <u64>skip;
      used += skip;
      if (this.skipRemaining == 0 && used < data.byteLength) {
        const dataStart = this.dataStart;
        this.dataStart = dataStart + <u64>used;
        const decoded = this.decodeAll(data.subarray(used));
        this.dataStart = dataStart;
        this.keep(data, used + decoded);
        return;
      }
    }
    const rest = data.byteLength - used;
    if (rest == 0) {
      this.pendingLength = 0;
      // Give back a large reassembly buffer once the big frame is through.
      if (this.pending.byteLength > 4096) this.pending = new Uint8Array(0);
      return;
    }
    if (data.dataStart == this.pending.dataStart) {
      this.pending.copyWithin(0, used, used + rest);
    } else {
      this.pendingLength = 0;
      this.append(data.subarray(used));
      return;
    }
    this.pendingLength = rest;
  }
}
