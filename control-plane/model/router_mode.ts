// Router mode (README "Router mode", docs/router-mode-spike.md): which protocols have a bridge, and
// the HTTP/2 headers the bridge gives each request, which routes match on.

/** What the control plane needs to know of a protocol's bridge (filters/bridge/<protocol>/). */
export interface Bridge {
  /** The module (<name>.wasm beside the codecs) that turns the protocol's calls into HTTP/2 streams. */
  module: string;
  serviceHeader: string;
  methodHeader: string;
  /** Says what a call was; `oneway` marks the calls no answer confirms (never retried). */
  kindHeader: string;
  /** Any other match attribute is this prefix + the attribute lowercased (Dubbo attachments, THeader info headers). */
  attributePrefix: string;
  /** The path of streams every route table must send to any endpoint (Dubbo's heartbeats); none for Thrift. */
  heartbeatPath?: string;
  /** The bridge takes the service of calls that name none (Thrift without multiplexing) from its configuration: the Service's name. */
  namesService?: boolean;
}

export const BRIDGES: Readonly<Record<string, Bridge>> = {
  // filters/bridge/dubbo/dubbo_protocol.ts sets these.
  dubbo: {
    module: "dubbo_bridge", serviceHeader: "x-dubbo-service", methodHeader: "x-dubbo-method", kindHeader: "x-dubbo-kind",
    attributePrefix: "x-dubbo-attachment-",
    heartbeatPath: "/_dubbo/heartbeat",
  },
  // filters/bridge/thrift/thrift_protocol.ts sets these.
  thrift: {
    module: "thrift_bridge", serviceHeader: "x-thrift-service", methodHeader: "x-thrift-method", kindHeader: "x-thrift-kind",
    attributePrefix: "x-thrift-header-",
    namesService: true,
  },
};

/** Protocol → the bridge module (<name>.wasm beside the codecs) that turns its calls into HTTP/2 streams. */
export const BRIDGE_MODULES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(BRIDGES).map(([protocol, b]) => [protocol, b.module]));

export const bridgedProtocols = () => Object.keys(BRIDGES);

/** The request header carrying a MetaRouter match attribute, as the protocol's bridge sets them. */
export function attributeHeader(attribute: string, protocol = "dubbo"): string {
  const bridge = BRIDGES[protocol];
  if (attribute === "service") return bridge.serviceHeader;
  if (attribute === "method") return bridge.methodHeader;
  // The bridge lowercases attachment keys (HTTP/2 header names are lowercase).
  return `${bridge.attributePrefix}${attribute.toLowerCase()}`;
}

/** An attachment key the bridge passes on as a header (once lowercased: letters, digits, '-', '_', '.'). */
export const isBridgedAttachmentKey = (key: string) => /^[a-z0-9._-]+$/.test(key.toLowerCase());
