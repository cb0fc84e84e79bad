// Where the control plane finds its Envoys' admin endpoints (for the status page and Prometheus'
// service discovery): each Envoy names its own in its bootstrap's node metadata, which it sends on
// its first xDS request; `--envoy-admin` adds Envoys whose bootstraps metaproto did not write.

/** The node metadata key `metaproto bootstrap` and `metaproto up` write. */
export const ADMIN_METADATA_KEY = "metaproto_admin";

/** node.metadata for a bootstrap whose admin listens on address:port. */
export function adminMetadata(address: string, port: number): Record<string, string> {
  return { [ADMIN_METADATA_KEY]: hostPort(address, port) };
}

export function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** An admin "0.0.0.0"/"::" listens everywhere: scrape it on loopback. */
export function scrapableAddress(admin: string): string {
  return admin.replace(/^0\.0\.0\.0:/, "127.0.0.1:").replace(/^\[::\]:/, "[::1]:");
}

interface StructValue { string_value?: string }

/**
 * The admin address in a node as the ADS server decodes it (protobufjs keeps google.protobuf.Struct
 * as `{fields: {key: {string_value}}}`); undefined when the bootstrap did not write one.
 */
export function adminAddressOfNode(node: { metadata?: { fields?: Record<string, StructValue> } | null } | null | undefined): string | undefined {
  const value = node?.metadata?.fields?.[ADMIN_METADATA_KEY]?.string_value;
  return value && /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value) ? scrapableAddress(value) : undefined;
}
