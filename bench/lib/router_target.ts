// The router-mode target (`metaproto_router`): the protocol's bridge before HCM, each call an HTTP/2
// stream routed to an internal listener [bridge, provider side] + tcp_proxy → the backend. Its Envoy
// configuration is the control plane's own translation of a small model, inlined as
// `metaproto bootstrap --static` inlines it, so the benchmark measures what router mode deploys.
import { existsSync } from "fs";
import * as path from "path";
import { formatError, loadSources } from "../../control-plane/model/load";
import { BRIDGES } from "../../control-plane/model/router_mode";
import { staticBootstrap } from "../../control-plane/resources/bootstrap";
import { bridgeListenerName, translate } from "../../control-plane/resources/translate";
import type { EnvoyResources } from "./envoy";

export const ROUTER_TARGET = "metaproto_router";

/** The model's Service (and MetaRouter) name: metadata names are DNS labels, so not the target's name. */
export const ROUTER_SERVICE = "metaproto-router";

/** One router-mode Service on 127.0.0.1:`port`, one subset holding the backend, one route to it. */
export function routerModel(protocol: string, port: number, backendPort: number): string {
  return `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: ${ROUTER_SERVICE} }
spec:
  protocol: ${protocol}
  mode: router
  address: 127.0.0.1
  port: ${port}
  subsets: [{ name: backend, endpoints: [{ address: 127.0.0.1, port: ${backendPort} }] }]
---
apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: ${ROUTER_SERVICE} }
spec:
  hosts: [${ROUTER_SERVICE}]
  routes:
  - name: all
    route: [{ destination: { host: ${ROUTER_SERVICE}, subset: backend } }]
`;
}

/** The listeners, clusters and bootstrap extensions the control plane makes of routerModel(...). */
export function routerResources(protocol: string, wasmDir: string, port: number, backendPort: number): EnvoyResources {
  const { model, errors } = loadSources([{ file: "bench router model", text: routerModel(protocol, port, backendPort) }]);
  if (!model) throw new Error(`the router target's model is refused:\n${errors.map(formatError).join("\n")}`);
  const value = staticBootstrap(translate(model, { wasmDir }), { adminPort: 0 }) as {
    bootstrap_extensions?: Record<string, unknown>[];
    static_resources: { listeners: Record<string, unknown>[]; clusters: Record<string, unknown>[] };
  };
  return {
    listeners: value.static_resources.listeners,
    clusters: value.static_resources.clusters,
    bootstrapExtensions: value.bootstrap_extensions ?? [],
    // tcp_proxy of the internal listener holds the connections to the backend.
    upstreamCluster: bridgeListenerName(ROUTER_SERVICE),
  };
}

/** The protocol's bridge module and whether it is built; undefined when router mode has no bridge for it (no target). */
export function routerBridge(protocol: string, wasmDir: string): { module: string; built: boolean } | undefined {
  const bridge = BRIDGES[protocol];
  if (!bridge) return undefined;
  const module = path.join(wasmDir, `${bridge.module}.wasm`);
  return { module, built: existsSync(module) };
}
