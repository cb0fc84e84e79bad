// Requests awaiting their response on one connection, matched by id or in order.
import { Pairing } from "../../api/assembly/codec";
import { CallStats } from "./stats";

export class PendingCall {
  constructor(public id: u64, public stats: CallStats, public startNanos: u64) {}
}

// Answered calls are kept for the next requests of any connection of this VM, so a busy
// connection does not allocate (and later collect) an object per call.
const spareCalls: Array<PendingCall> = [];
const MAX_SPARE_CALLS = 1024;

export function newPendingCall(id: u64, stats: CallStats, startNanos: u64): PendingCall {
  if (spareCalls.length == 0) return new PendingCall(id, stats, startNanos);
  const call = spareCalls.pop();
  call.id = id;
  call.stats = stats;
  call.startNanos = startNanos;
  return call;
}

/** Hands back a call that is finished with; the caller must not use it afterwards. */
export function recyclePendingCall(call: PendingCall): void {
  if (spareCalls.length < MAX_SPARE_CALLS) spareCalls.push(call);
}

export class PendingCalls {
  private byId: Map<u64, PendingCall> = new Map();
  private queue: Array<PendingCall> = [];
  private head: i32 = 0;

  constructor(private pairing: Pairing, private capacity: i32) {}

  get size(): i32 {
    return this.pairing == Pairing.ById ? this.byId.size : this.queue.length - this.head;
  }

  /** Adds a call; returns the call given up to stay within capacity, or null. */
  add(call: PendingCall): PendingCall | null {
    let evicted: PendingCall | null = null;
    if (this.size >= this.capacity) evicted = this.removeOldest();
    if (this.pairing == Pairing.ById) this.byId.set(call.id, call);
    else this.queue.push(call);
    return evicted;
  }

  /** The call a response answers: the one with its id, or the oldest. */
  take(responseId: u64): PendingCall | null {
    if (this.pairing == Pairing.ById) {
      if (!this.byId.has(responseId)) return null;
      const call = this.byId.get(responseId);
      this.byId.delete(responseId);
      return call;
    }
    return this.shift();
  }

  /** Empties the set, returning what was left unanswered. */
  drain(): Array<PendingCall> {
    let left: Array<PendingCall>;
    if (this.pairing == Pairing.ById) {
      left = this.byId.values();
      this.byId.clear();
    } else {
      left = this.queue.slice(this.head);
      this.queue = [];
      this.head = 0;
    }
    return left;
  }

  private shift(): PendingCall | null {
    if (this.head >= this.queue.length) return null;
    const call = unchecked(this.queue[this.head++]);
    if (this.head == this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return call;
  }

  private removeOldest(): PendingCall | null {
    if (this.pairing == Pairing.Fifo) return this.shift();
    // Only reached when a peer leaves `capacity` calls unanswered: a linear scan is fine.
    const calls = this.byId.values();
    if (calls.length == 0) return null;
    let oldest = calls[0];
    for (let i = 1; i < calls.length; i++) if (calls[i].startNanos < oldest.startNanos) oldest = calls[i];
    this.byId.delete(oldest.id);
    return oldest;
  }
}
