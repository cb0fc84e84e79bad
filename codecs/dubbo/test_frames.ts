// Test helpers: Dubbo frames built with an independent Hessian 2 encoder (npm hessian.js),
// the captured fixtures, and the shared codec harness of api/proxytest.
import { readFileSync } from "fs";
import * as path from "path";
// hessian.js ships no types; its EncoderV2 writes Hessian 2.0.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hessian = require("hessian.js");
import { compiledCodec, metricName, repoRoot } from "../../api/proxytest";
export { bytewise, decodedMessages, feed, split, startedHost } from "../../api/proxytest";
export type { Decoded } from "../../api/proxytest";

export const SERVICE = "io.metaproto.demo.GreetingService";

/** Builds dist/wasm/dubbo.wasm if stale and returns the compiled module. */
export const compiledDubbo = () => compiledCodec("dubbo");

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

/** Reads one value with hessian.js (a reply body the proxy wrote, say). */
export function hessianValue(bytes: Buffer): unknown {
  return new hessian.DecoderV2(bytes).read();
}

/** Reads every value of `bytes` with hessian.js, in order. */
export function hessianValues(bytes: Buffer): unknown[] {
  const decoder = new hessian.DecoderV2(bytes);
  const values: unknown[] = [];
  while (decoder.byteBuffer.position() < bytes.length) values.push(decoder.read());
  return values;
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

export function requestsTotal(method: string, status: string, code: string, service = SERVICE): string {
  return metricName("metaproto_requests_total", { protocol: "dubbo", service, method, response_status: status, response_code: code });
}
