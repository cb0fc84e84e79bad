/// <reference types="jest" />
// What the bridge tests (bridge.test.ts, <protocol>/*.test.ts) share: the module of a protocol's
// bridge in the host emulator, and HTTP/2 as RFC 9113 writes it and HPACK as the bridge encodes it,
// written independently of the module under test.
import { readFileSync } from "fs";
import * as path from "path";
import { ProxyTestHost, compileAssemblyScript, repoRoot } from "../../api/proxytest";

/** filters/bridge/<protocol>/main.ts compiled as Envoy loads it (dist/wasm/<protocol>_bridge.wasm), into build/test/. */
export async function compiledBridge(protocol: string): Promise<WebAssembly.Module> {
  const wasm = `build/test/${protocol}_bridge.wasm`;
  await compileAssemblyScript(`filters/bridge/${protocol}/main.ts`, wasm);
  return new WebAssembly.Module(readFileSync(path.join(repoRoot(), wasm)));
}

/** The bridge started with its plugin configuration (`side`...), logging at `logLevel`. */
export async function startedBridge(module: WebAssembly.Module, config: object, logLevel: "debug" | "info" = "debug"): Promise<ProxyTestHost> {
  const host = await ProxyTestHost.load(module, { pluginConfig: JSON.stringify(config), logLevel });
  host.start();
  return host;
}
export const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
export enum T { Data = 0, Headers = 1, RstStream = 3, Settings = 4, Ping = 6, GoAway = 7, WindowUpdate = 8, Continuation = 9 }
export const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8;

export interface Frame { type: number; flags: number; streamId: number; payload: Buffer }

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

export function parseFrames(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  while (at < bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    frames.push({ type: bytes[at + 3], flags: bytes[at + 4], streamId: bytes.readUInt32BE(at + 5) & 0x7fffffff, payload: bytes.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  expect(at).toBe(bytes.length);
  return frames;
}

export function settings(frameBytes: Frame): Record<number, number> {
  const out: Record<number, number> = {};
  for (let at = 0; at < frameBytes.payload.length; at += 6) out[frameBytes.payload.readUInt16BE(at)] = frameBytes.payload.readUInt32BE(at + 2);
  return out;
}

// The static-table entries the bridge's encoder refers to (RFC 7541 Appendix A).
export const STATIC: Record<number, [string, string]> = { 1: [":authority", ""], 3: [":method", "POST"], 4: [":path", "/"], 6: [":scheme", "http"], 8: [":status", "200"], 31: ["content-type", ""] };

/** Decodes what the bridge encodes: size updates, indexed static fields, literals without indexing, no Huffman. */
export function decodeBridgeBlock(block: Buffer): Array<[string, string]> {
  let at = 0;
  const integer = (prefixBits: number): number => {
    const mask = (1 << prefixBits) - 1;
    let value = block[at++] & mask;
    if (value === mask) {
      let shift = 0;
      let b: number;
      do {
        b = block[at++];
        value += (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80);
    }
    return value;
  };
  const literal = (): string => {
    expect(block[at] & 0x80).toBe(0); // no Huffman from us
    const length = integer(7);
    const text = block.subarray(at, at + length).toString("utf8");
    at += length;
    return text;
  };
  const fields: Array<[string, string]> = [];
  while (at < block.length) {
    const b = block[at];
    if (b & 0x80) fields.push(STATIC[integer(7)]);
    else if ((b & 0xe0) === 0x20) expect(integer(5)).toBe(0);
    else {
      expect(b & 0xf0).toBe(0x00); // literal without indexing: our encoder keeps no table
      const index = integer(4);
      const name = index === 0 ? literal() : STATIC[index][0];
      fields.push([name, literal()]);
    }
  }
  return fields;
}

/** Streams as seen in HTTP/2 bytes: headers and body per stream id, in order of first frame. */
export function streamsOf(frames: Frame[]): Map<number, { headers: Array<[string, string]>; body: Buffer; ended: boolean }> {
  const streams = new Map<number, { headers: Array<[string, string]>; body: Buffer; ended: boolean }>();
  for (const f of frames) {
    if (f.type !== T.Headers && f.type !== T.Data) continue;
    const s = streams.get(f.streamId) ?? { headers: [], body: Buffer.alloc(0), ended: false };
    streams.set(f.streamId, s);
    if (f.type === T.Headers) s.headers.push(...decodeBridgeBlock(f.payload));
    else s.body = Buffer.concat([s.body, f.payload]);
    if (f.flags & END_STREAM) s.ended = true;
  }
  return streams;
}

export const header = (fields: Array<[string, string]>, name: string): string | undefined => fields.find(([n]) => n === name)?.[1];

/** HCM's local replies the bridges answer in the protocol's terms: status, HCM's text body, the text the consumer gets. */
export const HCM_LOCAL_REPLIES: Array<[string, string, string]> = [
  ["504", "upstream request timeout", "MetaProto router (HTTP 504): upstream request timeout"],
  ["503", "no healthy upstream", "MetaProto router (HTTP 503): no healthy upstream"],
  ["429", "local_rate_limited", "MetaProto router (HTTP 429): local_rate_limited"],
  ["403", "RBAC: access denied", "denied by MetaProto router (HTTP 403): RBAC: access denied"],
  ["404", "", "MetaProto router (HTTP 404)"],
];

/** HCM's local reply (status, text/plain body), its headers HPACK-encoded as literals (name index into the static table). */
export function hcmLocalReply(status: string, body: string, streamId: number): Buffer {
  const block = Buffer.concat([Buffer.from([0x08, status.length]), Buffer.from(status), Buffer.from([0x0f, 0x10, 10]), Buffer.from("text/plain")]);
  return Buffer.concat([frame(T.Headers, END_HEADERS, streamId, block), frame(T.Data, END_STREAM, streamId, Buffer.from(body))]);
}
