// The `metaproto` command line.
import { Command, InvalidArgumentError, Option } from "commander";
import * as fs from "fs";
import * as path from "path";
import pino from "pino";
import * as YAML from "yaml";
import { compileConfig } from "../configure";
import { bootstrap, ProxyListener, proxyListenersBootstrap, staticBootstrap } from "../resources/bootstrap";
import { ControlPlane, DEFAULT_SCRAPE } from "../serve";
import { adminMetadata } from "../status_page/envoy_admin";
import { prometheusConfig, recordingRules, RULES_FILE } from "../status_page/prometheus_config";
import { renderStatus, StatusReport } from "../status";
import { up } from "../up";
import { istioManifests, istioPodAnnotations } from "../resources/istio";
import { loadFiles, formatError } from "../model/load";
import { encodeMessage, repoRoot } from "../xds/api";
import { receiverCommand } from "../telemetry/cli";

const LEVELS = ["trace", "debug", "info", "warn", "error", "silent"];

function logger(level: string) {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, pino.destination(2));
}

function hostPort(value: string): { address: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match || Number(match[2]) > 65535) throw new InvalidArgumentError("expected ADDRESS:PORT, e.g. 127.0.0.1:18000");
  return { address: match[1].replace(/^\[(.*)\]$/, "$1"), port: Number(match[2]) };
}

/** A duration as Prometheus writes it (30s, 1m, 500ms) → milliseconds. */
function durationMs(value: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(value);
  if (!match || Number(match[1]) === 0) throw new InvalidArgumentError("expected a duration such as 500ms, 2s, 5m or 1h");
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
}

function prometheusDuration(value: string): string {
  durationMs(value);
  return value;
}

function collect(value: string, previous: string[]): string[] {
  const { address, port } = hostPort(value);
  return [...previous, address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`];
}

function whole(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number");
  return Number(value);
}

function port(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError(`${what}: expected a port, 0 to 65535`);
  return Number(value);
}

// NAME:PORT:UPSTREAM_PORT, repeatable.
function proxyListeners(value: string, previous: ProxyListener[] = []): ProxyListener[] {
  const parts = value.split(":");
  if (parts.length !== 3 || !parts[0]) throw new InvalidArgumentError("expected NAME:PORT:UPSTREAM_PORT, e.g. redis:6380:6379");
  return [...previous, { name: parts[0], port: port(parts[1], "PORT"), upstreamPort: port(parts[2], "UPSTREAM_PORT") }];
}

// NAME:PORT, repeatable.
function extraClusters(value: string, previous: { name: string; port: number }[] = []): { name: string; port: number }[] {
  const parts = value.split(":");
  if (parts.length !== 2 || !parts[0]) throw new InvalidArgumentError("expected NAME:PORT, e.g. provider_b:20881");
  return [...previous, { name: parts[0], port: port(parts[1], "PORT") }];
}

const defaultWasmDir = () => path.join(repoRoot(), "dist", "wasm");

interface BootstrapCommandOptions {
  node?: string; nodeCluster: string; xds: { address: string; port: number }; adminPort: number; adminAddress: string;
  delta?: boolean; static?: boolean; wasmDir: string; listener?: ProxyListener[]; module?: string; pluginConfig?: string;
  connectOnData?: boolean; cluster?: { name: string; port: number }[]; grpcCluster?: { name: string; port: number }[];
  statsFlushInterval: string; format: string; output?: string;
}

const PROXY_LISTENER_OPTIONS = ["--listener", "--module", "--plugin-config", "--connect-on-data", "--cluster", "--grpc-cluster"];

function adsBootstrapOf(files: string[], options: BootstrapCommandOptions): Record<string, unknown> {
  if (!options.node) throw new Error("--node <id> is required (the Envoy's node id), unless --static");
  if (files.length) throw new Error(`files (${files.join(", ")}) are read only with --static; without it Envoy gets its configuration from metaproto serve`);
  const given = proxyListenerOptionsGiven(options);
  if (given.length) throw new Error(`${given.join(", ")} only with --static: without it Envoy gets its listeners from metaproto serve`);
  const value = bootstrap({
    nodeId: options.node, nodeCluster: options.nodeCluster, adminPort: options.adminPort, adminAddress: options.adminAddress,
    xdsAddress: options.xds.address, xdsPort: options.xds.port, delta: options.delta, statsFlushInterval: options.statsFlushInterval,
  });
  // Envoy sends its node metadata with its first xDS request: serve learns where to scrape it.
  (value.node as Record<string, unknown>).metadata = adminMetadata(options.adminAddress, options.adminPort);
  return value;
}

function proxyListenerOptionsGiven(options: BootstrapCommandOptions): string[] {
  const values = [options.listener, options.module, options.pluginConfig, options.connectOnData, options.cluster, options.grpcCluster];
  return PROXY_LISTENER_OPTIONS.filter((_, i) => values[i] !== undefined);
}

function staticBootstrapOf(files: string[], options: BootstrapCommandOptions): Record<string, unknown> {
  const frame = {
    adminPort: options.adminPort, adminAddress: options.adminAddress, statsFlushInterval: options.statsFlushInterval,
    nodeId: options.node, nodeCluster: options.nodeCluster,
  };
  const given = proxyListenerOptionsGiven(options);
  if (files.length) {
    if (given.length) throw new Error(`${given.join(", ")}: the listeners come from FILES (${files.join(", ")}) or from --listener, not both`);
    const compiled = compileConfig(files, { wasmDir: path.resolve(options.wasmDir) });
    if (!compiled.ok) throw new Error(`the configuration has errors:\n${compiled.errors.join("\n")}`);
    return staticBootstrap(compiled.resources, frame);
  }
  if (!given.length) throw new Error("--static needs the configuration files (metaproto bootstrap --static config.yaml) or --listener NAME:PORT:UPSTREAM_PORT");
  if (!options.listener && (options.module !== undefined || options.connectOnData)) throw new Error("--module and --connect-on-data apply to listeners: add --listener NAME:PORT:UPSTREAM_PORT");
  if (options.pluginConfig !== undefined && options.module === undefined) throw new Error("--plugin-config configures the Wasm module: add --module FILE");
  const moduleFile = options.module === undefined ? undefined : path.resolve(options.module);
  if (moduleFile !== undefined && !fs.existsSync(moduleFile)) throw new Error(`--module ${options.module}: no such file (./build.sh build compiles the codecs into dist/wasm/)`);
  return proxyListenersBootstrap({
    ...frame, listeners: options.listener ?? [], moduleFile, pluginConfig: options.pluginConfig,
    connectOnData: options.connectOnData, clusters: options.cluster, grpcClusters: options.grpcCluster,
  });
}

export function program(): Command {
  const cli = new Command("metaproto")
    .description("MetaProto control plane: validates YAML configuration, serves it to Envoys over xDS (ADS), writes their bootstraps")
    .addOption(new Option("--log-level <level>", "log level").choices(LEVELS).default("info"))
    .showHelpAfterError("(run with --help for usage)");

  cli.command("validate")
    .description("check configuration files (or folders of .yaml files) as serve would; exit 1 and name each error's file, document and field")
    .argument("<files...>", "YAML files or folders")
    .option("--wasm-dir <dir>", "folder of the codec modules (<protocol>.wasm)", defaultWasmDir())
    .action((files: string[], options: { wasmDir: string }) => {
      const compiled = compileConfig(files, { wasmDir: path.resolve(options.wasmDir) });
      if (!compiled.ok) {
        for (const error of compiled.errors) process.stderr.write(`${error}\n`);
        process.stderr.write(`${compiled.errors.length} error(s): fix them and run validate again\n`);
        process.exitCode = 1;
        return;
      }
      const counts = [...compiled.resources].map(([url, byName]) => `${byName.size} ${url.split(".").pop()}`).join(", ");
      const telemetry = compiled.model.telemetry.size ? `, ${compiled.model.telemetry.size} Telemetry` : "";
      process.stdout.write(`valid: ${compiled.model.services.size} Service(s), ${compiled.model.routers.size} MetaRouter(s)${telemetry} -> ${counts}\n`);
    });

  cli.command("bootstrap")
    .description("print an Envoy bootstrap that takes all its configuration over ADS from `metaproto serve`; with --static, one that holds its configuration itself: the resources of FILES, or proxy listeners named by --listener")
    .argument("[files...]", "with --static: YAML files or folders")
    .option("--node <id>", "node id (serve keeps per-node state under it); required unless --static")
    .option("--node-cluster <name>", "node cluster (Envoy needs one for ADS)", "metaproto")
    .option("--xds <address:port>", "where metaproto serve listens", hostPort, { address: "127.0.0.1", port: 18000 })
    .option("--admin-port <port>", "Envoy admin port", whole, 9901)
    .option("--admin-address <address>", "Envoy admin address", "127.0.0.1")
    .option("--delta", "use delta xDS instead of state of the world")
    .option("--static", "no control plane: listeners (Wasm filter inline), clusters and endpoints from FILES, or from --listener")
    .option("--wasm-dir <dir>", "with --static FILES: folder of the codec modules", defaultWasmDir())
    .option("--listener <name:port:upstream-port>", "with --static, instead of FILES: a listener on 127.0.0.1:PORT, [the Wasm filter], tcp_proxy (stat prefix NAME) to the cluster NAME at 127.0.0.1:UPSTREAM_PORT; repeat for more", proxyListeners)
    .option("--module <file>", "with --listener: the Wasm module every listener runs before tcp_proxy (e.g. dist/wasm/redis.wasm); without it, tcp_proxy alone")
    .option("--plugin-config <json>", "with --module: the plugin's configuration, passed as given (default {})")
    .option("--connect-on-data", "with --listener: tcp_proxy connects once the first data has passed the Wasm filter, so the filter's connection routes choose the cluster")
    .option("--cluster <name:port>", "with --static, beside --listener: one more cluster, at 127.0.0.1:PORT, for connection routes to name; repeat for more", extraClusters)
    .option("--grpc-cluster <name:port>", "with --static, beside --listener: a gRPC (HTTP/2) cluster at 127.0.0.1:PORT, e.g. the OTLP collector of tracing.collector_cluster; repeatable", extraClusters)
    .option("--stats-flush-interval <duration>", "how often Envoy flushes stats (histograms appear after a flush)", "5s")
    .addOption(new Option("--format <format>", "output format").choices(["yaml", "json"]).default("yaml"))
    .option("-o, --output <file>", "write to this file instead of standard output")
    .addHelpText("after", `
Examples:
  metaproto bootstrap --node edge-1 --xds 127.0.0.1:18000 -o envoy.yaml
  metaproto bootstrap --static control-plane/examples/redis.yaml -o envoy.yaml
  metaproto bootstrap --static --module dist/wasm/redis.wasm --plugin-config '{"max_pending_calls": 64}' \\
    --listener redis:6380:6379 --stats-flush-interval 1s -o envoy.yaml

A static bootstrap's YAML ends with its list of clusters: a cluster item appended to the
output joins that list (test/lib/envoy.sh's metaproto_cluster_yaml does so).`)
    .action((files: string[], options: BootstrapCommandOptions) => {
      const value = options.static ? staticBootstrapOf(files, options) : adsBootstrapOf(files, options);
      encodeMessage("envoy.config.bootstrap.v3.Bootstrap", value);
      // Block sequences at their key's indentation and no folded lines: appended list items line up.
      const text = options.format === "json" ? `${JSON.stringify(value, null, 2)}\n` : YAML.stringify(value, { indentSeq: false, lineWidth: 0 });
      if (options.output) fs.writeFileSync(options.output, text);
      else process.stdout.write(text);
    });

  cli.command("serve")
    .description("serve the configuration to Envoys over gRPC ADS (state of the world and delta), watch the files and push changes; a change with errors is logged and not pushed")
    .argument("<files...>", "YAML files or folders")
    .option("--listen <address:port>", "ADS listen address", hostPort, { address: "127.0.0.1", port: 18000 })
    .option("--wasm-dir <dir>", "folder of the codec modules, as Envoy sees it", defaultWasmDir())
    .option("--debounce <ms>", "reload once file changes have been quiet this long (a lone save after a quiet spell is taken after 20 ms)", whole, 200)
    .option("--http-listen <address:port>", "HTTP for `metaproto status` (GET /status) and the codec modules (GET /wasm/<protocol>.wasm)", hostPort, { address: "127.0.0.1", port: 18001 })
    .option("--pin-dir <dir>", "copy each codec build here under its sha256 and point Envoy at the copy: a new build in --wasm-dir rolls out to new connections, open ones keep theirs", path.join(repoRoot(), "build", "wasm-pinned"))
    .option("--envoy-admin <address:port>", "an Envoy admin endpoint to scrape for the status page, besides those Envoys name in their node metadata (bootstraps from metaproto bootstrap do); repeatable", collect, [])
    .option("--scrape-interval <duration>", "how often the status page scrapes the Envoys", `${DEFAULT_SCRAPE.intervalMs / 1000}s`)
    .option("--window <duration>", "how far back the status page's charts and duration quantiles go", `${DEFAULT_SCRAPE.windowMs / 60_000}m`)
    .option("--rate-window <duration>", "what one point of a rate or quantile on the status page covers", `${DEFAULT_SCRAPE.rateWindowMs / 1000}s`)
    .action(async (files: string[], options: { listen: { address: string; port: number }; wasmDir: string; debounce: number; httpListen: { address: string; port: number }; pinDir: string; envoyAdmin: string[]; scrapeInterval: string; window: string; rateWindow: string }) => {
      const log = logger(cli.opts().logLevel);
      const plane = new ControlPlane({
        files, wasmDir: path.resolve(options.wasmDir), address: options.listen.address, port: options.listen.port,
        debounceMs: options.debounce, log, http: options.httpListen, pinDir: path.resolve(options.pinDir),
        envoyAdmins: options.envoyAdmin,
        scrape: { intervalMs: durationMs(options.scrapeInterval), windowMs: durationMs(options.window), rateWindowMs: durationMs(options.rateWindow) },
      });
      try {
        await plane.start();
      } catch (err) {
        log.fatal((err as Error).message);
        process.exitCode = 1;
        await plane.stop();
        return;
      }
      const stop = () => { log.info("stopping"); void plane.stop(); };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });

  cli.command("up")
    .description("run the control plane, a stock Envoy configured only over xDS, and a redis-server for every Redis endpoint of the configuration on this machine; print where to look; Ctrl-C stops everything")
    .argument("[files...]", "YAML files or folders", [path.join(repoRoot(), "control-plane", "examples", "up.yaml")])
    .option("--admin-port <port>", "Envoy admin port", whole, 9901)
    .option("--xds <address:port>", "ADS listen address", hostPort, { address: "127.0.0.1", port: 18000 })
    .option("--http-listen <address:port>", "status and modules over HTTP", hostPort, { address: "127.0.0.1", port: 18001 })
    .option("--wasm-dir <dir>", "folder of the codec modules", defaultWasmDir())
    .option("--work-dir <dir>", "logs, the Envoy bootstrap and pinned modules", path.join(repoRoot(), "build", "up"))
    .option("--check", "check that calls flow and are counted, then stop (for tests)")
    .action(async (files: string[], options: { adminPort: number; xds: { address: string; port: number }; httpListen: { address: string; port: number }; wasmDir: string; workDir: string; check?: boolean }) => {
      await up({
        files: files.map((f) => path.resolve(f)), workDir: path.resolve(options.workDir), wasmDir: path.resolve(options.wasmDir),
        adminPort: options.adminPort, xds: options.xds, http: options.httpListen, check: options.check ?? false, log: logger(cli.opts().logLevel),
      });
    });

  cli.command("istio")
    .description("print the manifests a sidecar deployment needs in Istio: a WasmPlugin (type NETWORK) per Service, and the ConfigMap of MetaProto's stats tags; prints the pod annotations to add")
    .argument("<files...>", "YAML files or folders")
    .option("--namespace <name>", "namespace of the workloads", "default")
    .option("--module-url <url>", "where sidecars fetch <protocol>.wasm (metaproto serve's /wasm, or any HTTP server they reach)", "http://metaproto.metaproto-system:18001/wasm")
    .option("--selector <key=value...>", "workload labels the plugins apply to (default: app=<Service name>)")
    .option("--wasm-dir <dir>", "folder of the codec modules, for their sha256", defaultWasmDir())
    .option("-o, --output <file>", "write to this file instead of standard output")
    .action((files: string[], options: { namespace: string; moduleUrl: string; selector?: string[]; wasmDir: string; output?: string }) => {
      const { model, errors } = loadFiles(files);
      if (!model) {
        for (const error of errors) process.stderr.write(`${formatError(error)}\n`);
        process.stderr.write(`${errors.length} error(s): fix them and run istio again\n`);
        process.exitCode = 1;
        return;
      }
      let selector: Record<string, string> | undefined;
      if (options.selector) {
        selector = {};
        for (const pair of options.selector) {
          const eq = pair.indexOf("=");
          if (eq <= 0) throw new InvalidArgumentError(`--selector ${pair}: expected key=value`);
          selector[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
      }
      const manifests = istioManifests(model, { namespace: options.namespace, moduleUrl: options.moduleUrl, wasmDir: path.resolve(options.wasmDir), selector });
      const text = manifests.map((m) => YAML.stringify(m)).join("---\n");
      if (options.output) fs.writeFileSync(options.output, text);
      else process.stdout.write(text);
      process.stderr.write(`add to the pod template of each selected workload:\n  annotations:\n${Object.entries(istioPodAnnotations()).map(([k, v]) => `    ${k}: '${v}'`).join("\n")}\n`);
    });

  cli.command("prometheus")
    .description(`write a Prometheus configuration (prometheus.yml) that scrapes the Envoys' /stats/prometheus, and recording rules (${RULES_FILE}) for MetaProto's rates, error ratios and duration quantiles per service and method`)
    .option("--server <address:port>", "metaproto serve's --http-listen: Prometheus discovers the Envoys connected to it (http_sd_configs)")
    .option("--envoy-admin <address:port>", "an Envoy admin endpoint to scrape as it is; repeatable", collect, [])
    .option("--scrape-interval <duration>", "scrape and rule evaluation interval", prometheusDuration, "15s")
    .option("--window <duration>", "the range of rate() in the recording rules (at least four scrape intervals)", prometheusDuration, "1m")
    .option("-o, --output-dir <dir>", "where to write prometheus.yml and the rules", ".")
    .action((options: { server?: string; envoyAdmin: string[]; scrapeInterval: string; window: string; outputDir: string }) => {
      if (!options.server && !options.envoyAdmin.length) throw new Error("name the Envoys: --server (metaproto serve's --http-listen) and/or --envoy-admin");
      if (options.server) hostPort(options.server);
      if (durationMs(options.window) < 4 * durationMs(options.scrapeInterval)) throw new Error(`--window ${options.window} is under four scrape intervals (${options.scrapeInterval}): rate() needs at least two samples in it, with room for a missed scrape`);
      fs.mkdirSync(options.outputDir, { recursive: true });
      const config = path.join(options.outputDir, "prometheus.yml");
      const rules = path.join(options.outputDir, RULES_FILE);
      fs.writeFileSync(config, YAML.stringify(prometheusConfig({ envoyAdmins: options.envoyAdmin, server: options.server, scrapeInterval: options.scrapeInterval, window: options.window })));
      fs.writeFileSync(rules, YAML.stringify(recordingRules(options.window)));
      process.stdout.write(`wrote ${config} and ${rules}\nrun: prometheus --config.file=${config}   (check: promtool check config ${config})\n`);
    });

  receiverCommand(cli, logger);

  cli.command("status")
    .description("ask a running `metaproto serve` what each Envoy has: versions sent and ACKed, NACKs with Envoy's error and the YAML documents behind them")
    .option("--server <address:port>", "serve's --http-listen", hostPort, { address: "127.0.0.1", port: 18001 })
    .option("--json", "print the report as JSON")
    .action(async (options: { server: { address: string; port: number }; json?: boolean }) => {
      const url = `http://${options.server.address.includes(":") ? `[${options.server.address}]` : options.server.address}:${options.server.port}/status`;
      let report: StatusReport;
      try {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        report = (await response.json()) as StatusReport;
      } catch (err) {
        throw new Error(`cannot get ${url} (${(err as Error).message}): is metaproto serve running, with this --http-listen?`);
      }
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
    });

  return cli;
}

if (require.main === module) {
  program().parseAsync(process.argv).catch((err: Error) => {
    process.stderr.write(`metaproto: ${err.message}\n`);
    process.exitCode = 1;
  });
}
