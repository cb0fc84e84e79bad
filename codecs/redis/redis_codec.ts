// Redis: RESP2 and RESP3 (after HELLO 3) replies, commands as RESP arrays or inline lines.
// Replies come back strictly in order (FIFO pairing); the exceptions are handled here:
// pub/sub confirmations and messages, RESP3 pushes, CLIENT REPLY OFF/SKIP, MULTI/EXEC,
// MONITOR. See README.md in this folder for the choices made.
import {
  Codec, ConnectionState, DecodeResult, Direction, LocalReply, LocalReplyKind, Message, MessageKind, Pairing, ResponseStatus,
} from "../../api/assembly/codec";
import { errorReply, pingProbe } from "./local_reply";
import { Capture } from "./capture";
import { CommandKind, CommandName, CommandNames } from "./command_names";
import { subcommandLabel } from "./commands";
import { Expect, ExpectedReplies, ExpectedReply, SUBSCRIPTION_WORDS, Subscription } from "./expected_replies";
import { CODE_NULL, CODE_OK, CODE_QUEUED, errorLabel } from "./reply_status";
import {
  RespScanner, ScanResult, T_ARRAY, T_BLOB_ERROR, T_ERROR, T_PUSH, T_SIMPLE,
} from "./resp_scanner";

export enum ReplyMode {
  On = 0,
  /** CLIENT REPLY OFF: no replies until CLIENT REPLY ON (or RESET). */
  Off = 1,
  /** CLIENT REPLY SKIP: the next command gets no reply. */
  SkipNext = 2,
}

export const DEFAULT_DB = "0";

/** What one connection has told us so far; shared by both directions. */
export class RedisConnection extends ConnectionState {
  readonly commands: RespScanner = new RespScanner(true);
  readonly replies: RespScanner = new RespScanner(false);
  readonly expected: ExpectedReplies = new ExpectedReplies();
  /** The database commands run against (SELECT), as the `service` label. */
  db: string = DEFAULT_DB;
  replyMode: ReplyMode = ReplyMode.On;
  inMulti: bool = false;
  dbAtMulti: string = DEFAULT_DB;
  /** RESP version the server speaks on this connection (HELLO). */
  protocol: i32 = 2;
  // Subscriptions, as the server's confirmations count them.
  channels: i64 = 0;
  patterns: i64 = 0;
  shardChannels: i64 = 0;
  /** MONITOR was answered: the rest of the connection is a stream we do not follow. */
  monitoring: bool = false;
  /** The last command decoded changed nothing but the data (no database, transaction or mode). */
  lastCommandPlain: bool = false;

  get subscribed(): bool {
    return this.channels > 0 || this.patterns > 0 || this.shardChannels > 0;
  }

  /** Subscriptions an (P|S)UNSUBSCRIBE without arguments ends, one confirmation each. */
  subscriptionsEndedByAll(kind: Subscription): i64 {
    if (kind == Subscription.Unsubscribe) return this.channels;
    if (kind == Subscription.Punsubscribe) return this.patterns;
    if (kind == Subscription.Sunsubscribe) return this.shardChannels;
    return 0;
  }

  /** A confirmation reports the subscriptions left: channels + patterns, or shard channels. */
  countSubscriptions(kind: Subscription, count: i64): void {
    if (count < 0) return;
    if (kind == Subscription.Subscribe || kind == Subscription.Unsubscribe) this.channels = max<i64>(0, count - this.patterns);
    else if (kind == Subscription.Psubscribe || kind == Subscription.Punsubscribe) this.patterns = max<i64>(0, count - this.channels);
    else this.shardChannels = count;
  }
}

const MESSAGE_WORDS = ["message", "pmessage", "smessage"];
const NOT_PUBSUB: i32 = -1;
const PUBSUB_MESSAGE: i32 = 100;

/** Which pub/sub word starts an aggregate reply: a Subscription, PUBSUB_MESSAGE, or NOT_PUBSUB. */
function pubsubWord(scanner: RespScanner): i32 {
  if (scanner.topCount < 3) return NOT_PUBSUB;
  const first = unchecked(scanner.elements[0]);
  for (let i = 0; i < SUBSCRIPTION_WORDS.length; i++) {
    if (first.equals(SUBSCRIPTION_WORDS[i])) return scanner.topCount == 3 ? i : NOT_PUBSUB;
  }
  for (let i = 0; i < MESSAGE_WORDS.length; i++) {
    if (first.equals(MESSAGE_WORDS[i])) return PUBSUB_MESSAGE;
  }
  return NOT_PUBSUB;
}

function frameLength(scanner: RespScanner): u32 {
  return scanner.messageBytes > <u64>u32.MAX_VALUE ? u32.MAX_VALUE : <u32>scanner.messageBytes;
}

export class RedisCodec extends Codec {
  private readonly names: CommandNames = new CommandNames();
  // The framework reads each message before the next decode: one instance serves them all.
  private readonly message: Message = new Message();

  name(): string { return "redis"; }

  pairing(): Pairing { return Pairing.Fifo; }

  newConnectionState(): ConnectionState | null {
    return new RedisConnection();
  }

  encodeLocalReply(request: Message, kind: LocalReplyKind, text: string, state: ConnectionState | null): LocalReply | null {
    return errorReply(kind, text);
  }

  /**
   * PING in place of the command just decoded, when the connection state stays true with the
   * command gone: a plain command, replies on, no transaction, no subscriptions. Inside MULTI a
   * PING would be queued, and in RESP2 subscribed mode answered as a push.
   */
  probeRequest(request: Message, id: u64, state: ConnectionState | null): Uint8Array | null {
    if (state == null || !(state instanceof RedisConnection)) return null;
    const connection = <RedisConnection>state;
    if (!connection.lastCommandPlain || request.method == "CLIENT|REPLY" || connection.inMulti || connection.subscribed || connection.replyMode != ReplyMode.On) return null;
    return pingProbe();
  }

  decode(direction: Direction, bytes: Uint8Array, frameIsTruncated: bool, state: ConnectionState | null): DecodeResult {
    if (state == null || !(state instanceof RedisConnection)) return DecodeResult.error("no_state");
    const connection = <RedisConnection>state;
    if (connection.monitoring) return DecodeResult.passThrough("monitor");
    const scanner = direction == Direction.Downstream ? connection.commands : connection.replies;
    const scanned = scanner.scan(bytes);
    if (scanned == ScanResult.Failed) return DecodeResult.error(scanner.failure);
    if (scanned == ScanResult.NeedMore) return DecodeResult.needMore(0);
    if (scanned == ScanResult.Partial) return DecodeResult.skip(<u32>scanner.consumed);
    const result = direction == Direction.Downstream ? this.command(connection, scanner) : this.reply(connection, scanner);
    scanner.reset();
    return result;
  }

  // ------------------------------------------------------------------ commands

  private command(connection: RedisConnection, scanner: RespScanner): DecodeResult {
    const consumed = <u32>scanner.consumed;
    const argc = scanner.commandLength;
    // An empty line or `*0`: Redis runs nothing and answers nothing.
    if (argc <= 0) return DecodeResult.skip(consumed);
    const command = this.names.of(unchecked(scanner.elements[0]));
    const name = command.name;
    // Redis drops these connections as cross-protocol attacks (HTTP sent to its port).
    if (command.kind == CommandKind.NotRedis) return DecodeResult.error("not_redis");
    // A replica's stream (an RDB payload, then the replicated commands) is not request/reply.
    if (command.kind == CommandKind.Replication) return DecodeResult.passThrough("replication");
    const method = command.container && argc >= 2
      ? subcommandLabel(name, unchecked(scanner.elements[1]).upperWord())
      : command.label;

    const message = this.message.reset();
    message.service = connection.db;
    message.method = method;
    message.frameLength = frameLength(scanner);
    const answered = this.replyFollows(connection, method, argc, unchecked(scanner.elements[2]));
    message.kind = answered ? MessageKind.Request : MessageKind.Oneway;
    const entry = this.trackCommand(connection, command, argc, scanner.elements);
    if (answered) {
      if (entry == null) connection.expected.addPlain();
      else connection.expected.add(entry);
    } else if (entry != null) {
      if (entry.kind == Expect.Subscription) {
        // Redis sends pub/sub confirmations even under CLIENT REPLY OFF/SKIP: all are events.
        entry.isCall = false;
        connection.expected.add(entry);
      } else {
        // No reply will confirm it, but the command still runs (HELLO, RESET, MONITOR).
        this.afterReply(connection, entry, false, false);
      }
    }
    return DecodeResult.done(message, consumed);
  }

  /** Applies CLIENT REPLY ON/OFF/SKIP; true when the server will answer this command. */
  private replyFollows(connection: RedisConnection, method: string, argc: i64, third: Capture): bool {
    // Inside MULTI, CLIENT REPLY is only queued (and Redis then garbles the EXEC reply);
    // RESP2 subscribed mode refuses it with an ordinary error.
    const refused = connection.inMulti || (connection.protocol == 2 && connection.subscribed);
    const clientReply = !refused && argc == 3 && method == "CLIENT|REPLY";
    const mode = clientReply ? third.upperWord() : "";
    let answered = true;
    if (connection.replyMode == ReplyMode.Off) answered = mode == "ON" || method == "RESET";
    else if (connection.replyMode == ReplyMode.SkipNext) answered = mode == "ON";
    if (mode == "OFF" || mode == "SKIP") answered = false;

    if (mode == "ON") connection.replyMode = ReplyMode.On;
    else if (mode == "OFF") connection.replyMode = ReplyMode.Off;
    else if (mode == "SKIP") connection.replyMode = connection.replyMode == ReplyMode.Off ? ReplyMode.Off : ReplyMode.SkipNext;
    else if (method == "RESET" || connection.replyMode == ReplyMode.SkipNext) connection.replyMode = ReplyMode.On;
    return answered;
  }

  /**
   * Follows what a command does to the connection as it goes by (database, transaction);
   * returns the entry whose reply must be read specially, or null for a plain one.
   */
  private trackCommand(connection: RedisConnection, command: CommandName, argc: i64, args: StaticArray<Capture>): ExpectedReply | null {
    const kind = command.kind;
    connection.lastCommandPlain = kind == CommandKind.Plain;
    if (kind == CommandKind.Plain) return null;
    if (kind == CommandKind.Select) {
      const index = argc == 2 ? unchecked(args[1]).canonicalIndex() : -1;
      if (index < 0) return null; // Redis refuses it; the database stays
      const db = index.toString();
      if (connection.inMulti) {
        // Queued: takes effect at EXEC, which undoes it if the transaction fails.
        connection.db = db;
        return null;
      }
      const entry = new ExpectedReply(Expect.Select);
      entry.dbBefore = connection.db;
      entry.dbAfter = db;
      // Commands pipelined behind SELECT run in the new database before its reply is back.
      connection.db = db;
      return entry;
    }
    if (kind == CommandKind.Multi) {
      if (!connection.inMulti) {
        connection.inMulti = true;
        connection.dbAtMulti = connection.db;
      }
      return null;
    }
    if (kind == CommandKind.Discard) {
      if (connection.inMulti) {
        connection.inMulti = false;
        connection.db = connection.dbAtMulti;
      }
      return null;
    }
    if (kind == CommandKind.Exec) {
      if (!connection.inMulti) return null;
      connection.inMulti = false;
      const entry = new ExpectedReply(Expect.Exec);
      entry.dbBefore = connection.dbAtMulti;
      entry.dbAfter = connection.db;
      return entry;
    }
    if (kind == CommandKind.Reset) {
      connection.db = DEFAULT_DB;
      connection.inMulti = false;
      return new ExpectedReply(Expect.Reset);
    }
    if (kind == CommandKind.Hello) {
      const entry = new ExpectedReply(Expect.Hello);
      entry.version = argc >= 2 ? <i32>unchecked(args[1]).canonicalIndex() : 0;
      return entry;
    }
    if (connection.inMulti) return null;
    if (kind == CommandKind.Monitor) return new ExpectedReply(Expect.Monitor);
    if (kind == CommandKind.Subscription) {
      const entry = new ExpectedReply(Expect.Subscription);
      entry.subscription = <Subscription>command.subscription;
      entry.channels = <i32>min<i64>(argc - 1, i32.MAX_VALUE);
      return entry;
    }
    return null;
  }

  // ------------------------------------------------------------------ replies

  private reply(connection: RedisConnection, scanner: RespScanner): DecodeResult {
    const head = connection.expected.peek();
    const top = scanner.topType;
    const word = top == T_PUSH || top == T_ARRAY ? pubsubWord(scanner) : NOT_PUBSUB;
    const isSubscriptionWord = word >= 0 && word < SUBSCRIPTION_WORDS.length;
    let confirms = false;
    if (isSubscriptionWord && head != null) confirms = head.kind == Expect.Subscription && <i32>head.subscription == word;

    if (top == T_PUSH) {
      // RESP3: out-of-band data, except the confirmations that answer (P|S)(UN)SUBSCRIBE.
      if (confirms) return this.confirmation(connection, scanner, head!, word);
      if (isSubscriptionWord) connection.countSubscriptions(<Subscription>word, this.subscriptionCount(scanner));
      return this.event(scanner);
    }
    if (connection.protocol == 2 && top == T_ARRAY && word != NOT_PUBSUB) {
      // RESP2 has no push type: in subscribed mode messages and confirmations are arrays,
      // and only subscribed mode (or nothing awaited) makes them that.
      if (word == PUBSUB_MESSAGE) {
        if (connection.subscribed || head == null) return this.event(scanner);
      } else if (confirms) {
        return this.confirmation(connection, scanner, head!, word);
      } else if (connection.subscribed) {
        connection.countSubscriptions(<Subscription>word, this.subscriptionCount(scanner));
        return this.event(scanner);
      }
    }
    return this.response(connection, scanner);
  }

  private subscriptionCount(scanner: RespScanner): i64 {
    const third = unchecked(scanner.elements[2]);
    return third.isInteger ? third.intValue : -1;
  }

  /** One confirmation of a (P|S)(UN)SUBSCRIBE: the first answers the command, the rest are events. */
  private confirmation(connection: RedisConnection, scanner: RespScanner, entry: ExpectedReply, word: i32): DecodeResult {
    const kind = <Subscription>word;
    let first = false;
    if (!entry.answered) {
      entry.answered = true;
      first = true;
      // Without arguments the server confirms each subscription it ends, or once if none.
      entry.confirmationsLeft = entry.channels > 0
        ? entry.channels
        : <i32>min<i64>(max<i64>(1, connection.subscriptionsEndedByAll(kind)), i32.MAX_VALUE);
    }
    connection.countSubscriptions(kind, this.subscriptionCount(scanner));
    entry.confirmationsLeft--;
    if (entry.confirmationsLeft <= 0) connection.expected.takeOne();
    if (!first || !entry.isCall) return this.event(scanner);
    const message = this.message.reset();
    message.kind = MessageKind.Response;
    message.status = ResponseStatus.Ok;
    message.code = CODE_OK;
    message.frameLength = frameLength(scanner);
    return DecodeResult.done(message, <u32>scanner.consumed);
  }

  private event(scanner: RespScanner): DecodeResult {
    const message = this.message.reset();
    message.kind = MessageKind.Event;
    message.frameLength = frameLength(scanner);
    return DecodeResult.done(message, <u32>scanner.consumed);
  }

  private response(connection: RedisConnection, scanner: RespScanner): DecodeResult {
    let entry = connection.expected.takeOne();
    // Confirmations of a subscription sent under CLIENT REPLY OFF that never came: forget them.
    while (entry != null && entry.kind == Expect.Subscription && !entry.isCall) entry = connection.expected.takeOne();
    const top = scanner.topType;
    const isError = top == T_ERROR || top == T_BLOB_ERROR;
    const message = this.message.reset();
    message.kind = MessageKind.Response;
    message.frameLength = frameLength(scanner);
    if (isError) {
      const label = errorLabel(scanner.text.leadingCapitals());
      message.status = label.status;
      message.code = label.code;
      // The error's first bytes (the scanner keeps no more of any element): flow logs' response_exception.
      if (this.attributesWanted) message.exception = scanner.text.asText();
    } else {
      message.status = ResponseStatus.Ok;
      message.code = top == T_SIMPLE && scanner.text.equals("QUEUED") ? CODE_QUEUED : (scanner.topNull ? CODE_NULL : CODE_OK);
    }
    if (entry != null) this.afterReply(connection, entry, isError, scanner.topNull);
    return DecodeResult.done(message, <u32>scanner.consumed);
  }

  /** What a reply confirms or undoes of the command it answers. */
  private afterReply(connection: RedisConnection, entry: ExpectedReply, isError: bool, isNull: bool): void {
    switch (entry.kind) {
      case Expect.Select:
        if (isError && connection.db == entry.dbAfter) connection.db = entry.dbBefore;
        break;
      case Expect.Exec:
        // EXECABORT, or a null reply (a WATCHed key changed): nothing queued ran.
        if ((isError || isNull) && connection.db == entry.dbAfter) connection.db = entry.dbBefore;
        break;
      case Expect.Hello:
        if (!isError && (entry.version == 2 || entry.version == 3)) connection.protocol = entry.version;
        break;
      case Expect.Reset:
        if (!isError) {
          connection.protocol = 2;
          connection.channels = 0;
          connection.patterns = 0;
          connection.shardChannels = 0;
        }
        break;
      case Expect.Monitor:
        if (!isError) connection.monitoring = true;
        break;
      default:
        break;
    }
  }
}
