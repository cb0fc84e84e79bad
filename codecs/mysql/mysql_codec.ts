// MySQL / MariaDB client-server protocol: packets of a 3-byte length and a sequence id, a
// server greeting, a login, then commands each answered by one reply of one or more packets.
// Requests and replies pair in order (one command at a time per connection, or pipelined).
import {
  Codec, ConnectionState, DecodeResult, Direction, LocalReply, LocalReplyKind, Message, Pairing,
} from "../../api/assembly/codec";
import { CommandDecoder } from "./commands";
import { decodeGreeting, decodeLogin, greetingLooksWrong } from "./handshake";
import { errorReply, pingProbe } from "./local_reply";
import { decodeReply } from "./replies";
import { ClientTurn, MySqlState, PendingCommand, Phase, ReplyShape } from "./state";
import { HEADER_LENGTH, MAX_PAYLOAD, commandName, readU24 } from "./wire";

export class MySqlCodec extends Codec {
  private commands: CommandDecoder = new CommandDecoder();

  name(): string { return "mysql"; }

  pairing(): Pairing { return Pairing.Fifo; }

  serverFirst(): bool { return true; }

  newConnectionState(): ConnectionState | null { return new MySqlState(); }

  /** An ERR packet where the refused command's reply starts (codes: local_reply.ts). */
  encodeLocalReply(request: Message, kind: LocalReplyKind, text: string, state: ConnectionState | null): LocalReply | null {
    if (state == null || !(state instanceof MySqlState)) return null;
    const s = changetype<MySqlState>(state);
    return errorReply(kind, text, s.lastReplySeq, s.capabilities);
  }

  /**
   * COM_PING in place of the command just decoded, when its OK, read as that command's reply,
   * leaves the connection state true (see pingStandsIn), and no auth exchange is under way: a
   * login, or a command pipelined behind a login or COM_CHANGE_USER, gets no probe.
   */
  probeRequest(request: Message, id: u64, state: ConnectionState | null): Uint8Array | null {
    if (state == null || !(state instanceof MySqlState)) return null;
    const s = changetype<MySqlState>(state);
    if (!s.lastAnsweredByPing || s.authPending || s.clientTurn != ClientTurn.None) return null;
    return pingProbe();
  }

  decode(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: ConnectionState | null): DecodeResult {
    if (state == null || !(state instanceof MySqlState)) return DecodeResult.error("no_state");
    const s = changetype<MySqlState>(state);
    return direction == Direction.Downstream ? this.decodeClient(s, bytes, frameIsTruncated) : this.decodeServer(s, bytes, frameIsTruncated);
  }

  private decodeServer(s: MySqlState, bytes: Uint8Array, frameIsTruncated: bool): DecodeResult {
    if (s.phase != Phase.Greeting) return decodeReply(s, bytes, frameIsTruncated);
    if (greetingLooksWrong(bytes)) return DecodeResult.error("bad_greeting");
    if (bytes.length <= HEADER_LENGTH) return DecodeResult.needMore(HEADER_LENGTH + 1);
    const total = <u32>HEADER_LENGTH + readU24(bytes, 0);
    if (<u32>bytes.length < total && !frameIsTruncated) return DecodeResult.needMore(total);
    return decodeGreeting(s, bytes, <i32>min<u32>(total, <u32>bytes.length), total);
  }

  private decodeClient(s: MySqlState, bytes: Uint8Array, frameIsTruncated: bool): DecodeResult {
    // A MySQL client waits for the greeting; one that talks first speaks something else.
    if (s.phase == Phase.Greeting) return DecodeResult.error("client_spoke_first");
    if (bytes.length < HEADER_LENGTH) return DecodeResult.needMore(HEADER_LENGTH);
    const length = readU24(bytes, 0);
    const seq = unchecked(bytes[3]);
    const total = <u32>HEADER_LENGTH + length;
    const whole = <u32>bytes.length >= total;
    const end = <i32>min<u32>(total, <u32>bytes.length);

    const partial = s.partialRequest;
    if (partial != null) {
      // The next packet of a command of >= 16 MiB.
      if (seq != s.partialNextSeq) return DecodeResult.error("bad_sequence");
      if (!whole && !frameIsTruncated) return DecodeResult.needMore(total);
      s.partialBytes += <u64>total;
      s.partialNextSeq = seq + 1;
      if (length == MAX_PAYLOAD) return DecodeResult.skip(<u32>end);
      const command = s.partialCommand;
      s.partialRequest = null;
      s.partialCommand = null;
      return this.complete(s, partial, command, s.partialBytes, seq, end);
    }

    if (s.phase == Phase.HandshakeResponse) {
      if (seq != 1 || length == 0 || length == MAX_PAYLOAD) return DecodeResult.error("bad_handshake_response");
      if (!whole && !frameIsTruncated) return DecodeResult.needMore(total);
      s.lastReplySeq = seq + 1;
      s.lastAnsweredByPing = false;
      return decodeLogin(s, bytes, end, seq, total);
    }

    if (s.clientTurn == ClientTurn.LocalInfile) return this.fileContents(s, length, seq, whole, frameIsTruncated, total, end);
    if (seq != 0) {
      // Auth data after an auth switch: part of the server's reply exchange.
      if (s.clientTurn != ClientTurn.Auth) return DecodeResult.error("bad_sequence");
      if (!whole && !frameIsTruncated) return DecodeResult.needMore(total);
      return DecodeResult.skip(<u32>end);
    }
    if (length == 0) return DecodeResult.error("empty_command");
    if (bytes.length > HEADER_LENGTH && commandName(unchecked(bytes[HEADER_LENGTH])).length == 0) return DecodeResult.error("unknown_command");
    if (!whole && !frameIsTruncated) return DecodeResult.needMore(total);

    const result = this.commands.decode(s, bytes, end, whole, this.attributesWanted);
    if (result.message == null) return result;
    const message = result.message!;
    message.truncated = !whole;
    if (length == MAX_PAYLOAD) {
      s.partialRequest = ownCopy(message);
      const command = this.commands.command;
      s.partialCommand = command != null ? new PendingCommand().copyFrom(command) : null;
      s.partialBytes = <u64>total;
      s.partialNextSeq = seq + 1;
      return DecodeResult.skip(<u32>end);
    }
    return this.complete(s, message, this.commands.command, <u64>total, seq, end);
  }

  /**
   * A packet of LOCAL INFILE contents. The client sends nothing else until the empty packet
   * that ends the file, and past 255 packets the sequence id wraps to 0: a packet with id 0
   * here is file data, not a command.
   */
  private fileContents(s: MySqlState, length: u32, seq: u8, whole: bool, frameIsTruncated: bool, total: u32, end: i32): DecodeResult {
    if (seq != s.infileNextSeq) return DecodeResult.error("bad_sequence");
    if (!whole && !frameIsTruncated) return DecodeResult.needMore(total);
    s.infileNextSeq = seq + 1;
    // An empty packet right after a 0xFFFFFF one only completes that packet.
    if (length == 0 && !s.infileContinuation) s.clientTurn = ClientTurn.None;
    s.infileContinuation = length == MAX_PAYLOAD;
    return DecodeResult.skip(<u32>end);
  }

  /** The command's last packet is through: count its bytes and expect its reply. */
  private complete(s: MySqlState, message: Message, command: PendingCommand | null, bytes: u64, lastSeq: u8, end: i32): DecodeResult {
    message.frameLength = <u32>min<u64>(bytes, <u64>u32.MAX_VALUE);
    s.lastReplySeq = lastSeq + 1;
    s.lastAnsweredByPing = false;
    if (command != null) {
      command.firstReplySeq = lastSeq + 1;
      s.lastAnsweredByPing = pingStandsIn(command);
      s.pushCommand(command);
    }
    return DecodeResult.done(message, <u32>end);
  }
}

/**
 * True when a COM_PING sent in the command's place keeps the codec's state true once the PING's
 * OK is read as the command's reply: a one-packet command (its reply starts at sequence id 1, as
 * the PING's does) whose reply is read as OK/ERR/result set (not a prepare, field list, fetch,
 * statistics or auth reply), and whose OK changes nothing the codec follows: not a schema change
 * (USE, COM_INIT_DB), not a COM_RESET_CONNECTION, not LOAD DATA / LOAD XML (whose reply may ask
 * for the client's file).
 */
function pingStandsIn(command: PendingCommand): bool {
  return command.shape == ReplyShape.Generic && command.firstReplySeq == 1 && command.newDatabase == null &&
    !command.forgetsStatements && command.method != LOAD_METHOD;
}

const LOAD_METHOD = "COM_QUERY:LOAD";

/**
 * A copy of a decoded message a connection can keep across decode calls (the decoder's message
 * is shared by every connection). Only commands of 16 MiB and more take this path.
 */
function ownCopy(message: Message): Message {
  const copy = new Message();
  copy.kind = message.kind;
  copy.service = message.service;
  copy.method = message.method;
  copy.truncated = message.truncated;
  copy.attributes = message.attributes.slice(0);
  return copy;
}
