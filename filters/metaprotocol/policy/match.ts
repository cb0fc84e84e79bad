// Which calls a rule applies to: service, method and attributes of the request, and the
// client's address. Every condition given must hold; a match with none holds for every call.
import { Message } from "../../../api/assembly/codec";
import { JsonValue } from "../runtime/json";
import { ConfigReader } from "../runtime/config_reader";
import { Regex } from "../runtime/regex";

export enum StringMatchKind { Exact = 0, Prefix = 1, Suffix = 2, Present = 3, Regex = 4 }

export class StringMatch {
  constructor(public kind: StringMatchKind, public value: string, public regex: Regex | null = null) {}

  matches(s: string | null): bool {
    if (s == null) return false;
    switch (this.kind) {
      case StringMatchKind.Exact: return s == this.value;
      case StringMatchKind.Prefix: return s.startsWith(this.value);
      case StringMatchKind.Suffix: return s.endsWith(this.value);
      case StringMatchKind.Regex: return this.regex!.matches(s);
      default: return true;
    }
  }
}

export class AttributeMatch {
  constructor(public name: string, public match: StringMatch) {}
}

/** An IPv4 network: address and prefix length. */
export class Cidr {
  constructor(public address: u32, public bits: i32) {}

  contains(address: u32): bool {
    if (this.bits == 0) return true;
    const mask = this.bits >= 32 ? <u32>0xffffffff : ~((<u32>0xffffffff) >>> this.bits);
    return (address & mask) == (this.address & mask);
  }
}

/** The parts of a connection rules look at. */
export class Peer {
  /** The client's IPv4 address; `hasAddress` is false for IPv6 or an unknown peer. */
  address: u32 = 0;
  hasAddress: bool = false;
  /** The URI SAN of the client's certificate when Envoy terminated TLS (SPIFFE ids), or null. */
  principal: string | null = null;
}

export class CallMatch {
  service: StringMatch | null = null;
  method: StringMatch | null = null;
  attributes: Array<AttributeMatch> = [];
  sourceCidrs: Array<Cidr> = [];
  /** The client certificate's URI SAN must match one of these. */
  principals: Array<StringMatch> = [];

  matches(message: Message, peer: Peer): bool {
    const service = this.service;
    if (service != null && !service.matches(message.service)) return false;
    const method = this.method;
    if (method != null && !method.matches(message.method)) return false;
    for (let i = 0; i < this.attributes.length; i++) {
      const a = unchecked(this.attributes[i]);
      if (!a.match.matches(message.attribute(a.name))) return false;
    }
    if (this.sourceCidrs.length > 0) {
      if (!peer.hasAddress) return false;
      let inside = false;
      for (let i = 0; i < this.sourceCidrs.length && !inside; i++) inside = unchecked(this.sourceCidrs[i]).contains(peer.address);
      if (!inside) return false;
    }
    if (this.principals.length > 0) {
      let known = false;
      for (let i = 0; i < this.principals.length && !known; i++) known = unchecked(this.principals[i]).matches(peer.principal);
      if (!known) return false;
    }
    return true;
  }
}

const STRING_MATCH_FIELDS = ["exact", "prefix", "suffix", "present", "regex"];

function readStringMatch(reader: ConfigReader, value: JsonValue, path: string): StringMatch | null {
  const obj = reader.object(value, path, STRING_MATCH_FIELDS);
  if (obj == null) return null;
  if (obj.keys.length != 1) {
    reader.fail(path, "needs exactly one of " + STRING_MATCH_FIELDS.join(", "));
    return null;
  }
  const key = obj.keys[0];
  const v = obj.items[0];
  if (key == "present") {
    if (v.kind != 1 /* JsonKind.Bool */ || !v.bool) reader.fail(path + ".present", "must be true");
    return new StringMatch(StringMatchKind.Present, "");
  }
  const text = reader.string(v, path + "." + key);
  if (key == "regex") {
    const regex = new Regex(text);
    if (regex.error.length > 0) reader.fail(path + ".regex", "not a supported regular expression: " + regex.error);
    return new StringMatch(StringMatchKind.Regex, text, regex);
  }
  const kind = key == "exact" ? StringMatchKind.Exact : key == "prefix" ? StringMatchKind.Prefix : StringMatchKind.Suffix;
  return new StringMatch(kind, text);
}

/** Parses "a.b.c.d" into an address; returns false when it is not dotted-quad IPv4. */
export function parseIpv4(text: string, out: Peer): bool {
  const parts = text.split(".");
  if (parts.length != 4) return false;
  let address: u32 = 0;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length == 0 || p.length > 3) return false;
    let n: u32 = 0;
    for (let j = 0; j < p.length; j++) {
      const c = p.charCodeAt(j);
      if (c < 0x30 || c > 0x39) return false;
      n = n * 10 + <u32>(c - 0x30);
    }
    if (n > 255) return false;
    address = (address << 8) | n;
  }
  out.address = address;
  out.hasAddress = true;
  return true;
}

function readCidr(reader: ConfigReader, value: JsonValue, path: string): Cidr | null {
  const text = reader.string(value, path);
  if (reader.failed) return null;
  const slash = text.indexOf("/");
  const peer = new Peer();
  const bits = slash < 0 ? 32 : I32.parseInt(text.substring(slash + 1));
  if (!parseIpv4(slash < 0 ? text : text.substring(0, slash), peer) || isNaN<f64>(<f64>bits) || bits < 0 || bits > 32) {
    reader.fail(path, "must be an IPv4 CIDR such as 10.0.0.0/8");
    return null;
  }
  return new Cidr(peer.address, bits);
}

const MATCH_FIELDS = ["service", "method", "attributes", "source_cidrs", "principals"];

export function readCallMatch(reader: ConfigReader, value: JsonValue | null, path: string): CallMatch {
  const match = new CallMatch();
  if (value == null) return match;
  const obj = reader.object(value, path, MATCH_FIELDS);
  if (obj == null) return match;
  let v = obj.get("service");
  if (v != null) match.service = readStringMatch(reader, v, path + ".service");
  v = obj.get("method");
  if (v != null) match.method = readStringMatch(reader, v, path + ".method");
  v = obj.get("attributes");
  if (v != null) {
    const items = reader.array(v, path + ".attributes");
    for (let i = 0; i < items.length; i++) {
      const itemPath = path + ".attributes[" + i.toString() + "]";
      const item = reader.object(items[i], itemPath, ["name", "exact", "prefix", "suffix", "present", "regex"]);
      if (item == null) break;
      const name = item.get("name");
      if (name == null) {
        reader.fail(itemPath + ".name", "is required");
        break;
      }
      const rest = new JsonValue();
      rest.kind = items[i].kind;
      for (let k = 0; k < item.keys.length; k++) {
        if (item.keys[k] == "name") continue;
        rest.keys.push(item.keys[k]);
        rest.items.push(item.items[k]);
      }
      const m = readStringMatch(reader, rest, itemPath);
      if (m != null) match.attributes.push(new AttributeMatch(reader.string(name, itemPath + ".name"), m));
      reader.attributesRead = true;
    }
  }
  v = obj.get("source_cidrs");
  if (v != null) {
    const items = reader.array(v, path + ".source_cidrs");
    for (let i = 0; i < items.length; i++) {
      const cidr = readCidr(reader, items[i], path + ".source_cidrs[" + i.toString() + "]");
      if (cidr != null) match.sourceCidrs.push(cidr);
    }
  }
  v = obj.get("principals");
  if (v != null) {
    const items = reader.array(v, path + ".principals");
    for (let i = 0; i < items.length; i++) {
      const principal = readStringMatch(reader, items[i], path + ".principals[" + i.toString() + "]");
      if (principal != null) match.principals.push(principal);
    }
  }
  return match;
}
