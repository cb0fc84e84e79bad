// Pending calls of a protocol whose responses come back in request order (Thrift, Redis, MySQL).
// A client may pipeline tens of thousands of requests before it reads (bulk loaders, test suites),
// so a pending call is 4 bytes: its pair's index. Start times are kept per read, as runs: every
// call of one read started at the same moment (the clock is read once per read).
import { PendingCalls } from "./pending_calls";
import { Ring } from "./ring";
import { CallStats, ProtocolStats } from "./stats";

export class PendingInOrder extends PendingCalls {
  private pairs: Ring<i32> = new Ring<i32>();
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
    const evicted = this.pairs.length >= this.capacity && this.take(0) ? this.takenStats : null;
    this.pairs.push(stats.index);
    if (this.startNanos.length > 0 && this.startNanos.last() == startNanos) {
      this.runLengths.setLast(this.runLengths.last() + 1);
    } else {
      this.startNanos.push(startNanos);
      this.runLengths.push(1);
    }
    return evicted;
  }

  take(responseId: u64): bool {
    if (this.pairs.length == 0) return false;
    this.takenStats = this.stats.pair(this.pairs.shift());
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
    for (let i = 0; i < this.pairs.length; i++) unchecked(left[i] = this.stats.pair(this.pairs.at(i)));
    this.pairs.clear();
    this.startNanos.clear();
    this.runLengths.clear();
    return left;
  }
}
