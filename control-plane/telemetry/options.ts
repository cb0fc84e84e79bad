// The receiver's options in milliseconds and counts, from a Telemetry document's spec (durations as text).
import { parseDuration, sinkName, TelemetrySpec, telemetrySpec } from "../model/schema";
import type { AddressAttributes } from "./enricher";
import { DEFAULT_ADDRESS_ATTRIBUTES } from "./enricher";
import type { EnrichmentCacheOptions } from "./enrichment_cache";
import type { Signal } from "./items";
import type { PipelineOptions } from "./pipeline";

export type SinkOptions =
  | { kind: "jsonLines"; name: string; path: string; signals: Signal[] }
  | { kind: "otlp"; name: string; endpoint: string; signals: Signal[]; timeoutMs: number };

export interface ReceiverOptions {
  grpc?: { address: string; port: number };
  http?: { address: string; port: number };
  enrichment: EnrichmentCacheOptions & { addresses: AddressAttributes[] };
  pipeline: PipelineOptions;
  sinks: SinkOptions[];
  shutdownGraceMs: number;
}

const ALL_SIGNALS: Signal[] = ["traces", "logs"];

export function receiverOptions(spec: TelemetrySpec = telemetrySpec.parse({})): ReceiverOptions {
  return {
    grpc: spec.otlp.grpc, http: spec.otlp.http,
    enrichment: {
      refreshIntervalMs: parseDuration(spec.enrichment.refreshInterval),
      expireAfterMs: parseDuration(spec.enrichment.expireAfter),
      checkIntervalMs: parseDuration(spec.enrichment.checkInterval),
      addresses: spec.enrichment.addresses ?? DEFAULT_ADDRESS_ATTRIBUTES,
    },
    pipeline: {
      maxBufferedItems: spec.buffer.maxRecords,
      batchMaxItems: spec.batch.maxRecords,
      batchMaxDelayMs: parseDuration(spec.batch.maxDelay),
      initialBackoffMs: parseDuration(spec.retry.initialBackoff),
      maxBackoffMs: parseDuration(spec.retry.maxBackoff),
      backoffMultiplier: spec.retry.multiplier,
      jitter: 0.2,
    },
    sinks: spec.sinks.map((sink): SinkOptions => "jsonLines" in sink
      ? { kind: "jsonLines", name: sinkName(sink), path: sink.jsonLines.path, signals: sink.jsonLines.signals ?? ALL_SIGNALS }
      : { kind: "otlp", name: sinkName(sink), endpoint: sink.otlp.endpoint, signals: sink.otlp.signals ?? ALL_SIGNALS, timeoutMs: parseDuration(sink.otlp.timeout) }),
    shutdownGraceMs: parseDuration(spec.shutdownGrace),
  };
}
