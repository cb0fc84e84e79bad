// Entry point of dist/wasm/tinyrpc.wasm: the proxy-wasm ABI from the framework, and this codec.
export * from "../../filters/metaprotocol/index";
import { useCodec } from "../../filters/metaprotocol/root";
import { TinyRpcCodec } from "./tinyrpc_codec";
useCodec(new TinyRpcCodec());
