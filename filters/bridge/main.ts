// Entry point of dist/wasm/dubbo_bridge.wasm: the router-mode bridge between Dubbo and HCM's
// HTTP/2 (docs/router-mode-spike.md). One module, two sides, chosen by configuration.
export * from "../metaprotocol/runtime/abi";
import { ConnectionFilter, RootFilter, registerRootFilter } from "../metaprotocol/runtime/filter";
import { LogLevel, log } from "../metaprotocol/runtime/host";
import { BridgeConfig, BridgeSide, parseBridgeConfig } from "./config";
import { ConsumerSide } from "./consumer_side";
import { ProviderSide } from "./provider_side";

class BridgeRoot extends RootFilter {
  private config: BridgeConfig = new BridgeConfig();

  onConfigure(configuration: Uint8Array): bool {
    const config = parseBridgeConfig(String.UTF8.decode(configuration.buffer.slice(configuration.byteOffset, configuration.byteOffset + configuration.length)));
    if (config.error.length > 0) {
      log(LogLevel.Error, "bridge: configuration rejected: " + config.error);
      return false;
    }
    this.config = config;
    return true;
  }

  newConnection(contextId: u32): ConnectionFilter {
    if (this.config.side == BridgeSide.Provider) return new ProviderSide(contextId, this.config);
    return new ConsumerSide(contextId, this.config);
  }
}

registerRootFilter((contextId: u32): RootFilter => new BridgeRoot(contextId));
