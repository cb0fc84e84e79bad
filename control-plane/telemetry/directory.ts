// What the configuration model knows about an address: the Service whose endpoint (or listener) it
// is, the subset, its version and labels. Built from a loaded model; the enrichment cache asks it.
import * as net from "net";
import type { Model } from "../model/load";

export interface AddressInfo {
  service: string;
  protocol: string;
  /** "endpoint": a server behind the Service; "listener": the Service's own Envoy listener. */
  role: "endpoint" | "listener";
  subset?: string;
  /** The subset's `version` label, when it has one. */
  version?: string;
  /** The Service's metadata labels, then the subset's labels over them. */
  labels: Record<string, string>;
}

export type ResolveAddress = (address: string, port: number) => AddressInfo | undefined;

/** "::ffff:10.0.0.1" and "10.0.0.1" are one address (a dual-stack socket reports the first). */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return (mapped ? mapped[1] : address).toLowerCase();
}

const key = (address: string, port: number) => `${normalizeAddress(address)}|${port}`;

/** A lookup over every endpoint and listener of the model (endpoints win over listeners on the same address). */
export function directoryFromModel(model: Model): ResolveAddress {
  const byAddress = new Map<string, AddressInfo>();
  const wildcardListeners = new Map<number, AddressInfo>();
  for (const { value } of model.services.values()) {
    const service = value.metadata.name;
    const serviceLabels = value.metadata.labels ?? {};
    const listener: AddressInfo = { service, protocol: value.spec.protocol, role: "listener", labels: { ...serviceLabels } };
    if (value.spec.address === "0.0.0.0" || value.spec.address === "::") wildcardListeners.set(value.spec.port, listener);
    else byAddress.set(key(value.spec.address, value.spec.port), listener);
  }
  for (const { value } of model.services.values()) {
    for (const subset of value.spec.subsets) {
      const labels = { ...(value.metadata.labels ?? {}), ...(subset.labels ?? {}) };
      for (const endpoint of subset.endpoints) {
        const at = key(endpoint.address, endpoint.port);
        // An endpoint listed in two subsets keeps the first: the model does not say which one a call used.
        if (byAddress.get(at)?.role === "endpoint") continue;
        byAddress.set(at, {
          service: value.metadata.name, protocol: value.spec.protocol, role: "endpoint",
          subset: subset.name, version: subset.labels?.version, labels,
        });
      }
    }
  }
  return (address, port) => {
    if (!net.isIP(normalizeAddress(address))) return undefined;
    return byAddress.get(key(address, port)) ?? wildcardListeners.get(port);
  };
}
