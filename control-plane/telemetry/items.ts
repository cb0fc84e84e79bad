// What the receiver buffers: one span or one log record with the resource and scope it came with.
// Buffers count and drop single records, so a bound and a drop count mean records, not requests.
import type { ExportLogsRequest, ExportTraceRequest, LogRecord, Resource, Scope, Span } from "./otlp";

export type Signal = "traces" | "logs";
export const SIGNALS: readonly Signal[] = ["traces", "logs"];

/** The resource and scope a record came under; records of one request share the same object. */
export interface Origin {
  resource?: Resource;
  resourceSchemaUrl?: string;
  scope?: Scope;
  scopeSchemaUrl?: string;
}

export type TelemetryItem =
  | { signal: "traces"; origin: Origin; record: Span }
  | { signal: "logs"; origin: Origin; record: LogRecord };

export function itemsFromTraces(request: ExportTraceRequest): TelemetryItem[] {
  const items: TelemetryItem[] = [];
  for (const resourceSpans of request.resource_spans ?? []) {
    for (const scopeSpans of resourceSpans.scope_spans ?? []) {
      const origin: Origin = {
        resource: resourceSpans.resource, resourceSchemaUrl: resourceSpans.schema_url,
        scope: scopeSpans.scope, scopeSchemaUrl: scopeSpans.schema_url,
      };
      for (const span of scopeSpans.spans ?? []) items.push({ signal: "traces", origin, record: span });
    }
  }
  return items;
}

export function itemsFromLogs(request: ExportLogsRequest): TelemetryItem[] {
  const items: TelemetryItem[] = [];
  for (const resourceLogs of request.resource_logs ?? []) {
    for (const scopeLogs of resourceLogs.scope_logs ?? []) {
      const origin: Origin = {
        resource: resourceLogs.resource, resourceSchemaUrl: resourceLogs.schema_url,
        scope: scopeLogs.scope, scopeSchemaUrl: scopeLogs.schema_url,
      };
      for (const record of scopeLogs.log_records ?? []) items.push({ signal: "logs", origin, record });
    }
  }
  return items;
}

/** Groups records back under their resource and scope (by identity: records of one request share them). */
function groupByOrigin<T>(records: { origin: Origin; record: T }[]) {
  const byResource = new Map<Resource | undefined, { first: Origin; scopes: Map<Scope | undefined, { origin: Origin; records: T[] }> }>();
  for (const { origin, record } of records) {
    let resource = byResource.get(origin.resource);
    if (!resource) byResource.set(origin.resource, resource = { first: origin, scopes: new Map() });
    let scope = resource.scopes.get(origin.scope);
    if (!scope) resource.scopes.set(origin.scope, scope = { origin, records: [] });
    scope.records.push(record);
  }
  return [...byResource.values()];
}

export function tracesRequest(items: TelemetryItem[]): ExportTraceRequest {
  const spans = items.filter((i): i is Extract<TelemetryItem, { signal: "traces" }> => i.signal === "traces");
  return {
    resource_spans: groupByOrigin(spans).map(({ first, scopes }) => ({
      resource: first.resource, schema_url: first.resourceSchemaUrl,
      scope_spans: [...scopes.values()].map(({ origin, records }) => ({ scope: origin.scope, schema_url: origin.scopeSchemaUrl, spans: records })),
    })),
  };
}

export function logsRequest(items: TelemetryItem[]): ExportLogsRequest {
  const logs = items.filter((i): i is Extract<TelemetryItem, { signal: "logs" }> => i.signal === "logs");
  return {
    resource_logs: groupByOrigin(logs).map(({ first, scopes }) => ({
      resource: first.resource, schema_url: first.resourceSchemaUrl,
      scope_logs: [...scopes.values()].map(({ origin, records }) => ({ scope: origin.scope, schema_url: origin.scopeSchemaUrl, log_records: records })),
    })),
  };
}
