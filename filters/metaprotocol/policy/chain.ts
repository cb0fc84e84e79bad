// The policy stages a request goes through, in order: authz, local rate limit, fault. The first
// stage that does not let the call through decides. Connection routes (routes.ts) choose where a
// connection goes from its first request. Each plugin's current chain lives in module
// state, read per request, so a configuration update (a new root context in the same VM)
// reaches the next request of connections opened before it.
import { Message } from "../../../api/assembly/codec";
import { PolicySpec } from "../config_spec.generated";
import { Authz, authzOf } from "./authz";
import { ConfigReader } from "../runtime/config_reader";
import { Faults, faultsOf } from "./fault";
import { Peer } from "./match";
import { RateLimits, rateLimitsOf } from "./rate_limit";
import { ConnectionRoutes, routesOf } from "./routes";
import { Mutations, mutationsOf } from "./mutation";
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

/** The chain of a `policy` section the schema accepted; `scope` names this plugin's rate-limit buckets in shared data. */
export function policyOf(reader: ConfigReader, spec: PolicySpec, scope: string): PolicyChain {
  const chain = new PolicyChain();
  const authz = spec.authz;
  if (authz != null) chain.authz = authzOf(reader, authz, "policy.authz");
  if (spec.rate_limits.length > 0) chain.rateLimits = rateLimitsOf(reader, spec.rate_limits, "policy.rate_limits", scope);
  if (spec.faults.length > 0) chain.faults = faultsOf(reader, spec.faults, "policy.faults");
  if (spec.mutations.length > 0) chain.mutations = mutationsOf(reader, spec.mutations, "policy.mutations");
  if (spec.routes.length > 0) chain.routes = routesOf(reader, spec.routes, "policy.routes");
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
