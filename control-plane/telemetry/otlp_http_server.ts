// OTLP/HTTP with protobuf bodies (POST /v1/traces, /v1/logs; gzip accepted), and the receiver's
// metrics (GET /metrics, Prometheus text format) on the same listener.
import * as http from "http";
import * as zlib from "zlib";
import { Accept, BadRequest, exportResponse } from "./otlp_grpc_server";
import type { TelemetryItem } from "./items";
import { itemsFromLogs, itemsFromTraces } from "./items";
import { decodeLogs, decodeTraces } from "./otlp";

const MAX_BODY_BYTES = 64 * 1024 * 1024;

export function otlpHttpServer(accept: Accept, badRequest: BadRequest, renderMetrics: () => string): http.Server {
  const routes: Record<string, { signal: "traces" | "logs"; decode: (b: Buffer) => TelemetryItem[] }> = {
    "/v1/traces": { signal: "traces", decode: (b) => itemsFromTraces(decodeTraces(b)) },
    "/v1/logs": { signal: "logs", decode: (b) => itemsFromLogs(decodeLogs(b)) },
  };
  return http.createServer((request, response) => {
    const url = (request.url ?? "").split("?")[0];
    if (request.method === "GET" && url === "/metrics") {
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(renderMetrics());
      return;
    }
    const route = routes[url];
    if (request.method !== "POST" || !route) {
      response.writeHead(404, { "content-type": "text/plain" }).end("POST /v1/traces or /v1/logs (application/x-protobuf); GET /metrics\n");
      return;
    }
    const type = (request.headers["content-type"] ?? "").split(";")[0].trim();
    if (type !== "application/x-protobuf") {
      badRequest(route.signal, "http", "content_type");
      response.writeHead(415, { "content-type": "text/plain" }).end("only application/x-protobuf bodies are taken\n");
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        badRequest(route.signal, "http", "too_large");
        response.writeHead(413).end();
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on("end", () => {
      if (size > MAX_BODY_BYTES) return;
      let items: TelemetryItem[];
      try {
        let body = Buffer.concat(chunks);
        if (request.headers["content-encoding"] === "gzip") body = zlib.gunzipSync(body);
        items = route.decode(body);
      } catch (err) {
        badRequest(route.signal, "http", "undecodable");
        response.writeHead(400, { "content-type": "text/plain" }).end(`not an OTLP ${route.signal} export request: ${(err as Error).message}\n`);
        return;
      }
      response.writeHead(200, { "content-type": "application/x-protobuf" }).end(exportResponse(route.signal, accept(items, "http")));
    });
  });
}

export function listenHttp(server: http.Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`cannot listen for OTLP/HTTP on ${address}:${port}: ${err.message}`)));
    server.listen(port, address, () => resolve((server.address() as { port: number }).port));
  });
}
