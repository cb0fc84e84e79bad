// Pending calls of a protocol whose responses come back in request order (Thrift, Redis, MySQL).
// A client may pipeline tens of thousands of requests before it reads (bulk loaders, test suites),
// so a pending call is 4 bytes: its pair's index. Start times are kept per read, as runs: every
// call of one read started at the same moment (the clock is read once per read).
import { PendingCalls, PendingLocalReply } from "./pending_calls";
import { Ring } from "./ring";
import { CallStats, ProtocolStats } from "./stats";

/** In `pairs`, the place of a probe: its answer goes to the oldest of `localReplies`. */
const LOCAL_REPLY = -1;

export class PendingInOrder extends PendingCalls {
  private pairs: Ring<i32> = new Ring<i32>();
  private localReplies: Array<PendingLocalReply> = [];
  private startNanos: Ring<u64> = new Ring<u64>();
  /** Calls in each start-time run. */
  private runLengths: Ring<u32> = new Ring<u32>();

  constructor(private capacity: i32, private stats: ProtocolStats) {
    super();
  }

  get size(): i32 {
    return this.pairs.length;
  }

  add(id: u64, stats: CallStats, startNanos: u64): CallStats | null {
    // The oldest is given up unless it is a probe, whose answer must still be replaced.
    const evicted = this.pairs.length >= this.capacity && this.pairs.first() != LOCAL_REPLY && this.take(0) ? this.takenStats : null;
    this.push(stats.index, startNanos);
    return evicted;
  }

  addLocalReply(id: u64, reply: PendingLocalReply, startNanos: u64): void {
    this.localReplies.push(reply);
    this.push(LOCAL_REPLY, startNanos);
  }

  private push(pair: i32, startNanos: u64): void {
    this.pairs.push(pair);
    if (this.startNanos.length > 0 && this.startNanos.last() == startNanos) {
      this.runLengths.setLast(this.runLengths.last() + 1);
    } else {
      this.startNanos.push(startNanos);
      this.runLengths.push(1);
    }
  }

  take(responseId: u64): bool {
    if (this.pairs.length == 0) return false;
    const pair = this.pairs.shift();
    if (pair == LOCAL_REPLY) {
      const local = this.localReplies.shift();
      this.takenLocalReply = local;
      this.takenStats = local.stats;
    } else {
      this.takenLocalReply = null;
      this.takenStats = this.stats.pair(pair);
    }
    this.takenStartNanos = this.startNanos.first();
    const left = this.runLengths.first() - 1;
    if (left == 0) {
      this.startNanos.shift();
      this.runLengths.shift();
    } else {
      this.runLengths.setFirst(left);
    }
    return true;
  }

  drain(): Array<CallStats> {
    const left = new Array<CallStats>(this.pairs.length);
    let local = 0;
    for (let i = 0; i < this.pairs.length; i++) {
      const pair = this.pairs.at(i);
      unchecked(left[i] = pair == LOCAL_REPLY ? this.localReplies[local++].stats : this.stats.pair(pair));
    }
    this.pairs.clear();
    this.localReplies.length = 0;
    this.startNanos.clear();
    this.runLengths.clear();
    return left;
  }
}
