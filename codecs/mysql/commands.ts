// Client commands: the first packet of each (sequence id 0) names the command; its metadata
// becomes the call's method and attributes, and a PendingCommand tells the reply parser what
// answer to expect.
import { Attribute, DecodeResult, Message, MessageKind } from "../../api/assembly/codec";
import {
  CLIENT_QUERY_ATTRIBUTES, CLIENT_SECURE_CONNECTION, COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID, COM_CHANGE_USER,
  COM_FIELD_LIST, COM_INIT_DB, COM_QUERY, COM_QUIT, COM_RESET_CONNECTION, COM_STATISTICS, COM_STMT_CLOSE,
  COM_STMT_EXECUTE, COM_STMT_FETCH, COM_STMT_PREPARE, COM_STMT_RESET, COM_STMT_SEND_LONG_DATA, HEADER_LENGTH,
  LAST_PREPARED_STATEMENT, PayloadReader, commandName, utf8,
} from "./wire";
import { MAX_PENDING_COMMANDS, MySqlState, PendingCommand, ReplyShape } from "./state";
import { OTHER_KEYWORD, firstKeyword, useTarget } from "./sql";

/** COM_STMT_EXECUTE flags asking for a cursor: read-only, for update, scrollable. */
const CURSOR_TYPE_FLAGS: u8 = 0x07;
/** Statement text kept in the `query` attribute (and per prepared statement). */
const MAX_QUERY_BYTES: i32 = 256;
const MAX_NAME_BYTES: i32 = 256;

/**
 * "<command>:<KEYWORD>" method names, one string per keyword (the keyword list is closed), so
 * pending commands share them.
 */
class MethodNames {
  private byKeyword: Map<string, string> = new Map();
  private lastKeyword: string = "";
  private lastMethod: string = "";

  constructor(private command: string) {}

  of(keyword: string): string {
    if (keyword == this.lastKeyword) return this.lastMethod;
    let method: string;
    if (this.byKeyword.has(keyword)) {
      method = this.byKeyword.get(keyword);
    } else {
      method = this.command + ":" + keyword;
      this.byKeyword.set(keyword, method);
    }
    this.lastKeyword = keyword;
    this.lastMethod = method;
    return method;
  }
}

/**
 * Decodes a command from its first packet (payload in bytes[4..end); `wholePacket` is false
 * when that is a prefix). On Done the PendingCommand, if the command expects a reply, is in
 * `command` for the caller to queue once the whole command is through.
 */
export class CommandDecoder {
  command: PendingCommand | null = null;
  // The framework reads each message before the next decode, and the connection's queue copies
  // the pending command's fields: one instance of each serves every command.
  private readonly message: Message = new Message();
  private readonly pending: PendingCommand = new PendingCommand();

  private readonly queryMethods: MethodNames = new MethodNames("COM_QUERY");
  private readonly executeMethods: MethodNames = new MethodNames("COM_STMT_EXECUTE");

  decode(state: MySqlState, bytes: Uint8Array, end: i32, wholePacket: bool, attributesWanted: bool): DecodeResult {
    this.command = null;
    const code = unchecked(bytes[HEADER_LENGTH]);
    const name = commandName(code);
    if (name.length == 0) return DecodeResult.error("unknown_command");
    if (code == COM_BINLOG_DUMP || code == COM_BINLOG_DUMP_GTID) return DecodeResult.passThrough("replication");
    if (state.pendingCommands >= MAX_PENDING_COMMANDS) return DecodeResult.passThrough("pipeline_too_deep");

    const m = this.message.reset();
    m.kind = MessageKind.Request;
    m.service = state.database;
    m.method = name;
    let shape = ReplyShape.Generic;
    let newDatabase: string | null = null;
    let query = "";
    let keyword = "";
    let forgetsStatements = false;
    let opensCursor = false;
    const args = HEADER_LENGTH + 1;

    switch (code) {
      case COM_QUIT:
      case COM_STMT_SEND_LONG_DATA:
        m.kind = MessageKind.Oneway;
        break;
      case COM_STMT_CLOSE: {
        m.kind = MessageKind.Oneway;
        const id = new PayloadReader(bytes, args, end).u32();
        m.attributes.push(new Attribute("statement_id", id.toString()));
        state.statements.delete(id);
        break;
      }
      case COM_QUERY: {
        let sql = args;
        keyword = OTHER_KEYWORD;
        if ((state.capabilities & CLIENT_QUERY_ATTRIBUTES) != 0) {
          // MySQL 8 query attributes come first; with any present the SQL's offset would
          // need the attribute values decoded, so the keyword stays OTHER.
          const r = new PayloadReader(bytes, args, end);
          const parameters = r.lenenc();
          r.lenenc(); // parameter set count
          sql = r.ok && parameters == 0 ? r.pos : end;
        }
        if (sql < end) keyword = firstKeyword(bytes, sql, end);
        m.method = this.queryMethods.of(keyword);
        // The text only feeds the `query` attribute: read it only when someone reads attributes.
        if (attributesWanted) query = utf8(bytes, sql, min(end, sql + MAX_QUERY_BYTES));
        if (keyword == "USE") newDatabase = useTarget(bytes, sql, end);
        break;
      }
      case COM_STMT_PREPARE:
        shape = ReplyShape.Prepare;
        query = utf8(bytes, args, min(end, args + MAX_QUERY_BYTES));
        keyword = firstKeyword(bytes, args, end);
        state.lastPrepareQuery = query;
        state.lastPrepareKeyword = keyword;
        break;
      case COM_STMT_EXECUTE: {
        const r = new PayloadReader(bytes, args, end);
        const id = r.u32();
        const flags = r.u8();
        if (!r.ok) return DecodeResult.error("bad_execute");
        opensCursor = (flags & CURSOR_TYPE_FLAGS) != 0;
        m.attributes.push(new Attribute("statement_id", id.toString()));
        // MariaDB's "statement prepared last" is sent right behind its PREPARE, before the
        // reply tells its parameter count: only its text is known.
        if (id == LAST_PREPARED_STATEMENT) {
          if (state.lastPrepareKeyword.length > 0) m.method = this.executeMethods.of(state.lastPrepareKeyword);
          if (state.lastPrepareQuery.length > 0) {
            m.attributes.push(new Attribute("query", state.lastPrepareQuery));
            m.statement = state.lastPrepareQuery;
          }
          break;
        }
        // A client learns a statement id from the PREPARE reply, so that reply was decoded already.
        // An id the codec never saw prepared keeps the plain method name.
        const statement = state.statement(id);
        if (statement != null) {
          m.method = this.executeMethods.of(statement.keyword);
          m.attributes.push(new Attribute("query", statement.query));
          m.statement = statement.query;
          // flags(1) iteration-count(4), then a NULL bitmap and the new-params-bound flag.
          const needed = 1 + 4 + 1 + 4 + (statement.params > 0 ? (<i32>statement.params + 7) / 8 + 1 : 0);
          if (end - HEADER_LENGTH < needed && wholePacket) return DecodeResult.error("bad_execute");
        }
        break;
      }
      case COM_STMT_FETCH:
        shape = ReplyShape.Rows;
        m.attributes.push(new Attribute("statement_id", new PayloadReader(bytes, args, end).u32().toString()));
        break;
      case COM_STMT_RESET:
        m.attributes.push(new Attribute("statement_id", new PayloadReader(bytes, args, end).u32().toString()));
        break;
      case COM_INIT_DB:
        newDatabase = new PayloadReader(bytes, args, end).restString(MAX_NAME_BYTES);
        m.attributes.push(new Attribute("database", newDatabase as string));
        break;
      case COM_FIELD_LIST:
        shape = ReplyShape.FieldList;
        m.attributes.push(new Attribute("table", new PayloadReader(bytes, args, end).nulString(MAX_NAME_BYTES)));
        break;
      case COM_STATISTICS:
        shape = ReplyShape.Statistics;
        break;
      case COM_CHANGE_USER: {
        // user, auth data, schema, then optional charset, plugin and attributes.
        shape = ReplyShape.Auth;
        forgetsStatements = true;
        const r = new PayloadReader(bytes, args, end);
        const user = r.nulString(MAX_NAME_BYTES);
        if ((state.capabilities & CLIENT_SECURE_CONNECTION) != 0) r.skip(r.u8());
        else r.nulString(0);
        const database = r.nulString(MAX_NAME_BYTES);
        newDatabase = database;
        m.attributes.push(new Attribute("user", user));
        if (database.length > 0) m.attributes.push(new Attribute("database", database));
        break;
      }
      case COM_RESET_CONNECTION:
        forgetsStatements = true;
        break;
    }
    if (query.length > 0) {
      m.attributes.push(new Attribute("query", query));
      m.statement = query;
    }
    if (m.kind == MessageKind.Request) {
      // The reply's first sequence id is known once the command's last packet is through.
      const command = this.pending.reset(shape, m.method, m.service, 1);
      command.newDatabase = newDatabase;
      command.forgetsStatements = forgetsStatements;
      command.opensCursor = opensCursor;
      // Only a PREPARE needs its text and keyword again (kept with the statement id its reply gives).
      if (shape == ReplyShape.Prepare) {
        command.query = query;
        command.keyword = keyword;
      }
      this.command = command;
    }
    return DecodeResult.done(m, <u32>end);
  }
}
