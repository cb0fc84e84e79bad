// The bridge's root filter: one module per protocol (dist/wasm/<protocol>_bridge.wasm), two
// sides, the side chosen by the plugin configuration (config.ts). A protocol's main.ts calls
// registerBridge with its two halves (protocol.ts).
import { ConnectionFilter, RootFilter, registerRootFilter } from "../metaprotocol/runtime/filter";
import { LogLevel, log } from "../metaprotocol/runtime/host";
import { BridgeConfig, BridgeSide, parseBridgeConfig } from "./config";
import { ConsumerSide } from "./consumer_side";
import { ProviderSide } from "./provider_side";
import { ConsumerProtocol, ProviderProtocol } from "./protocol";

type ConsumerFactory = (config: BridgeConfig) => ConsumerProtocol;
type ProviderFactory = (config: BridgeConfig) => ProviderProtocol;

let consumerProtocol: ConsumerFactory | null = null;
let providerProtocol: ProviderFactory | null = null;

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
    if (this.config.side == BridgeSide.Provider) return new ProviderSide(contextId, this.config, providerProtocol!(this.config));
    return new ConsumerSide(contextId, this.config, consumerProtocol!(this.config));
  }
}

/** Makes this module the bridge of one protocol: each connection gets a fresh half of it. */
export function registerBridge(consumer: ConsumerFactory, provider: ProviderFactory): void {
  consumerProtocol = consumer;
  providerProtocol = provider;
  registerRootFilter((contextId: u32): RootFilter => new BridgeRoot(contextId));
}
