// Allow/deny rules: the first rule whose match holds decides, else the default action.
import { LocalReplyKind, Message } from "../../../api/assembly/codec";
import { JsonValue } from "../runtime/json";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, readCallMatch } from "./match";
import { CONTINUE, Verdict, VerdictKind } from "./verdict";

class AuthzRule {
  constructor(public allow: bool, public match: CallMatch, public verdict: Verdict) {}
}

export class Authz {
  rules: Array<AuthzRule> = [];
  defaultVerdict: Verdict = CONTINUE;


  evaluate(message: Message, peer: Peer): Verdict {
    for (let i = 0; i < this.rules.length; i++) {
      const rule = unchecked(this.rules[i]);
      if (rule.match.matches(message, peer)) return rule.verdict;
    }
    return this.defaultVerdict;
  }
}

function denied(text: string): Verdict {
  return new Verdict(VerdictKind.Reply, LocalReplyKind.Denied, text.length > 0 ? text : "denied by MetaProto authz policy");
}

export function readAuthz(reader: ConfigReader, value: JsonValue, path: string): Authz {
  const authz = new Authz();
  const obj = reader.object(value, path, ["default_action", "rules", "deny_text"]);
  if (obj == null) return authz;
  const textValue = obj.get("deny_text");
  const text = textValue != null ? reader.string(textValue, path + ".deny_text") : "";
  const defaultAction = obj.get("default_action");
  if (defaultAction != null && reader.string(defaultAction, path + ".default_action", ["allow", "deny"]) == "deny") {
    authz.defaultVerdict = denied(text);
  }
  const rules = obj.get("rules");
  if (rules == null) return authz;
  const items = reader.array(rules, path + ".rules");
  for (let i = 0; i < items.length && !reader.failed; i++) {
    const rulePath = path + ".rules[" + i.toString() + "]";
    const rule = reader.object(items[i], rulePath, ["action", "match"]);
    if (rule == null) break;
    const action = reader.required(rule, "action", rulePath);
    if (action == null) break;
    const allow = reader.string(action, rulePath + ".action", ["allow", "deny"]) == "allow";
    const match = readCallMatch(reader, rule.get("match"), rulePath + ".match");
    authz.rules.push(new AuthzRule(allow, match, allow ? CONTINUE : denied(text)));
  }
  return authz;
}
