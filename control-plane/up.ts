// `metaproto up`: the control plane, a stock Envoy and real demo peers on this machine. It starts a
// redis-server for every endpoint of the configuration's Redis Services, serves the configuration
// over ADS, starts Envoy on a bootstrap pointing at it, sends a few calls through, prints where to
// look, and stops everything on Ctrl-C.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import type { Logger } from "pino";
import * as YAML from "yaml";
import { loadFiles, formatError } from "./model/load";
import { bootstrap } from "./resources/bootstrap";
import { ControlPlane } from "./serve";
import { adminMetadata, hostPort } from "./status_page/envoy_admin";
import { repoRoot } from "./xds/api";

export interface UpOptions {
  files: string[];
  workDir: string;
  wasmDir: string;
  adminPort: number;
  xds: { address: string; port: number };
  http: { address: string; port: number };
  /** Check that calls flow and are counted, print, stop everything and return (for tests). */
  check: boolean;
  log: Logger;
}

export function envoyBinary(): string {
  if (process.env.ENVOY_BIN) return process.env.ENVOY_BIN;
  const venvLib = path.join(repoRoot(), ".venv", "lib");
  for (const python of fs.existsSync(venvLib) ? fs.readdirSync(venvLib) : []) {
    const candidate = path.join(venvLib, python, "site-packages", "envoy", "_bin", "envoy");
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error("Envoy is not installed: run ./build.sh setup (it installs the pinned Envoy into .venv), or set ENVOY_BIN");
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => fs.existsSync(path.join(dir, command)));
}

/** One Redis inline command on a fresh connection; resolves to the reply's first line. */
export function redisCall(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    socket.setTimeout(2000, () => { socket.destroy(); resolve("(timeout)"); });
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk) => {
      reply += chunk;
      const lines = reply.split("\r\n");
      if (lines.length < 2 || (lines[0].startsWith("$") && Number(lines[0].slice(1)) >= 0 && lines.length < 3)) return;
      socket.end();
      resolve(lines[0].startsWith("$") ? (lines[0] === "$-1" ? "(nil)" : lines[1]) : lines[0]);
    });
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(`(${err.code})`));
  });
}

async function waitFor(what: string, seconds: number, check: () => Promise<boolean>, log: Logger): Promise<void> {
  log.info(`waiting for ${what}`);
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function up(options: UpOptions): Promise<void> {
  const { log } = options;
  const { model, errors } = loadFiles(options.files);
  if (!model) throw new Error(`the configuration has errors:\n${errors.map(formatError).join("\n")}`);
  fs.mkdirSync(options.workDir, { recursive: true });
  const children: { name: string; child: ChildProcess }[] = [];
  let stopping = false;
  let failed: (err: Error) => void = () => undefined;
  const exitedEarly = new Promise<never>((_, reject) => { failed = reject; });
  exitedEarly.catch(() => undefined);
  const start = (name: string, command: string, args: string[]) => {
    const logFile = path.join(options.workDir, `${name}.log`);
    const out = fs.openSync(logFile, "w");
    const child = spawn(command, args, { stdio: ["ignore", out, out] });
    children.push({ name, child });
    child.once("exit", (code, signal) => {
      if (!stopping) failed(new Error(`${name} exited (${signal ?? `code ${code}`}); see ${logFile}`));
    });
    log.info({ pid: child.pid, log: logFile }, `started ${name}`);
  };
  const plane = new ControlPlane({
    files: options.files, wasmDir: options.wasmDir, address: options.xds.address, port: options.xds.port,
    debounceMs: 200, log, http: options.http, pinDir: path.join(options.workDir, "pinned"),
  });
  const stop = async () => {
    stopping = true;
    for (const { child } of children) child.kill("SIGTERM");
    await Promise.all(children.map(({ child }) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((r) => child.once("exit", r)))));
    await plane.stop();
  };

  try {
    const redisServices = [...model.services.values()].filter((s) => s.value.spec.protocol === "redis");
    const peers = redisServices.flatMap((s) => s.value.spec.subsets.flatMap((subset) =>
      subset.endpoints.filter((e) => e.address === "127.0.0.1").map((e) => ({ service: s.value.metadata.name, subset: subset.name, port: e.port }))));
    if (peers.length && !onPath("redis-server")) throw new Error("redis-server is not installed: run ./build.sh setup (or apt-get install redis-server)");
    for (const peer of peers) {
      if ((await redisCall(peer.port, "PING")) !== "(ECONNREFUSED)") throw new Error(`port ${peer.port} (${peer.service}/${peer.subset}) is in use: free it or change the endpoint in ${options.files.join(", ")}`);
      start(`redis-${peer.service}-${peer.subset}`, "redis-server", ["--port", String(peer.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", options.workDir]);
      await Promise.race([exitedEarly, waitFor(`redis-server ${peer.service}/${peer.subset} on :${peer.port}`, 10, async () => (await redisCall(peer.port, "PING")) === "+PONG", log)]);
      await redisCall(peer.port, `SET subset ${peer.subset}`);
    }

    await plane.start();
    const bootstrapFile = path.join(options.workDir, "envoy.yaml");
    const envoyBootstrap = bootstrap({
      nodeId: "metaproto-up", nodeCluster: "metaproto", adminPort: options.adminPort,
      xdsAddress: options.xds.address, xdsPort: options.xds.port, statsFlushInterval: "1s",
    });
    // Where the status page scrapes this Envoy: it tells the control plane in its node metadata.
    (envoyBootstrap.node as Record<string, unknown>).metadata = adminMetadata("127.0.0.1", options.adminPort);
    fs.writeFileSync(bootstrapFile, YAML.stringify(envoyBootstrap));
    start("envoy", envoyBinary(), ["-c", bootstrapFile, "--concurrency", "1", "--base-id", String(options.adminPort % 60000), "--disable-hot-restart"]);
    const admin = `http://127.0.0.1:${options.adminPort}`;
    await Promise.race([exitedEarly, waitFor(`Envoy (admin ${admin}) to take its configuration over ADS`, 60,
      async () => (await fetch(`${admin}/ready`).then((r) => r.text()).catch(() => "")).includes("LIVE"), log)]);

    const lines: string[] = [];
    for (const service of redisServices) {
      const port = service.value.spec.port;
      await Promise.race([exitedEarly, waitFor(`the ${service.value.metadata.name} listener on :${port}`, 20, async () => (await redisCall(port, "PING")) === "+PONG", log)]);
      const reached: string[] = [];
      for (let i = 0; i < 10; i++) reached.push(await redisCall(port, "GET subset"));
      lines.push(`  ${service.value.metadata.name}: redis-cli -p ${port}   (10 new connections reached: ${reached.join(" ")})`);
    }
    const metrics = async () => (await (await fetch(`${admin}/stats/prometheus`)).text()).split("\n").filter((l) => l.startsWith("metaproto_requests_total"));
    let counted: string[] = [];
    await waitFor("the calls in Envoy's metrics", 10, async () => (counted = await metrics()).length > 0, log);
    process.stdout.write([
      "MetaProto is up: Envoy configured only over xDS by the control plane, real redis-servers behind it.",
      ...lines,
      `  metrics:  curl -s ${admin}/stats/prometheus | grep ^metaproto_`,
      `  page:     http://${hostPort(options.http.address, options.http.port)}/   (status page: calls, errors, durations, what Envoy ACKed)`,
      `  status:   npx metaproto status --server ${options.http.address}:${options.http.port}`,
      `  config:   ${options.files.join(", ")} (edit and save: the change is pushed; a bad one is refused and logged)`,
      `  logs:     ${options.workDir}`,
      "metaproto_requests_total now:",
      ...counted.map((l) => `  ${l}`),
      options.check ? "check passed; stopping." : "Ctrl-C stops everything.",
      "",
    ].join("\n"));
    if (options.check) return;
    await Promise.race([exitedEarly, new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    })]);
    log.info("stopping");
  } finally {
    await stop();
  }
}
