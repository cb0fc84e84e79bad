// What the codec remembers about one MySQL connection: where the handshake is, what was
// negotiated, the commands awaiting their reply (clients may pipeline), prepared statements,
// and how far the current reply has got.
import { ConnectionState, Message } from "../../api/assembly/codec";

export enum Phase {
  /** Waiting for the server's greeting (the server speaks first). */
  Greeting = 0,
  /** Greeting seen; the client's HandshakeResponse comes next. */
  HandshakeResponse = 1,
  /** Logged in, or logging in: every client packet with sequence id 0 is a command. */
  Commands = 2,
}

/** How the server answers a command: which reply parser to run. */
export enum ReplyShape {
  /** OK / ERR / EOF, result sets (chained with SERVER_MORE_RESULTS_EXISTS), LOCAL INFILE. */
  Generic = 0,
  /** Auth exchange until OK/ERR: the login and COM_CHANGE_USER. */
  Auth = 1,
  /** COM_STMT_PREPARE: prepare-OK, parameter and column definitions. */
  Prepare = 2,
  /** COM_FIELD_LIST: column definitions until EOF. */
  FieldList = 3,
  /** COM_STMT_FETCH: rows until EOF. */
  Rows = 4,
  /** COM_STATISTICS: one packet of text. */
  Statistics = 5,
}

/**
 * A command sent and not yet answered, as the reply parser reads it. The queue does not keep
 * these objects: it packs their fields into flat arrays (see CommandQueue), so a deep pipeline
 * costs a few words per command.
 */
export class PendingCommand {
  shape: ReplyShape = ReplyShape.Generic;
  method: string = "";
  service: string = "";
  /** Sequence id of the reply's first packet: one past the command's last packet. */
  firstReplySeq: u8 = 1;
  /** True when an OK reply forgets the prepared statements (COM_CHANGE_USER, COM_RESET_CONNECTION). */
  forgetsStatements: bool = false;
  /** COM_STMT_EXECUTE with a cursor flag: a result set's column EOF may end the reply (rows come by COM_STMT_FETCH). */
  opensCursor: bool = false;
  /** Schema the connection switches to when the reply is OK (COM_INIT_DB, USE, login, change user). */
  newDatabase: string | null = null;
  /** COM_STMT_PREPARE: the statement's text prefix and first keyword, kept with its id. */
  query: string = "";
  keyword: string = "";

  /** Copies every field of `other` (the decoder's shared instance) into this one. */
  copyFrom(other: PendingCommand): PendingCommand {
    this.reset(other.shape, other.method, other.service, other.firstReplySeq);
    this.forgetsStatements = other.forgetsStatements;
    this.opensCursor = other.opensCursor;
    this.newDatabase = other.newDatabase;
    this.query = other.query;
    this.keyword = other.keyword;
    return this;
  }

  reset(shape: ReplyShape, method: string, service: string, firstReplySeq: u8): PendingCommand {
    this.shape = shape;
    this.method = method;
    this.service = service;
    this.firstReplySeq = firstReplySeq;
    this.forgetsStatements = false;
    this.opensCursor = false;
    this.newDatabase = null;
    this.query = "";
    this.keyword = "";
    return this;
  }
}

/** What few commands carry beyond shape, method and service: kept aside, null for most. */
class CommandExtras {
  constructor(public newDatabase: string | null, public query: string, public keyword: string) {}
}

const FORGETS_STATEMENTS: u32 = 1 << 16;
const OPENS_CURSOR: u32 = 1 << 17;
/** Ring capacity a connection starts with, and goes back to once a deep pipeline has drained. */
const INITIAL_QUEUE_CAPACITY: i32 = 16;
const SHRINK_ABOVE_CAPACITY: i32 = 1024;

/**
 * Commands awaiting their reply, oldest first: a ring of four words per command (method and
 * service are shared strings; shape, first reply sequence id and flags packed in one u32;
 * a reference to CommandExtras, null for most commands). No object per command.
 */
export class CommandQueue {
  private methods: StaticArray<string | null> = new StaticArray<string | null>(INITIAL_QUEUE_CAPACITY);
  private services: StaticArray<string | null> = new StaticArray<string | null>(INITIAL_QUEUE_CAPACITY);
  private packed: StaticArray<u32> = new StaticArray<u32>(INITIAL_QUEUE_CAPACITY);
  private extras: StaticArray<CommandExtras | null> = new StaticArray<CommandExtras | null>(INITIAL_QUEUE_CAPACITY);
  private head: i32 = 0;
  private count: i32 = 0;
  /** Queued logins and COM_CHANGE_USERs: their auth exchange is still under way. */
  private authCount: i32 = 0;
  // peek() fills this one object: the reply parser reads it before the next push or shift.
  // It is filled once per command, not once per packet of the reply (rows of a result set).
  private readonly view: PendingCommand = new PendingCommand();
  private viewIsHead: bool = false;

  get length(): i32 {
    return this.count;
  }

  /** True while a login or COM_CHANGE_USER awaits the end of its auth exchange. */
  get authPending(): bool {
    return this.authCount > 0;
  }

  push(command: PendingCommand): void {
    if (this.count == 0) this.viewIsHead = false;
    if (this.count == this.packed.length) this.resize(this.packed.length * 2);
    const at = (this.head + this.count) & (this.packed.length - 1);
    unchecked(this.methods[at] = command.method);
    unchecked(this.services[at] = command.service);
    let bits = <u32>command.shape | (<u32>command.firstReplySeq << 8);
    if (command.forgetsStatements) bits |= FORGETS_STATEMENTS;
    if (command.opensCursor) bits |= OPENS_CURSOR;
    unchecked(this.packed[at] = bits);
    if (command.shape == ReplyShape.Auth) this.authCount++;
    const hasExtras = command.newDatabase != null || command.query.length > 0 || command.keyword.length > 0;
    unchecked(this.extras[at] = hasExtras ? new CommandExtras(command.newDatabase, command.query, command.keyword) : null);
    this.count++;
  }

  /** The oldest command, or null; valid until the next push or shift. */
  peek(): PendingCommand | null {
    if (this.count == 0) return null;
    if (this.viewIsHead) return this.view;
    this.viewIsHead = true;
    const at = this.head;
    const bits = unchecked(this.packed[at]);
    const v = this.view.reset(<ReplyShape>(bits & 0xff), unchecked(this.methods[at])!, unchecked(this.services[at])!, <u8>(bits >> 8));
    v.forgetsStatements = (bits & FORGETS_STATEMENTS) != 0;
    v.opensCursor = (bits & OPENS_CURSOR) != 0;
    const extras = unchecked(this.extras[at]);
    if (extras != null) {
      v.newDatabase = extras.newDatabase;
      v.query = extras.query;
      v.keyword = extras.keyword;
    }
    return v;
  }

  shift(): void {
    if (this.count == 0) return;
    this.viewIsHead = false;
    if (<ReplyShape>(unchecked(this.packed[this.head]) & 0xff) == ReplyShape.Auth) this.authCount--;
    unchecked(this.extras[this.head] = null);
    this.head = (this.head + 1) & (this.packed.length - 1);
    this.count--;
    // A drained deep pipeline gives its memory back.
    if (this.count == 0 && this.packed.length > SHRINK_ABOVE_CAPACITY) this.resize(INITIAL_QUEUE_CAPACITY);
  }

  private resize(capacity: i32): void {
    const methods = new StaticArray<string | null>(capacity);
    const services = new StaticArray<string | null>(capacity);
    const packed = new StaticArray<u32>(capacity);
    const extras = new StaticArray<CommandExtras | null>(capacity);
    const mask = this.packed.length - 1;
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & mask;
      unchecked(methods[i] = this.methods[from]);
      unchecked(services[i] = this.services[from]);
      unchecked(packed[i] = this.packed[from]);
      unchecked(extras[i] = this.extras[from]);
    }
    this.methods = methods;
    this.services = services;
    this.packed = packed;
    this.extras = extras;
    this.head = 0;
  }
}

export class PreparedStatement {
  constructor(public query: string, public keyword: string, public params: u16) {}
}

/** Whose turn it is inside a reply exchange. */
export enum ClientTurn {
  /** The client only sends commands (sequence id 0). */
  None = 0,
  /** Auth data after an auth switch or a more-data request. */
  Auth = 1,
  /** LOCAL INFILE contents: every client packet up to an empty one, whatever its sequence id (it wraps past 255). */
  LocalInfile = 2,
}

/** Where the reply being read is. */
export enum Stage {
  /** A reply's first packet (again after a result that says more results follow). */
  First = 0,
  ColumnDefs = 1,
  /** The EOF after column definitions (without CLIENT_DEPRECATE_EOF). */
  ColumnsEof = 2,
  Rows = 3,
  PrepareFirst = 4,
  PrepareParams = 5,
  PrepareParamsEof = 6,
  PrepareColumns = 7,
  PrepareColumnsEof = 8,
  FieldList = 9,
  Statistics = 10,
  Auth = 11,
}

export class ReplyProgress {
  active: bool = false;
  stage: Stage = Stage.First;
  /** Definitions still to come in this stage. */
  left: u64 = 0;
  /** COM_STMT_PREPARE: column definitions that follow the parameter definitions. */
  columnsAfterParams: u32 = 0;
  /** Bytes of the reply so far, headers included. */
  bytes: u64 = 0;
  /** Sequence id the next packet must carry; -1 after the client took a turn (auth, LOCAL INFILE). */
  nextSeq: i32 = 0;
  /** The last packet had a 0xFFFFFF payload: the next one continues it. */
  continuation: bool = false;
  /** An OK of this reply named the schema (session tracking): that beats what the command implied. */
  schemaTracked: bool = false;

  start(command: PendingCommand): void {
    this.active = true;
    this.left = 0;
    this.columnsAfterParams = 0;
    this.bytes = 0;
    this.nextSeq = command.firstReplySeq;
    this.continuation = false;
    this.schemaTracked = false;
    switch (command.shape) {
      case ReplyShape.Auth: this.stage = Stage.Auth; break;
      case ReplyShape.Prepare: this.stage = Stage.PrepareFirst; break;
      case ReplyShape.FieldList: this.stage = Stage.FieldList; break;
      case ReplyShape.Rows: this.stage = Stage.Rows; break;
      case ReplyShape.Statistics: this.stage = Stage.Statistics; break;
      default: this.stage = Stage.First;
    }
  }
}

/**
 * Commands a client may have in flight before the codec stops following the connection
 * (pipeline_too_deep): at four words each, at most 1 MiB of queue (2 MiB while it doubles).
 */
export const MAX_PENDING_COMMANDS: i32 = 65536;
/** Prepared statements remembered per connection; later ones are executed without their text. */
export const MAX_STATEMENTS: i32 = 1024;

export class MySqlState extends ConnectionState {
  phase: Phase = Phase.Greeting;
  /** Server capabilities from the greeting; MariaDB's extended ones in bits 32-63. */
  serverCapabilities: u64 = 0;
  /** Capabilities both sides declared. */
  capabilities: u64 = 0;
  /** The current schema, as far as the codec can tell: the `service` label. */
  database: string = "";

  private commands: CommandQueue = new CommandQueue();

  statements: Map<u32, PreparedStatement> = new Map();
  /** Text and first keyword of the last COM_STMT_PREPARE sent: what MariaDB's statement id 0xFFFFFFFF executes. */
  lastPrepareQuery: string = "";
  lastPrepareKeyword: string = "";

  /**
   * A command whose payload continues in further packets (>= 16 MiB): its message and pending
   * command so far. Copies the connection owns: the decoder's instances serve every connection
   * of the VM and are overwritten by the next command decoded on any of them.
   */
  partialRequest: Message | null = null;
  partialCommand: PendingCommand | null = null;
  partialBytes: u64 = 0;
  partialNextSeq: u8 = 0;

  /** The server asked the client for more (auth data, LOCAL INFILE contents): client packets belong to that. */
  clientTurn: ClientTurn = ClientTurn.None;
  /** LOCAL INFILE: the sequence id of the client's next file packet. */
  infileNextSeq: u8 = 0;
  /** LOCAL INFILE: the last file packet was 0xFFFFFF long, so the next one (even empty) continues it. */
  infileContinuation: bool = false;

  reply: ReplyProgress = new ReplyProgress();

  /**
   * The request decoded last, for the policy hooks the framework calls right after decoding it:
   * the sequence id its reply starts with, and whether a COM_PING's OK read as its reply leaves
   * this state true (see MySqlCodec.probeRequest).
   */
  lastReplySeq: u8 = 1;
  lastAnsweredByPing: bool = false;

  /** True while a login or COM_CHANGE_USER awaits the end of its auth exchange. */
  get authPending(): bool {
    return this.commands.authPending;
  }

  get pendingCommands(): i32 {
    return this.commands.length;
  }

  pushCommand(command: PendingCommand): void {
    this.commands.push(command);
  }

  /** The oldest unanswered command, or null; valid until the next push or shift. */
  peekCommand(): PendingCommand | null {
    return this.commands.peek();
  }

  shiftCommand(): void {
    this.commands.shift();
  }

  rememberStatement(id: u32, statement: PreparedStatement): void {
    if (this.statements.has(id) || this.statements.size < MAX_STATEMENTS) this.statements.set(id, statement);
  }

  statement(id: u32): PreparedStatement | null {
    return this.statements.has(id) ? this.statements.get(id) : null;
  }

  forgetStatements(): void {
    this.statements.clear();
  }
}
