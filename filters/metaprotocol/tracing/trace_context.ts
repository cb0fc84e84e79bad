// Trace context in a request's attributes, in the formats tracers put in RPC metadata: W3C
// `traceparent` (+ `tracestate`), B3 single (`b3`) and multi (`X-B3-*`), SkyWalking `sw8` v3.
// Every parser takes peer input: it checks lengths and digits and returns false on anything else
// (a malformed header is as if there were none).
import { Attribute, Message } from "../../../api/assembly/codec";

export enum PropagationFormat { W3C = 0, B3 = 1, B3Multi = 2, Sw8 = 3 }
export const FORMAT_NAMES = ["w3c", "b3", "b3multi", "sw8"];

export const TRACEPARENT = "traceparent";
export const TRACESTATE = "tracestate";
export const B3 = "b3";
export const B3_TRACE_ID = "X-B3-TraceId";
export const B3_SPAN_ID = "X-B3-SpanId";
export const B3_PARENT_SPAN_ID = "X-B3-ParentSpanId";
export const B3_SAMPLED = "X-B3-Sampled";
export const B3_FLAGS = "X-B3-Flags";
export const SW8 = "sw8";

/** Which way a context said to sample: not said, yes, no. */
export enum SampledFlag { Unknown = 0, Yes = 1, No = 2 }

/** A context found in a request: the caller's trace and span. */
export class TraceContext {
  traceHigh: u64 = 0;
  traceLow: u64 = 0;
  /** The caller's span: the parent of this call's span. */
  spanId: u64 = 0;
  sampled: SampledFlag = SampledFlag.Unknown;
  traceState: string = "";
  format: PropagationFormat = PropagationFormat.W3C;

  get valid(): bool {
    return (this.traceHigh | this.traceLow) != 0 && this.spanId != 0;
  }
}

// --- hex -------------------------------------------------------------------------------------

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

let parsedHex: u64 = 0;

/** Parses `length` (≤ 16) hex digits of `s` from `at` into parsedHex; false on a non-digit. */
function parseHex(s: string, at: i32, length: i32): bool {
  if (at < 0 || length > 16 || at + length > s.length) return false;
  let n: u64 = 0;
  for (let i = 0; i < length; i++) {
    const d = hexDigit(s.charCodeAt(at + i));
    if (d < 0) return false;
    n = (n << 4) | <u64>d;
  }
  parsedHex = n;
  return true;
}

const HEX = "0123456789abcdef";

export function hex64(n: u64): string {
  let out = "";
  for (let shift = 60; shift >= 0; shift -= 4) out += HEX.charAt(<i32>((n >> <u64>shift) & 0xf));
  return out;
}

export function traceIdHex(high: u64, low: u64): string {
  return hex64(high) + hex64(low);
}

/** A 16- or 32-digit hex trace id into ctx (16 digits: the high half is zero, as B3 says). */
function parseTraceId(s: string, ctx: TraceContext): bool {
  if (s.length == 32) {
    if (!parseHex(s, 0, 16)) return false;
    const high = parsedHex;
    if (!parseHex(s, 16, 16)) return false;
    ctx.traceHigh = high;
    ctx.traceLow = parsedHex;
    return true;
  }
  if (s.length == 16 && parseHex(s, 0, 16)) {
    ctx.traceHigh = 0;
    ctx.traceLow = parsedHex;
    return true;
  }
  return false;
}

// --- W3C traceparent: version-traceid-parentid-flags (00-32hex-16hex-2hex) --------------------

export function parseTraceparent(value: string, ctx: TraceContext): bool {
  // Version 00 is exactly 55 characters; later versions may append fields after a dash.
  if (value.length < 55 || (value.length > 55 && value.charCodeAt(55) != 0x2d)) return false;
  if (value.charCodeAt(2) != 0x2d || value.charCodeAt(35) != 0x2d || value.charCodeAt(52) != 0x2d) return false;
  if (!parseHex(value, 0, 2) || parsedHex == 0xff) return false;
  if (parsedHex == 0 && value.length != 55) return false;
  if (!parseTraceId(value.substring(3, 35), ctx)) return false;
  if (!parseHex(value, 36, 16)) return false;
  ctx.spanId = parsedHex;
  if (!parseHex(value, 53, 2)) return false;
  ctx.sampled = (parsedHex & 1) != 0 ? SampledFlag.Yes : SampledFlag.No;
  ctx.format = PropagationFormat.W3C;
  return ctx.valid;
}

export function formatTraceparent(high: u64, low: u64, spanId: u64, sampled: bool): string {
  return "00-" + traceIdHex(high, low) + "-" + hex64(spanId) + (sampled ? "-01" : "-00");
}

// --- B3 ----------------------------------------------------------------------------------------

function b3Sampled(s: string): SampledFlag {
  if (s == "1" || s == "d" || s == "true") return SampledFlag.Yes;
  if (s == "0" || s == "false") return SampledFlag.No;
  return SampledFlag.Unknown;
}

/** `b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`; a lone sampling state has no ids. */
export function parseB3(value: string, ctx: TraceContext): bool {
  const parts = value.split("-");
  if (parts.length < 2 || parts.length > 4) return false;
  if (!parseTraceId(parts[0], ctx)) return false;
  if (parts[1].length != 16 || !parseHex(parts[1], 0, 16)) return false;
  ctx.spanId = parsedHex;
  ctx.sampled = parts.length >= 3 ? b3Sampled(parts[2]) : SampledFlag.Unknown;
  if (parts.length >= 3 && parts[2].length > 0 && ctx.sampled == SampledFlag.Unknown) return false;
  ctx.format = PropagationFormat.B3;
  return ctx.valid;
}

export function formatB3(high: u64, low: u64, spanId: u64, sampled: bool): string {
  return traceIdHex(high, low) + "-" + hex64(spanId) + (sampled ? "-1" : "-0");
}

export function parseB3Multi(traceId: string | null, spanId: string | null, sampled: string | null, flags: string | null, ctx: TraceContext): bool {
  if (traceId == null || spanId == null) return false;
  if (!parseTraceId(traceId, ctx)) return false;
  if (spanId.length != 16 || !parseHex(spanId, 0, 16)) return false;
  ctx.spanId = parsedHex;
  ctx.sampled = flags != null && flags == "1" ? SampledFlag.Yes : sampled != null ? b3Sampled(sampled) : SampledFlag.Unknown;
  ctx.format = PropagationFormat.B3Multi;
  return ctx.valid;
}

// --- SkyWalking sw8 v3 --------------------------------------------------------------------------
// sample-b64(traceId)-b64(segmentId)-spanId-b64(service)-b64(instance)-b64(endpoint)-b64(peer).
// SkyWalking ids are free text. One that is 32 (trace) or 16 (segment) hex digits, as this
// filter writes them, is taken as the id it spells, so a trace crossing two MetaProto proxies
// keeps its ids; any other is hashed into an id of the right size (stable for the same text).

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64Encode(s: string): string {
  const bytes = Uint8Array.wrap(String.UTF8.encode(s));
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = <u32>bytes[i];
    const b1 = i + 1 < bytes.length ? <u32>bytes[i + 1] : 0;
    const b2 = i + 2 < bytes.length ? <u32>bytes[i + 2] : 0;
    out += B64.charAt(<i32>(b0 >> 2));
    out += B64.charAt(<i32>(((b0 & 3) << 4) | (b1 >> 4)));
    out += i + 1 < bytes.length ? B64.charAt(<i32>(((b1 & 15) << 2) | (b2 >> 6))) : "=";
    out += i + 2 < bytes.length ? B64.charAt(<i32>(b2 & 63)) : "=";
  }
  return out;
}

/** Decodes standard base64 (padding optional); null when it is not base64. */
export function base64Decode(s: string): string | null {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) == 0x3d) end--;
  if (end % 4 == 1 || s.length - end > 2) return null;
  const out = new Uint8Array(end * 3 / 4);
  let bits: u32 = 0;
  let count = 0;
  let at = 0;
  for (let i = 0; i < end; i++) {
    const v = B64.indexOf(s.charAt(i));
    if (v < 0) return null;
    bits = (bits << 6) | <u32>v;
    count += 6;
    if (count >= 8) {
      count -= 8;
      if (at < out.length) out[at++] = <u8>((bits >> <u32>count) & 0xff);
    }
  }
  return String.UTF8.decode(out.buffer.slice(0, at));
}

/** FNV-1a, 64 bits, from `seed`: turns a free-text id into a number. */
function fnv64(s: string, seed: u64): u64 {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h ^= <u64>s.charCodeAt(i);
    h *= 0x100000001b3;
  }
  return h == 0 ? 1 : h;
}

const FNV_OFFSET: u64 = 0xcbf29ce484222325;

export class Sw8Peer {
  service: string = "";
  instance: string = "";
  endpoint: string = "";
  address: string = "";
}

export function parseSw8(value: string, ctx: TraceContext): bool {
  const parts = value.split("-");
  if (parts.length != 8) return false;
  if (parts[0] != "0" && parts[0] != "1") return false;
  const traceId = base64Decode(parts[1]);
  const segmentId = base64Decode(parts[2]);
  if (traceId == null || segmentId == null || traceId.length == 0 || segmentId.length == 0) return false;
  for (let i = 0; i < parts[3].length; i++) {
    const c = parts[3].charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  if (parts[3].length == 0 || parts[3].length > 10) return false;
  if (!parseTraceId(traceId, ctx) || traceId.length != 32) {
    ctx.traceHigh = fnv64(traceId, FNV_OFFSET);
    ctx.traceLow = fnv64(traceId, ~FNV_OFFSET);
  }
  if (segmentId.length == 16 && parseHex(segmentId, 0, 16) && parts[3] == "0") ctx.spanId = parsedHex;
  else ctx.spanId = fnv64(segmentId + "-" + parts[3], FNV_OFFSET);
  ctx.sampled = parts[0] == "1" ? SampledFlag.Yes : SampledFlag.No;
  ctx.format = PropagationFormat.Sw8;
  return ctx.valid;
}

/** Our span as a SkyWalking parent: trace and segment ids in hex, span 0 of that segment. */
export function formatSw8(high: u64, low: u64, spanId: u64, sampled: bool, peer: Sw8Peer): string {
  return (sampled ? "1-" : "0-") + base64Encode(traceIdHex(high, low)) + "-" + base64Encode(hex64(spanId)) + "-0-" +
    base64Encode(peer.service) + "-" + base64Encode(peer.instance) + "-" + base64Encode(peer.endpoint) + "-" +
    base64Encode(peer.address);
}

// --- finding the attributes --------------------------------------------------------------------

/** The value of attribute `key`, compared without case (metadata keys' case varies by client). */
export function attributeIgnoringCase(message: Message, key: string): string | null {
  const list = message.attributes;
  for (let i = 0; i < list.length; i++) {
    const a = unchecked(list[i]);
    if (a.key.length == key.length && a.key.toLowerCase() == key.toLowerCase()) return a.value;
  }
  return null;
}

/** The first context found, trying `formats` in order; null when none holds a valid one. */
export function extractContext(message: Message, formats: Array<PropagationFormat>): TraceContext | null {
  const ctx = new TraceContext();
  for (let i = 0; i < formats.length; i++) {
    const format = unchecked(formats[i]);
    let found = false;
    if (format == PropagationFormat.W3C) {
      const v = attributeIgnoringCase(message, TRACEPARENT);
      if (v != null && parseTraceparent(v, ctx)) {
        found = true;
        const state = attributeIgnoringCase(message, TRACESTATE);
        if (state != null) ctx.traceState = state;
      }
    } else if (format == PropagationFormat.B3) {
      const v = attributeIgnoringCase(message, B3);
      found = v != null && parseB3(v, ctx);
    } else if (format == PropagationFormat.B3Multi) {
      found = parseB3Multi(attributeIgnoringCase(message, B3_TRACE_ID), attributeIgnoringCase(message, B3_SPAN_ID),
        attributeIgnoringCase(message, B3_SAMPLED), attributeIgnoringCase(message, B3_FLAGS), ctx);
    } else {
      const v = attributeIgnoringCase(message, SW8);
      found = v != null && parseSw8(v, ctx);
    }
    if (found) return ctx;
  }
  return null;
}

/**
 * The attributes that carry span `spanId` of trace (high, low) in `format`, appended to `out`.
 * Keys are written as the format spells them; an existing attribute with another case of the same
 * key is replaced by the codec only if the case matches, so tracers reading case-sensitively
 * should use the canonical spelling.
 */
export function injectContext(format: PropagationFormat, high: u64, low: u64, spanId: u64, parentSpanId: u64, sampled: bool, peer: Sw8Peer, out: Array<Attribute>): void {
  if (format == PropagationFormat.W3C) {
    out.push(new Attribute(TRACEPARENT, formatTraceparent(high, low, spanId, sampled)));
  } else if (format == PropagationFormat.B3) {
    out.push(new Attribute(B3, formatB3(high, low, spanId, sampled)));
  } else if (format == PropagationFormat.B3Multi) {
    out.push(new Attribute(B3_TRACE_ID, traceIdHex(high, low)));
    out.push(new Attribute(B3_SPAN_ID, hex64(spanId)));
    if (parentSpanId != 0) out.push(new Attribute(B3_PARENT_SPAN_ID, hex64(parentSpanId)));
    out.push(new Attribute(B3_SAMPLED, sampled ? "1" : "0"));
  } else {
    out.push(new Attribute(SW8, formatSw8(high, low, spanId, sampled, peer)));
  }
}
