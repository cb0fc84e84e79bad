// Request mutation: set or remove attributes (Dubbo attachments) of matching requests. The codec
// rewrites the frame (setAttributes); the server sees the result.
import { Attribute, Message } from "../../../api/assembly/codec";
import { MutationSpec } from "../config_spec.generated";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, callMatchOf } from "./match";

class Mutation {
  constructor(public match: CallMatch, public toSet: Array<Attribute>, public toRemove: Array<string>) {}
}

export class Mutations {
  rules: Array<Mutation> = [];
  /** What the last collect() found, in rule order: later rules win for the same key. */
  toSet: Array<Attribute> = [];
  toRemove: Array<string> = [];

  /** Collects the changes of every matching rule; false when none applies. */
  collect(message: Message, peer: Peer): bool {
    this.toSet.length = 0;
    this.toRemove.length = 0;
    for (let i = 0; i < this.rules.length; i++) {
      const rule = unchecked(this.rules[i]);
      if (!rule.match.matches(message, peer)) continue;
      for (let j = 0; j < rule.toSet.length; j++) this.toSet.push(rule.toSet[j]);
      for (let j = 0; j < rule.toRemove.length; j++) this.toRemove.push(rule.toRemove[j]);
    }
    return this.toSet.length > 0 || this.toRemove.length > 0;
  }
}

export function mutationsOf(reader: ConfigReader, specs: Array<MutationSpec>, path: string): Mutations {
  const mutations = new Mutations();
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    const set = new Array<Attribute>();
    for (let k = 0; k < spec.set_.length; k++) set.push(new Attribute(spec.set_[k].key, spec.set_[k].value));
    mutations.rules.push(new Mutation(callMatchOf(reader, spec.match, reader.index(path, i) + ".match"), set, spec.remove));
  }
  return mutations;
}
