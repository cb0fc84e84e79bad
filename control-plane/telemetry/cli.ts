// `metaproto receiver`: the telemetry receiver alone. Its options come from the Telemetry document of
// the given files (if any), then from the flags; the files' Services enrich the records and are
// watched, so an edit reaches the enrichment without a restart.
import { Command, InvalidArgumentError } from "commander";
import type { Logger } from "pino";
import { formatError, loadFiles, Model } from "../model/load";
import { parseDuration, telemetrySpec, TelemetrySpec } from "../model/schema";
import { ConfigWatcher } from "../watch";
import { directoryFromModel, ResolveAddress } from "./directory";
import { receiverOptions } from "./options";
import { TelemetryReceiver } from "./receiver";

interface ReceiverFlags {
  grpcListen?: { address: string; port: number } | false;
  httpListen?: { address: string; port: number } | false;
  jsonl?: string[];
  forward?: string[];
  forwardSignals?: ("traces" | "logs")[];
  bufferRecords?: number;
  batchRecords?: number;
  batchDelay?: string;
  initialBackoff?: string;
  maxBackoff?: string;
  refreshInterval?: string;
  expireAfter?: string;
  checkInterval?: string;
  shutdownGrace?: string;
  debounce: number;
}

function listen(value: string): { address: string; port: number } | false {
  if (value === "off") return false;
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match || Number(match[2]) > 65535) throw new InvalidArgumentError("expected ADDRESS:PORT (port 0: any free port) or off");
  return { address: match[1].replace(/^\[(.*)\]$/, "$1"), port: Number(match[2]) };
}

function duration(value: string): string {
  try { parseDuration(value); } catch { throw new InvalidArgumentError('expected a duration such as "500ms", "5s", "10m"'); }
  return value;
}

function count(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("expected a whole number above 0");
  return Number(value);
}

function signals(value: string): ("traces" | "logs")[] {
  const list = value.split(",").map((s) => s.trim());
  if (!list.length || list.some((s) => s !== "traces" && s !== "logs")) throw new InvalidArgumentError("expected traces, logs or traces,logs");
  return list as ("traces" | "logs")[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The Telemetry spec of the files (or the defaults), with the flags applied over it. */
export function specWithFlags(base: TelemetrySpec | undefined, flags: ReceiverFlags): TelemetrySpec {
  const spec: TelemetrySpec = structuredClone(base ?? telemetrySpec.parse({}));
  if (flags.grpcListen !== undefined) spec.otlp.grpc = flags.grpcListen || undefined;
  if (flags.httpListen !== undefined) spec.otlp.http = flags.httpListen || undefined;
  if (flags.jsonl?.length || flags.forward?.length) {
    spec.sinks = [
      ...(flags.jsonl ?? []).map((path, i) => ({ jsonLines: { path, name: i ? `jsonl${i + 1}` : undefined } })),
      ...(flags.forward ?? []).map((endpoint) => ({ otlp: { endpoint, signals: flags.forwardSignals, timeout: "5s" } })),
    ];
  }
  if (flags.bufferRecords) spec.buffer.maxRecords = flags.bufferRecords;
  if (flags.batchRecords) spec.batch.maxRecords = flags.batchRecords;
  if (flags.batchDelay) spec.batch.maxDelay = flags.batchDelay;
  if (flags.initialBackoff) spec.retry.initialBackoff = flags.initialBackoff;
  if (flags.maxBackoff) spec.retry.maxBackoff = flags.maxBackoff;
  if (flags.refreshInterval) spec.enrichment.refreshInterval = flags.refreshInterval;
  if (flags.expireAfter) spec.enrichment.expireAfter = flags.expireAfter;
  if (flags.checkInterval) spec.enrichment.checkInterval = flags.checkInterval;
  if (flags.shutdownGrace) spec.shutdownGrace = flags.shutdownGrace;
  return telemetrySpec.parse(spec);
}

function load(files: string[], log: Logger): Model | undefined {
  const { model, errors } = loadFiles(files);
  for (const error of errors) log.error(formatError(error));
  return model;
}

export function receiverCommand(cli: Command, logger: (level: string) => Logger): void {
  cli.command("receiver")
    .description("run the telemetry receiver alone: OTLP spans and flow logs in (gRPC, HTTP), enriched with what the configuration files know about their addresses, batched and buffered to the sinks (JSON lines file by default, OTLP forward); Prometheus metrics on GET <http-listen>/metrics")
    .argument("[files...]", "YAML files or folders: their Services enrich the records (watched); a Telemetry document gives the defaults of the flags below")
    .option("--grpc-listen <address:port>", "OTLP/gRPC listen address, or off (default 127.0.0.1:4317)", listen)
    .option("--http-listen <address:port>", "OTLP/HTTP (protobuf) and GET /metrics listen address, or off (default 127.0.0.1:4318)", listen)
    .option("--jsonl <file>", "append records as JSON lines to this file (repeatable); with --forward, replaces the document's sinks", collect)
    .option("--forward <host:port>", "forward records over OTLP/gRPC to this collector or backend (repeatable)", collect)
    .option("--forward-signals <list>", "what --forward sends: traces, logs or traces,logs (Jaeger takes traces only)", signals)
    .option("--buffer-records <n>", "records held per sink and signal while the sink is down (default 10000); beyond it new records are dropped and counted", count)
    .option("--batch-records <n>", "send a batch at this many records (default 512)", count)
    .option("--batch-delay <duration>", "or when its oldest record waited this long (default 1s)", duration)
    .option("--initial-backoff <duration>", "first retry delay after a failed write (default 200ms; doubles up to --max-backoff)", duration)
    .option("--max-backoff <duration>", "longest retry delay (default 5s)", duration)
    .option("--refresh-interval <duration>", "enrichment cache: look every cached address up again this often (default 10m)", duration)
    .option("--expire-after <duration>", "enrichment cache: forget an address unused this long (default 3m)", duration)
    .option("--check-interval <duration>", "enrichment cache: look for unused addresses this often (default 1m)", duration)
    .option("--shutdown-grace <duration>", "on SIGINT/SIGTERM, wait this long for buffered records to reach the sinks (default 5s)", duration)
    .option("--debounce <ms>", "wait this long after a file change before reloading", (v) => count(v), 200)
    .action(async (files: string[], flags: ReceiverFlags) => {
      const log = logger(cli.opts().logLevel);
      let model = files.length ? load(files, log) : undefined;
      if (files.length && !model) {
        log.fatal("the configuration has errors (above): fix them and start again");
        process.exitCode = 1;
        return;
      }
      let directory: ResolveAddress = model ? directoryFromModel(model) : () => undefined;
      const document = model ? [...model.telemetry.values()][0] : undefined;
      const receiver = new TelemetryReceiver(receiverOptions(specWithFlags(document?.value.spec, flags)), () => directory, log);
      try {
        await receiver.start();
      } catch (err) {
        log.fatal((err as Error).message);
        process.exitCode = 1;
        await receiver.stop();
        return;
      }
      const watcher = files.length ? new ConfigWatcher(files, flags.debounce, () => {
        model = load(files, log);
        if (!model) { log.error("configuration rejected: enrichment keeps the last good one"); return; }
        directory = directoryFromModel(model);
        receiver.cache.refresh();
        log.info({ services: model.services.size }, "configuration reloaded: enrichment follows it");
      }) : undefined;
      if (!model) log.info("no configuration files: records pass through without enrichment");
      const stop = () => {
        log.info("stopping: sending what is buffered");
        watcher?.close();
        void receiver.stop();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
}
