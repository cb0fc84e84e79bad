// Router mode (README "Router mode", docs/router-mode-spike.md): which protocols have a bridge, and
// the HTTP/2 headers the bridge gives each request, which routes match on.

/** Protocol → the bridge module (<name>.wasm beside the codecs) that turns its calls into HTTP/2 streams. */
export const BRIDGE_MODULES: Readonly<Record<string, string>> = { dubbo: "dubbo_bridge" };

export const bridgedProtocols = () => Object.keys(BRIDGE_MODULES);

/** The request header carrying a MetaRouter match attribute (filters/bridge/dubbo/dubbo_protocol.ts sets them). */
export function attributeHeader(attribute: string): string {
  if (attribute === "service") return "x-dubbo-service";
  if (attribute === "method") return "x-dubbo-method";
  // The bridge lowercases attachment keys (HTTP/2 header names are lowercase).
  return `x-dubbo-attachment-${attribute.toLowerCase()}`;
}

/** An attachment key the bridge passes on as a header (once lowercased: letters, digits, '-', '_', '.'). */
export const isBridgedAttachmentKey = (key: string) => /^[a-z0-9._-]+$/.test(key.toLowerCase());

/** The path of the streams that carry Dubbo heartbeats and other events: every route table routes it. */
export const HEARTBEAT_PATH = "/_dubbo/heartbeat";
