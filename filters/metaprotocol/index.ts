// A codec's main.ts re-exports these proxy-wasm entry points and calls useCodec.
export * from "./runtime/abi";
