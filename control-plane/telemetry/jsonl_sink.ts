// The default sink: one JSON object per line, appended to a file. Ids are hex, times nanoseconds
// since the epoch (decimal strings when they do not fit a double exactly), attributes flat objects.
import * as fs from "fs";
import * as path from "path";
import type { Signal, TelemetryItem } from "./items";
import { hex, longToJson, plainAttributes, plainValue } from "./otlp";
import { Sink, SinkError } from "./pipeline";

const optionalLong = (value: string | undefined) => (value === undefined ? undefined : longToJson(value));

export function jsonLine(item: TelemetryItem): string {
  const { origin } = item;
  const common = {
    resource: plainAttributes(origin.resource?.attributes),
    scope: origin.scope ? { name: origin.scope.name ?? "", version: origin.scope.version ?? "" } : undefined,
  };
  if (item.signal === "traces") {
    const span = item.record;
    return JSON.stringify({
      signal: "traces", trace_id: hex(span.trace_id), span_id: hex(span.span_id),
      parent_span_id: hex(span.parent_span_id) || undefined, name: span.name ?? "", kind: span.kind ?? 0,
      start_time_unix_nano: optionalLong(span.start_time_unix_nano), end_time_unix_nano: optionalLong(span.end_time_unix_nano),
      status: span.status, attributes: plainAttributes(span.attributes), ...common,
    });
  }
  const record = item.record;
  return JSON.stringify({
    signal: "logs", time_unix_nano: optionalLong(record.time_unix_nano), observed_time_unix_nano: optionalLong(record.observed_time_unix_nano),
    severity_number: record.severity_number, severity_text: record.severity_text, event_name: record.event_name,
    trace_id: hex(record.trace_id) || undefined, span_id: hex(record.span_id) || undefined,
    body: plainValue(record.body), attributes: plainAttributes(record.attributes), ...common,
  });
}

export class JsonLinesSink implements Sink {
  readonly name: string;
  private ready?: Promise<void>;

  constructor(readonly file: string, readonly signals: readonly Signal[] = ["traces", "logs"], name = "jsonl") {
    this.name = name;
  }

  async write(_signal: Signal, items: TelemetryItem[]): Promise<{ rejected?: number }> {
    this.ready ??= fs.promises.mkdir(path.dirname(this.file), { recursive: true }).then(() => undefined);
    try {
      await this.ready;
      // One append per batch: lines of a batch are never interleaved with another writer's.
      await fs.promises.appendFile(this.file, items.map((item) => `${jsonLine(item)}\n`).join(""));
    } catch (err) {
      this.ready = undefined;
      // A full disk or a missing folder may be fixed while the buffer holds: retried.
      throw new SinkError(`cannot append to ${this.file}: ${(err as Error).message}`, true);
    }
    return {};
  }
}
