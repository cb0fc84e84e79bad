// `metaproto serve`: the ADS server fed by watched configuration files. A change that does not
// validate is logged with its errors and never reaches Envoy; the last good configuration keeps serving.
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import type { Logger } from "pino";
import { compileConfig } from "./configure";
import { pinModule } from "./resources/translate";
import { Revisions } from "./resources/revisions";
import { statusReport, StatusReport } from "./status";
import { MetricsWindow } from "./status_page/aggregation";
import { handleStatusPage } from "./status_page/handler";
import { EnvoyScraper, EnvoyTarget } from "./status_page/scraper";
import { TYPE_URLS } from "./resources/types";
import type { Located, Model } from "./model/load";
import type { TelemetryDocument, TelemetrySpec } from "./model/schema";
import { directoryFromModel, ResolveAddress } from "./telemetry/directory";
import { receiverOptions } from "./telemetry/options";
import { TelemetryReceiver } from "./telemetry/receiver";
import { ConfigWatcher } from "./watch";
import { hostPort } from "./status_page/envoy_admin";
import { ANY_NODE, SimpleCache } from "./xds/cache";
import { XdsServer } from "./xds/server/server";

export interface ServeOptions {
  files: string[];
  wasmDir: string;
  address: string;
  port: number;
  debounceMs: number;
  log: Logger;
  /** HTTP for `metaproto status` (GET /status, JSON) and the codec modules (GET /wasm/<protocol>.wasm). */
  http?: { address: string; port: number };
  /** Where each codec build is copied under its sha256 (see TranslateOptions.moduleFile); none: Envoy reads wasmDir. */
  pinDir?: string;
  /** Envoy admin addresses to scrape besides those the Envoys name in their node metadata. */
  envoyAdmins?: string[];
  /** The status page's scrapes: how often, how far back it keeps them, what one rate point covers. */
  scrape?: { intervalMs: number; windowMs: number; rateWindowMs: number };
}

export const DEFAULT_SCRAPE = { intervalMs: 2000, windowMs: 300_000, rateWindowMs: 10_000 };

export class ControlPlane {
  readonly cache = new SimpleCache();
  private readonly revisions = new Revisions();
  readonly server: XdsServer;
  private watchers: ConfigWatcher[] = [];
  private httpServer?: http.Server;
  private httpPort?: number;
  /** Loads that were rejected / pushed since start, and the errors of the last load if it was rejected. */
  rejected = 0;
  applied = 0;
  lastErrors: string[] = [];
  readonly scraper: EnvoyScraper;
  /** Runs when the configuration has a Telemetry document at start (README "Telemetry receiver"). */
  receiver?: TelemetryReceiver;
  private directory: ResolveAddress = () => undefined;
  private telemetryDocument?: Located<TelemetryDocument>;
  /** The spec the receiver started with, to tell when a reload changed it. */
  private receiverSpec?: TelemetrySpec;

  constructor(private readonly options: ServeOptions) {
    this.server = new XdsServer(this.cache, options.log);
    const scrape = options.scrape ?? DEFAULT_SCRAPE;
    this.scraper = new EnvoyScraper(new MetricsWindow(scrape.windowMs, scrape.rateWindowMs), () => this.envoyTargets(), scrape.intervalMs, options.log);
  }

  /** The Envoys to scrape: connected ones that named their admin address, and --envoy-admin. */
  envoyTargets(): EnvoyTarget[] {
    const targets = new Map<string, EnvoyTarget>();
    for (const [id, node] of this.server.status.nodes) if (node.admin && node.streams > 0) targets.set(node.admin, { address: node.admin, node: id });
    for (const address of this.options.envoyAdmins ?? []) if (!targets.has(address)) targets.set(address, { address });
    return [...targets.values()];
  }

  /** Loads the configuration (it must be valid), starts the ADS server and the watch; resolves to the port. */
  async start(): Promise<number> {
    if (this.options.http) {
      await this.serveHttp(this.options.http.address, this.options.http.port);
      this.scraper.start();
    }
    if (!this.reload()) throw new Error("the configuration has errors (above): fix them and start again");
    const port = await this.server.listen(this.options.address, this.options.port);
    await this.startReceiver();
    this.watchers.push(new ConfigWatcher(this.options.files, this.options.debounceMs, () => this.reload()));
    // A new codec build is a new file in the filter config: pushed like a configuration change.
    if (this.options.pinDir) this.watchers.push(new ConfigWatcher([this.options.wasmDir], this.options.debounceMs, () => this.reload(), /\.wasm$/));
    this.options.log.info({ address: `${this.options.address}:${port}`, files: this.options.files }, "serving ADS (state of the world and delta); watching the files");
    return port;
  }

  status(): StatusReport {
    return statusReport(this.server.status, { applied: this.applied, rejected: this.rejected, lastErrors: this.lastErrors });
  }

  /** Serves GET /status and GET /wasm/<protocol>.wasm; resolves to the port. */
  serveHttp(address: string, port: number): Promise<number> {
    const server = http.createServer((request, response) => {
      const wasm = /^\/wasm\/([a-z][a-z0-9_]*\.wasm)$/.exec(request.url ?? "");
      if (handleStatusPage({ metrics: () => this.scraper.window.view(), status: () => this.status(), targets: () => this.envoyTargets() }, request, response)) {
        return;
      } else if (request.method === "GET" && request.url === "/status") {
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(this.status()));
      } else if (request.method === "GET" && wasm) {
        fs.readFile(path.join(this.options.wasmDir, wasm[1]), (err, bytes) => {
          if (err) response.writeHead(404, { "content-type": "text/plain" }).end(`no ${wasm[1]}\n`);
          else response.writeHead(200, { "content-type": "application/wasm" }).end(bytes);
          this.options.log.debug({ module: wasm[1], found: !err }, "module requested");
        });
      } else {
        response.writeHead(404, { "content-type": "text/plain" }).end("GET / (status page), /status or /wasm/<protocol>.wasm\n");
      }
    });
    this.httpServer = server;
    return new Promise((resolve, reject) => {
      server.once("error", (err) => reject(new Error(`cannot serve HTTP on ${address}:${port}: ${err.message} (choose another --http-listen)`)));
      server.listen(port, address, () => {
        this.httpPort = (server.address() as { port: number }).port;
        this.options.log.info({ address: `${address}:${this.httpPort}`, statusPage: `http://${hostPort(address, this.httpPort!)}/` },
          "HTTP: the status page (GET /), GET /status (for metaproto status), GET /wasm/<protocol>.wasm, GET /prometheus/targets");
        resolve(this.httpPort);
      });
    });
  }

  /** Reads the files again; pushes them if they are valid. Returns whether they were. */
  reload(): boolean {
    const { log } = this.options;
    const { wasmDir, pinDir } = this.options;
    // Each Service names its protocol's module: read and hash each module once per reload, not once per
    // Service (1,000 Services hashed 200 MB, a fifth of a second, on every reload).
    const pinned = new Map<string, string>();
    const compiled = compileConfig(this.options.files, {
      wasmDir, previous: this.cache.getSnapshot(ANY_NODE),
      moduleFile: pinDir ? (protocol) => pinned.get(protocol) ?? pinned.set(protocol, pinModule(wasmDir, pinDir, protocol)).get(protocol)! : undefined,
      revisionOf: (service, configuration) => this.revisions.of(service, configuration),
    });
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
    this.useModel(compiled.model);
    log.info({
      services: compiled.model.services.size, routers: compiled.model.routers.size,
      versions: Object.fromEntries(Object.entries(TYPE_URLS).map(([kind, url]) => [kind, compiled.snapshot.version(url)])),
    }, "configuration loaded");
    return true;
  }

  /** The receiver enriches with the latest valid model; a change of its own options needs a restart. */
  private useModel(model: Model): void {
    this.directory = directoryFromModel(model);
    this.receiver?.cache.refresh();
    this.telemetryDocument = [...model.telemetry.values()][0];
    if (this.receiver && JSON.stringify(this.telemetryDocument?.value.spec) !== JSON.stringify(this.receiverSpec)) {
      this.options.log.warn("the Telemetry document changed: the receiver keeps its listeners and sinks until serve restarts (enrichment follows the new model now)");
    }
  }

  private async startReceiver(): Promise<void> {
    const document = this.telemetryDocument;
    if (!document) return;
    this.receiverSpec = document.value.spec;
    this.receiver = new TelemetryReceiver(receiverOptions(document.value.spec), () => this.directory,
      this.options.log.child({ component: "telemetry" }));
    await this.receiver.start();
  }

  async stop(): Promise<void> {
    await this.receiver?.stop();
    for (const watcher of this.watchers) watcher.close();
    await this.scraper.stop();
    this.httpServer?.close();
    this.server.forceStop();
  }
}
