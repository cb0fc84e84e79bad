// Fault injection: abort a share of the matching calls with the codec's error reply, or delay a
// share of them.
import { LocalReplyKind, Message } from "../../../api/assembly/codec";
import { JsonValue } from "../runtime/json";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, readCallMatch } from "./match";
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

export function readFaults(reader: ConfigReader, value: JsonValue, path: string): Faults {
  const faults = new Faults();
  const items = reader.array(value, path);
  for (let i = 0; i < items.length && !reader.failed; i++) {
    const rulePath = path + "[" + i.toString() + "]";
    const rule = reader.object(items[i], rulePath, ["match", "abort", "delay"]);
    if (rule == null) break;
    const match = readCallMatch(reader, rule.get("match"), rulePath + ".match");
    let abort: Verdict | null = null;
    let abortPercent: f64 = 0;
    const abortValue = rule.get("abort");
    if (abortValue != null) {
      const obj = reader.object(abortValue, rulePath + ".abort", ["percentage", "text"]);
      if (obj == null) break;
      const percentValue = obj.get("percentage");
      abortPercent = percentValue != null ? reader.number(percentValue, rulePath + ".abort.percentage", 0, 100, false) : 100;
      const textValue = obj.get("text");
      const text = textValue != null ? reader.string(textValue, rulePath + ".abort.text") : "fault injected by MetaProto";
      abort = new Verdict(VerdictKind.Reply, LocalReplyKind.Fault, text);
    }
    let delay: Verdict | null = null;
    let delayPercent: f64 = 0;
    const delayValue = rule.get("delay");
    if (delayValue != null) {
      const obj = reader.object(delayValue, rulePath + ".delay", ["percentage", "duration_ms"]);
      if (obj == null) break;
      const percentValue = obj.get("percentage");
      delayPercent = percentValue != null ? reader.number(percentValue, rulePath + ".delay.percentage", 0, 100, false) : 100;
      const duration = reader.required(obj, "duration_ms", rulePath + ".delay");
      if (duration == null) break;
      const millis = reader.number(duration, rulePath + ".delay.duration_ms", 1, 3600000);
      delay = new Verdict(VerdictKind.Delay, LocalReplyKind.Fault, "", <u64>millis * 1_000_000);
    }
    if (abort == null && delay == null) {
      reader.fail(rulePath, "needs abort, delay or both");
      break;
    }
    faults.rules.push(new FaultRule(match, abortPercent, abort, delayPercent, delay));
  }
  return faults;
}
