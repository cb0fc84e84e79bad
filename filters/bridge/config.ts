// The bridge's plugin configuration (api/proto/metaproto/filter/v1alpha1/bridge_config.proto, read
// by the reader generated from it): which peer the filter faces, its bounds, and the service name of
// calls whose protocol carries none (Thrift without TMultiplexedProtocol).
import { readBridgeConfigSpec } from "../metaprotocol/config_spec.generated";
import { ConfigReader } from "../metaprotocol/runtime/config_reader";
import { JsonKind, parseJson } from "../metaprotocol/runtime/json";

export enum BridgeSide { Consumer = 0, Provider = 1 }

/** The configuration as the bridge uses it, filled by parseBridgeConfig (defaults: the .proto's). */
export class BridgeConfig {
  side: BridgeSide = BridgeSide.Consumer;
  /** Advertised SETTINGS_HEADER_TABLE_SIZE: 0 asks Envoy's encoder to keep no dynamic table. */
  headerTableSize: i32 = 0;
  /** A frame (and an HTTP body held for one) larger than this closes the connection. */
  maxFrameBytes: i32 = 0;
  /** The service of calls that name none on the wire (Thrift): `:path /<service>/<method>`, `x-thrift-service`. */
  service: string = "";
  error: string = "";
}

export function parseBridgeConfig(text: string): BridgeConfig {
  const config = new BridgeConfig();
  const parsed = parseJson(text.length == 0 ? "{}" : text);
  const root = parsed.value;
  if (root == null || root.kind != JsonKind.Object) {
    config.error = parsed.error.length > 0 ? parsed.error : "configuration must be a JSON object";
    return config;
  }
  const reader = new ConfigReader();
  const spec = readBridgeConfigSpec(reader, root, "");
  config.error = reader.error;
  config.side = spec.side == "provider" ? BridgeSide.Provider : BridgeSide.Consumer;
  config.headerTableSize = <i32>spec.header_table_size;
  config.maxFrameBytes = <i32>spec.max_frame_bytes;
  config.service = spec.service;
  return config;
}
