/**
 * What every codec's tests need around the emulator: the compiled module, a started host,
 * feeding chunks, chunkings of a byte stream, the decoded messages the filter logs at debug
 * level, and metric names in the encoding the filter defines them with.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { compileAssemblyScript, repoRoot } from "./compile";
import type { Connection } from "./connection";
import { ProxyTestHost } from "./host";
import type { HostOptions } from "./types";

export type Direction = "downstream" | "upstream";

/** Builds dist/wasm/<codec>.wasm from codecs/<codec>/main.ts if stale and returns the module. */
export async function compiledCodec(codec: string): Promise<WebAssembly.Module> {
  const wasm = `dist/wasm/${codec}.wasm`;
  await compileAssemblyScript(`codecs/${codec}/main.ts`, wasm);
  return new WebAssembly.Module(readFileSync(path.join(repoRoot(), wasm)));
}

/**
 * A host running `module` with `config` as plugin configuration, logging at debug level (every
 * decoded message is logged, and attributes are decoded) unless `options` say otherwise.
 */
export async function startedHost(module: WebAssembly.Module, config: object = {}, options: HostOptions = {}): Promise<ProxyTestHost> {
  const host = await ProxyTestHost.load(module, { pluginConfig: JSON.stringify(config), logLevel: "debug", ...options });
  host.start();
  return host;
}

/** One message as the filter logged it (`metaproto <protocol>: decoded <direction> {...}`). */
export interface Decoded {
  direction: Direction;
  kind: string;
  request_id: string | null;
  service: string;
  version: string;
  method: string;
  attributes: Record<string, string>;
  status: string;
  code: string;
  is_reply: boolean;
  frame_length: number;
  truncated: boolean;
}

const DECODED = /^metaproto [a-z0-9_]+: decoded (downstream|upstream) (\{.*\})$/s;

/** The messages the filter decoded, in order, read from its debug log. */
export function decodedMessages(host: ProxyTestHost): Decoded[] {
  const out: Decoded[] = [];
  for (const entry of host.logs) {
    const m = DECODED.exec(entry.message);
    if (m) out.push({ direction: m[1] as Direction, ...JSON.parse(m[2]) });
  }
  return out;
}

/** Feeds chunks to one direction and returns what the filter let through. */
export function feed(conn: Connection, direction: Direction, chunks: Uint8Array[]): Buffer {
  const out: Buffer[] = [];
  for (const chunk of chunks) out.push(Buffer.from(conn[direction](chunk).forwarded));
  return Buffer.concat(out);
}

/** `bytes` cut at the given offsets (out-of-range and repeated cuts ignored). */
export function split(bytes: Buffer, at: number[]): Buffer[] {
  const points = [0, ...at.filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b), bytes.length];
  const chunks: Buffer[] = [];
  for (let i = 1; i < points.length; i++) if (points[i] > points[i - 1]) chunks.push(bytes.subarray(points[i - 1], points[i]));
  return chunks;
}

/** `bytes` one byte per chunk. */
export function bytewise(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  return chunks;
}

/** A metric name as the filter defines it: `name;label=value;...` in the given label order. */
export function metricName(name: string, labels: Record<string, string>): string {
  return [name, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)].join(";");
}

/** Every metric whose name starts with `prefix`, by name, with its value (histograms: sample count). */
export function metricValues(host: ProxyTestHost, prefix: string): Record<string, number> {
  return Object.fromEntries(host.metrics().filter((m) => m.name.startsWith(prefix)).map((m) => [m.name, m.samples ? m.samples.length : m.value]));
}

/**
 * Replays a hostile stream in three equal parts (`part()` sends one) and returns the VM's memory
 * after each. A bounded module's curve is flat once warm: the third value is no larger than the
 * second. (The first part only warms it up: when the collector settles depends on the heap's
 * layout, which any code change moves.)
 */
export function memoryCurve(host: ProxyTestHost, part: () => void): [number, number, number] {
  part();
  const warm = host.guestMemoryBytes();
  part();
  const middle = host.guestMemoryBytes();
  part();
  return [warm, middle, host.guestMemoryBytes()];
}
