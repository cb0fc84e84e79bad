// The `read_floor` benchmark target: a Wasm network filter that reads every byte Envoy hands it into
// the VM (proxy_get_buffer_bytes, as MetaProto's frame reader does) and does nothing else: no
// decoding, no pairing, no metric. What it costs over `wasm_floor` is what reading the bytes costs
// through the proxy-wasm ABI (the host calls back into the module's malloc for each read), a floor
// under any filter that looks at the bytes; MetaProto's own decode, pairing and metrics are the rest.
export * from "../../filters/metaprotocol/runtime/abi";
import { ConnectionFilter, RootFilter, registerRootFilter } from "../../filters/metaprotocol/runtime/filter";
import { BufferKind, FilterStatus, borrowBufferBytes } from "../../filters/metaprotocol/runtime/host";

/** Bytes seen, so the reads cannot be optimized away. */
let seen: u64 = 0;

function read(kind: BufferKind, length: u32): i32 {
  const bytes = borrowBufferBytes(kind, 0, length);
  if (bytes != null) seen += <u64>bytes.length;
  return FilterStatus.Continue;
}

class ReadingConnection extends ConnectionFilter {
  onDownstreamData(length: u32, endOfStream: bool): i32 {
    return read(BufferKind.Downstream, length);
  }

  onUpstreamData(length: u32, endOfStream: bool): i32 {
    return read(BufferKind.Upstream, length);
  }
}

class ReadingRoot extends RootFilter {
  newConnection(contextId: u32): ConnectionFilter {
    return new ReadingConnection(contextId);
  }
}

registerRootFilter((contextId: u32): RootFilter => new ReadingRoot(contextId));
