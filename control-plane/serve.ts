// `metaproto serve`: the ADS server fed by watched configuration files. A change that does not
// validate is logged with its errors and never reaches Envoy; the last good configuration keeps serving.
import * as http from "http";
import type { Logger } from "pino";
import { compileConfig } from "./configure";
import { statusReport, StatusReport } from "./status";
import { TYPE_URLS } from "./resources/types";
import { ConfigWatcher } from "./watch";
import { ANY_NODE, SimpleCache } from "./xds/cache";
import { XdsServer } from "./xds/server/server";

export interface ServeOptions {
  files: string[];
  wasmDir: string;
  address: string;
  port: number;
  debounceMs: number;
  log: Logger;
  /** Where `metaproto status` asks (GET /status, JSON); no status endpoint when absent. */
  status?: { address: string; port: number };
}

export class ControlPlane {
  readonly cache = new SimpleCache();
  readonly server: XdsServer;
  private watcher?: ConfigWatcher;
  private statusServer?: http.Server;
  /** Loads that were rejected / pushed since start, and the errors of the last load if it was rejected. */
  rejected = 0;
  applied = 0;
  lastErrors: string[] = [];

  constructor(private readonly options: ServeOptions) {
    this.server = new XdsServer(this.cache, options.log);
  }

  /** Loads the configuration (it must be valid), starts the ADS server and the watch; resolves to the port. */
  async start(): Promise<number> {
    if (!this.reload()) throw new Error("the configuration has errors (above): fix them and start again");
    const port = await this.server.listen(this.options.address, this.options.port);
    this.watcher = new ConfigWatcher(this.options.files, this.options.debounceMs, () => this.reload());
    this.options.log.info({ address: `${this.options.address}:${port}`, files: this.options.files }, "serving ADS (state of the world and delta); watching the files");
    if (this.options.status) await this.serveStatus(this.options.status.address, this.options.status.port);
    return port;
  }

  status(): StatusReport {
    return statusReport(this.server.status, { applied: this.applied, rejected: this.rejected, lastErrors: this.lastErrors });
  }

  /** Resolves to the port the status endpoint listens on. */
  serveStatus(address: string, port: number): Promise<number> {
    const server = http.createServer((request, response) => {
      if (request.method !== "GET" || request.url !== "/status") {
        response.writeHead(404, { "content-type": "text/plain" }).end("GET /status\n");
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(this.status()));
    });
    this.statusServer = server;
    return new Promise((resolve, reject) => {
      server.once("error", (err) => reject(new Error(`cannot serve status on ${address}:${port}: ${err.message} (choose another --status-listen)`)));
      server.listen(port, address, () => {
        const bound = (server.address() as { port: number }).port;
        this.options.log.info({ address: `${address}:${bound}` }, "status for `metaproto status` at GET /status");
        resolve(bound);
      });
    });
  }

  /** Reads the files again; pushes them if they are valid. Returns whether they were. */
  reload(): boolean {
    const { log } = this.options;
    const compiled = compileConfig(this.options.files, { wasmDir: this.options.wasmDir, previous: this.cache.getSnapshot(ANY_NODE) });
    if (!compiled.ok) {
      this.rejected++;
      this.lastErrors = compiled.errors;
      for (const error of compiled.errors) log.error(error);
      log.error({ errors: compiled.errors.length }, this.applied ? "configuration rejected: Envoys keep the last good one; fix the errors above and save again"
        : "configuration rejected");
      return false;
    }
    this.applied++;
    this.lastErrors = [];
    this.cache.setSnapshot(ANY_NODE, compiled.snapshot);
    log.info({
      services: compiled.model.services.size, routers: compiled.model.routers.size,
      versions: Object.fromEntries(Object.entries(TYPE_URLS).map(([kind, url]) => [kind, compiled.snapshot.version(url)])),
    }, "configuration loaded");
    return true;
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    this.statusServer?.close();
    this.server.forceStop();
  }
}
