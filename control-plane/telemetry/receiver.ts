// The telemetry receiver: OTLP in (gRPC and HTTP), enrichment from the configuration model, then
// one bounded, batching, retrying pipeline per sink and signal; its own metrics on GET /metrics.
import type * as grpc from "@grpc/grpc-js";
import type * as http from "http";
import type { Logger } from "pino";
import type { ResolveAddress } from "./directory";
import { Enricher } from "./enricher";
import { EnrichmentCache } from "./enrichment_cache";
import type { TelemetryItem } from "./items";
import { JsonLinesSink } from "./jsonl_sink";
import { MetricsRegistry } from "./metrics";
import type { ReceiverOptions } from "./options";
import { bindGrpc, otlpGrpcServer } from "./otlp_grpc_server";
import { listenHttp, otlpHttpServer } from "./otlp_http_server";
import { OtlpGrpcSink } from "./otlp_sink";
import { Sink, SinkPipeline } from "./pipeline";

export class TelemetryReceiver {
  readonly metrics = new MetricsRegistry();
  readonly cache: EnrichmentCache;
  readonly pipelines: SinkPipeline[] = [];
  private readonly enricher: Enricher;
  private readonly countReceived;
  private readonly countEnriched;
  private readonly countBadRequests;
  private grpcServer?: grpc.Server;
  private httpServer?: http.Server;
  private readonly sinks: Sink[];
  /** Bound ports (useful when the options asked for port 0). */
  grpcPort?: number;
  httpPort?: number;

  /** directory() is asked for the current model's addresses: it changes when the configuration reloads. */
  constructor(readonly options: ReceiverOptions, directory: () => ResolveAddress, private readonly log: Logger, sinks?: Sink[]) {
    this.cache = new EnrichmentCache(directory, options.enrichment);
    this.enricher = new Enricher(this.cache, options.enrichment.addresses);
    this.countReceived = this.metrics.counter("metaproto_receiver_received_total", "Records received, by signal and transport");
    this.countEnriched = this.metrics.counter("metaproto_receiver_enriched_total", "Records with at least one address the configuration knows");
    this.countBadRequests = this.metrics.counter("metaproto_receiver_bad_requests_total", "Export requests refused, by reason (undecodable, content_type, too_large)");
    this.metrics.gauge("metaproto_receiver_enrichment_cache_entries", "Cached addresses: known (positive) and unknown (negative)", { kind: "positive" }, () => this.cache.size().positive);
    this.metrics.gauge("metaproto_receiver_enrichment_cache_entries", "Cached addresses: known (positive) and unknown (negative)", { kind: "negative" }, () => this.cache.size().negative);
    this.sinks = sinks ?? options.sinks.map((sink) => sink.kind === "jsonLines"
      ? new JsonLinesSink(sink.path, sink.signals, sink.name)
      : new OtlpGrpcSink({ endpoint: sink.endpoint, signals: sink.signals, timeoutMs: sink.timeoutMs, name: sink.name }));
    for (const sink of this.sinks) {
      for (const signal of sink.signals) this.pipelines.push(new SinkPipeline(sink, signal, options.pipeline, this.metrics, log));
    }
  }

  /**
   * Enriches records and hands them to every pipeline that takes their signal. Returns the most
   * records any one pipeline had to drop, which the export response reports as rejected (OTLP's
   * partial success), so the sender sees the loss too.
   */
  accept(items: TelemetryItem[], transport: "grpc" | "http" | "local" = "local"): number {
    const received = { traces: 0, logs: 0 };
    const enriched = { traces: 0, logs: 0 };
    for (const item of items) {
      received[item.signal]++;
      if (this.enricher.enrich(item)) enriched[item.signal]++;
    }
    for (const signal of ["traces", "logs"] as const) {
      if (received[signal]) this.countReceived({ signal, transport }, received[signal]);
      if (enriched[signal]) this.countEnriched({ signal }, enriched[signal]);
    }
    let rejected = 0;
    for (const pipeline of this.pipelines) rejected = Math.max(rejected, pipeline.offer(items));
    return rejected;
  }

  async start(): Promise<void> {
    this.cache.start();
    const accept = (items: TelemetryItem[], transport: "grpc" | "http") => this.accept(items, transport);
    const badRequest = (signal: string, transport: string, reason: string) => {
      this.countBadRequests({ signal, transport, reason });
      this.log.debug({ signal, transport, reason }, "export request refused");
    };
    const { grpc: grpcListen, http: httpListen } = this.options;
    if (grpcListen) {
      this.grpcServer = otlpGrpcServer(accept, badRequest);
      this.grpcPort = await bindGrpc(this.grpcServer, grpcListen.address, grpcListen.port);
    }
    if (httpListen) {
      this.httpServer = otlpHttpServer(accept, badRequest, () => this.metrics.render());
      this.httpPort = await listenHttp(this.httpServer, httpListen.address, httpListen.port);
    }
    this.log.info({
      otlpGrpc: grpcListen ? `${grpcListen.address}:${this.grpcPort}` : "off",
      otlpHttp: httpListen ? `${httpListen.address}:${this.httpPort}` : "off",
      metrics: httpListen ? `http://${httpListen.address}:${this.httpPort}/metrics` : "off",
      sinks: this.pipelines.map((p) => `${p.sink.name}/${p.signal}`),
      bufferRecords: this.options.pipeline.maxBufferedItems,
    }, "telemetry receiver listening");
  }

  /** Stops taking records, gives the sinks shutdownGraceMs to take what is buffered, then closes them. */
  async stop(): Promise<void> {
    this.cache.stop();
    this.grpcServer?.forceShutdown();
    const httpClosed = new Promise<void>((resolve) => (this.httpServer ? this.httpServer.close(() => resolve()) : resolve()));
    this.httpServer?.closeAllConnections();
    await httpClosed;
    await Promise.all(this.pipelines.map((p) => p.stop(this.options.shutdownGraceMs)));
    await Promise.all(this.sinks.map((s) => s.close?.()));
    this.log.info({ dropped: this.metrics.sum("metaproto_receiver_dropped_total") }, "telemetry receiver stopped");
  }
}
