// Test helpers: the compiled dist/wasm/redis.wasm (through the shared codec harness), the
// captured fixtures, and an independent RESP reader (plain TypeScript, written from the RESP
// specification) that cuts byte streams into messages so tests can say what to expect.
import { readFileSync } from "fs";
import * as path from "path";
import { compiledCodec, metricName, repoRoot } from "../../api/proxytest";
export { bytewise, decodedMessages, feed, split, startedHost } from "../../api/proxytest";
export type { Decoded } from "../../api/proxytest";

/** Builds dist/wasm/redis.wasm if stale and returns the compiled module. */
export const compiledRedis = () => compiledCodec("redis");

export function fixture(name: string): Buffer {
  return readFileSync(path.join(repoRoot(), "codecs/redis/fixtures", name));
}

export function requestsTotal(method: string, status: string, code: string, db = "0"): string {
  return metricName("metaproto_requests_total", { protocol: "redis", service: db, method, response_status: status, response_code: code });
}

/** A command as a RESP array of bulk strings, as clients send it. */
export function command(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------ reference RESP reader

/** One RESP value, as far as the tests need it. */
export type Value =
  | { type: "simple" | "error" | "double" | "bignum" | "verbatim" | "bloberror" | "bulk"; text: string }
  | { type: "integer"; value: bigint }
  | { type: "null" }
  | { type: "boolean"; value: boolean }
  | { type: "array" | "set" | "push" | "map"; items: Value[] };

export interface Frame {
  value: Value;
  bytes: Buffer;
}

/**
 * Cuts a reply (or command) stream into top-level values. Attributes (`|`) are read and
 * dropped, as they describe the value behind them. Recursive: only for trusted test input.
 */
export function respFrames(stream: Buffer): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  const line = (): string => {
    const end = stream.indexOf("\r\n", at, "latin1");
    if (end < 0) throw new Error(`no CRLF after offset ${at}`);
    const text = stream.toString("latin1", at, end);
    at = end + 2;
    return text;
  };
  const read = (): Value => {
    const type = String.fromCharCode(stream[at++]);
    if (type === "|") {
      const n = Number(line());
      for (let i = 0; i < 2 * n; i++) read();
      return read();
    }
    const head = line();
    switch (type) {
      case "+": return { type: "simple", text: head };
      case "-": return { type: "error", text: head };
      case ",": return { type: "double", text: head };
      case "(": return { type: "bignum", text: head };
      case ":": return { type: "integer", value: BigInt(head) };
      case "_": return { type: "null" };
      case "#": return { type: "boolean", value: head === "t" };
      case "$": case "=": case "!": {
        if (head === "?") {
          let text = "";
          for (;;) {
            at += 1; // ';'
            const n = Number(line());
            if (n === 0) break;
            text += stream.toString("latin1", at, at + n);
            at += n + 2;
          }
          return { type: "bulk", text };
        }
        const n = Number(head);
        if (n < 0) return { type: "null" };
        const text = stream.toString("latin1", at, at + n);
        at += n + 2;
        return { type: type === "$" ? "bulk" : type === "=" ? "verbatim" : "bloberror", text };
      }
      case "*": case "~": case ">": case "%": {
        const kind = type === "*" ? "array" : type === "~" ? "set" : type === ">" ? "push" : "map";
        const items: Value[] = [];
        if (head === "?") {
          while (stream[at] !== 0x2e) items.push(read());
          line(); // ".\r\n"
          return { type: kind, items };
        }
        const n = Number(head);
        if (n < 0) return { type: "null" };
        for (let i = 0; i < (kind === "map" ? 2 * n : n); i++) items.push(read());
        return { type: kind, items };
      }
      default:
        throw new Error(`bad type byte ${JSON.stringify(type)} at ${at - 1}`);
    }
  };
  while (at < stream.length) {
    const start = at;
    const value = read();
    frames.push({ value, bytes: stream.subarray(start, at) });
  }
  return frames;
}

/** The words of a command frame (array of bulk strings). */
export function commandWords(frame: Frame): string[] {
  if (frame.value.type !== "array") throw new Error("a command is an array");
  return frame.value.items.map((v) => ("text" in v ? v.text : ""));
}
