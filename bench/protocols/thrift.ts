// Thrift: an npm `thrift` 0.17.0 server (test/thrift/node-peer.js, code generated from
// test/thrift/demo.thrift by the Debian `thrift` 0.17 compiler at run time) with framed transport and
// the strict binary protocol, the combination Envoy's native thrift_proxy speaks. The load is the npm
// client's own sayHello CALL frame (captured in codecs/thrift/fixtures/node-binary-framed), replayed
// with a fresh seqid per call; replies are paired in order.
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { closedLoopShape, openLoopShape } from "../lib/driver_shapes";
import type { Pinning } from "../lib/pinning";
import { freePort, logContains, runToCompletion, startChild, stopChild, tail, waitFor } from "../lib/processes";
import type { Backend, BenchOptions, CodecCall, ProtocolBench, Shape, Wire } from "../lib/protocol";
import { repoRoot } from "../../api/proxytest";

const FRAME_HEADER = 4;
/** Strict binary: version 1 in the high half of the first word, the message type in its low byte. */
const VERSION_1 = 0x8001;
const TYPE_CALL = 1;
const TYPE_REPLY = 2;
const T_STOP = 0;

function fixture(name: string): Buffer {
  return readFileSync(path.join(repoRoot(), "codecs/thrift/fixtures", name));
}

/** Cuts a framed byte stream into frames (4-byte big-endian length, then the message). */
function frames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + FRAME_HEADER <= bytes.length;) {
    const length = FRAME_HEADER + bytes.readUInt32BE(at);
    if (at + length > bytes.length) break;
    out.push(bytes.subarray(at, at + length));
    at += length;
  }
  return out;
}

/** Offset of the seqid in a framed strict-binary message: frame length, version word, name. */
function seqidOffset(frame: Buffer): number {
  return FRAME_HEADER + 4 + 4 + frame.readUInt32BE(FRAME_HEADER + 4);
}

function messageName(frame: Buffer): string {
  const n = frame.readUInt32BE(FRAME_HEADER + 4);
  return frame.toString("utf8", FRAME_HEADER + 8, FRAME_HEADER + 8 + n);
}

/** The npm client's first call: a framed, strict-binary CALL sayHello("MetaProto 0") of 43 bytes. */
function sayHelloTemplate(): Buffer {
  const first = frames(fixture("node-binary-framed.request.bin"))[0];
  if (!first || first.readUInt16BE(FRAME_HEADER) !== VERSION_1 || first[FRAME_HEADER + 3] !== TYPE_CALL || messageName(first) !== "sayHello") {
    throw new Error("codecs/thrift/fixtures/node-binary-framed.request.bin no longer starts with a framed binary sayHello CALL");
  }
  return Buffer.from(first);
}

class ThriftFramedWire implements Wire {
  // The seqid is rewritten per call, but proxies may rewrite it too (thrift_proxy does upstream):
  // the reliable pairing is the order of replies on the connection.
  readonly pairing = "fifo" as const;
  readonly requestLength: number;
  private readonly seqidAt: number;

  constructor(private readonly template: Buffer) {
    this.requestLength = template.length;
    this.seqidAt = seqidOffset(template);
  }

  writeRequest(seq: number, out: Buffer, at: number): void {
    this.template.copy(out, at);
    out.writeInt32BE(seq | 0, at + this.seqidAt);
  }

  parse(buf: Buffer, onReply: (seq: number, ok: boolean) => void): number {
    let at = 0;
    while (buf.length - at >= FRAME_HEADER) {
      const length = FRAME_HEADER + buf.readUInt32BE(at);
      if (buf.length - at < length) break;
      if (buf.readUInt16BE(at + FRAME_HEADER) !== VERSION_1) throw new Error("reply is not strict binary Thrift: the stream is out of sync");
      const frame = buf.subarray(at, at + length);
      // A successful reply is a REPLY whose result struct sets field 0 (the return value); an
      // EXCEPTION message or a result with a declared exception field is a failed call.
      const type = frame[FRAME_HEADER + 3];
      const fieldAt = seqidOffset(frame) + 4;
      const ok = type === TYPE_REPLY && fieldAt + 3 <= frame.length && frame[fieldAt] !== T_STOP && frame.readInt16BE(fieldAt + 1) === 0;
      onReply(-1, ok);
      at += length;
    }
    return at;
  }
}

let template: Buffer | null = null;
let cannedReply: Buffer | null = null;

function thriftProxyFilters(cluster: string, statPrefix: string): string {
  return `- name: envoy.filters.network.thrift_proxy
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.thrift_proxy.v3.ThriftProxy
    stat_prefix: ${statPrefix}
    transport: FRAMED
    protocol: BINARY
    # No thrift_filters: Envoy then uses its router filter alone.
    route_config:
      name: ${statPrefix}
      routes:
      - match: { method_name: "" }
        route: { cluster: ${cluster} }
`;
}

export const protocol: ProtocolBench = {
  name: "thrift",
  pluginConfig: "{}",
  nativeFilters: [{ name: "thrift_proxy", filtersYaml: thriftProxyFilters, note: "thrift_proxy, framed transport, binary protocol, every method to the backend" }],

  async startBackend(workDir: string, pin: Pinning): Promise<Backend> {
    const repo = repoRoot();
    const gen = path.join(workDir, "thrift-gen");
    mkdirSync(gen, { recursive: true });
    const compiled = await runToCompletion(null, "thrift", ["--gen", "js:node", "-out", gen, path.join(repo, "test/thrift/demo.thrift")], 60_000);
    if (compiled.code !== 0) throw new Error(`thrift --gen js:node failed (the Debian thrift-compiler is needed): ${compiled.stderr.slice(-1000)}`);
    const port = await freePort();
    // npm thrift's server leaves Nagle's algorithm on for accepted sockets (its client turns it
    // off): at a fixed rate below one call per round trip, each reply then waits for the ACK the
    // client only sends with its next request, and every target's open-loop latency becomes the
    // per-connection send interval. Production servers set TCP_NODELAY; so does this preload.
    const noDelay = path.join(workDir, "thrift-server-nodelay.js");
    writeFileSync(noDelay, `const net = require("net");
const emit = net.Server.prototype.emit;
net.Server.prototype.emit = function (event, socket, ...rest) {
  if (event === "connection") socket.setNoDelay(true);
  return emit.call(this, event, socket, ...rest);
};
`);
    // The generated code requires 'thrift': resolve it from the repository's node_modules.
    const env = { ...process.env, NODE_PATH: path.join(repo, "node_modules") };
    const child = startChild("thrift server (npm thrift)", pin.backend, process.execPath,
      ["--require", noDelay, path.join(repo, "test/thrift/node-peer.js"), "server", "--gen", gen, "--port", String(port), "--transport", "framed", "--protocol", "binary"],
      path.join(workDir, "thrift-server.log"), env);
    if (!(await waitFor(() => logContains(child, "SERVER READY"), 30_000))) {
      await stopChild(child);
      throw new Error(`the Thrift server did not start:\n${tail(child.logFile)}`);
    }
    const node = process.version;
    return { port, child, description: `npm thrift 0.17.0 server (test/thrift/node-peer.js, Node ${node}), framed transport, binary protocol, TCP_NODELAY set on accepted sockets by a preload` };
  },

  shapes(options: BenchOptions): Shape[] {
    const rate = options.rate ?? 2000;
    const warmup = options.smoke ? 0.3 : 1;
    if (options.smoke) return [closedLoopShape(8, 8, warmup), openLoopShape(rate, 8, warmup)];
    return [closedLoopShape(1, 8, warmup), closedLoopShape(8, 8, warmup), closedLoopShape(64, 8, warmup), openLoopShape(rate, 8, warmup)];
  },

  wire(): Wire {
    template ??= sayHelloTemplate();
    return new ThriftFramedWire(template);
  },

  cannedResponder: {
    requestLength(buf: Buffer, at: number): number {
      if (buf.length - at < FRAME_HEADER) return 0;
      const length = FRAME_HEADER + buf.readUInt32BE(at);
      return buf.length - at >= length ? length : 0;
    },
    reply(request: Buffer): Buffer {
      cannedReply ??= Buffer.from(frames(fixture("node-binary-framed.response.bin"))[0]);
      const out = Buffer.from(cannedReply);
      request.copy(out, seqidOffset(out), seqidOffset(request), seqidOffset(request) + 4);
      return out;
    },
  },

  codecCalls(): CodecCall[] {
    // Frames as listed in codecs/thrift/fixtures/README.md: sayHello (one by one, then pipelined),
    // notify x2 (oneway, no reply), lookup -> NotFound, lookup -> Invalid, crash, missing, echo(Item).
    const requests = frames(fixture("node-binary-framed.request.bin"));
    const responses = frames(fixture("node-binary-framed.response.bin"));
    const request = (name: string, nth = 0) => requests.filter((f) => messageName(f) === name)[nth];
    const response = (name: string, nth = 0) => responses.filter((f) => messageName(f) === name)[nth];
    const calls: CodecCall[] = [
      { name: "sayHello", request: request("sayHello"), response: response("sayHello") },
      { name: "lookup (NotFound)", request: request("lookup"), response: response("lookup") },
      { name: "echo (Item, every type)", request: request("echo"), response: response("echo") },
    ];
    for (const c of calls) if (!c.request || !c.response) throw new Error(`codecs/thrift/fixtures/node-binary-framed: no ${c.name} frame`);
    return calls;
  },
};
