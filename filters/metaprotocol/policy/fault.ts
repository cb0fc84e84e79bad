// Fault injection: abort a share of the matching calls with the codec's error reply.
import { LocalReplyKind, Message } from "../../../api/assembly/codec";
import { JsonValue } from "../../../api/assembly/json";
import { ConfigReader } from "./config_reader";
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
  constructor(public match: CallMatch, public abortPercent: f64, public verdict: Verdict) {}
}

export class Faults {
  rules: Array<FaultRule> = [];

  get readsAttributes(): bool {
    for (let i = 0; i < this.rules.length; i++) if (this.rules[i].match.readsAttributes) return true;
    return false;
  }

  evaluate(message: Message, peer: Peer): Verdict | null {
    for (let i = 0; i < this.rules.length; i++) {
      const rule = unchecked(this.rules[i]);
      if (rule.match.matches(message, peer) && percentRoll() < rule.abortPercent) return rule.verdict;
    }
    return null;
  }
}

export function readFaults(reader: ConfigReader, value: JsonValue, path: string): Faults {
  const faults = new Faults();
  const items = reader.array(value, path);
  for (let i = 0; i < items.length && !reader.failed; i++) {
    const rulePath = path + "[" + i.toString() + "]";
    const rule = reader.object(items[i], rulePath, ["match", "abort"]);
    if (rule == null) break;
    const abortValue = reader.required(rule, "abort", rulePath);
    if (abortValue == null) break;
    const abort = reader.object(abortValue, rulePath + ".abort", ["percentage", "text"]);
    if (abort == null) break;
    const percentValue = abort.get("percentage");
    const percent = percentValue != null ? reader.number(percentValue, rulePath + ".abort.percentage", 0, 100, false) : 100;
    const textValue = abort.get("text");
    const text = textValue != null ? reader.string(textValue, rulePath + ".abort.text") : "fault injected by MetaProto";
    faults.rules.push(new FaultRule(readCallMatch(reader, rule.get("match"), rulePath + ".match"), percent,
      new Verdict(VerdictKind.Reply, LocalReplyKind.Fault, text)));
  }
  return faults;
}
