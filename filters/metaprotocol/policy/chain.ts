// The policy stages a request goes through, in order: authz, local rate limit, fault. The first
// stage that does not let the call through decides. Connection routes (routes.ts) choose where a
// connection goes from its first request. Each plugin's current chain lives in module
// state, read per request, so a configuration update (a new root context in the same VM)
// reaches the next request of connections opened before it.
import { Message } from "../../../api/assembly/codec";
import { JsonValue } from "../runtime/json";
import { Authz, readAuthz } from "./authz";
import { ConfigReader } from "../runtime/config_reader";
import { Faults, readFaults } from "./fault";
import { Peer } from "./match";
import { RateLimits, readRateLimits } from "./rate_limit";
import { ConnectionRoutes, readRoutes } from "./routes";
import { Mutations, readMutations } from "./mutation";
import { CONTINUE, Verdict, VerdictKind } from "./verdict";

export class PolicyChain {
  authz: Authz | null = null;
  rateLimits: RateLimits | null = null;
  faults: Faults | null = null;
  routes: ConnectionRoutes | null = null;
  mutations: Mutations | null = null;

  /** Some stage reads request attributes (a match on them, or a mutation): the codec must decode them. */
  readsAttributes: bool = false;

  evaluate(message: Message, peer: Peer, now: u64): Verdict {
    const authz = this.authz;
    if (authz != null) {
      const v = authz.evaluate(message, peer);
      if (v.kind != VerdictKind.Continue) return v;
    }
    const limits = this.rateLimits;
    if (limits != null) {
      const v = limits.evaluate(message, peer, now);
      if (v != null) return v;
    }
    const faults = this.faults;
    if (faults != null) {
      const v = faults.evaluate(message, peer);
      if (v != null) return v;
    }
    return CONTINUE;
  }
}

/** Parses the `policy` section; `scope` names this plugin's rate-limit buckets in shared data. */
export function readPolicy(reader: ConfigReader, value: JsonValue, scope: string): PolicyChain {
  const chain = new PolicyChain();
  const obj = reader.object(value, "policy", ["authz", "rate_limits", "faults", "routes", "mutations"]);
  if (obj == null) return chain;
  let v = obj.get("authz");
  if (v != null) chain.authz = readAuthz(reader, v, "policy.authz");
  v = obj.get("rate_limits");
  if (v != null) chain.rateLimits = readRateLimits(reader, v, "policy.rate_limits", scope);
  v = obj.get("faults");
  if (v != null) chain.faults = readFaults(reader, v, "policy.faults");
  v = obj.get("mutations");
  if (v != null) chain.mutations = readMutations(reader, v, "policy.mutations");
  v = obj.get("routes");
  if (v != null) chain.routes = readRoutes(reader, v, "policy.routes");
  chain.readsAttributes = reader.attributesRead || chain.mutations != null;
  return chain;
}

const livePolicies: Map<string, PolicyChain> = new Map();
/** Moves whenever a plugin's live policy changes: connections look the map up only then. */
let generation: i32 = 0;

export function policyGeneration(): i32 {
  return generation;
}

/** Makes `chain` the one every connection of plugin `key` reads from its next request on. */
export function publishPolicy(key: string, chain: PolicyChain | null): void {
  const current = livePolicy(key);
  if (current === chain) return;
  if (chain == null) livePolicies.delete(key);
  else livePolicies.set(key, chain);
  generation++;
}

export function livePolicy(key: string): PolicyChain | null {
  return livePolicies.has(key) ? livePolicies.get(key) : null;
}
