// Entry point of dist/wasm/thrift_bridge.wasm: the router-mode bridge between Thrift (framed,
// THeader, buffered; binary and compact) and HCM's HTTP/2. Two sides, chosen by configuration.
export * from "../../metaprotocol/runtime/abi";
import { registerBridge } from "../bridge_root";
import { BridgeConfig } from "../config";
import { ConsumerProtocol, ProviderProtocol } from "../protocol";
import { ThriftConsumer, ThriftProvider } from "./thrift_protocol";

registerBridge(
  (config: BridgeConfig): ConsumerProtocol => new ThriftConsumer(config.service),
  (config: BridgeConfig): ProviderProtocol => new ThriftProvider(),
);
