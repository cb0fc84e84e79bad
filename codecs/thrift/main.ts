// Entry point of dist/wasm/thrift.wasm.
export * from "../../filters/metaprotocol/index";
import { useCodec } from "../../filters/metaprotocol/root";
import { ThriftCodec } from "./thrift_codec";

useCodec(new ThriftCodec());
