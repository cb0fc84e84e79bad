// What a policy stage decides for one request.
import { LocalReplyKind } from "../../../api/assembly/codec";

export enum VerdictKind {
  /** Let the request through. */
  Continue = 0,
  /** Do not send it; answer the client with the codec's error reply. */
  Reply = 1,
  /** Send it, `delayNanos` late (with whatever follows it on the connection). */
  Delay = 2,
}

export class Verdict {
  constructor(
    public kind: VerdictKind,
    public reply: LocalReplyKind = LocalReplyKind.Denied,
    /** Shown to the client in the error reply. */
    public text: string = "",
    public delayNanos: u64 = 0,
  ) {}
}

export const CONTINUE = new Verdict(VerdictKind.Continue);

/** The `reason` label of metaproto_local_replies_total. */
export function localReplyReason(kind: LocalReplyKind): string {
  switch (kind) {
    case LocalReplyKind.RateLimited: return "rate_limited";
    case LocalReplyKind.Denied: return "denied";
    case LocalReplyKind.Fault: return "fault";
    default: return "overloaded";
  }
}
