// HTTP/2 framing (RFC 9113) for the bridge: the frames one side of one connection needs, parsed
// from bytes that arrive in any chunking, and the control frames it owes its peer queued until
// the filter may write toward that peer (a network filter can only rewrite bytes that pass).
import { ByteQueue, ByteWriter } from "./byte_buffers";
import { HeaderField, HpackDecoder, encodeHeaderBlock } from "./hpack";

export const CLIENT_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
export const CLIENT_PREFACE_LENGTH: i32 = 24;
export const FRAME_HEADER_LENGTH: i32 = 9;

export enum FrameType { Data = 0, Headers = 1, Priority = 2, RstStream = 3, Settings = 4, PushPromise = 5, Ping = 6, GoAway = 7, WindowUpdate = 8, Continuation = 9 }
export const FLAG_END_STREAM: u8 = 0x1;
export const FLAG_ACK: u8 = 0x1;
export const FLAG_END_HEADERS: u8 = 0x4;
export const FLAG_PADDED: u8 = 0x8;
export const FLAG_PRIORITY: u8 = 0x20;

export enum Setting { HeaderTableSize = 1, EnablePush = 2, MaxConcurrentStreams = 3, InitialWindowSize = 4, MaxFrameSize = 5, MaxHeaderListSize = 6 }
export enum ErrorCode { NoError = 0, ProtocolError = 1, InternalError = 2, FlowControlError = 3, Cancel = 8, CompressionError = 9 }

export const DEFAULT_WINDOW: i64 = 65535;
export const MAX_WINDOW: i64 = 0x7fffffff;
const DEFAULT_MAX_FRAME_SIZE: i32 = 16384;
/** Frames above this are refused: we never advertise a larger SETTINGS_MAX_FRAME_SIZE. */
const OUR_MAX_FRAME_SIZE: i32 = 16384;
/** The peer's header table size until it acknowledges ours (RFC 7541 4.2). */
const DEFAULT_HEADER_TABLE_SIZE: i32 = 4096;
/** A header block spread over CONTINUATION frames may not grow past this (HCM's own default limit is 60 KiB). */
const MAX_HEADER_BLOCK: i32 = 64 * 1024;

/** What a side of the bridge does with the frames its peer sends. */
export abstract class H2Handler {
  abstract onHeaders(streamId: u32, fields: Array<HeaderField>, endStream: bool): void;
  abstract onData(streamId: u32, data: Uint8Array, endStream: bool): void;
  abstract onReset(streamId: u32, code: u32): void;
  onGoAway(lastStreamId: u32, code: u32): void {}
}

/** One endpoint's view of an HTTP/2 connection: parse what arrives, write what goes out. */
export class H2Endpoint {
  private readonly input: ByteQueue = new ByteQueue();
  private readonly decoder: HpackDecoder;
  /** Control frames owed to the peer (SETTINGS ACK, PING ACK), written at the next chance. */
  private readonly owed: ByteWriter = new ByteWriter();
  private headerBlock: ByteWriter | null = null;
  private headerBlockStream: u32 = 0;
  private headerBlockEndStream: bool = false;
  /** DATA bytes received and not yet returned to the peer with a connection WINDOW_UPDATE. */
  private unreturnedWindow: i64 = 0;
  /** How much DATA the peer lets us send on the connection (streams: its initial window, not tracked per stream). */
  sendWindow: i64 = DEFAULT_WINDOW;
  peerInitialWindow: i64 = DEFAULT_WINDOW;
  peerMaxFrameSize: i32 = DEFAULT_MAX_FRAME_SIZE;
  /** Set once the peer breaks the protocol; the side then closes the connection. */
  error: string = "";
  framesIn: i32 = 0;
  sendWindowOverruns: i32 = 0;

  /** Receives the streams' frames; set right after construction (it usually holds the endpoint). */
  handler: H2Handler | null = null;

  /** `headerTableSize`: what we advertise as SETTINGS_HEADER_TABLE_SIZE (0: the peer should keep no dynamic table). */
  constructor(private headerTableSize: i32) {
    this.decoder = new HpackDecoder(max(headerTableSize, DEFAULT_HEADER_TABLE_SIZE));
  }

  get hpackStats(): string {
    const s = this.decoder.stats;
    return "blocks=" + s.blocks.toString() + " huffman_strings=" + s.huffmanStrings.toString() +
      " plain_strings=" + s.plainStrings.toString() + " dynamic_inserts=" + s.dynamicInserts.toString() +
      " dynamic_hits=" + s.dynamicHits.toString() + " size_updates=" + s.sizeUpdates.toString();
  }

  /** Our SETTINGS and the connection window we open (the first frames we send). */
  writeSettings(out: ByteWriter, isClient: bool): void {
    const count = isClient ? 3 : 2;
    writeFrameHeader(out, 6 * count, FrameType.Settings, 0, 0);
    out.u16(Setting.HeaderTableSize);
    out.u32(<u32>this.headerTableSize);
    out.u16(Setting.InitialWindowSize);
    out.u32(<u32>MAX_WINDOW);
    // Only a client may say it refuses server push.
    if (isClient) {
      out.u16(Setting.EnablePush);
      out.u32(0);
    }
    writeWindowUpdate(out, 0, <u32>(MAX_WINDOW - DEFAULT_WINDOW));
  }

  /** Writes what we owe the peer: ACKs, and the window for the DATA consumed so far. */
  flushOwed(out: ByteWriter): void {
    if (this.owed.length > 0) out.bytes(this.owed.take());
    if (this.unreturnedWindow > 0) {
      writeWindowUpdate(out, 0, <u32>this.unreturnedWindow);
      this.unreturnedWindow = 0;
    }
  }

  /** Bytes from the peer; complete frames go to the handler, the rest waits for more. */
  receive(bytes: Uint8Array): void {
    this.input.append(bytes);
    while (this.error.length == 0 && this.input.length >= FRAME_HEADER_LENGTH) {
      const length = <i32>this.input.u24At(0);
      if (length > OUR_MAX_FRAME_SIZE) {
        this.error = "frame of " + length.toString() + " bytes above our SETTINGS_MAX_FRAME_SIZE";
        return;
      }
      if (this.input.length < FRAME_HEADER_LENGTH + length) return;
      const type = <i32>this.input.byteAt(3);
      const flags = this.input.byteAt(4);
      const streamId = this.input.u32At(5) & 0x7fffffff;
      const payload = this.input.copy(FRAME_HEADER_LENGTH, length);
      this.input.consume(FRAME_HEADER_LENGTH + length);
      this.framesIn++;
      this.onFrame(type, flags, streamId, payload);
    }
  }

  private onFrame(type: i32, flags: u8, streamId: u32, payload: Uint8Array): void {
    if (this.headerBlock != null && type != FrameType.Continuation) {
      this.error = "frame type " + type.toString() + " inside a header block";
      return;
    }
    switch (type) {
      case FrameType.Data: {
        this.unreturnedWindow += payload.length;
        const data = this.unpad(flags, payload, 0);
        if (data != null) this.handler!.onData(streamId, data, (flags & FLAG_END_STREAM) != 0);
        break;
      }
      case FrameType.Headers: {
        const fragment = this.unpad(flags, payload, (flags & FLAG_PRIORITY) != 0 ? 5 : 0);
        if (fragment == null) return;
        const block = new ByteWriter();
        block.bytes(fragment);
        this.headerBlock = block;
        this.headerBlockStream = streamId;
        this.headerBlockEndStream = (flags & FLAG_END_STREAM) != 0;
        if ((flags & FLAG_END_HEADERS) != 0) this.endHeaderBlock();
        break;
      }
      case FrameType.Continuation: {
        const block = this.headerBlock;
        if (block == null || streamId != this.headerBlockStream) {
          this.error = "CONTINUATION without HEADERS";
          return;
        }
        if (block.length + payload.length > MAX_HEADER_BLOCK) {
          this.error = "header block above " + MAX_HEADER_BLOCK.toString() + " bytes";
          return;
        }
        block.bytes(payload);
        if ((flags & FLAG_END_HEADERS) != 0) this.endHeaderBlock();
        break;
      }
      case FrameType.Settings: {
        if ((flags & FLAG_ACK) != 0) break;
        for (let at = 0; at + 6 <= payload.length; at += 6) {
          const id = (<u32>payload[at] << 8) | <u32>payload[at + 1];
          const value = (<u32>payload[at + 2] << 24) | (<u32>payload[at + 3] << 16) | (<u32>payload[at + 4] << 8) | <u32>payload[at + 5];
          if (id == Setting.InitialWindowSize) this.peerInitialWindow = <i64>value;
          else if (id == Setting.MaxFrameSize) this.peerMaxFrameSize = <i32>min(value, <u32>OUR_MAX_FRAME_SIZE * 64);
          // HEADER_TABLE_SIZE limits our encoder's table, which we never use.
        }
        writeFrameHeader(this.owed, 0, FrameType.Settings, FLAG_ACK, 0);
        break;
      }
      case FrameType.Ping: {
        if ((flags & FLAG_ACK) != 0 || payload.length != 8) break;
        writeFrameHeader(this.owed, 8, FrameType.Ping, FLAG_ACK, 0);
        this.owed.bytes(payload);
        break;
      }
      case FrameType.WindowUpdate: {
        if (payload.length != 4) break;
        const increment = ((<u32>payload[0] << 24) | (<u32>payload[1] << 16) | (<u32>payload[2] << 8) | <u32>payload[3]) & 0x7fffffff;
        if (streamId == 0) this.sendWindow += increment;
        break;
      }
      case FrameType.RstStream: {
        const code = payload.length == 4 ? (<u32>payload[0] << 24) | (<u32>payload[1] << 16) | (<u32>payload[2] << 8) | <u32>payload[3] : 0;
        this.handler!.onReset(streamId, code);
        break;
      }
      case FrameType.GoAway: {
        if (payload.length < 8) break;
        const last = ((<u32>payload[0] << 24) | (<u32>payload[1] << 16) | (<u32>payload[2] << 8) | <u32>payload[3]) & 0x7fffffff;
        const code = (<u32>payload[4] << 24) | (<u32>payload[5] << 16) | (<u32>payload[6] << 8) | <u32>payload[7];
        this.handler!.onGoAway(last, code);
        break;
      }
      default:
        // PRIORITY, PUSH_PROMISE (refused in our SETTINGS) and unknown types carry nothing we use.
        break;
    }
  }

  private endHeaderBlock(): void {
    const block = this.headerBlock!;
    this.headerBlock = null;
    const fields = this.decoder.decode(block.take());
    if (fields == null) {
      this.error = "HPACK: " + this.decoder.error;
      return;
    }
    this.handler!.onHeaders(this.headerBlockStream, fields, this.headerBlockEndStream);
  }

  /** The payload without its padding (and `skip` bytes of priority); null if the padding is bad. */
  private unpad(flags: u8, payload: Uint8Array, skip: i32): Uint8Array | null {
    let start = skip;
    let end = payload.length;
    if ((flags & FLAG_PADDED) != 0) {
      if (payload.length < 1) { this.error = "padded frame without a pad length"; return null; }
      const pad = <i32>payload[0];
      start += 1;
      end -= pad;
    }
    if (end < start) { this.error = "padding longer than the frame"; return null; }
    return payload.subarray(start, end);
  }

  /** HEADERS (with CONTINUATION when the block is larger than a frame may be). */
  writeHeaders(out: ByteWriter, streamId: u32, fields: Array<HeaderField>, endStream: bool): void {
    const block = encodeHeaderBlock(fields);
    let at = 0;
    let first = true;
    do {
      const size = min(block.length - at, this.peerMaxFrameSize);
      const last = at + size >= block.length;
      let flags: u8 = last ? FLAG_END_HEADERS : 0;
      if (first && endStream) flags |= FLAG_END_STREAM;
      writeFrameHeader(out, size, first ? FrameType.Headers : FrameType.Continuation, flags, streamId);
      out.bytes(block.subarray(at, at + size));
      at += size;
      first = false;
    } while (at < block.length);
  }

  /** DATA frames no larger than the peer allows, END_STREAM on the last. */
  writeData(out: ByteWriter, streamId: u32, body: Uint8Array, endStream: bool): void {
    if (<i64>body.length > this.sendWindow) this.sendWindowOverruns++;
    this.sendWindow -= body.length;
    let at = 0;
    do {
      const size = min(body.length - at, this.peerMaxFrameSize);
      const last = at + size >= body.length;
      writeFrameHeader(out, size, FrameType.Data, last && endStream ? FLAG_END_STREAM : 0, streamId);
      out.bytes(body.subarray(at, at + size));
      at += size;
    } while (at < body.length);
  }
}

export function writeFrameHeader(out: ByteWriter, length: i32, type: FrameType, flags: u8, streamId: u32): void {
  out.u24(<u32>length);
  out.u8(type);
  out.u8(flags);
  out.u32(streamId & 0x7fffffff);
}

export function writeWindowUpdate(out: ByteWriter, streamId: u32, increment: u32): void {
  writeFrameHeader(out, 4, FrameType.WindowUpdate, 0, streamId);
  out.u32(increment & 0x7fffffff);
}

export function writeRstStream(out: ByteWriter, streamId: u32, code: ErrorCode): void {
  writeFrameHeader(out, 4, FrameType.RstStream, 0, streamId);
  out.u32(code);
}

export function writeGoAway(out: ByteWriter, lastStreamId: u32, code: ErrorCode): void {
  writeFrameHeader(out, 8, FrameType.GoAway, 0, 0);
  out.u32(lastStreamId & 0x7fffffff);
  out.u32(code);
}

export function writeClientPreface(out: ByteWriter): void {
  out.bytes(Uint8Array.wrap(String.UTF8.encode(CLIENT_PREFACE)));
}
