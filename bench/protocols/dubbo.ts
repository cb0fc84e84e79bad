// Dubbo: the real Apache Dubbo 3.3.6 Java provider as backend; the load is the Java consumer's own
// sayHello request frame (captured in codecs/dubbo/fixtures), replayed with a fresh request id per call.
import { readFileSync } from "fs";
import * as path from "path";
import { closedLoopShape, openLoopShape } from "../lib/driver_shapes";
import type { Pinning } from "../lib/pinning";
import { freePort, logContains, startChild, stopChild, tail, waitFor } from "../lib/processes";
import type { Backend, BenchOptions, CodecCall, ProtocolBench, Shape, Wire } from "../lib/protocol";
import { repoRoot } from "../../api/proxytest";

const HEADER = 16;
const MAGIC = 0xdabb;
const FLAG_EVENT = 0x20;
const STATUS_OK = 20;
/** High word of every request id the driver sends: "MP" + the connection index. */
const ID_TAG = 0x4d500000;

function fixture(name: string): Buffer {
  return readFileSync(path.join(repoRoot(), "codecs/dubbo/fixtures", name));
}

/** Cuts a captured byte stream into Dubbo frames (16-byte header, body length at offset 12). */
function frames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + HEADER <= bytes.length;) {
    const length = HEADER + bytes.readUInt32BE(at + 12);
    out.push(bytes.subarray(at, at + length));
    at += length;
  }
  return out;
}

/** The Java consumer's first request: a two-way sayHello("MetaProto") of 278 bytes. */
function sayHelloTemplate(): Buffer {
  const first = frames(fixture("java-consumer.request.bin"))[0];
  if (first.length !== 278 || first.readUInt16BE(0) !== MAGIC || first[2] !== 0xc2) {
    throw new Error("codecs/dubbo/fixtures/java-consumer.request.bin no longer starts with the 278-byte sayHello request");
  }
  return Buffer.from(first);
}

class DubboWire implements Wire {
  readonly pairing = "id" as const;
  readonly requestLength: number;
  private readonly tag: number;

  constructor(private readonly template: Buffer, connectionIndex: number) {
    this.requestLength = template.length;
    this.tag = (ID_TAG | (connectionIndex & 0xffff)) >>> 0;
  }

  writeRequest(seq: number, out: Buffer, at: number): void {
    this.template.copy(out, at);
    out.writeUInt32BE(this.tag, at + 4); // request id, 8 bytes at offset 4: tag, then seq
    out.writeUInt32BE(seq, at + 8);
  }

  parse(buf: Buffer, onReply: (seq: number, ok: boolean) => void): number {
    let at = 0;
    while (buf.length - at >= HEADER) {
      const length = HEADER + buf.readUInt32BE(at + 12);
      if (buf.length - at < length) break;
      const flag = buf[at + 2];
      if (buf.readUInt16BE(at) !== MAGIC) throw new Error("reply without Dubbo magic: the stream is out of sync");
      // Events (heartbeats) are not replies to our calls.
      if ((flag & FLAG_EVENT) === 0 && buf.readUInt32BE(at + 4) === this.tag) {
        onReply(buf.readUInt32BE(at + 8), buf[at + 3] === STATUS_OK);
      }
      at += length;
    }
    return at;
  }
}

let template: Buffer | null = null;
let cannedReply: Buffer | null = null;

function dubboProxyFilters(cluster: string, statPrefix: string): string {
  return `- name: envoy.filters.network.dubbo_proxy
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy
    stat_prefix: ${statPrefix}
    route_config:
    - name: ${statPrefix}
      interface: io.metaproto.demo.GreetingService
      routes:
      - match: { method: { name: { safe_regex: { regex: ".*" } } } }
        route: { cluster: ${cluster} }
    dubbo_filters:
    - name: envoy.filters.dubbo.router
`;
}

function genericProxyFilters(cluster: string, statPrefix: string): string {
  return `- name: envoy.filters.network.generic_proxy
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.generic_proxy.v3.GenericProxy
    stat_prefix: ${statPrefix}
    codec_config:
      name: dubbo
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.generic_proxy.codecs.dubbo.v3.DubboCodecConfig
    filters:
    - name: envoy.filters.generic.router
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.generic_proxy.router.v3.Router
    route_config:
      name: ${statPrefix}
      virtual_hosts:
      - name: all
        hosts: ["*"]
        routes:
          matcher_list:
            matchers:
            - predicate:
                single_predicate:
                  input:
                    name: service
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.generic_proxy.matcher.v3.ServiceMatchInput
                  value_match: { safe_regex: { google_re2: {}, regex: ".*" } }
              on_match:
                action:
                  name: route
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.network.generic_proxy.action.v3.RouteAction
                    cluster: ${cluster}
`;
}

export const protocol: ProtocolBench = {
  name: "dubbo",
  pluginConfig: "{}",
  nativeFilters: [
    { name: "generic_proxy", filtersYaml: genericProxyFilters, note: "generic_proxy with its Dubbo codec (DubboCodecConfig)" },
    { name: "dubbo_proxy", filtersYaml: dubboProxyFilters, note: "dubbo_proxy (route_config is deprecated in 1.40)" },
  ],

  async startBackend(workDir: string, pin: Pinning): Promise<Backend> {
    const repo = repoRoot();
    const port = await freePort();
    // The rig's run.sh caps the JIT at C1 for fast start-up; a benchmark wants the steady state,
    // so re-enable C2 (the last -XX flag wins).
    const env = { ...process.env, JAVA_OPTS: `${process.env.JAVA_OPTS ?? ""} -XX:TieredStopAtLevel=4 -Xms256m -Xmx256m`.trim() };
    const child = startChild("dubbo provider", pin.backend, "bash", [path.join(repo, "test/dubbo/java/run.sh"), "provider", String(port)],
      path.join(workDir, "dubbo-provider.log"), env);
    if (!(await waitFor(() => logContains(child, "PROVIDER READY"), 120_000))) {
      await stopChild(child);
      throw new Error(`the Dubbo provider did not start:\n${tail(child.logFile)}`);
    }
    return { port, child, description: "Apache Dubbo 3.3.6 Java provider (test/dubbo/java, OpenJDK 17, JAVA_OPTS -XX:TieredStopAtLevel=4 -Xms256m -Xmx256m)" };
  },

  shapes(options: BenchOptions): Shape[] {
    const rate = options.rate ?? 2000;
    const warmup = options.smoke ? 0.3 : 1;
    if (options.smoke) return [closedLoopShape(8, 8, warmup), openLoopShape(rate, 8, warmup)];
    return [closedLoopShape(1, 8, warmup), closedLoopShape(8, 8, warmup), closedLoopShape(64, 8, warmup), openLoopShape(rate, 8, warmup)];
  },

  wire(connectionIndex: number): Wire {
    template ??= sayHelloTemplate();
    return new DubboWire(template, connectionIndex);
  },

  cannedResponder: {
    requestLength(buf: Buffer, at: number): number {
      if (buf.length - at < HEADER) return 0;
      const length = HEADER + buf.readUInt32BE(at + 12);
      return buf.length - at >= length ? length : 0;
    },
    reply(request: Buffer): Buffer {
      cannedReply ??= Buffer.from(frames(fixture("java-consumer.response.bin"))[0]);
      const out = Buffer.from(cannedReply);
      request.copy(out, 4, 4, 12); // the request id
      return out;
    },
  },

  codecCalls(): CodecCall[] {
    const requests = frames(fixture("java-consumer.request.bin"));
    const responses = frames(fixture("java-consumer.response.bin"));
    // Frames as listed in codecs/dubbo/fixtures/README.md: sayHello x3, fail, notifyOneway, echo.
    return [
      { name: "sayHello", request: requests[0], response: responses[0] },
      { name: "fail (exception)", request: requests[3], response: responses[3] },
      { name: "echo (KitchenSink)", request: requests[5], response: responses[4] },
    ];
  },
};
