// Test helpers: Dubbo frames built with an independent Hessian 2 encoder (npm hessian.js),
// and access to the compiled dubbo.wasm through the proxytest host emulator.
import { readFileSync } from "fs";
import * as path from "path";
// hessian.js ships no types; its EncoderV2 writes Hessian 2.0.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hessian = require("hessian.js");
import { Connection, ProxyTestHost, compileAssemblyScript, repoRoot } from "../../api/proxytest";

export const WASM = "dist/wasm/dubbo.wasm";
export const SERVICE = "io.metaproto.demo.GreetingService";

/** Builds dist/wasm/dubbo.wasm if stale and returns the compiled module. */
export async function compiledDubbo(): Promise<WebAssembly.Module> {
  await compileAssemblyScript("codecs/dubbo/main.ts", WASM);
  return new WebAssembly.Module(readFileSync(path.join(repoRoot(), WASM)));
}

export function fixture(name: string): Buffer {
  return readFileSync(path.join(repoRoot(), "codecs/dubbo/fixtures", name));
}

export function header(flag: number, status: number, id: bigint, bodyLength: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = flag;
  h[3] = status;
  h.writeBigUInt64BE(id, 4);
  h.writeUInt32BE(bodyLength, 12);
  return h;
}

export function hessianBytes(...values: unknown[]): Buffer {
  const encoder = new hessian.EncoderV2();
  for (const v of values) encoder.write(v);
  return encoder.get();
}

export interface RequestSpec {
  id: bigint;
  service?: string;
  method?: string;
  version?: string | null;
  descriptor?: string;
  /** Each argument as raw Hessian bytes. */
  args?: Buffer[];
  attachments?: Record<string, string>;
  oneway?: boolean;
}

export function request(spec: RequestSpec): Buffer {
  const args = spec.args ?? [hessianBytes("MetaProto")];
  const body = Buffer.concat([
    hessianBytes("2.0.2", spec.service ?? SERVICE),
    spec.version === null ? Buffer.from([0x4e]) : hessianBytes(spec.version ?? "0.0.0"),
    hessianBytes(spec.method ?? "sayHello", spec.descriptor ?? "Ljava/lang/Object;".repeat(args.length)),
    ...args,
    hessianBytes(spec.attachments ?? {}),
  ]);
  return Buffer.concat([header(spec.oneway ? 0x82 : 0xc2, 0, spec.id, body.length), body]);
}

/**
 * A response. Status 20 bodies follow the flag: 1/4 carry a value, 0/3 an exception, 2/5 nothing;
 * 3-5 add attachments. Other statuses carry an error message.
 */
export function response(id: bigint, opts: { status?: number; flag?: number; value?: unknown } = {}): Buffer {
  const status = opts.status ?? 20;
  const flag = opts.flag ?? 4;
  let body: Buffer;
  if (status !== 20) body = hessianBytes(String(opts.value ?? "failed"));
  else {
    const parts: unknown[] = [flag];
    if (flag !== 2 && flag !== 5) parts.push(opts.value ?? "ok");
    if (flag >= 3) parts.push({ dubbo: "2.0.2" });
    body = hessianBytes(...parts);
  }
  return Buffer.concat([header(0x02, status, id, body.length), body]);
}

export interface Decoded {
  direction: "downstream" | "upstream";
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

const DECODED = /^metaproto dubbo: decoded (downstream|upstream) (\{.*\})$/;

/** The messages the filter decoded, read from its debug log. */
export function decodedMessages(host: ProxyTestHost): Decoded[] {
  const out: Decoded[] = [];
  for (const entry of host.logs) {
    const m = DECODED.exec(entry.message);
    if (m) out.push({ direction: m[1] as Decoded["direction"], ...JSON.parse(m[2]) });
  }
  return out;
}

export async function startedHost(module: WebAssembly.Module, config: object = {}): Promise<ProxyTestHost> {
  const host = await ProxyTestHost.load(module, { pluginConfig: JSON.stringify(config), logLevel: "debug" });
  host.start();
  return host;
}

/** Feeds chunks to one direction and returns what the filter let through. */
export function feed(conn: Connection, direction: "downstream" | "upstream", chunks: Uint8Array[]): Buffer {
  const out: Buffer[] = [];
  for (const chunk of chunks) out.push(Buffer.from(conn[direction](chunk).forwarded));
  return Buffer.concat(out);
}

export function split(bytes: Buffer, at: number[]): Buffer[] {
  const points = [0, ...at.filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b), bytes.length];
  const chunks: Buffer[] = [];
  for (let i = 1; i < points.length; i++) if (points[i] > points[i - 1]) chunks.push(bytes.subarray(points[i - 1], points[i]));
  return chunks;
}

/** Cuts a byte stream into its Dubbo frames (by the header's body length). */
export function frames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 16 <= bytes.length;) {
    const length = 16 + bytes.readUInt32BE(at + 12);
    out.push(bytes.subarray(at, at + length));
    at += length;
  }
  return out;
}

export function bytewise(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  return chunks;
}

export function requestsTotal(method: string, status: string, code: string, service = SERVICE): string {
  return `metaproto_requests_total;protocol=dubbo;service=${service};method=${method};response_status=${status};response_code=${code}`;
}
