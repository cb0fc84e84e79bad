// The `wasm_floor` benchmark target: a Wasm network filter that Envoy calls for every read and
// that does nothing else (no buffer read, no decoding, no metric). What it costs over tcp_proxy
// is what any Wasm network filter pays in this Envoy; MetaProto's own cost is the rest.
export * from "../../filters/metaprotocol/runtime/abi";
import { ConnectionFilter, RootFilter, registerRootFilter } from "../../filters/metaprotocol/runtime/filter";

class IdleConnection extends ConnectionFilter {}

class EmptyRoot extends RootFilter {
  newConnection(contextId: u32): ConnectionFilter {
    return new IdleConnection(contextId);
  }
}

registerRootFilter((contextId: u32): RootFilter => new EmptyRoot(contextId));
