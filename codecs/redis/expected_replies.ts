// Replies the server still owes, in order: one entry per command sent that gets a reply.
// The framework pairs responses with requests (FIFO); the codec keeps its own queue because
// some replies change how later bytes read (SUBSCRIBE with N channels is answered N times,
// HELLO switches the protocol, MONITOR turns the connection into a stream) and a few undo a
// guess made when the command went by (a failed SELECT). Ordinary commands are kept as a
// count, so a long pipeline costs no memory per command.

export enum Expect {
  /** Any command whose reply changes nothing: `count` of them in a row. */
  Plain = 0,
  Select = 1,
  Hello = 2,
  Exec = 3,
  Reset = 4,
  Monitor = 5,
  /** (P|S)(UN)SUBSCRIBE: one confirmation per channel, the first answers the command. */
  Subscription = 6,
}

/** Pub/sub confirmation kinds, as the first element of their reply names them. */
export enum Subscription { Subscribe = 0, Psubscribe = 1, Ssubscribe = 2, Unsubscribe = 3, Punsubscribe = 4, Sunsubscribe = 5 }
export const SUBSCRIPTION_WORDS = ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"];

export class ExpectedReply {
  kind: Expect = Expect.Plain;
  /** Plain: commands in this run. */
  count: i32 = 1;
  /** Select/Exec: the database before the command and the one it was assumed to select. */
  dbBefore: string = "";
  dbAfter: string = "";
  /** Hello: the protocol version asked for (0: none). */
  version: i32 = 0;
  /** Subscription: which one, how many channels were named (0: "all of them"). */
  subscription: Subscription = Subscription.Subscribe;
  channels: i32 = 0;
  /** Subscription: the command expects a reply (false under CLIENT REPLY OFF/SKIP: confirmations still come). */
  isCall: bool = true;
  /** Subscription: the first confirmation came (it answered the command). */
  answered: bool = false;
  /** Subscription: confirmations still due once the first came. */
  confirmationsLeft: i32 = 0;

  constructor(kind: Expect) {
    this.kind = kind;
  }
}

/** Beyond this many non-plain entries outstanding the oldest is forgotten (bounded memory). */
const MAX_ENTRIES: i32 = 4096;

export class ExpectedReplies {
  private entries: Array<ExpectedReply> = [];
  private head: i32 = 0;

  get isEmpty(): bool {
    return this.head >= this.entries.length;
  }

  /** The reply due next, or null. */
  peek(): ExpectedReply | null {
    return this.isEmpty ? null : unchecked(this.entries[this.head]);
  }

  addPlain(): void {
    const n = this.entries.length;
    if (n > this.head) {
      const last = unchecked(this.entries[n - 1]);
      if (last.kind == Expect.Plain && last.count < i32.MAX_VALUE) {
        last.count++;
        return;
      }
    }
    this.add(new ExpectedReply(Expect.Plain));
  }

  add(entry: ExpectedReply): void {
    if (this.entries.length - this.head >= MAX_ENTRIES) this.removeHead();
    this.entries.push(entry);
  }

  /** Takes one reply off the head (one command of a plain run). */
  takeOne(): ExpectedReply | null {
    if (this.isEmpty) return null;
    const entry = unchecked(this.entries[this.head]);
    if (entry.kind == Expect.Plain && entry.count > 1) {
      entry.count--;
      return entry;
    }
    this.removeHead();
    return entry;
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
  }

  private removeHead(): void {
    this.head++;
    if (this.head >= this.entries.length) {
      this.entries.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
