// Server replies to commands. A reply is one or more packets: every packet but the last is
// skipped (DecodeResult.skip), the last one yields the Response with the bytes of the whole
// reply. What ends a reply depends on the command (state.ts ReplyShape) and on the
// negotiated capabilities (CLIENT_DEPRECATE_EOF, metadata caching).
import { Attribute, DecodeResult, Message, MessageKind, ResponseStatus } from "../../api/assembly/codec";
import { errorStatus } from "./errors";
import {
  AUTH_MORE_DATA, CLIENT_DEPRECATE_EOF, CLIENT_OPTIONAL_RESULTSET_METADATA, CLIENT_PROTOCOL_41, CLIENT_SESSION_TRACK,
  EOF_HEADER, EOF_MAX_PAYLOAD, ERR_HEADER, HEADER_LENGTH, LOCAL_INFILE_HEADER, MARIADB_CLIENT_CACHE_METADATA,
  MAX_PAYLOAD, OK_HEADER, PROGRESS_REPORT_CODE, PayloadReader, SERVER_MORE_RESULTS_EXISTS, SERVER_SESSION_STATE_CHANGED,
  SERVER_STATUS_CURSOR_EXISTS, SESSION_TRACK_SCHEMA, readU24,
} from "./wire";
import { ClientTurn, MySqlState, PendingCommand, PreparedStatement, ReplyProgress, Stage } from "./state";
import { byteAt } from "../../api/assembly/bytes";

const MAX_TEXT_BYTES: i32 = 256;

/** What one packet did to the reply. */
enum Step { More = 0, Ended = 1, Corrupt = 2 }

/** The outcome of the packet just read, for the Response the last packet carries. */
class Outcome {
  status: ResponseStatus = ResponseStatus.Ok;
  code: string = "0";
  failure: string = "";
  message: Message = new Message();

  reset(): Outcome {
    this.status = ResponseStatus.Ok;
    this.code = "0";
    this.failure = "";
    this.message.reset();
    return this;
  }
}

// Every packet of a reply (each row of a result set) is read into this one instance: the
// framework has read the Response before it asks for the next packet.
const OUTCOME = new Outcome();

/** Decodes one server packet while the server is answering commands. */
export function decodeReply(state: MySqlState, bytes: Uint8Array, frameIsTruncated: bool): DecodeResult {
  if (bytes.length < HEADER_LENGTH) return DecodeResult.needMore(HEADER_LENGTH);
  const length = readU24(bytes, 0);
  const seq = unchecked(bytes[3]);
  const total = <u32>HEADER_LENGTH + length;
  const reply = state.reply;
  const command = state.peekCommand();

  if (!reply.active && command == null) return unsolicited(bytes, total, frameIsTruncated);
  if (!reply.active) reply.start(command!);
  if (reply.nextSeq >= 0 && <i32>seq != reply.nextSeq) return DecodeResult.error("bad_sequence");
  if (<u32>bytes.length < total && !frameIsTruncated) return DecodeResult.needMore(total);
  const end = <i32>min<u32>(total, <u32>bytes.length);
  reply.nextSeq = (<i32>seq + 1) & 0xff;
  reply.bytes += <u64>total;

  // The tail of a payload >= 16 MiB: only ever rows or definitions, never the end of a reply.
  if (reply.continuation) {
    reply.continuation = length == MAX_PAYLOAD;
    return DecodeResult.skip(<u32>end);
  }
  reply.continuation = length == MAX_PAYLOAD;
  if (length == 0) return DecodeResult.error("bad_reply");

  const outcome = OUTCOME.reset();
  const step = readPacket(state, reply, command!, bytes, end, length, outcome);
  if (step == Step.Corrupt) return DecodeResult.error(outcome.failure);
  if (step == Step.More) {
    const rowsEnd = reply.stage == Stage.Rows && !reply.continuation && !frameIsTruncated ? skipRows(reply, bytes, end) : end;
    return DecodeResult.skip(<u32>rowsEnd);
  }

  const m = outcome.message;
  m.kind = MessageKind.Response;
  m.service = command!.service;
  m.method = command!.method;
  m.status = outcome.status;
  m.code = outcome.code;
  m.frameLength = <u32>min<u64>(reply.bytes, <u64>u32.MAX_VALUE);
  m.truncated = <u32>end < total;
  finish(state, command!, outcome.status == ResponseStatus.Ok);
  return DecodeResult.done(m, <u32>end);
}

/**
 * Skips the whole rows that follow `from` in `bytes` in one go (a range query's hundred rows cost
 * one decode call, not a hundred); stops before anything that may not be a plain row (a 0xFE or
 * ERR header, a 16 MiB split, an incomplete packet), which the packet-by-packet path then reads.
 */
function skipRows(reply: ReplyProgress, bytes: Uint8Array, from: i32): i32 {
  let at = from;
  const available = bytes.byteLength;
  while (available - at > HEADER_LENGTH) {
    const length = readU24(bytes, at);
    const total = HEADER_LENGTH + <i32>length;
    if (length == 0 || length >= MAX_PAYLOAD || total > available - at) break;
    if (<i32>byteAt(bytes, at + 3) != reply.nextSeq) break;
    const header = byteAt(bytes, at + HEADER_LENGTH);
    if (header == EOF_HEADER || header == ERR_HEADER) break;
    reply.nextSeq = (reply.nextSeq + 1) & 0xff;
    reply.bytes += <u64>total;
    at += total;
  }
  return at;
}

/** The command is answered: apply what an OK means and make room for the next reply. */
function finish(state: MySqlState, command: PendingCommand, ok: bool): void {
  if (ok) {
    const database = command.newDatabase;
    if (database != null && !state.reply.schemaTracked) state.database = database;
    if (command.forgetsStatements) state.forgetStatements();
  }
  state.reply.active = false;
  state.clientTurn = ClientTurn.None;
  state.shiftCommand();
}

/** A packet with no command awaiting it: an ERR (the server killing an idle connection) is an Event; anything else is corrupt. */
function unsolicited(bytes: Uint8Array, total: u32, frameIsTruncated: bool): DecodeResult {
  if (bytes.length > HEADER_LENGTH && unchecked(bytes[HEADER_LENGTH]) != ERR_HEADER) return DecodeResult.error("unexpected_reply");
  if (<u32>bytes.length < total && !frameIsTruncated) return DecodeResult.needMore(total);
  const end = <i32>min<u32>(total, <u32>bytes.length);
  if (end <= HEADER_LENGTH) return DecodeResult.error("unexpected_reply");
  const m = new Message();
  m.kind = MessageKind.Event;
  m.isReply = true;
  m.frameLength = total;
  errorMessage(m, bytes, end);
  return DecodeResult.done(m, <u32>end);
}

function readPacket(
  state: MySqlState, reply: ReplyProgress, command: PendingCommand, bytes: Uint8Array, end: i32, length: u32, outcome: Outcome,
): Step {
  const header = unchecked(bytes[HEADER_LENGTH]);
  const deprecateEof = (state.capabilities & CLIENT_DEPRECATE_EOF) != 0;
  const isEof = header == EOF_HEADER && length < EOF_MAX_PAYLOAD;
  // With CLIENT_DEPRECATE_EOF, result sets end in an OK packet with a 0xFE header; only a row
  // of >= 16 MiB (split, so its first packet is exactly 0xFFFFFF long) also starts with 0xFE.
  const isTerminator = header == EOF_HEADER && (deprecateEof ? length < MAX_PAYLOAD : length < EOF_MAX_PAYLOAD);

  switch (reply.stage) {
    case Stage.First: {
      if (header == OK_HEADER) return afterResult(state, okStatus(state, bytes, end));
      if (header == ERR_HEADER) return failed(bytes, end, outcome);
      // 0xFE first: an EOF (COM_SET_OPTION, COM_DEBUG), which CLIENT_DEPRECATE_EOF turns into an OK.
      if (isTerminator) return afterResult(state, deprecateEof ? okStatus(state, bytes, end) : eofStatus(bytes, end));
      if (header == LOCAL_INFILE_HEADER) {
        // The server asks for a file; the client sends it, then an empty packet; then OK/ERR.
        state.clientTurn = ClientTurn.LocalInfile;
        state.infileNextSeq = unchecked(bytes[3]) + 1;
        state.infileContinuation = false;
        reply.nextSeq = -1;
        return Step.More;
      }
      const r = new PayloadReader(bytes, HEADER_LENGTH, end);
      // Any count the server sends (MariaDB returns more than 65535 columns for a wide SELECT):
      // the codec keeps nothing per column, it only counts the definitions down.
      const columns = r.lenenc();
      if (!r.ok || columns == 0) return corrupt(outcome, "bad_column_count");
      // Metadata may be left out (the client cached it from PREPARE): a byte after the count says.
      let metadataFollows = true;
      if ((state.capabilities & (MARIADB_CLIENT_CACHE_METADATA | CLIENT_OPTIONAL_RESULTSET_METADATA)) != 0 && r.remaining > 0) {
        metadataFollows = r.u8() != 0;
      }
      reply.left = metadataFollows ? columns : 0;
      reply.stage = reply.left > 0 ? Stage.ColumnDefs : columnsDone(deprecateEof);
      return Step.More;
    }
    case Stage.ColumnDefs: {
      if (!isColumnDefinition(bytes, end)) return corrupt(outcome, "bad_column_definition");
      if (--reply.left == 0) reply.stage = columnsDone(deprecateEof);
      return Step.More;
    }
    case Stage.ColumnsEof: {
      if (header == ERR_HEADER) return failed(bytes, end, outcome);
      if (!isEof) return corrupt(outcome, "bad_eof");
      // A cursor was opened (COM_STMT_EXECUTE with a cursor flag): rows come with COM_STMT_FETCH.
      // Only such a command ends here: MariaDB also sets the flag on a plain result set sent while
      // a stored procedure has a cursor open, and that result set's rows follow.
      if (command.opensCursor && (eofStatus(bytes, end) & SERVER_STATUS_CURSOR_EXISTS) != 0) return Step.Ended;
      reply.stage = Stage.Rows;
      return Step.More;
    }
    case Stage.Rows: {
      if (isTerminator) {
        return afterResult(state, deprecateEof ? okStatus(state, bytes, end) : eofStatus(bytes, end));
      }
      if (header == ERR_HEADER) return failed(bytes, end, outcome);
      return Step.More; // a row
    }
    case Stage.PrepareFirst: {
      if (header == ERR_HEADER) return failed(bytes, end, outcome);
      if (header != OK_HEADER) return corrupt(outcome, "bad_prepare_reply");
      const r = new PayloadReader(bytes, HEADER_LENGTH + 1, end);
      const id = r.u32();
      const columns = r.u16();
      const params = r.u16();
      if (!r.ok) return corrupt(outcome, "bad_prepare_reply");
      state.rememberStatement(id, new PreparedStatement(command.query, command.keyword, params));
      outcome.message.attributes.push(new Attribute("statement_id", id.toString()));
      reply.columnsAfterParams = columns;
      if (params > 0) {
        reply.left = params;
        reply.stage = Stage.PrepareParams;
        return Step.More;
      }
      return startPreparedColumns(reply);
    }
    case Stage.PrepareParams: {
      if (!isColumnDefinition(bytes, end)) return corrupt(outcome, "bad_column_definition");
      if (--reply.left > 0) return Step.More;
      if (!deprecateEof) {
        reply.stage = Stage.PrepareParamsEof;
        return Step.More;
      }
      return startPreparedColumns(reply);
    }
    case Stage.PrepareParamsEof: {
      if (!isEof) return corrupt(outcome, "bad_eof");
      return startPreparedColumns(reply);
    }
    case Stage.PrepareColumns: {
      if (!isColumnDefinition(bytes, end)) return corrupt(outcome, "bad_column_definition");
      if (--reply.left > 0) return Step.More;
      if (deprecateEof) return Step.Ended;
      reply.stage = Stage.PrepareColumnsEof;
      return Step.More;
    }
    case Stage.PrepareColumnsEof: {
      return isEof ? Step.Ended : corrupt(outcome, "bad_eof");
    }
    case Stage.FieldList: {
      if (isTerminator) return Step.Ended;
      if (header == ERR_HEADER) return failed(bytes, end, outcome);
      return isColumnDefinition(bytes, end) ? Step.More : corrupt(outcome, "bad_column_definition");
    }
    case Stage.Statistics: {
      // A line of text ("Uptime: ..."), or ERR.
      if (header == ERR_HEADER && length >= 3) return failed(bytes, end, outcome);
      return Step.Ended;
    }
    case Stage.Auth: {
      if (header == OK_HEADER) {
        okStatus(state, bytes, end);
        return Step.Ended;
      }
      if (header == ERR_HEADER) return failed(bytes, end, outcome);
      if (header == EOF_HEADER || header == AUTH_MORE_DATA) {
        // Auth switch request or more auth data: the client answers, the server continues.
        state.clientTurn = ClientTurn.Auth;
        reply.nextSeq = -1;
        return Step.More;
      }
      return corrupt(outcome, "bad_auth_reply");
    }
  }
  return corrupt(outcome, "bad_reply");
}

function columnsDone(deprecateEof: bool): Stage {
  return deprecateEof ? Stage.Rows : Stage.ColumnsEof;
}

function startPreparedColumns(reply: ReplyProgress): Step {
  if (reply.columnsAfterParams == 0) return Step.Ended;
  reply.left = reply.columnsAfterParams;
  reply.columnsAfterParams = 0;
  reply.stage = Stage.PrepareColumns;
  return Step.More;
}

/** A result ended with these status flags: more results may follow (multi-statements, CALL). */
function afterResult(state: MySqlState, status: u16): Step {
  if ((status & SERVER_MORE_RESULTS_EXISTS) == 0) return Step.Ended;
  state.reply.stage = Stage.First;
  return Step.More;
}

/** An ERR ends the reply, except MariaDB's progress reports (code 0xFFFF). */
function failed(bytes: Uint8Array, end: i32, outcome: Outcome): Step {
  const code = errorMessage(outcome.message, bytes, end);
  if (code == PROGRESS_REPORT_CODE) {
    outcome.message.attributes = [];
    outcome.message.exception = "";
    return Step.More;
  }
  outcome.status = errorStatus(code);
  outcome.code = code.toString();
  return Step.Ended;
}

function corrupt(outcome: Outcome, reason: string): Step {
  outcome.failure = reason;
  return Step.Corrupt;
}

/** Column definitions start with the catalog, always the length-encoded string "def". */
function isColumnDefinition(bytes: Uint8Array, end: i32): bool {
  const at = HEADER_LENGTH;
  return end >= at + 4 && unchecked(bytes[at]) == 3 && unchecked(bytes[at + 1]) == 0x64 &&
    unchecked(bytes[at + 2]) == 0x65 && unchecked(bytes[at + 3]) == 0x66;
}

function eofStatus(bytes: Uint8Array, end: i32): u16 {
  const r = new PayloadReader(bytes, HEADER_LENGTH + 1, end);
  r.u16(); // warnings
  return r.u16();
}

/**
 * Status flags of an OK packet (header 0x00, or 0xFE as a result-set terminator). Follows a
 * schema change the server reports through session tracking (USE inside a multi-statement,
 * a stored procedure...).
 */
function okStatus(state: MySqlState, bytes: Uint8Array, end: i32): u16 {
  const r = new PayloadReader(bytes, HEADER_LENGTH + 1, end);
  r.lenenc(); // affected rows
  r.lenenc(); // last insert id
  if ((state.capabilities & CLIENT_PROTOCOL_41) == 0) return 0;
  const status = r.u16();
  r.u16(); // warnings
  if (!r.ok) return status;
  if ((state.capabilities & CLIENT_SESSION_TRACK) != 0 && (status & SERVER_SESSION_STATE_CHANGED) != 0 && r.remaining > 0) {
    r.lenencString(0); // info
    const changes = r.lenenc();
    if (!r.ok) return status;
    const changesEnd = <i32>min<u64>(<u64>r.pos + changes, <u64>r.end);
    const c = new PayloadReader(bytes, r.pos, changesEnd);
    // Each change takes at least two bytes, so this ends.
    while (c.ok && c.remaining > 0) {
      const type = c.u8();
      const data = c.lenenc();
      if (!c.ok || data > <u64>c.remaining) break;
      const dataEnd = c.pos + <i32>data;
      if (type == SESSION_TRACK_SCHEMA) {
        const schema = new PayloadReader(bytes, c.pos, dataEnd).lenencString(MAX_TEXT_BYTES);
        if (schema.length > 0) {
          state.database = schema;
          state.reply.schemaTracked = true;
        }
      }
      c.pos = dataEnd;
    }
  }
  return status;
}

/** Reads an ERR payload into `m`'s attributes; returns its code. */
export function errorMessage(m: Message, bytes: Uint8Array, end: i32): u16 {
  const r = new PayloadReader(bytes, HEADER_LENGTH + 1, end);
  const code = r.u16();
  if (code == PROGRESS_REPORT_CODE) return code;
  // Protocol 4.1 servers put '#' and a 5-character SQLSTATE before the message.
  if (r.remaining >= 6 && unchecked(bytes[r.pos]) == 0x23) {
    r.skip(1);
    m.attributes.push(new Attribute("sql_state", r.fixedString(5, 5)));
  }
  const text = r.restString(MAX_TEXT_BYTES);
  m.attributes.push(new Attribute("error", text));
  m.exception = text;
  m.status = errorStatus(code);
  m.code = code.toString();
  return code;
}
