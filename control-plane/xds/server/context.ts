// What the state-of-the-world and delta streams share.
import type { Logger } from "pino";
import type { EncodedResource, SnapshotCache } from "../cache";
import type { StatusRegistry } from "./status";

export interface ServerContext {
  cache: SnapshotCache;
  status: StatusRegistry;
  log: Logger;
}

/**
 * The resources a rejection is about, and the YAML documents behind them: those Envoy's message names,
 * else (Envoy often names only the object inside, e.g. "Unable to create Wasm plugin cache") those the
 * rejected response changed.
 */
export function describeRejection(message: string, changed: EncodedResource[]): { resources: string[]; origins: string[] } {
  const named = changed.filter((r) => message.includes(r.name));
  const suspects = named.length ? named : changed;
  return {
    resources: suspects.map((r) => r.name),
    origins: [...new Set(suspects.filter((r) => r.origin).map((r) => r.origin!))],
  };
}
