// Pending calls of a protocol whose responses come back in request order (Thrift, Redis, MySQL).
// A client may pipeline tens of thousands of requests before it reads (bulk loaders, test suites),
// so a pending call is 4 bytes: its pair's index. Start times are kept per read, as runs: every
// call of one read started at the same moment (the clock is read once per read).
import { PendingCalls, PendingLocalReply } from "./pending_calls";
import { Ring } from "./ring";
import { CallStats, ProtocolStats } from "./stats";
import { CallRecord } from "./call_record";

/** In `pairs`, the place of a probe: its answer goes to the oldest of `localReplies`. */
const LOCAL_REPLY = -1;

export class PendingInOrder extends PendingCalls {
  private pairs: Ring<i32> = new Ring<i32>();
  private localReplies: Array<PendingLocalReply> = [];
  private startNanos: Ring<u64> = new Ring<u64>();
  /** Calls in each start-time run. */
  private runLengths: Ring<u32> = new Ring<u32>();
  /**
   * Observers' records, parallel to `pairs`; created with the first call that has one, so a
   * connection nobody observes keeps its 4 bytes per call.
   */
  private records: Ring<CallRecord | null> | null = null;

  constructor(private capacity: i32, private stats: ProtocolStats) {
    super();
  }

  get size(): i32 {
    return this.pairs.length;
  }

  add(id: u64, stats: CallStats, startNanos: u64, record: CallRecord | null): CallStats | null {
    // The oldest is given up unless it is a probe, whose answer must still be replaced.
    const evicted = this.pairs.length >= this.capacity && this.pairs.first() != LOCAL_REPLY && this.take(0) ? this.takenStats : null;
    this.evictedRecord = evicted != null ? this.takenRecord : null;
    this.push(stats.index, startNanos, record);
    return evicted;
  }

  addLocalReply(id: u64, reply: PendingLocalReply, startNanos: u64, record: CallRecord | null): void {
    this.localReplies.push(reply);
    this.push(LOCAL_REPLY, startNanos, record);
  }

  private push(pair: i32, startNanos: u64, record: CallRecord | null): void {
    let records = this.records;
    if (record != null && records == null) {
      records = new Ring<CallRecord | null>();
      for (let i = 0; i < this.pairs.length; i++) records.push(null);
      this.records = records;
    }
    if (records != null) records.push(record);
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
    const records = this.records;
    this.takenRecord = records != null ? records.shift() : null;
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
    const drained = this.drainedRecords;
    drained.length = 0;
    const records = this.records;
    let local = 0;
    for (let i = 0; i < this.pairs.length; i++) {
      const pair = this.pairs.at(i);
      unchecked(left[i] = pair == LOCAL_REPLY ? this.localReplies[local++].stats : this.stats.pair(pair));
      drained.push(records != null ? records.at(i) : null);
    }
    if (records != null) records.clear();
    this.pairs.clear();
    this.localReplies.length = 0;
    this.startNanos.clear();
    this.runLengths.clear();
    return left;
  }
}
