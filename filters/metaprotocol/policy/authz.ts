// Allow/deny rules: the first rule whose match holds decides, else the default action.
import { LocalReplyKind, Message } from "../../../api/assembly/codec";
import { AuthzSpec } from "../config_spec.generated";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, callMatchOf } from "./match";
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

export function authzOf(reader: ConfigReader, spec: AuthzSpec, path: string): Authz {
  const authz = new Authz();
  if (spec.default_action == "deny") authz.defaultVerdict = denied(spec.deny_text);
  for (let i = 0; i < spec.rules.length; i++) {
    const rule = spec.rules[i];
    const allow = rule.action == "allow";
    const match = callMatchOf(reader, rule.match, reader.item(path, "rules", i) + ".match");
    authz.rules.push(new AuthzRule(allow, match, allow ? CONTINUE : denied(spec.deny_text)));
  }
  return authz;
}
