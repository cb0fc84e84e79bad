// Fault injection: abort a share of the matching calls with the codec's error reply, or delay a
// share of them.
import { LocalReplyKind, Message } from "../../../api/assembly/codec";
import { FaultSpec } from "../config_spec.generated";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, callMatchOf } from "./match";
import { Verdict, VerdictKind } from "./verdict";

// A small generator of our own: AssemblyScript's Math.random needs a seed import Envoy lacks.
let randomState: u64 = 0x9e3779b97f4a7c15;

export function seedRandom(seed: u64): void {
  randomState = seed | 1;
}

/** A number in [0, 100). */
function percentRoll(): f64 {
  let x = randomState;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  randomState = x;
  return <f64>(x >> 11) / <f64>(<u64>1 << 53) * 100.0;
}

class FaultRule {
  constructor(
    public match: CallMatch,
    public abortPercent: f64,
    public abort: Verdict | null,
    public delayPercent: f64,
    public delay: Verdict | null,
  ) {}
}

export class Faults {
  rules: Array<FaultRule> = [];


  evaluate(message: Message, peer: Peer): Verdict | null {
    for (let i = 0; i < this.rules.length; i++) {
      const rule = unchecked(this.rules[i]);
      if (!rule.match.matches(message, peer)) continue;
      if (rule.abort != null && percentRoll() < rule.abortPercent) return rule.abort;
      if (rule.delay != null && percentRoll() < rule.delayPercent) return rule.delay;
    }
    return null;
  }
}

export function faultsOf(reader: ConfigReader, specs: Array<FaultSpec>, path: string): Faults {
  const faults = new Faults();
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    const match = callMatchOf(reader, spec.match, reader.index(path, i) + ".match");
    const abort = spec.abort;
    const delay = spec.delay;
    faults.rules.push(new FaultRule(match,
      abort != null ? abort.percentage : 0,
      abort != null ? new Verdict(VerdictKind.Reply, LocalReplyKind.Fault, abort.has_text ? abort.text : "fault injected by MetaProto") : null,
      delay != null ? delay.percentage : 0,
      delay != null ? new Verdict(VerdictKind.Delay, LocalReplyKind.Fault, "", <u64>delay.duration_ms * 1_000_000) : null));
  }
  return faults;
}
