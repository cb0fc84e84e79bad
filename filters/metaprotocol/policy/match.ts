// Which calls a rule applies to: service, method and attributes of the request, and the
// client's address. Every condition given must hold; a match with none holds for every call.
import { Message } from "../../../api/assembly/codec";
import { AttributeMatchSpec, CallMatchSpec, StringMatchSpec } from "../config_spec.generated";
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

/** The matcher of a string match the schema accepted; a regex RE2 syntax this engine cannot run fails. */
function stringMatchOf(reader: ConfigReader, spec: StringMatchSpec, path: string): StringMatch {
  const pattern = spec.pattern;
  if (pattern == "present") return new StringMatch(StringMatchKind.Present, "");
  if (pattern == "regex") {
    const regex = new Regex(spec.regex);
    if (regex.error.length > 0) reader.fail(path + ".regex", "not a supported regular expression: " + regex.error);
    return new StringMatch(StringMatchKind.Regex, spec.regex, regex);
  }
  if (pattern == "prefix") return new StringMatch(StringMatchKind.Prefix, spec.prefix);
  if (pattern == "suffix") return new StringMatch(StringMatchKind.Suffix, spec.suffix);
  return new StringMatch(StringMatchKind.Exact, spec.exact);
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

/** A CIDR the schema's pattern accepted ("a.b.c.d" or "a.b.c.d/n"). */
function cidrOf(text: string): Cidr {
  const slash = text.indexOf("/");
  const peer = new Peer();
  parseIpv4(slash < 0 ? text : text.substring(0, slash), peer);
  return new Cidr(peer.address, slash < 0 ? 32 : I32.parseInt(text.substring(slash + 1)));
}

/** The matcher of a call match the schema accepted (none given: every call). */
export function callMatchOf(reader: ConfigReader, spec: CallMatchSpec | null, path: string): CallMatch {
  const match = new CallMatch();
  if (spec == null) return match;
  const service = spec.service;
  if (service != null) match.service = stringMatchOf(reader, service, path + ".service");
  const method = spec.method;
  if (method != null) match.method = stringMatchOf(reader, method, path + ".method");
  for (let i = 0; i < spec.attributes.length; i++) {
    const attribute: AttributeMatchSpec = spec.attributes[i];
    match.attributes.push(new AttributeMatch(attribute.name, stringMatchOf(reader, attribute.match, reader.item(path, "attributes", i))));
    reader.attributesRead = true;
  }
  for (let i = 0; i < spec.source_cidrs.length; i++) match.sourceCidrs.push(cidrOf(spec.source_cidrs[i]));
  for (let i = 0; i < spec.principals.length; i++) match.principals.push(stringMatchOf(reader, spec.principals[i], reader.item(path, "principals", i)));
  return match;
}
