// The proxy-wasm entry points for a network filter, dispatched to MetaProto filter objects.
// We dispatch ourselves rather than through the SDK's Context map because SDK 1.2.3 builds
// debug strings over every live context on each new connection and traps in proxy_on_done
// for contexts it never registered. The host import declarations are the SDK's.
import { BufferKind, LogLevel, getBufferBytes, log, nowNanos } from "./host";
import { grpcClosed, grpcReceived } from "../tracing/observer";
export { malloc } from "./host";
import { ConnectionFilter, RootFilter, createRootFilter } from "./filter";
import { enterCallback, leaveCallback } from "./collector";

const roots = new Map<u32, RootFilter>();
const connections = new Map<u32, ConnectionFilter>();

function rootFor(contextId: u32): RootFilter | null {
  return roots.has(contextId) ? roots.get(contextId) : null;
}

function connectionFor(contextId: u32): ConnectionFilter | null {
  return connections.has(contextId) ? connections.get(contextId) : null;
}

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_context_create(contextId: u32, rootContextId: u32): void {
  enterCallback();
  createContext(contextId, rootContextId);
  leaveCallback();
}

function createContext(contextId: u32, rootContextId: u32): void {
  if (rootContextId == 0) {
    const root = createRootFilter(contextId);
    if (root == null) log(LogLevel.Critical, "metaproto: no root filter registered (a codec's main.ts must call useCodec)");
    else roots.set(contextId, root);
    return;
  }
  const root = rootFor(rootContextId);
  if (root != null) connections.set(contextId, root.newConnection(contextId));
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: u32): u32 {
  return 1;
}

export function proxy_validate_configuration(rootContextId: u32, configurationSize: u32): u32 {
  return 1;
}

export function proxy_on_configure(rootContextId: u32, configurationSize: u32): u32 {
  enterCallback();
  const root = rootFor(rootContextId);
  const configured = root != null && root.onConfigure(readPluginConfiguration(configurationSize));
  leaveCallback();
  return configured ? 1 : 0;
}

function readPluginConfiguration(size: u32): Uint8Array {
  if (size == 0) return new Uint8Array(0);
  const bytes = getBufferBytes(BufferKind.PluginConfiguration, 0, size);
  return bytes == null ? new Uint8Array(0) : bytes;
}

export function proxy_on_tick(rootContextId: u32): void {
  enterCallback();
  const root = rootFor(rootContextId);
  if (root != null) root.onTick();
  leaveCallback();
}

export function proxy_on_new_connection(contextId: u32): i32 {
  enterCallback();
  const c = connectionFor(contextId);
  const status = c == null ? 0 : c.onNewConnection();
  leaveCallback();
  return status;
}

export function proxy_on_downstream_data(contextId: u32, length: u32, endOfStream: u32): i32 {
  enterCallback();
  const c = connectionFor(contextId);
  const status = c == null ? 0 : c.onDownstreamData(length, endOfStream != 0);
  leaveCallback();
  return status;
}

export function proxy_on_upstream_data(contextId: u32, length: u32, endOfStream: u32): i32 {
  enterCallback();
  const c = connectionFor(contextId);
  const status = c == null ? 0 : c.onUpstreamData(length, endOfStream != 0);
  leaveCallback();
  return status;
}

export function proxy_on_downstream_connection_close(contextId: u32, peerType: u32): void {
  enterCallback();
  const c = connectionFor(contextId);
  if (c != null) c.onDownstreamClose();
  leaveCallback();
}

export function proxy_on_upstream_connection_close(contextId: u32, peerType: u32): void {
  enterCallback();
  const c = connectionFor(contextId);
  if (c != null) c.onUpstreamClose();
  leaveCallback();
}

export function proxy_on_done(contextId: u32): u32 {
  enterCallback();
  const c = connectionFor(contextId);
  if (c != null) c.onDone();
  leaveCallback();
  return 1;
}

export function proxy_on_log(contextId: u32): void {}

// gRPC callouts (the telemetry exporters' Export calls, made from a root context's tick).
export function proxy_on_grpc_receive_initial_metadata(contextId: u32, token: u32, headers: u32): void {}

export function proxy_on_grpc_receive_trailing_metadata(contextId: u32, token: u32, trailers: u32): void {}

export function proxy_on_grpc_receive(contextId: u32, token: u32, responseSize: u32): void {
  enterCallback();
  grpcReceived(token);
  leaveCallback();
}

export function proxy_on_grpc_close(contextId: u32, token: u32, statusCode: u32): void {
  enterCallback();
  grpcClosed(token, statusCode, nowNanos());
  leaveCallback();
}

export function proxy_on_delete(contextId: u32): void {
  enterCallback();
  if (connections.has(contextId)) connections.delete(contextId);
  else if (roots.has(contextId)) roots.delete(contextId);
  leaveCallback();
}
