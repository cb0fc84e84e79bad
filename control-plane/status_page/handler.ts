// The status page's HTTP routes, mounted on `metaproto serve`'s --http-listen:
//   GET /                     the page (page/index.html; its script polls the two JSON routes)
//   GET /page/<file>          the page's script and style
//   GET /vendor/uplot.<ext>   uPlot, the chart library, from node_modules (nothing from the internet)
//   GET /api/metrics          the aggregated metrics of the Envoys (MetricsView)
//   GET /api/status           `metaproto status`'s report, each NACK with the text of its YAML documents
//   GET /prometheus/targets   the Envoys' admin addresses, for Prometheus' http_sd_configs
import * as fs from "fs";
import type * as http from "http";
import * as path from "path";
import * as YAML from "yaml";
import { repoRoot } from "../xds/api";
import type { StatusReport } from "../status";
import type { MetricsView } from "./aggregation";
import { TARGETS_PATH } from "./prometheus_config";
import type { EnvoyTarget } from "./scraper";

export interface StatusPageSources {
  metrics: () => MetricsView;
  status: () => StatusReport;
  targets: () => EnvoyTarget[];
}

const PAGE_DIR = path.join(repoRoot(), "control-plane", "status_page", "page");
const STATIC: Record<string, { file: () => string; type: string }> = {
  "/": { file: () => path.join(PAGE_DIR, "index.html"), type: "text/html; charset=utf-8" },
  "/page/app.js": { file: () => path.join(PAGE_DIR, "app.js"), type: "text/javascript; charset=utf-8" },
  "/page/style.css": { file: () => path.join(PAGE_DIR, "style.css"), type: "text/css; charset=utf-8" },
  "/vendor/uplot.js": { file: () => require.resolve("uplot/dist/uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/vendor/uplot.css": { file: () => require.resolve("uplot/dist/uPlot.min.css"), type: "text/css; charset=utf-8" },
};

/** "FILE document N (Kind name)", as translate names a resource's origin → that document's YAML text. */
export function documentText(origin: string): string | undefined {
  const match = /^(.*) document (\d+) \(/.exec(origin);
  if (!match) return undefined;
  try {
    const text = fs.readFileSync(match[1], "utf8");
    const document = YAML.parseAllDocuments(text)[Number(match[2]) - 1];
    if (!document || Array.isArray(document) || !document.range) return undefined;
    // A document's range starts at its `---` marker and may run into the next one.
    return text.slice(document.range[0], document.range[1]).replace(/^---[^\n]*\n/, "").replace(/\s*(---\s*)?$/, "\n");
  } catch {
    return undefined;
  }
}

export interface StatusWithDocuments extends StatusReport {
  documents: Record<string, string>;
}

export function statusWithDocuments(report: StatusReport): StatusWithDocuments {
  const documents: Record<string, string> = {};
  for (const node of report.nodes) for (const t of node.types) for (const origin of t.nack?.origins ?? []) {
    const text = documentText(origin);
    if (text !== undefined) documents[origin] = text;
  }
  return { ...report, documents };
}

/** Answers the request if it is one of the page's routes; returns whether it was. */
export function handleStatusPage(sources: StatusPageSources, request: http.IncomingMessage, response: http.ServerResponse): boolean {
  if (request.method !== "GET") return false;
  const url = (request.url ?? "").split("?")[0];
  const json = (value: unknown) => response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(value));
  if (url === "/api/metrics") json(sources.metrics());
  else if (url === "/api/status") json(statusWithDocuments(sources.status()));
  else if (url === TARGETS_PATH) json(sources.targets().map(({ address, node }) => ({ targets: [address], labels: node ? { envoy_node: node } : {} })));
  else if (STATIC[url]) {
    const { file, type } = STATIC[url];
    fs.readFile(file(), (err, bytes) => {
      if (err) response.writeHead(500, { "content-type": "text/plain" }).end(`cannot read ${url}: ${err.message}\n`);
      else response.writeHead(200, { "content-type": type }).end(bytes);
    });
  } else return false;
  return true;
}
