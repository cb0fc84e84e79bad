// Entry point of dist/wasm/dubbo_bridge.wasm: the router-mode bridge between Dubbo and HCM's
// HTTP/2 (docs/router-mode-spike.md). One module, two sides, chosen by configuration.
export * from "../../metaprotocol/runtime/abi";
import { registerBridge } from "../bridge_root";
import { BridgeConfig } from "../config";
import { ConsumerProtocol, ProviderProtocol } from "../protocol";
import { DubboConsumer, DubboProvider } from "./dubbo_protocol";

registerBridge(
  (config: BridgeConfig): ConsumerProtocol => new DubboConsumer(),
  (config: BridgeConfig): ProviderProtocol => new DubboProvider(),
);
