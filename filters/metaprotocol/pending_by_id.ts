// Pending calls of a protocol whose responses carry the request id (Dubbo): a map by id.
import { PendingCalls, PendingLocalReply } from "./pending_calls";
import { CallStats } from "./stats";
import { CallRecord } from "./call_record";

class PendingCall {
  localReply: PendingLocalReply | null = null;
  record: CallRecord | null = null;
  constructor(public id: u64, public stats: CallStats, public startNanos: u64) {}
}

// Answered calls are kept for the next requests of any connection of this VM, so a busy
// connection does not allocate (and later collect) an object per call.
const spareCalls: Array<PendingCall> = [];
const MAX_SPARE_CALLS = 1024;

function newPendingCall(id: u64, stats: CallStats, startNanos: u64, record: CallRecord | null): PendingCall {
  if (spareCalls.length == 0) {
    const fresh = new PendingCall(id, stats, startNanos);
    fresh.record = record;
    return fresh;
  }
  const call = spareCalls.pop();
  call.record = record;
  call.id = id;
  call.stats = stats;
  call.startNanos = startNanos;
  call.localReply = null;
  return call;
}

function recycle(call: PendingCall): void {
  call.record = null;
  if (spareCalls.length < MAX_SPARE_CALLS) spareCalls.push(call);
}

export class PendingById extends PendingCalls {
  private byId: Map<u64, PendingCall> = new Map();

  constructor(private capacity: i32) {
    super();
  }

  get size(): i32 {
    return this.byId.size;
  }

  add(id: u64, stats: CallStats, startNanos: u64, record: CallRecord | null): CallStats | null {
    let evicted: CallStats | null = null;
    this.evictedRecord = null;
    if (this.byId.size >= this.capacity) evicted = this.removeOldest();
    this.byId.set(id, newPendingCall(id, stats, startNanos, record));
    return evicted;
  }

  addLocalReply(id: u64, reply: PendingLocalReply, startNanos: u64, record: CallRecord | null): void {
    const call = newPendingCall(id, reply.stats, startNanos, record);
    call.localReply = reply;
    // A probe is never given up for capacity: its answer must be replaced when it comes.
    this.byId.set(id, call);
  }

  take(responseId: u64): bool {
    if (!this.byId.has(responseId)) return false;
    const call = this.byId.get(responseId);
    this.byId.delete(responseId);
    this.takenStats = call.stats;
    this.takenStartNanos = call.startNanos;
    this.takenLocalReply = call.localReply;
    this.takenRecord = call.record;
    recycle(call);
    return true;
  }

  drain(): Array<CallStats> {
    const calls = this.byId.values();
    this.byId.clear();
    const left = new Array<CallStats>(calls.length);
    const records = this.drainedRecords;
    records.length = 0;
    for (let i = 0; i < calls.length; i++) {
      unchecked(left[i] = calls[i].stats);
      records.push(calls[i].record);
    }
    return left;
  }

  private removeOldest(): CallStats | null {
    // Only reached when a peer leaves `capacity` calls unanswered: a linear scan is fine.
    const calls = this.byId.values();
    if (calls.length == 0) return null;
    let oldest: PendingCall | null = null;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i];
      if (call.localReply == null && (oldest == null || call.startNanos < oldest.startNanos)) oldest = call;
    }
    if (oldest == null) return null;
    this.byId.delete(oldest.id);
    this.evictedRecord = oldest.record;
    const stats = oldest.stats;
    recycle(oldest);
    return stats;
  }
}
