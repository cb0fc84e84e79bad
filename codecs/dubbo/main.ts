// Entry point of dist/wasm/dubbo.wasm.
export * from "../../filters/metaprotocol/index";
import { useCodec } from "../../filters/metaprotocol/root";
import { DubboCodec } from "./dubbo_codec";

useCodec(new DubboCodec());
