// Checks the Envoy behaviours the control plane relies on, against the running Envoy, by driving
// the compiled ADS server (build/cp) directly with snapshots the config model would never produce:
//  1. a listener whose filter comes through ECDS accepts nothing until its config arrives: at start-up
//     Envoy stays initializing; a listener added later warms while the others keep serving;
//  2. a filter config Envoy rejects comes back as a NACK with the error, the server records it with
//     the YAML document behind it, sends nothing more for it (counted), and Envoy keeps serving;
//  0. ADS needs node.id and node.cluster: without a cluster Envoy refuses the bootstrap;
//  3. remote code (vm_config.code.remote) arriving in an ECDS update is never fetched: Envoy ACKs it
//     and runs the listener without the filter. Why serve pins builds as local files instead.
// Usage: node envoy_facts.js ENVOY_BIN WORK_DIR WASM_DIR REDIS_PORT   (prints one line per fact)
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const net = require("net");
const path = require("path");
const pino = require("pino");

const cp = path.join(__dirname, "..", "..", "build", "cp", "control-plane");
const { loadSources } = require(path.join(cp, "model", "load.js"));
const { translate } = require(path.join(cp, "resources", "translate.js"));
const { bootstrap } = require(path.join(cp, "resources", "bootstrap.js"));
const { TYPE_URLS } = require(path.join(cp, "resources", "types.js"));
const { SimpleCache, Snapshot, ANY_NODE } = require(path.join(cp, "xds", "cache.js"));
const { XdsServer } = require(path.join(cp, "xds", "server", "server.js"));
const YAML = require("yaml");
const http = require("http");

const [envoyBin, work, wasmDir, redisPort] = process.argv.slice(2);
let activeEnvoy;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const freePort = () => new Promise((resolve) => {
  const server = net.createServer().listen(0, "127.0.0.1", () => { const { port } = server.address(); server.close(() => resolve(port)); });
});
function fail(message) {
  process.stdout.write(`FAIL ${message}\n`);
  process.exitCode = 1;
  throw new Error(message);
}
async function until(what, seconds, check) {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (activeEnvoy?.exitCode !== undefined && activeEnvoy.exitCode !== null) fail(`Envoy exited while waiting for ${what}`);
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
async function stat(admin, name) {
  const response = await fetch(`http://127.0.0.1:${admin}/stats?filter=^${name.replace(/\./g, "\\.")}$`).catch(() => null);
  if (!response || !response.ok) return undefined;
  const line = (await response.text()).split("\n").find((l) => l.startsWith(`${name}: `));
  return line === undefined ? undefined : Number(line.split(": ")[1]);
}
function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    socket.setTimeout(2000, () => { socket.destroy(); resolve("(timeout)"); });
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => { reply += chunk; if (reply.includes("\r\n")) { socket.end(); resolve(reply.trim()); } });
    socket.on("error", (err) => resolve(`(${err.code})`));
  });
}

async function main() {
  const listenPort = await freePort();
  const laterPort = await freePort();
  const service = (name, port) => `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: ${name} }
spec:
  protocol: redis
  port: ${port}
  subsets: [{ name: only, endpoints: [{ address: 127.0.0.1, port: ${redisPort} }] }]
`;
  const translated = (text) => {
    const { model, errors } = loadSources([{ file: "facts.yaml", text }]);
    if (!model) fail(`facts.yaml: ${JSON.stringify(errors)}`);
    return translate(model, { wasmDir });
  };
  const resources = () => translated(service("facts", listenPort));
  const withoutFilterConfig = resources();
  withoutFilterConfig.get(TYPE_URLS.extensionConfig).clear();
  const laterWithoutFilterConfig = translated(`${service("facts", listenPort)}---\n${service("later", laterPort)}`);
  laterWithoutFilterConfig.get(TYPE_URLS.extensionConfig).delete("metaproto.later");
  const rejected = resources();
  // The filter refuses max_pending_calls 0 in on_configure; the model would have refused it first.
  const filter = rejected.get(TYPE_URLS.extensionConfig).get("metaproto.facts");
  filter.value.typed_config.config.configuration.value = '{"max_pending_calls":0}';

  const cache = new SimpleCache();
  const server = new XdsServer(cache, pino({ level: "silent" }));
  const xdsPort = await server.listen("127.0.0.1", 0);
  const adminPort = await freePort();
  const startEnvoy = (name, nodeCluster) => {
    const envoyConfig = { ...bootstrap({ nodeId: "facts", nodeCluster: "facts", adminPort, xdsAddress: "127.0.0.1", xdsPort, statsFlushInterval: "1s" }) };
    envoyConfig.node = { id: "facts", cluster: nodeCluster };
    fs.writeFileSync(path.join(work, `${name}.yaml`), YAML.stringify(envoyConfig));
    const log = fs.openSync(path.join(work, `${name}.log`), "w");
    const child = spawn(envoyBin, ["-c", path.join(work, `${name}.yaml`), "--concurrency", "1", "--base-id", String(adminPort % 60000), "--disable-hot-restart"],
      { stdio: ["ignore", log, log] });
    child.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
    return child;
  };

  const noCluster = startEnvoy("facts-envoy-no-cluster", "");
  const code = await Promise.race([noCluster.exited, sleep(15000).then(() => "running")]);
  if (code === "running") { noCluster.kill("SIGTERM"); await noCluster.exited; fail("Envoy started ADS without a node cluster"); }
  const refusal = fs.readFileSync(path.join(work, "facts-envoy-no-cluster.log"), "utf8").match(/ads: node 'id' and 'cluster' are required[^\n]*/);
  if (!refusal) fail("Envoy exited without an empty node cluster, but not for that reason; see facts-envoy-no-cluster.log");
  process.stdout.write(`fact 0: with node.cluster empty Envoy exits ${code}: "${refusal[0].slice(0, 60)}..."\n`);

  cache.setSnapshot(ANY_NODE, new Snapshot(withoutFilterConfig));
  const envoy = startEnvoy("facts-envoy", "facts");
  activeEnvoy = envoy;
  try {
    await until("Envoy to take the listener over ADS", 20, async () => (await stat(adminPort, "listener_manager.lds.update_success")) >= 1);
    await sleep(2000);
    // server.state: 0 live, 1 draining, 2 pre-initializing, 3 initializing.
    const state = await stat(adminPort, "server.state");
    const ping = await redisPing(listenPort);
    if (state === 0 || ping === "+PONG") fail(`without its ECDS config the listener should hold Envoy's start-up: server.state=${state} ping=${ping}`);
    process.stdout.write(`fact 1: at start-up, without its filter config, Envoy stays initializing (server.state=${state}) and the client got ${ping}\n`);

    cache.setSnapshot(ANY_NODE, new Snapshot(resources()));
    await until("the listener to serve once ECDS arrived", 10, async () => (await redisPing(listenPort)) === "+PONG");
    process.stdout.write(`fact 1: with its filter config from ECDS the listener serves: PING through the filter got +PONG, server.state=${await stat(adminPort, "server.state")}\n`);

    cache.setSnapshot(ANY_NODE, new Snapshot(laterWithoutFilterConfig));
    await until("the later listener to warm", 10, async () => (await stat(adminPort, "listener_manager.total_listeners_warming")) === 1);
    await sleep(1000);
    const laterPing = await redisPing(laterPort);
    if ((await stat(adminPort, "listener_manager.total_listeners_warming")) !== 1 || laterPing === "+PONG" || (await redisPing(listenPort)) !== "+PONG") {
      fail(`a listener added without its filter config should warm while the first serves (later got ${laterPing})`);
    }
    cache.setSnapshot(ANY_NODE, new Snapshot(translated(`${service("facts", listenPort)}---\n${service("later", laterPort)}`)));
    await until("the later listener to serve once its ECDS arrived", 10, async () => (await redisPing(laterPort)) === "+PONG");
    process.stdout.write(`fact 1: a listener added later without its filter config warms (client got ${laterPing}) while the first serves; it serves once ECDS arrives\n`);

    const ecds = server.status.type("facts", TYPE_URLS.extensionConfig);
    const before = ecds.responses;
    cache.setSnapshot(ANY_NODE, new Snapshot(rejected));
    await until("Envoy's NACK of the rejected filter config", 10, () => ecds.nack !== undefined);
    const sent = ecds.responses;
    await sleep(2000);
    cache.setSnapshot(ANY_NODE, new Snapshot(rejected));
    await sleep(1000);
    if (ecds.responses !== sent || sent !== before + 1) fail(`after the NACK the server sent ${ecds.responses - sent} more responses (expected 0)`);
    if (!ecds.nack.origins.includes("facts.yaml document 1 (Service facts)")) fail(`the NACK was not traced to its document: ${JSON.stringify(ecds.nack)}`);
    if ((await redisPing(listenPort)) !== "+PONG") fail("Envoy stopped serving after rejecting a filter config");
    process.stdout.write(`fact 2: Envoy NACKed the filter config ("${ecds.nack.message.split("\n")[0].slice(0, 160)}"), ` +
      `traced to ${ecds.nack.origins.join(", ")}; no response sent for it in 3 s after the NACK; the listener kept serving\n`);

    // Fact 3: the module over HTTP, in an ECDS update.
    let fetches = 0;
    const moduleServer = http.createServer((request, response) => {
      fetches++;
      response.writeHead(200, { "content-type": "application/wasm" }).end(fs.readFileSync(path.join(wasmDir, "redis.wasm")));
    });
    const modulePort = await new Promise((resolve) => moduleServer.listen(0, "127.0.0.1", () => resolve(moduleServer.address().port)));
    const remote = resources();
    remote.get(TYPE_URLS.cluster).set("facts_http", { name: "facts_http", value: {
      name: "facts_http", type: "STATIC", connect_timeout: { seconds: 2 },
      load_assignment: { cluster_name: "facts_http", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: modulePort } } } }] }] },
    } });
    const sha256 = require("crypto").createHash("sha256").update(fs.readFileSync(path.join(wasmDir, "redis.wasm"))).digest("hex");
    remote.get(TYPE_URLS.extensionConfig).get("metaproto.facts").value.typed_config.config.vm_config.code =
      { remote: { http_uri: { uri: `http://127.0.0.1:${modulePort}/redis.wasm`, cluster: "facts_http", timeout: { seconds: 5 } }, sha256 } };
    const remoteSnapshot = new Snapshot(remote);
    cache.setSnapshot(ANY_NODE, remoteSnapshot);
    await until("Envoy's ACK of the remote filter config", 10, () => ecds.ackedVersion === remoteSnapshot.version(TYPE_URLS.extensionConfig));
    await sleep(3000);
    const pings = async () => {
      const text = await (await fetch(`http://127.0.0.1:${adminPort}/stats/prometheus`)).text();
      return text.split("\n").filter((l) => l.startsWith("metaproto_requests_total{") && l.includes('method="PING"')).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
    };
    const countedBefore = await pings();
    const pingWithoutFilter = await redisPing(listenPort);
    await sleep(2500);
    const countedAfter = await pings();

    moduleServer.close();
    if (fetches !== 0) fail(`Envoy fetched remote code from an ECDS update (${fetches} fetches): serve could deliver builds over HTTP now`);
    if (pingWithoutFilter !== "+PONG" || countedAfter !== countedBefore) {
      fail(`after the remote update the client got ${pingWithoutFilter} and the filter counted ${countedAfter - countedBefore} PINGs`);
    }
    process.stdout.write(`fact 3: remote code in an ECDS update: ACKed, fetched ${fetches} times in 3 s; a PING after it got ${pingWithoutFilter} ` +
      `but the filter did not count it (metaproto_requests_total PING ${countedBefore} -> ${countedAfter}): the listener runs without the filter\n`);
  } finally {
    envoy.kill("SIGTERM");
    await envoy.exited;
    server.forceStop();
  }
}

main().catch((err) => {
  if (!process.exitCode) process.stdout.write(`FAIL ${err.stack}\n`);
  process.exitCode = 1;
});
