// Requests awaiting their response on one connection: matched by id (pending_by_id.ts) or in
// order (pending_in_order.ts).
import { LocalReply, Pairing } from "../../api/assembly/codec";
import { CallStats } from "./stats";
import { CallRecord } from "./call_record";

/** Requests awaiting a response per connection when `max_pending_calls` is not configured. */
export const DEFAULT_PENDING_BY_ID: i32 = 1024;
export const DEFAULT_PENDING_IN_ORDER: i32 = 65536;

/** A request the proxy answers itself: its probe is on its way to the server in its place. */
export class PendingLocalReply {
  constructor(public stats: CallStats, public reply: LocalReply, public reason: string) {}
}

export abstract class PendingCalls {
  /** The call the last successful take() answered. */
  takenStats: CallStats | null = null;
  takenStartNanos: u64 = 0;
  /** Set when that call was a probe: the reply to send the client instead of the probe's answer. */
  takenLocalReply: PendingLocalReply | null = null;
  /** The observers' record of that call, if it has one. */
  takenRecord: CallRecord | null = null;
  /** The record of the call the last add() gave up, if it had one. */
  evictedRecord: CallRecord | null = null;
  /** The records of the calls the last drain() returned, in the same order (null where none). */
  drainedRecords: Array<CallRecord | null> = [];

  /**
   * Adds a call, with its observers' record if it has one; returns the stats of the call given up
   * to stay within capacity, or null.
   */
  abstract add(id: u64, stats: CallStats, startNanos: u64, record: CallRecord | null): CallStats | null;

  /** Adds a probe (with id `id` where pairing is by id) standing in for a request answered locally. */
  abstract addLocalReply(id: u64, reply: PendingLocalReply, startNanos: u64, record: CallRecord | null): void;

  /** Finds the call a response answers (by id, or the oldest) and removes it; false if none. */
  abstract take(responseId: u64): bool;

  /** Empties the set, returning the stats of every call left unanswered. */
  abstract drain(): Array<CallStats>;

  abstract get size(): i32;
}

export function defaultPendingCalls(pairing: Pairing): i32 {
  return pairing == Pairing.ById ? DEFAULT_PENDING_BY_ID : DEFAULT_PENDING_IN_ORDER;
}
