// For codecs whose replies come back in request order (Pairing.Fifo) and cannot be read without
// knowing the request they answer (a MySQL result set after a query, a Redis reply after
// SUBSCRIBE). The framework pairs calls itself; this only tells a codec, when a reply starts, what
// kind of request it answers, as a small tag of the codec's choosing (a command kind, a flag).
//
//   state.awaiting = new AwaitingReplies(this.maxPendingCalls);   // in newState()
//   state.awaiting.push(KIND_QUERY);                              // when decode returns a Request
//   const kind = state.awaiting.peek();                           // reading a reply: -1 if none
//   state.awaiting.shift();                                       // when decode returns its Response
//
// Runs of one tag are kept as one entry and a count, so a pipeline of 65,536 GETs costs a few
// bytes. Past `limit` requests the oldest is forgotten, as the framework evicts it past
// max_pending_calls, so the two stay in step. Oneway calls and events are never pushed.

export class AwaitingReplies {
  private tags: Array<u32> = new Array<u32>();
  private counts: Array<u32> = new Array<u32>();
  /** Index of the oldest run in `tags`/`counts`; runs before it are spent. */
  private head: i32 = 0;
  private total: i32 = 0;

  /** `limit`: the codec's `maxPendingCalls` (the framework's bound for this connection). */
  constructor(private readonly limit: i32) {}

  /** Requests awaiting a reply. */
  get length(): i32 {
    return this.total;
  }

  /** A request that expects a reply was decoded. */
  push(tag: u32): void {
    if (this.limit > 0 && this.total >= this.limit) this.shift();
    const n = this.tags.length;
    if (n > this.head && unchecked(this.tags[n - 1]) == tag) {
      unchecked(this.counts[n - 1] = this.counts[n - 1] + 1);
    } else {
      this.tags.push(tag);
      this.counts.push(1);
    }
    this.total++;
  }

  /** The tag of the request the next reply answers, or -1 when none awaits one. */
  peek(): i64 {
    return this.total == 0 ? -1 : <i64>unchecked(this.tags[this.head]);
  }

  /** The oldest request got its reply: forgets it and returns its tag, or -1 when none awaited one. */
  shift(): i64 {
    if (this.total == 0) return -1;
    const tag = unchecked(this.tags[this.head]);
    const left = unchecked(this.counts[this.head]) - 1;
    unchecked(this.counts[this.head] = left);
    this.total--;
    if (left == 0) {
      this.head++;
      this.compact();
    }
    return <i64>tag;
  }

  /** Forgets every awaiting request (a protocol reset, a connection that stopped pairing). */
  clear(): void {
    this.tags.length = 0;
    this.counts.length = 0;
    this.head = 0;
    this.total = 0;
  }

  /** Drops spent runs once they are half the arrays, so memory follows what still awaits. */
  private compact(): void {
    const n = this.tags.length;
    if (this.head == n) {
      this.tags.length = 0;
      this.counts.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= n) {
      this.tags = this.tags.slice(this.head);
      this.counts = this.counts.slice(this.head);
      this.head = 0;
    }
  }
}
