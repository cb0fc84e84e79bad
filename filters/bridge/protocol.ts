// What a bridged protocol gives the two sides of the bridge (consumer_side.ts, provider_side.ts):
// its framing, a request as an HTTP/2 stream's headers, its replies and the replies it sends in
// place of HTTP errors, and its ids. Each protocol is a folder beside this file (dubbo/, thrift/)
// with its main.ts, the entry point of dist/wasm/<protocol>_bridge.wasm.
import { ByteQueue } from "./byte_buffers";
import { HeaderField } from "./hpack";

/** A consumer's request as the consumer side sends it: its stream's headers, and what its answer needs. */
export class ConsumerCall {
  readonly headers: Array<HeaderField> = [];
  /** False: the consumer expects no answer (oneway), whatever the stream ends with. */
  twoWay: bool = true;
  /** The call in log lines ("id 7 request /svc/m"). */
  label: string = "";
}

/** One per consumer connection. */
export abstract class ConsumerProtocol {
  /** Set when the consumer broke the protocol: the connection is closed. */
  failure: string = "";
  /** Length of the complete frame at the front of `queue`; 0 while incomplete, -1 if the bytes are not this protocol. */
  abstract frameLength(queue: ByteQueue, maxFrameBytes: i32): i32;
  /** The stream a frame becomes; null for frames that are no request (dropped, or `failure` set). */
  abstract call(frame: Uint8Array): ConsumerCall | null;
  /** The consumer's reply from the body of a 200; null when the body is not one. */
  abstract reply(call: ConsumerCall, body: Uint8Array): Uint8Array | null;
  /**
   * The reply in place of an answer that carries none: HCM's local replies (`status` "403",
   * `detail` their text body), resets (`status` "reset:<code>"), a 200 without a reply.
   */
  abstract errorReply(call: ConsumerCall, status: string, detail: string): Uint8Array | null;
  /** True: replies go back in the order of the requests (the protocol pairs them so); false: as they come. */
  repliesInOrder(): bool { return false; }
}

/** A request written to the provider and what its response must get back. */
export class ProviderCall {
  constructor(public frame: Uint8Array, public twoWay: bool) {}
}

export enum ProviderFrameKind { Response = 0, OwnRequest = 1, Other = 2 }

/** A frame from the provider: a response to id `id`, or a request of its own (`answer`: what to send back, if anything). */
export class ProviderFrame {
  constructor(public kind: ProviderFrameKind, public id: u64, public answer: Uint8Array | null = null) {}
}

/** One per provider connection. */
export abstract class ProviderProtocol {
  /** Headers of the streams it answers itself (oneways' empty 200) name the protocol: `x-<name>-kind`. */
  abstract name(): string;
  /** True: probe the provider right after the router's preface, so its answer carries our SETTINGS; false: the first request's answer will. */
  abstract probesAtStart(): bool;
  abstract frameLength(queue: ByteQueue, maxFrameBytes: i32): i32;
  /** The body of stream `streamId` as the request for the provider, its id replaced by the stream id; null when it is no request. */
  abstract forward(body: Uint8Array, streamId: u32): ProviderCall | null;
  /** A request the provider answers at once and runs nothing for, with id `probeId`, in the variant of `after` (null: at the start). */
  abstract probe(probeId: u32, after: ProviderCall | null): Uint8Array | null;
  abstract inspect(frame: Uint8Array): ProviderFrame;
  /** The response as the router passes it on (the caller's own id back in place, where the protocol needs it). */
  abstract response(frame: Uint8Array, call: ProviderCall): Uint8Array;
  /** The headers of the 200 that carries a response, after `:status`. */
  abstract responseHeaders(frame: Uint8Array): Array<HeaderField>;
}

/** Headers beyond this many bytes of attributes are left out (HCM refuses requests over max_request_headers_kb, 60 KiB by default). */
const MAX_ATTRIBUTE_HEADER_BYTES: i32 = 8 * 1024;

/** The request's attributes as `<prefix><key lowercased>` headers, those whose key and value HTTP/2 carries unchanged. */
export function pushAttributeHeaders(fields: Array<HeaderField>, prefix: string, keys: Array<string>, values: Array<string>): void {
  let bytes = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i].toLowerCase();
    const value = values[i];
    if (!isHeaderToken(key) || !isHeaderValue(value)) continue;
    bytes += key.length + value.length + prefix.length;
    if (bytes > MAX_ATTRIBUTE_HEADER_BYTES) break;
    fields.push(new HeaderField(prefix + key, value));
  }
}

/** The pseudo-headers and content type every bridged request starts with. */
export function pushRequestStart(fields: Array<HeaderField>, path: string, authority: string, contentType: string): void {
  fields.push(new HeaderField(":method", "POST"));
  fields.push(new HeaderField(":scheme", "http"));
  fields.push(new HeaderField(":path", path));
  fields.push(new HeaderField(":authority", authority));
  fields.push(new HeaderField("content-type", contentType));
}

/** HTTP/2 header names: lowercase token characters only. */
function isHeaderToken(name: string): bool {
  if (name.length == 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f || c == 0x2e;
    if (!ok) return false;
  }
  return true;
}

/** Visible ASCII and spaces, no leading or trailing space: what Envoy accepts unchanged. */
function isHeaderValue(value: string): bool {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return value.length == 0 || (value.charCodeAt(0) != 0x20 && value.charCodeAt(value.length - 1) != 0x20);
}

export function describe(fields: Array<HeaderField>): string {
  let text = "";
  for (let i = 0; i < fields.length; i++) text += (i > 0 ? ", " : "") + fields[i].name + ": " + fields[i].value;
  return text;
}
