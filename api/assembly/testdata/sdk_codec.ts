// A codec that reports what the SDK hands it, for api/assembly/codec_sdk.test.ts: each
// newline-ended line is a message whose service is the caps the framework set
// ("<maxBufferedBytes>/<maxPendingCalls>") and whose method counts the lines of its connection
// so far, both directions together, from its typed state.
export * from "../../../filters/metaprotocol/index";
import { useCodec } from "../../../filters/metaprotocol/root";
import {
  ConnectionState, DecodeResult, Direction, Message, MessageKind, Pairing, ResponseStatus, StatefulCodec,
} from "../codec";
import { byteAt } from "../bytes";

class LineCount extends ConnectionState {
  lines: i32 = 0;
}

class SdkCodec extends StatefulCodec<LineCount> {
  private readonly message: Message = new Message();

  name(): string { return "sdk"; }

  pairing(): Pairing { return Pairing.Fifo; }

  newState(): LineCount { return new LineCount(); }

  decodeWith(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: LineCount): DecodeResult {
    for (let i = 0; i < bytes.byteLength; i++) {
      if (byteAt(bytes, i) != 0x0a) continue;
      state.lines++;
      const m = this.message.reset();
      m.kind = direction == Direction.Downstream ? MessageKind.Request : MessageKind.Response;
      m.status = ResponseStatus.Ok;
      m.service = this.maxBufferedBytes.toString() + "/" + this.maxPendingCalls.toString();
      m.method = state.lines.toString();
      m.frameLength = <u32>i + 1;
      return DecodeResult.done(m, <u32>i + 1);
    }
    return DecodeResult.needMore(0);
  }
}

useCodec(new SdkCodec());
