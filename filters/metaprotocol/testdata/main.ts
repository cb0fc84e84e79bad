// Entry point of the framework's test module (build/test/line.wasm).
export * from "../index";
import { useCodec } from "../root";
import { LineCodec } from "./line_codec";

useCodec(new LineCodec());
