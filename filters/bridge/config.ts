// The bridge's plugin configuration: which peer the filter faces, its bounds, and the service name
// of calls whose protocol carries none (Thrift without TMultiplexedProtocol).
import { JsonKind, parseJson } from "../metaprotocol/runtime/json";

export enum BridgeSide { Consumer = 0, Provider = 1 }

export class BridgeConfig {
  side: BridgeSide = BridgeSide.Consumer;
  /** Advertised SETTINGS_HEADER_TABLE_SIZE: 0 asks Envoy's encoder to keep no dynamic table. */
  headerTableSize: i32 = 0;
  /** A frame (and an HTTP body held for one) larger than this closes the connection. */
  maxFrameBytes: i32 = 8 * 1024 * 1024;
  /** The service of calls that name none on the wire (Thrift): `:path /<service>/<method>`, `x-thrift-service`. */
  service: string = "";
  error: string = "";
}

/** `{"side": "consumer" | "provider", "header_table_size": n, "max_frame_bytes": n, "service": "name"}` */
export function parseBridgeConfig(text: string): BridgeConfig {
  const config = new BridgeConfig();
  const parsed = parseJson(text.length == 0 ? "{}" : text);
  const root = parsed.value;
  if (root == null || root.kind != JsonKind.Object) {
    config.error = parsed.error.length > 0 ? parsed.error : "configuration must be a JSON object";
    return config;
  }
  const side = root.get("side");
  if (side != null) {
    if (side.kind == JsonKind.String && side.string == "consumer") config.side = BridgeSide.Consumer;
    else if (side.kind == JsonKind.String && side.string == "provider") config.side = BridgeSide.Provider;
    else config.error = "side must be \"consumer\" or \"provider\"";
  }
  const table = root.get("header_table_size");
  if (table != null) {
    if (table.kind != JsonKind.Number || table.number < 0 || table.number > 65536) config.error = "header_table_size must be 0..65536";
    else config.headerTableSize = <i32>table.number;
  }
  const frameBytes = root.get("max_frame_bytes");
  if (frameBytes != null) {
    if (frameBytes.kind != JsonKind.Number || frameBytes.number < 16 || frameBytes.number > 64 * 1024 * 1024) config.error = "max_frame_bytes must be 16..67108864";
    else config.maxFrameBytes = <i32>frameBytes.number;
  }
  const service = root.get("service");
  if (service != null) {
    if (service.kind != JsonKind.String || !isServiceName(service.string)) config.error = "service must be a string of letters, digits and . _ - (at most 255)";
    else config.service = service.string;
  }
  return config;
}

/** A service name that is valid in `:path` and in a header value as it is. */
function isServiceName(name: string): bool {
  if (name.length > 255) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f || c == 0x2e;
    if (!ok) return false;
  }
  return true;
}
