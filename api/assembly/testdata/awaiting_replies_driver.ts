// Exposes one AwaitingReplies to the test in api/assembly/awaiting_replies.test.ts.
import { AwaitingReplies } from "../awaiting_replies";

let queue = new AwaitingReplies(0);

export function reset(limit: i32): void { queue = new AwaitingReplies(limit); }
export function push(tag: u32): void { queue.push(tag); }
export function peek(): i64 { return queue.peek(); }
export function shift(): i64 { return queue.shift(); }
export function length(): i32 { return queue.length; }
export function clear(): void { queue.clear(); }
