// Request mutation: set or remove attributes (Dubbo attachments) of matching requests. The codec
// rewrites the frame (setAttributes); the server sees the result.
import { Attribute, Message } from "../../../api/assembly/codec";
import { JsonKind, JsonValue } from "../runtime/json";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, readCallMatch } from "./match";

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

export function readMutations(reader: ConfigReader, value: JsonValue, path: string): Mutations {
  const mutations = new Mutations();
  const items = reader.array(value, path);
  for (let i = 0; i < items.length && !reader.failed; i++) {
    const rulePath = path + "[" + i.toString() + "]";
    const rule = reader.object(items[i], rulePath, ["match", "set", "remove"]);
    if (rule == null) break;
    const set = new Array<Attribute>();
    const setValue = rule.get("set");
    if (setValue != null) {
      const obj = reader.object(setValue, rulePath + ".set", setValue.kind == JsonKind.Object ? setValue.keys : []);
      if (obj == null) break;
      for (let k = 0; k < obj.keys.length; k++) set.push(new Attribute(obj.keys[k], reader.string(obj.items[k], rulePath + ".set." + obj.keys[k])));
    }
    const remove = new Array<string>();
    const removeValue = rule.get("remove");
    if (removeValue != null) {
      const names = reader.array(removeValue, rulePath + ".remove");
      for (let k = 0; k < names.length; k++) remove.push(reader.string(names[k], rulePath + ".remove[" + k.toString() + "]"));
    }
    if (set.length == 0 && remove.length == 0) reader.fail(rulePath, "needs set, remove or both");
    mutations.rules.push(new Mutation(readCallMatch(reader, rule.get("match"), rulePath + ".match"), set, remove));
  }
  return mutations;
}
