// A toy newline-delimited protocol that reaches every path of the framework: FIFO pairing,
// oneway calls, events, multi-part responses (Skip), pass-through and decode errors.
//   client: "CALL <service> <method>\n" | "SEND <service> <method>\n" | "STARTTLS\n"
//   server: "OK <code>\n" | "ERR <code>\n" | "BAD <code>\n" | "PART\n" (more of the response follows) | "PUSH\n"
import {
  Codec, ConnectionState, DecodeResult, Direction, Message, MessageKind, Pairing, ResponseStatus,
} from "../../../api/assembly/codec";

export class LineCodec extends Codec {
  name(): string { return "line"; }

  pairing(): Pairing { return Pairing.Fifo; }

  decode(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: ConnectionState | null): DecodeResult {
    let end = -1;
    for (let i = 0; i < bytes.length; i++) {
      if (unchecked(bytes[i]) == 0x0a) { end = i; break; }
    }
    if (end < 0) return DecodeResult.needMore(0);
    const line = String.UTF8.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + end));
    const words = line.split(" ");
    const consumed = <u32>end + 1;
    const m = new Message();
    m.frameLength = consumed;
    const verb = words[0];
    if (direction == Direction.Downstream) {
      if (verb == "STARTTLS") return DecodeResult.passThrough("tls");
      if ((verb != "CALL" && verb != "SEND") || words.length != 3) return DecodeResult.error("bad_line");
      m.kind = verb == "CALL" ? MessageKind.Request : MessageKind.Oneway;
      m.service = words[1];
      m.method = words[2];
      return DecodeResult.done(m, consumed);
    }
    if (verb == "PART") return DecodeResult.skip(consumed);
    if (verb == "PUSH") {
      m.kind = MessageKind.Event;
      return DecodeResult.done(m, consumed);
    }
    if (words.length != 2) return DecodeResult.error("bad_line");
    m.kind = MessageKind.Response;
    m.code = words[1];
    if (verb == "OK") m.status = ResponseStatus.Ok;
    else if (verb == "ERR") m.status = ResponseStatus.ServerError;
    else if (verb == "BAD") m.status = ResponseStatus.ClientError;
    else return DecodeResult.error("bad_line");
    return DecodeResult.done(m, consumed);
  }
}
