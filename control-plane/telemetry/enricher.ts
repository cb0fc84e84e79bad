// Adds what the model knows about a record's addresses to the record's attributes. Which attributes
// hold addresses is configurable; the defaults are OpenTelemetry's names, which MetaProto's spans and
// flow logs carry (server.address/port: the upstream; network.peer.*: the other end of the socket;
// client.address/port: the downstream).
import type { AddressInfo } from "./directory";
import type { EnrichmentCache } from "./enrichment_cache";
import type { TelemetryItem } from "./items";
import type { AnyValue, KeyValue } from "./otlp";

export interface AddressAttributes {
  /** Attribute holding the IP address. */
  address: string;
  /** Attribute holding the port (an int or a string). */
  port: string;
  /** Prefix of the attributes added: `<prefix>.service`, `.subset`, `.version`, `.protocol`, `.role`, `.label.<name>`. */
  prefix: string;
}

export const DEFAULT_ADDRESS_ATTRIBUTES: AddressAttributes[] = [
  { address: "server.address", port: "server.port", prefix: "metaproto.server" },
  { address: "network.peer.address", port: "network.peer.port", prefix: "metaproto.peer" },
  { address: "client.address", port: "client.port", prefix: "metaproto.client" },
];

const text = (value: string): AnyValue => ({ string_value: value });

function valueText(value: AnyValue | undefined): string | undefined {
  if (!value) return undefined;
  if (value.string_value !== undefined) return value.string_value;
  if (value.int_value !== undefined) return String(value.int_value);
  return undefined;
}

export function infoAttributes(prefix: string, info: AddressInfo): KeyValue[] {
  const added: KeyValue[] = [
    { key: `${prefix}.service`, value: text(info.service) },
    { key: `${prefix}.protocol`, value: text(info.protocol) },
    { key: `${prefix}.role`, value: text(info.role) },
  ];
  if (info.subset) added.push({ key: `${prefix}.subset`, value: text(info.subset) });
  if (info.version) added.push({ key: `${prefix}.version`, value: text(info.version) });
  for (const [name, value] of Object.entries(info.labels)) added.push({ key: `${prefix}.label.${name}`, value: text(value) });
  return added;
}

export class Enricher {
  constructor(private readonly cache: EnrichmentCache, private readonly addresses: AddressAttributes[] = DEFAULT_ADDRESS_ATTRIBUTES) {}

  /** Adds attributes in place; returns whether any address was known. Attributes the record already has are kept. */
  enrich(item: TelemetryItem): boolean {
    const attributes = (item.record.attributes ??= []);
    const present = new Map<string, AnyValue | undefined>(attributes.map((kv) => [kv.key, kv.value]));
    let known = false;
    for (const { address, port, prefix } of this.addresses) {
      const host = valueText(present.get(address));
      const portNumber = Number(valueText(present.get(port)));
      if (!host || !Number.isInteger(portNumber) || portNumber <= 0 || portNumber > 65535) continue;
      const info = this.cache.lookup(host, portNumber);
      if (!info) continue;
      known = true;
      for (const kv of infoAttributes(prefix, info)) {
        if (!present.has(kv.key)) { attributes.push(kv); present.set(kv.key, kv.value); }
      }
      // peer.service is what Jaeger and most trace UIs draw the dependency graph from.
      if (item.signal === "traces" && address === "server.address" && !present.has("peer.service")) {
        attributes.push({ key: "peer.service", value: text(info.service) });
        present.set("peer.service", undefined);
      }
    }
    return known;
  }
}
