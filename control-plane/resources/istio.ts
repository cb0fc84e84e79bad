// What a sidecar deployment of a codec needs in Istio: per Service, a WasmPlugin of type NETWORK
// (istiod delivers it to the sidecars through ECDS; the Istio agent fetches the module by URL and
// checks its sha256), and, once per namespace, a ConfigMap with the bootstrap pieces Istio does not
// set itself: the stats_tags that turn MetaProto's metric names into labels, and the duration
// histogram's buckets. Pods opt in with two annotations (see istioPodAnnotations).
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Located, Model } from "../model/load";
import type { MetaRouterDocument } from "../model/schema";
import { statsConfig } from "./pieces";
import { filterConfiguration, routesConnections } from "./translate";

export interface IstioOptions {
  namespace: string;
  /** Where sidecars fetch the modules from: `<moduleUrl>/<protocol>.wasm` (metaproto serve's /wasm, or any HTTP server). */
  moduleUrl: string;
  /** The compiled modules, for their sha256. */
  wasmDir: string;
  /** The workloads the plugins apply to (WasmPlugin selector.matchLabels); default: app=<Service name>. */
  selector?: Record<string, string>;
}

export const STATS_CONFIG_MAP = "metaproto-bootstrap";

const FAIL_STRATEGY: Record<string, string> = { FAIL_CLOSED: "FAIL_CLOSE", FAIL_OPEN: "FAIL_OPEN", FAIL_RELOAD: "FAIL_RELOAD" };

/** The pod annotations that make a sidecar keep MetaProto's stats and label them. */
export function istioPodAnnotations(): Record<string, string> {
  return {
    // Istio's sidecars create only the stats their inclusion list names; Wasm stats are wasmcustom.*.
    "proxy.istio.io/config": JSON.stringify({ proxyStatsMatcher: { inclusionPrefixes: ["wasmcustom.metaproto_"] } }),
    "sidecar.istio.io/bootstrapOverride": STATS_CONFIG_MAP,
  };
}

export function istioManifests(model: Model, options: IstioOptions): Record<string, unknown>[] {
  const manifests: Record<string, unknown>[] = [];
  const routerOf = new Map<string, Located<MetaRouterDocument>>();
  for (const router of model.routers.values()) for (const host of router.value.spec.hosts) routerOf.set(host, router);
  for (const { value: service } of model.services.values()) {
    const name = service.metadata.name;
    const router = routerOf.get(name);
    if (service.spec.mode === "router") {
      throw new Error(`Service ${name} is in router mode, which needs the HTTP connection manager, internal listeners and clusters metaproto serve defines: a WasmPlugin cannot add them to an Istio sidecar, so use mode: sidecar here`);
    }
    // Matched routes send connections to clusters `metaproto serve` defines; a sidecar has Istio's.
    if (routesConnections(router?.value)) {
      throw new Error(`MetaRouter ${router!.value.metadata.name} chooses connections' clusters by match, which needs the clusters metaproto serve defines: in Istio route TCP connections with a VirtualService, and remove the match`);
    }
    const module = path.join(options.wasmDir, `${service.spec.protocol}.wasm`);
    manifests.push({
      apiVersion: "extensions.istio.io/v1alpha1",
      kind: "WasmPlugin",
      metadata: { name: `metaproto-${name}`, namespace: options.namespace, labels: { "app.kubernetes.io/managed-by": "metaproto" } },
      spec: {
        selector: { matchLabels: options.selector ?? { app: name } },
        type: "NETWORK",
        url: `${options.moduleUrl.replace(/\/$/, "")}/${service.spec.protocol}.wasm`,
        sha256: createHash("sha256").update(fs.readFileSync(module)).digest("hex"),
        failStrategy: FAIL_STRATEGY[service.spec.failurePolicy],
        // Inbound traffic to the Service's port on the selected workloads.
        match: [{ mode: "SERVER", ports: [{ number: service.spec.port }] }],
        pluginConfig: JSON.parse(filterConfiguration(name, service.spec.codec, router?.value)),
      },
    });
  }
  manifests.push({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: STATS_CONFIG_MAP, namespace: options.namespace, labels: { "app.kubernetes.io/managed-by": "metaproto" } },
    // Istio merges this JSON into the sidecar's bootstrap (annotation sidecar.istio.io/bootstrapOverride).
    data: { "custom_bootstrap.json": JSON.stringify({ stats_config: statsConfig() }, null, 2) },
  });
  return manifests;
}
