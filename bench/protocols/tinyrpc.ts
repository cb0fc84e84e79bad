// tinyrpc: the example server (examples/tinyrpc/server.js, Node) as backend, driven by the
// TypeScript load driver with `hello` calls paired by id. Envoy has no native filter for it.
import * as path from "path";
import { closedLoopShape, openLoopShape } from "../lib/driver_shapes";
import type { Pinning } from "../lib/pinning";
import { freePort, logContains, startChild, stopChild, tail, waitFor } from "../lib/processes";
import type { Backend, BenchOptions, CodecCall, ProtocolBench, Shape, Wire } from "../lib/protocol";
import { repoRoot } from "../../api/proxytest";

const PEERS = path.join(repoRoot(), "examples/tinyrpc");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const wire = require(path.join(PEERS, "wire.js"));
const SERVICE = "Greeter";
const METHOD = "hello";
const ARGUMENT = Buffer.from("bench");

class TinyRpcWire implements Wire {
  readonly pairing = "id" as const;
  private readonly template: Buffer = wire.request(0, SERVICE, METHOD, ARGUMENT);
  readonly requestLength = this.template.length;

  constructor(private readonly connectionIndex: number) {}

  writeRequest(seq: number, out: Buffer, at: number): void {
    this.template.copy(out, at);
    // The id: connection in the high word, sequence in the low word, so ids differ across connections.
    out.writeUInt32BE(this.connectionIndex, at + 8);
    out.writeUInt32BE(seq, at + 12);
  }

  parse(buf: Buffer, onReply: (seq: number, ok: boolean) => void): number {
    let at = 0;
    while (buf.length - at >= wire.HEADER) {
      const length = wire.HEADER + buf.readUInt32BE(at + 4);
      if (buf.length - at < length) break;
      onReply(buf.readUInt32BE(at + 12), buf[at + 3] === wire.Status.ok);
      at += length;
    }
    return at;
  }
}

export const protocol: ProtocolBench = {
  name: "tinyrpc",
  pluginConfig: "{}",
  nativeFilters: [],

  async startBackend(workDir: string, pin: Pinning): Promise<Backend> {
    const port = await freePort();
    const child = startChild("tinyrpc server", pin.backend, process.execPath, [path.join(PEERS, "server.js"), "--port", String(port)],
      path.join(workDir, "tinyrpc-server.log"));
    if (!(await waitFor(() => logContains(child, `READY ${port}`), 20_000))) {
      await stopChild(child);
      throw new Error(`the tinyrpc server did not start:\n${tail(child.logFile)}`);
    }
    return { port, child, description: `the example tinyrpc server (Node ${process.version})` };
  },

  shapes(options: BenchOptions): Shape[] {
    const rate = options.rate ?? 2000;
    const warmup = options.smoke ? 0.3 : 1;
    if (options.smoke) return [closedLoopShape(8, 8, warmup), openLoopShape(rate, 8, warmup)];
    return [closedLoopShape(1, 8, warmup), closedLoopShape(8, 8, warmup), closedLoopShape(64, 8, warmup), openLoopShape(rate, 8, warmup)];
  },

  wire(connectionIndex: number): Wire {
    return new TinyRpcWire(connectionIndex);
  },

  codecCalls(): CodecCall[] {
    return [
      { name: `${METHOD} (ok)`, request: wire.request(1, SERVICE, METHOD, ARGUMENT), response: wire.response(1, wire.Status.ok, "hello, bench") },
      { name: "fail (server error)", request: wire.request(2, SERVICE, "fail"), response: wire.response(2, wire.Status.serverError, "boom") },
    ];
  },

  cannedResponder: {
    requestLength(buf: Buffer, at: number): number {
      if (buf.length - at < wire.HEADER) return 0;
      const length = wire.HEADER + buf.readUInt32BE(at + 4);
      return buf.length - at >= length ? length : 0;
    },
    reply(request: Buffer): Buffer {
      const reply = wire.response(0, wire.Status.ok, "hello, bench");
      request.copy(reply, 8, 8, 16);
      return reply;
    },
  },
};
