// Local rate limits: token buckets (max_tokens, tokens_per_fill, fill_interval) kept in Envoy's
// shared data, so every worker VM of this plugin draws from the same bucket and
// `--concurrency N` does not give N times the limit.
import { LocalReplyKind, Message } from "../../../api/assembly/codec";
import { HostResult, getSharedData, setSharedData } from "../runtime/host";
import { RateLimitSpec } from "../config_spec.generated";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, callMatchOf } from "./match";
import { Verdict, VerdictKind } from "./verdict";

/** Attempts at a compare-and-swap update before the call is let through (and counted). */
const MAX_CAS_ATTEMPTS = 16;

export class TokenBucket {
  private state: Uint8Array = new Uint8Array(16);
  /** Updates lost to other workers MAX_CAS_ATTEMPTS times in a row (the call was let through). */
  contended: i64 = 0;

  constructor(
    public key: string,
    public maxTokens: i64,
    public tokensPerFill: i64,
    public fillIntervalNanos: u64,
  ) {}

  /** Takes one token at `now`; false when the bucket is empty. */
  take(now: u64): bool {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = getSharedData(this.key);
      let tokens: i64 = this.maxTokens;
      let lastFill: u64 = now;
      let cas: u32 = 0;
      if (current != null && current.bytes.byteLength == 16) {
        const view = new DataView(current.bytes.buffer, current.bytes.byteOffset, 16);
        tokens = view.getInt64(0, true);
        lastFill = view.getUint64(8, true);
        cas = current.cas;
        if (now > lastFill) {
          const fills = (now - lastFill) / this.fillIntervalNanos;
          if (fills > 0) {
            tokens = min<i64>(this.maxTokens, tokens + <i64>fills * this.tokensPerFill);
            lastFill += fills * this.fillIntervalNanos;
          }
        }
      }
      if (tokens <= 0) return false;
      const view = new DataView(this.state.buffer, 0, 16);
      view.setInt64(0, tokens - 1, true);
      view.setUint64(8, lastFill, true);
      // A bucket nobody wrote yet is written unconditionally (cas 0): two workers racing on the
      // very first call may each take a token from a full bucket.
      const result = setSharedData(this.key, this.state, cas);
      if (result == HostResult.Ok) return true;
      if (result != HostResult.CasMismatch) break;
    }
    this.contended++;
    return true;
  }
}

export class RateLimitRule {
  constructor(public match: CallMatch, public bucket: TokenBucket, public verdict: Verdict) {}
}

export class RateLimits {
  rules: Array<RateLimitRule> = [];


  /** Every matching rule takes a token; the first empty bucket refuses the call. */
  evaluate(message: Message, peer: Peer, now: u64): Verdict | null {
    for (let i = 0; i < this.rules.length; i++) {
      const rule = unchecked(this.rules[i]);
      if (rule.match.matches(message, peer) && !rule.bucket.take(now)) return rule.verdict;
    }
    return null;
  }
}

const NANOS_PER_MILLI: u64 = 1_000_000;

/** `scope` keeps buckets of different plugins apart in the VM-id-wide shared data. */
export function rateLimitsOf(reader: ConfigReader, specs: Array<RateLimitSpec>, path: string, scope: string): RateLimits {
  const limits = new RateLimits();
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    const perFill = spec.has_tokens_per_fill ? spec.tokens_per_fill : spec.max_tokens;
    const bucket = new TokenBucket("metaproto.ratelimit." + scope + "." + spec.name, <i64>spec.max_tokens, <i64>perFill, spec.fill_interval_ms * NANOS_PER_MILLI);
    const text = spec.has_text ? spec.text : "rate limited by MetaProto";
    limits.rules.push(new RateLimitRule(callMatchOf(reader, spec.match, reader.index(path, i) + ".match"), bucket,
      new Verdict(VerdictKind.Reply, LocalReplyKind.RateLimited, text)));
  }
  return limits;
}
