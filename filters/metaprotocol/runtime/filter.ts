// The two objects a MetaProto filter is made of; abi.ts dispatches to them.

/** One per root context (plugin instance): configuration and per-worker state. */
export abstract class RootFilter {
  constructor(public contextId: u32) {}
  /** Returns false to reject the configuration (Envoy then keeps the previous one). */
  onConfigure(configuration: Uint8Array): bool { return true; }
  onTick(): void {}
  abstract newConnection(contextId: u32): ConnectionFilter;
}

/** One per downstream connection. */
export abstract class ConnectionFilter {
  constructor(public contextId: u32) {}
  onNewConnection(): i32 { return 0; }
  onDownstreamData(length: u32, endOfStream: bool): i32 { return 0; }
  onUpstreamData(length: u32, endOfStream: bool): i32 { return 0; }
  onDownstreamClose(): void {}
  onUpstreamClose(): void {}
  /** Last call for this connection. */
  onDone(): void {}
}


let rootFactory: ((contextId: u32) => RootFilter) | null = null;

/** Sets what each new root context becomes; the filter framework calls this once. */
export function registerRootFilter(factory: (contextId: u32) => RootFilter): void {
  rootFactory = factory;
}

export function createRootFilter(contextId: u32): RootFilter | null {
  const factory = rootFactory;
  return factory == null ? null : factory(contextId);
}
