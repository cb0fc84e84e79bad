// Spans, trace-context propagation and flow logs, through the compiled Dubbo and Redis modules:
// what the module sends to the collector is decoded with protobufjs against the OTLP .proto files,
// what reaches the server is read back with hessian.js.
import fc from "fast-check";
import { GrpcCall, ProxyTestHost, decodeLogsExport, decodeTraceExport, feed, split, bytewise } from "../../api/proxytest";
import { compiledCodec } from "../../api/proxytest/codec_harness";
import { SERVICE, compiledDubbo, frames, hessianValues, request, response } from "../../codecs/dubbo/test_frames";

let dubbo: WebAssembly.Module;
let redis: WebAssembly.Module;
beforeAll(async () => {
  dubbo = await compiledDubbo();
  redis = await compiledCodec("redis");
}, 240_000);

const TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService";
const LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService";
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

function tracing(extra: object = {}): object {
  return { collector_cluster: "otel", flush_interval_ms: 100, ...extra };
}

async function host(module: WebAssembly.Module, config: object, options: object = {}): Promise<ProxyTestHost> {
  const h = await ProxyTestHost.load(module, { pluginConfig: JSON.stringify(config), grpcClusters: ["otel"], ...options });
  h.start();
  return h;
}

/** The attachments of each Dubbo request in `bytes` (what the server receives). */
function attachmentsOf(bytes: Buffer): Array<Record<string, string>> {
  return frames(bytes).map((f) => {
    const values = hessianValues(f.subarray(16));
    return values[values.length - 1] as Record<string, string>;
  });
}

/** Flushes the queues (time passes, ticks fire) and answers every export; returns the calls. */
function flush(h: ProxyTestHost, answer = true): GrpcCall[] {
  h.advanceTime(200);
  const calls = h.openGrpcCalls();
  if (answer) for (const c of calls) h.grpcRespond(c.token);
  return calls;
}

function spansOf(calls: GrpcCall[]) {
  return calls.filter((c) => c.serviceName === TRACE_SERVICE).flatMap((c) => decodeTraceExport(c.request));
}

describe("configuration", () => {
  test.each([
    [{ tracing: {} }, /tracing.collector_cluster: is required/],
    [{ tracing: tracing({ sampling: { percent: 101 } }) }, /tracing.sampling.percent: must be a number from 0 to 100/],
    [{ tracing: tracing({ propagation: { extract: ["w3c", "jaeger"] } }) }, /tracing.propagation.extract\[1\]: must be one of w3c, b3, b3multi, sw8/],
    [{ tracing: tracing({ propagation: { inject: ["b3", "b3"] } }) }, /tracing.propagation.inject\[1\]: is listed twice/],
    [{ tracing: tracing({ span_kind: "producer" }) }, /tracing.span_kind: must be one of auto, client, server/],
    [{ tracing: tracing({ sampling: { rules: [{ match: { method: { exact: "x" } } }] } }) }, /tracing.sampling.rules\[0\].percent: is required/],
    [{ tracing: tracing({ sampling: { rules: [{ match: { methd: {} }, percent: 5 }] } }) }, /tracing.sampling.rules\[0\].match.methd: unknown field/],
    [{ tracing: tracing({ max_batch: 10, max_queue: 5 }) }, /tracing.max_batch: must not exceed max_queue/],
    [{ tracing: tracing({ colector: 1 }) }, /tracing.colector: unknown field/],
    [{ flow_logs: { collector_cluster: "otel", sampling: {} } }, /flow_logs.sampling: unknown field/],
  ])("%j is rejected, naming the field", async (config, why) => {
    const h = await ProxyTestHost.load(dubbo, { pluginConfig: JSON.stringify(config) });
    expect(() => h.start()).toThrow();
    expect(h.logMessages("error").join("\n")).toMatch(why);
  });

  test("a full configuration is accepted", async () => {
    await host(dubbo, {
      tracing: tracing({
        max_batch: 2, max_queue: 4, max_retries: 1, export_timeout_ms: 1000, service_name: "edge",
        sampling: { percent: 1.5, parent_based: false, rules: [{ match: { service: { prefix: "io." } }, percent: 100 }] },
        propagation: { extract: ["sw8"], inject: ["w3c", "b3multi"] }, span_kind: "server", max_query_text_length: 64,
      }),
      flow_logs: { collector_cluster: "otel", max_batch: 10 },
    });
  });
});

describe("Dubbo spans and W3C propagation", () => {
  test("a call carrying traceparent: the span continues the trace and the server sees this span as its parent", async () => {
    const h = await host(dubbo, { tracing: tracing() }, { properties: { "upstream.address": "10.0.0.9:20880" } });
    const c = h.newConnection({ properties: { "source.address": "10.0.0.7:5123", "destination.address": "10.0.0.1:20000" } });
    const sent = c.downstream(request({ id: 7n, attachments: { traceparent: TRACEPARENT, tracestate: "k=v" } })).forwarded;
    const [attachments] = attachmentsOf(Buffer.from(sent));
    expect(attachments.tracestate).toBe("k=v");
    const forwardedParent = attachments.traceparent;
    expect(forwardedParent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(forwardedParent).not.toBe(TRACEPARENT);
    c.upstream(response(7n));
    expect(h.openGrpcCalls()).toEqual([]); // batched: nothing sent before the flush interval
    const calls = flush(h);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ cluster: "otel", serviceName: TRACE_SERVICE, method: "Export" });
    const spans = decodeTraceExport(calls[0].request);
    expect(spans).toHaveLength(1);
    const span = spans[0];
    expect(span.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(span.parentSpanId).toBe("00f067aa0ba902b7");
    expect(span.spanId).toBe(forwardedParent.split("-")[2]);
    expect(span.traceState).toBe("k=v");
    expect(span.name).toBe(`${SERVICE}/sayHello`);
    expect(span.kind).toBe(3); // CLIENT: no listener direction, no span_kind
    expect(span.status).toEqual({ code: 0, message: "" });
    expect(span.resource["service.name"]).toBe("metaproto-dubbo");
    expect(span.attributes).toMatchObject({
      "rpc.system.name": "dubbo", "rpc.system": "dubbo", "rpc.method": `${SERVICE}/sayHello`, "rpc.service": SERVICE,
      "server.address": "10.0.0.9", "server.port": 20880, "network.peer.address": "10.0.0.9", "network.peer.port": 20880,
      "net.peer.ip": "10.0.0.9", "metaproto.request_id": "7", "metaproto.response_code": "20", "metaproto.propagation": "w3c",
    });
    expect(h.counterValue("metaproto_spans_exported_total")).toBe(1);
    expect(h.traps).toEqual([]);
  });

  test("a call without context starts a trace and injects traceparent; the server side reads it back", async () => {
    const client = await host(dubbo, { tracing: tracing({ span_kind: "client" }) });
    const server = await host(dubbo, { tracing: tracing() }, { properties: { "xds.listener_direction": u64le(1n) } });
    const cc = client.newConnection();
    const toServer = Buffer.from(cc.downstream(request({ id: 1n, attachments: { tenant: "t1" } })).forwarded);
    const [attachments] = attachmentsOf(toServer);
    expect(attachments.tenant).toBe("t1");
    const [, traceId, spanId] = attachments.traceparent.split("-");
    const sc = server.newConnection({ properties: { "source.address": "10.0.0.2:4000", "destination.address": "10.0.0.3:20880" } });
    const atProvider = attachmentsOf(Buffer.from(sc.downstream(toServer).forwarded))[0];
    sc.upstream(response(1n));
    cc.upstream(response(1n));
    const [clientSpan] = spansOf(flush(client));
    const [serverSpan] = spansOf(flush(server));
    expect(clientSpan.traceId).toBe(traceId);
    expect(clientSpan.spanId).toBe(spanId);
    expect(clientSpan.parentSpanId).toBe("");
    expect(clientSpan.kind).toBe(3);
    expect(serverSpan.kind).toBe(2); // SERVER: an inbound listener
    expect(serverSpan.traceId).toBe(traceId);
    expect(serverSpan.parentSpanId).toBe(spanId);
    expect(atProvider.traceparent).toBe(`00-${traceId}-${serverSpan.spanId}-01`);
    expect(serverSpan.attributes).toMatchObject({ "server.address": "10.0.0.3", "server.port": 20880, "network.peer.address": "10.0.0.2", "network.peer.port": 4000 });
  });

  test("status follows the call's outcome: a server error, a call the connection close left unanswered", async () => {
    const h = await host(dubbo, { tracing: tracing() });
    const c = h.newConnection();
    c.downstream(Buffer.concat([request({ id: 1n, method: "fail" }), request({ id: 2n })]));
    c.upstream(response(1n, { status: 70, value: "boom" }));
    c.close("downstream");
    const spans = spansOf(flush(h));
    expect(spans.map((s) => [s.name.split("/")[1], s.status, s.attributes["metaproto.response_code"]])).toEqual([
      ["fail", { code: 2, message: "boom" }, "70"], ["sayHello", { code: 2, message: "no response: closed" }, "closed"],
    ]);
  });

  test("a context that says not sampled is passed on untouched and makes no span (parent-based)", async () => {
    const h = await host(dubbo, { tracing: tracing() });
    const c = h.newConnection();
    const unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    const bytes = request({ id: 1n, attachments: { traceparent: unsampled } });
    expect(Buffer.from(c.downstream(bytes).forwarded).equals(bytes)).toBe(true);
    c.upstream(response(1n));
    expect(flush(h)).toEqual([]);
  });

  test.each([
    ["not-a-traceparent"],
    ["00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
    ["ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    ["00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"],
  ])("a malformed traceparent %s is as if there were none: a new trace", async (value) => {
    const h = await host(dubbo, { tracing: tracing() });
    const c = h.newConnection();
    const [attachments] = attachmentsOf(Buffer.from(c.downstream(request({ id: 1n, attachments: { traceparent: value } })).forwarded));
    expect(attachments.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(attachments.traceparent.substring(3, 35)).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    c.upstream(response(1n));
    const [span] = spansOf(flush(h));
    expect(span.parentSpanId).toBe("");
    expect(h.traps).toEqual([]);
  });
});

test("any header values (random text, near-valid ids, bad base64) never trap; each call still gets one valid context", async () => {
  const h = await host(dubbo, { tracing: tracing({ max_queue: 100000 }) });
  const c = h.newConnection();
  const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-Fg-]{${n}}$`));
  const value = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.tuple(hex(2), hex(32), hex(16), hex(2)).map((p) => p.join("-")),
    fc.tuple(fc.constantFrom("0", "1", "2", ""), fc.base64String({ maxLength: 40 }), fc.string({ maxLength: 12 }), fc.nat().map(String)).map((p) => p.join("-")));
  let id = 1n;
  await fc.assert(fc.property(fc.dictionary(fc.constantFrom("traceparent", "tracestate", "b3", "sw8", "X-B3-TraceId", "X-B3-SpanId", "x-b3-sampled", "X-B3-Flags"), value), (attachments) => {
    const requestId = id++;
    const sent = attachmentsOf(Buffer.from(c.downstream(request({ id: requestId, attachments })).forwarded));
    c.upstream(response(requestId));
    expect(h.traps).toEqual([]);
    expect(sent).toHaveLength(1);
  }), { numRuns: 300 });
  const spans = spansOf(flush(h));
  expect(spans.every((s) => /^[0-9a-f]{32}$/.test(s.traceId) && s.traceId !== "0".repeat(32) && /^[0-9a-f]{16}$/.test(s.spanId))).toBe(true);
  expect(h.traps).toEqual([]);
});

describe("B3 and SkyWalking sw8", () => {
  const b3 = (config: object, attachments: Record<string, string>) => async () => {
    const h = await host(dubbo, { tracing: tracing(config) });
    const c = h.newConnection();
    const [forwarded] = attachmentsOf(Buffer.from(c.downstream(request({ id: 1n, attachments })).forwarded));
    c.upstream(response(1n));
    const [span] = spansOf(flush(h));
    return { forwarded, span };
  };

  test("b3 single: extracted, and written back in the same format with this span", async () => {
    const { forwarded, span } = await b3({}, { b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90" })();
    expect(span.traceId).toBe("80f198ee56343ba864fe8b2a57d3eff7");
    expect(span.parentSpanId).toBe("e457b5a2e4d86bd1");
    expect(forwarded.b3).toBe(`80f198ee56343ba864fe8b2a57d3eff7-${span.spanId}-1`);
    expect(forwarded.traceparent).toBeUndefined();
  });

  test("b3 multi with a 64-bit trace id: the id is padded to 128 bits", async () => {
    const { forwarded, span } = await b3({}, { "X-B3-TraceId": "a3ce929d0e0e4736", "X-B3-SpanId": "00f067aa0ba902b7", "X-B3-Sampled": "1" })();
    expect(span.traceId).toBe("0000000000000000a3ce929d0e0e4736");
    expect(span.parentSpanId).toBe("00f067aa0ba902b7");
    expect(forwarded).toMatchObject({
      "X-B3-TraceId": "0000000000000000a3ce929d0e0e4736", "X-B3-SpanId": span.spanId, "X-B3-ParentSpanId": "00f067aa0ba902b7", "X-B3-Sampled": "1",
    });
  });

  test("sw8 from a SkyWalking agent: free-text ids hashed into a trace, sw8 written back with this span", async () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const sw8 = ["1", b64("a8c1.102.17000000001"), b64("a8c1.103.17000000002"), "3", b64("shop"), b64("shop-1"), b64("/order"), b64("10.0.0.5:20880")].join("-");
    const { forwarded, span } = await b3({}, { sw8 })();
    const again = await b3({}, { sw8 })();
    expect(span.traceId).toBe(again.span.traceId); // the same text, the same trace
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    const parts = forwarded.sw8.split("-");
    expect(parts).toHaveLength(8);
    expect(parts[0]).toBe("1");
    expect(Buffer.from(parts[1], "base64").toString()).toBe(span.traceId);
    expect(Buffer.from(parts[2], "base64").toString()).toBe(span.spanId);
    expect(parts[3]).toBe("0");
    expect(Buffer.from(parts[4], "base64").toString()).toBe("metaproto-dubbo");
  });

  test("sw8 written by one MetaProto is read back exactly by the next", async () => {
    const client = await host(dubbo, { tracing: tracing({ propagation: { inject: ["sw8"] } }) });
    const server = await host(dubbo, { tracing: tracing() });
    const cc = client.newConnection();
    const toServer = Buffer.from(cc.downstream(request({ id: 1n })).forwarded);
    expect(attachmentsOf(toServer)[0].traceparent).toBeUndefined();
    const sc = server.newConnection();
    const atProvider = attachmentsOf(Buffer.from(sc.downstream(toServer).forwarded))[0];
    sc.upstream(response(1n));
    cc.upstream(response(1n));
    const [clientSpan] = spansOf(flush(client));
    const [serverSpan] = spansOf(flush(server));
    expect(serverSpan.traceId).toBe(clientSpan.traceId);
    expect(serverSpan.parentSpanId).toBe(clientSpan.spanId);
    expect(Buffer.from(atProvider.sw8.split("-")[2], "base64").toString()).toBe(serverSpan.spanId);
  });

  test("only the configured formats are read: a traceparent is ignored when extract lists b3 only", async () => {
    const { span } = await b3({ propagation: { extract: ["b3"] } }, { traceparent: TRACEPARENT })();
    expect(span.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(span.parentSpanId).toBe("");
  });
});

describe("sampling", () => {
  test("per-method rules: the first matching rule's percent, else the default", async () => {
    const h = await host(dubbo, { tracing: tracing({ sampling: { percent: 0, rules: [{ match: { method: { exact: "echo" } }, percent: 100 }] } }) });
    const c = h.newConnection();
    const calls = [request({ id: 1n }), request({ id: 2n, method: "echo" }), request({ id: 3n })];
    const sent = attachmentsOf(feed(c, "downstream", calls));
    expect(sent.map((a) => a.traceparent !== undefined)).toEqual([false, true, false]);
    feed(c, "upstream", [response(1n), response(2n), response(3n)]);
    expect(spansOf(flush(h)).map((s) => s.name)).toEqual([`${SERVICE}/echo`]);
  });

  test("a percentage samples about that share of calls", async () => {
    const h = await host(dubbo, { tracing: tracing({ sampling: { percent: 25 }, max_queue: 4096 }) });
    const c = h.newConnection();
    const n = 2000;
    for (let i = 1; i <= n; i++) {
      c.downstream(request({ id: BigInt(i) }));
      c.upstream(response(BigInt(i)));
    }
    const spans = spansOf(flush(h));
    expect(spans.length).toBeGreaterThan(n * 0.2);
    expect(spans.length).toBeLessThan(n * 0.3);
  });
});

describe("the bytes reaching the server", () => {
  const calls = [
    request({ id: 1n, attachments: { tenant: "t1" } }),
    request({ id: 2n, method: "echo", attachments: { traceparent: TRACEPARENT } }),
    request({ id: 3n, oneway: true }),
  ];
  const stream = Buffer.concat(calls);

  test("without sampled calls they are the client's bytes under every chunking", async () => {
    for (const chunks of [[stream], bytewise(stream), split(stream, [5, 17, 40, 100, stream.length - 3])]) {
      const h = await host(dubbo, { tracing: tracing({ sampling: { percent: 0, parent_based: false } }) });
      expect(feed(h.newConnection(), "downstream", chunks).equals(stream)).toBe(true);
    }
  });

  test("with every call sampled, the rewritten frames are the same under every chunking (but for the new ids)", async () => {
    const shapes: string[] = [];
    for (const chunks of [[stream], bytewise(stream), split(stream, [5, 17, 40, 100, stream.length - 3])]) {
      const h = await host(dubbo, { tracing: tracing() });
      const out = feed(h.newConnection(), "downstream", chunks);
      const attachments = attachmentsOf(out);
      expect(attachments.map((a) => Object.keys(a).sort())).toEqual([["tenant", "traceparent"], ["traceparent"], ["traceparent"]]);
      expect(attachments[1].traceparent.substring(0, 36)).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-");
      shapes.push(frames(out).map((f) => f.length).join(","));
      expect(h.counterValue("metaproto_mutations_total;protocol=dubbo;reason=applied")).toBe(3);
    }
    expect(new Set(shapes).size).toBe(1);
  });
});

describe("the export queue", () => {
  const oneCall = (c: ReturnType<ProxyTestHost["newConnection"]>, id: number) => {
    c.downstream(request({ id: BigInt(id) }));
    c.upstream(response(BigInt(id)));
  };

  test("batches by size: a full batch goes on the next tick, the rest after the flush interval", async () => {
    const h = await host(dubbo, { tracing: tracing({ max_batch: 4, flush_interval_ms: 1000 }) });
    const c = h.newConnection();
    for (let i = 1; i <= 6; i++) oneCall(c, i);
    h.advanceTime(150);
    const first = h.openGrpcCalls();
    expect(first.map((g) => decodeTraceExport(g.request).length)).toEqual([4]);
    h.grpcRespond(first[0].token);
    h.advanceTime(150);
    expect(h.openGrpcCalls()).toEqual([]);
    h.advanceTime(1000);
    const second = h.openGrpcCalls();
    expect(second.map((g) => decodeTraceExport(g.request).length)).toEqual([2]);
    h.grpcRespond(second[0].token);
    expect(h.counterValue("metaproto_spans_exported_total")).toBe(6);
  });

  test("a full queue drops new spans and counts each", async () => {
    const h = await host(dubbo, { tracing: tracing({ max_batch: 2, max_queue: 5 }) });
    const c = h.newConnection();
    for (let i = 1; i <= 12; i++) oneCall(c, i);
    expect(h.counterValue("metaproto_spans_dropped_total;reason=queue_full")).toBe(7);
    // The collector answers everything: the 5 queued arrive, in order.
    for (let round = 0; round < 5; round++) flush(h);
    expect(h.counterValue("metaproto_spans_exported_total")).toBe(5);
    expect(h.counterValue("metaproto_spans_dropped_total;reason=queue_full")).toBe(7);
  });

  test("a failed export is retried within the bound, then dropped and counted", async () => {
    const h = await host(dubbo, { tracing: tracing({ max_batch: 3, max_queue: 5, max_retries: 2 }) });
    const c = h.newConnection();
    for (let i = 1; i <= 3; i++) oneCall(c, i);
    h.advanceTime(150);
    let open = h.openGrpcCalls();
    expect(open).toHaveLength(1);
    const firstRequest = open[0].request;
    h.grpcFail(open[0].token, 14); // UNAVAILABLE
    // Meanwhile the retried batch keeps its place in the bound: 2 more fit, the third is dropped.
    for (let i = 4; i <= 6; i++) oneCall(c, i);
    expect(h.counterValue("metaproto_spans_dropped_total;reason=queue_full")).toBe(1);
    h.advanceTime(150);
    open = h.openGrpcCalls();
    expect(open).toHaveLength(1);
    expect(Buffer.from(open[0].request).equals(Buffer.from(firstRequest))).toBe(true); // the same spans again
    h.grpcFail(open[0].token, 4); // DEADLINE_EXCEEDED
    h.advanceTime(300);
    open = h.openGrpcCalls();
    expect(open).toHaveLength(1);
    h.grpcFail(open[0].token, 14);
    expect(h.counterValue("metaproto_spans_dropped_total;reason=export_failed")).toBe(3);
    // The next batch goes on.
    h.advanceTime(1200);
    open = h.openGrpcCalls();
    expect(open.map((g) => decodeTraceExport(g.request).length)).toEqual([2]);
    h.grpcRespond(open[0].token);
    expect(h.counterValue("metaproto_spans_exported_total")).toBe(2);
  });

  test("by default a collector outage loses only what overflows the queue: the retried batch and those behind it all arrive", async () => {
    const h = await host(dubbo, { tracing: tracing({ max_batch: 4, max_queue: 10 }) });
    const c = h.newConnection();
    for (let i = 1; i <= 4; i++) oneCall(c, i);
    // The collector is down for 20 s: every attempt fails, with backoff up to 5 s.
    let failures = 0;
    for (let t = 0; t < 20_000; t += 100) {
      h.advanceTime(100);
      for (const g of h.openGrpcCalls()) {
        h.grpcFail(g.token, 14);
        failures++;
      }
      if (t === 5_000) for (let i = 5; i <= 12; i++) oneCall(c, i); // 6 fit behind the batch, 2 do not
    }
    expect(failures).toBeGreaterThan(5);
    expect(h.counterValue("metaproto_spans_dropped_total;reason=queue_full")).toBe(2);
    expect(h.counterValue("metaproto_spans_dropped_total;reason=export_failed")).toBeUndefined();
    // Back up: everything queued arrives, in order, exactly once.
    const names: number[] = [];
    for (let round = 0; round < 10; round++) {
      h.advanceTime(5_000);
      for (const g of h.openGrpcCalls()) {
        names.push(...decodeTraceExport(g.request).map((s) => Number(s.attributes["metaproto.request_id"])));
        h.grpcRespond(g.token);
      }
    }
    expect(names).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(h.counterValue("metaproto_spans_exported_total")).toBe(10);
  });

  test("a call whose answer never comes (its root context went away) counts as failed after its deadline: the queue goes on", async () => {
    const h = await host(dubbo, { tracing: tracing({ export_timeout_ms: 500, max_retries: 1 }) });
    const c = h.newConnection();
    oneCall(c, 1);
    h.advanceTime(150);
    const [lost] = h.openGrpcCalls();
    h.advanceTime(1000); // deadline + grace not reached yet: nothing new
    expect(h.openGrpcCalls()).toHaveLength(1);
    h.advanceTime(800);
    const retried = h.openGrpcCalls().filter((g) => g.token !== lost.token);
    expect(retried).toHaveLength(1);
    expect(Buffer.from(retried[0].request).equals(Buffer.from(lost.request))).toBe(true);
    h.grpcRespond(lost.token); // a late answer to the lost call changes nothing
    h.grpcRespond(retried[0].token);
    expect(h.counterValue("metaproto_spans_exported_total")).toBe(1);
  });

  test("a collector cluster Envoy does not have: every attempt fails, the spans are counted as failed", async () => {
    const h = await host(dubbo, { tracing: tracing({ collector_cluster: "nowhere", max_retries: 0 }) });
    const c = h.newConnection();
    oneCall(c, 1);
    h.advanceTime(300);
    expect(h.grpcCalls).toEqual([]);
    expect(h.counterValue("metaproto_spans_dropped_total;reason=export_failed")).toBe(1);
  });
});

describe("Redis: spans with the database conventions", () => {
  test("each command is a span with db attributes; errors set the status", async () => {
    const h = await host(redis, { tracing: tracing() }, { properties: { "upstream.address": "127.0.0.1:6379" } });
    const c = h.newConnection();
    const commands = "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nNOPE\r\n";
    expect(Buffer.from(c.downstream(commands).forwarded).toString()).toBe(commands);
    c.upstream("+OK\r\n$1\r\nv\r\n-ERR unknown command 'NOPE'\r\n");
    const spans = spansOf(flush(h));
    expect(spans.map((s) => s.name)).toEqual(["SELECT", "GET", "UNKNOWN"]);
    expect(spans[1].attributes).toMatchObject({
      "db.system.name": "redis", "db.system": "redis", "db.operation.name": "GET", "db.namespace": "2",
      "server.address": "127.0.0.1", "server.port": 6379, "metaproto.response_code": "OK",
    });
    expect(spans[1].attributes["rpc.system.name"]).toBeUndefined();
    expect(spans[2].status.code).toBe(2);
    expect(spans[2].attributes["db.response.status_code"]).toBe("ERR");
    expect(spans[2].status.message).toBe("ERR unknown command 'NOPE'".substring(0, 32));
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(3);
  });
});

describe("flow logs", () => {
  test("flow logs alone: the server's error text and x-request-id are read, the request is not touched", async () => {
    const h = await host(dubbo, { flow_logs: { collector_cluster: "otel", flush_interval_ms: 100 } });
    const c = h.newConnection();
    const req = request({ id: 9n, attachments: { "x-request-id": "rq-9" } });
    expect(Buffer.from(c.downstream(req).forwarded).equals(req)).toBe(true);
    c.upstream(response(9n, { status: 50, value: "no provider" }));
    const calls = flush(h);
    expect(spansOf(calls)).toEqual([]);
    const [log] = calls.filter((g) => g.serviceName === LOGS_SERVICE).flatMap((g) => decodeLogsExport(g.request));
    expect(log.attributes).toMatchObject({ x_request_id: "rq-9", response_exception: "no provider", response_code: "50", trace_id: "", span_id: "" });
  });

  test("one record per call with DeepFlow's field names, the 5-tuples and the times", async () => {
    const h = await host(dubbo, { tracing: tracing({ sampling: { percent: 0, parent_based: false } }), flow_logs: { collector_cluster: "otel", flush_interval_ms: 100 } }, {
      properties: { "upstream.address": "10.0.0.9:20880", "upstream.local_address": "10.0.0.1:40001" },
    });
    const c = h.newConnection({ properties: { "source.address": "10.0.0.7:5123", "destination.address": "10.0.0.1:20000" } });
    const req = request({ id: 5n, attachments: { traceparent: TRACEPARENT, "x-request-id": "rq-1" } });
    c.downstream(req);
    h.advanceTime(3);
    const resp = response(5n, { status: 70, value: "boom" });
    c.upstream(resp);
    const calls = flush(h);
    const logs = calls.filter((g) => g.serviceName === LOGS_SERVICE).flatMap((g) => decodeLogsExport(g.request));
    expect(logs).toHaveLength(1);
    const [log] = logs;
    expect(log.eventName).toBe("l7_flow_log");
    expect(log.severityNumber).toBe(17);
    expect(log.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(log.attributes).toMatchObject({
      l7_protocol: 40, l7_protocol_str: "Dubbo", type: 2, request_type: "sayHello", request_domain: SERVICE,
      request_id: 5, endpoint: `${SERVICE}/sayHello`, response_status: "server_error", response_code: "70",
      response_duration: 3000, request_length: req.length, response_length: resp.length,
      response_exception: "boom", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", x_request_id: "rq-1",
      protocol: 6, ip_0: "10.0.0.7", client_port: 5123, ip_1: "10.0.0.1", server_port: 20000,
      "upstream.ip_0": "10.0.0.1", "upstream.client_port": 40001, "upstream.ip_1": "10.0.0.9", "upstream.server_port": 20880,
    });
    expect(Number(log.attributes.end_time) - Number(log.attributes.start_time)).toBe(3000);
    expect(log.timeUnixNano / 1000n).toBe(BigInt(log.attributes.start_time as number));
    // The unsampled call made no span.
    expect(spansOf(calls)).toEqual([]);
  });
});

describe("MySQL and Thrift spans", () => {
  let mysql: WebAssembly.Module;
  let thrift: WebAssembly.Module;
  beforeAll(async () => {
    mysql = await compiledCodec("mysql");
    thrift = await compiledCodec("thrift");
  }, 240_000);

  const packet = (seq: number, payload: Buffer) => {
    const h = Buffer.alloc(4);
    h.writeUIntLE(payload.length, 0, 3);
    h[3] = seq;
    return Buffer.concat([h, payload]);
  };

  test("MySQL (a real mysql2 session): spans carry the query's text (cut), the schema and the server's errors", async () => {
    const { session, play } = await import("../../codecs/mysql/test_frames");
    const h = await host(mysql, { tracing: tracing({ max_query_text_length: 20, max_queue: 1000 }) });
    const recording = session("mysql2");
    const out = play(h.newConnection(), recording.turns);
    expect(out.downstream.equals(recording.request)).toBe(true); // MySQL carries no context: bytes untouched
    const spans = spansOf(flush(h));
    expect(spans.every((s) => s.attributes["db.system.name"] === "mysql" && s.attributes["db.system"] === "mysql")).toBe(true);
    const missing = spans.find((s) => s.attributes["db.response.status_code"] === "1146")!;
    expect(missing.name).toBe("COM_QUERY:SELECT");
    expect(missing.attributes["db.operation.name"]).toBe("COM_QUERY:SELECT");
    expect(missing.attributes["db.namespace"]).toBe("metaproto");
    expect((missing.attributes["db.query.text"] as string).length).toBe(20);
    expect(missing.attributes["db.statement"]).toBe(missing.attributes["db.query.text"]);
    expect(missing.status.code).toBe(2);
    expect(missing.status.message).toMatch(/doesn't exist/);
    const login = spans.find((s) => s.name === "LOGIN")!;
    expect(login.attributes["db.query.text"]).toBeUndefined();
  });

  test("Thrift: an RPC span named service/method, system apache_thrift", async () => {
    const h = await host(thrift, { tracing: tracing() });
    const c = h.newConnection();
    // TBinaryProtocol strict, framed: CALL "Calc:add" seqid 1, empty struct; REPLY with a void success.
    const name = Buffer.from("Calc:add");
    const call = Buffer.concat([Buffer.from([0x80, 0x01, 0x00, 0x01]), u32be(name.length), name, u32be(1), Buffer.from([0x00])]);
    const reply = Buffer.concat([Buffer.from([0x80, 0x01, 0x00, 0x02]), u32be(name.length), name, u32be(1), Buffer.from([0x00])]);
    const sent = c.downstream(Buffer.concat([u32be(call.length), call])).forwarded;
    expect(Buffer.from(sent).equals(Buffer.concat([u32be(call.length), call]))).toBe(true); // no THeader: nothing to carry a context
    c.upstream(Buffer.concat([u32be(reply.length), reply]));
    const [span] = spansOf(flush(h));
    expect(span.name).toBe("Calc/add");
    expect(span.attributes).toMatchObject({ "rpc.system.name": "apache_thrift", "rpc.system": "apache_thrift", "rpc.method": "Calc/add", "rpc.service": "Calc" });
  });
});

describe("Thrift THeader carries the trace context in its info headers", () => {
  let thrift: WebAssembly.Module;
  beforeAll(async () => {
    thrift = await compiledCodec("thrift");
  }, 240_000);

  /** Sends a THeader call (sayHello, seqid 7) and its reply; returns what the server got. */
  const callAndReply = async (h: ProxyTestHost, headers: Record<string, string>) => {
    const { call, reply, theaderFrame } = await import("../../codecs/thrift/test_frames");
    const c = h.newConnection();
    const forwarded = Buffer.from(c.downstream(theaderFrame(call("binary", "buffered", "sayHello", 7), { seqid: 7, headers })).forwarded);
    c.upstream(theaderFrame(reply("binary", "buffered", "sayHello", null, 7), { seqid: 7 }));
    return forwarded;
  };

  test("a call carrying traceparent is the parent of the span; the server gets the span as its parent", async () => {
    const h = await host(thrift, { tracing: tracing() });
    const forwarded = await callAndReply(h, { traceparent: TRACEPARENT, tenant: "t1" });
    const [span] = spansOf(flush(h));
    expect(span.traceId).toBe(TRACEPARENT.split("-")[1]);
    expect(span.parentSpanId).toBe(TRACEPARENT.split("-")[2]);
    expect(forwarded.includes(Buffer.from(`00-${span.traceId}-${span.spanId}-01`))).toBe(true);
    expect(forwarded.includes(Buffer.from("tenant"))).toBe(true);
  });

  test("a call without one starts a trace and the server gets it", async () => {
    const h = await host(thrift, { tracing: tracing() });
    const forwarded = await callAndReply(h, {});
    const [span] = spansOf(flush(h));
    expect(span.parentSpanId).toBe("");
    expect(forwarded.includes(Buffer.from(`traceparent`))).toBe(true);
    expect(forwarded.includes(Buffer.from(`00-${span.traceId}-${span.spanId}-01`))).toBe(true);
  });
});

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u64le(n: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}
