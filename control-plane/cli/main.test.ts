import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { program } from "./main";

const service = (port: string) => `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: cache }
spec:
  protocol: redis
  port: ${port}
  subsets:
  - name: v1
    endpoints: [{ address: 127.0.0.1, port: 6379 }]
`;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "metaproto-cli-"));
  fs.mkdirSync(path.join(dir, "wasm"));
  fs.writeFileSync(path.join(dir, "wasm", "redis.wasm"), "");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk) => { out += chunk; return true; });
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation((chunk) => { err += chunk; return true; });
  process.exitCode = undefined;
  try {
    const cli = program();
    // Commander exits the process on --help and usage errors unless every command is told not to.
    for (const command of [cli, ...cli.commands]) {
      command.exitOverride().configureOutput({ writeOut: (s) => { out += s; }, writeErr: (s) => { err += s; } });
    }
    await cli.parseAsync(["node", "metaproto", ...args]);
  } catch (e) {
    // As control-plane/bin/metaproto.js reports an action's error.
    const exitCode = (e as { exitCode?: number }).exitCode;
    if (exitCode === undefined) err += `metaproto: ${(e as Error).message}\n`;
    process.exitCode = exitCode ?? 1;
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, out, err };
}

describe("metaproto CLI", () => {
  test("--help lists every command, and each command has its own --help", async () => {
    const { out } = await run("--help");
    for (const command of ["validate", "bootstrap", "serve", "status", "up"]) {
      expect(out).toContain(command);
      expect((await run(command, "--help")).out).toContain(`Usage: metaproto ${command}`);
    }
  });

  test("validate exits 0 on a good file and 1 naming the field path on a bad one", async () => {
    const file = path.join(dir, "c.yaml");
    fs.writeFileSync(file, service("6380"));
    const good = await run("validate", "--wasm-dir", path.join(dir, "wasm"), file);
    expect(good).toMatchObject({ code: 0, out: expect.stringContaining("valid: 1 Service(s)") });
    fs.writeFileSync(file, service("high"));
    const bad = await run("validate", "--wasm-dir", path.join(dir, "wasm"), file);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${file}:6:3: document 1 (Service cache) spec.port: must be a whole number from 1 to 65535`);
  });

  test("validate names a missing codec module and how to build it", async () => {
    const file = path.join(dir, "c.yaml");
    fs.writeFileSync(file, service("6380").replace("redis", "thrift"));
    const { code, err } = await run("validate", "--wasm-dir", path.join(dir, "wasm"), file);
    expect(code).toBe(1);
    expect(err).toContain("spec.protocol: no codec module");
    expect(err).toContain("./build.sh build");
  });

  test("bootstrap prints a bootstrap for the node that points at the ADS server", async () => {
    const { code, out } = await run("bootstrap", "--node", "edge-1", "--xds", "127.0.0.1:18123", "--admin-port", "9911", "--delta");
    expect(code).toBe(0);
    const value = YAML.parse(out);
    // The admin address rides in node metadata: serve learns where to scrape this Envoy.
    expect(value.node).toEqual({ id: "edge-1", cluster: "metaproto", metadata: { metaproto_admin: "127.0.0.1:9911" } });
    expect(value.admin.address.socket_address.port_value).toBe(9911);
    expect(value.dynamic_resources.ads_config.api_type).toBe("DELTA_GRPC");
    expect(value.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 18123 });
  });

  test("bootstrap --static holds the configuration itself: the Wasm filter inline, then tcp_proxy; STATIC clusters", async () => {
    const file = path.join(dir, "c.yaml");
    fs.writeFileSync(file, service("6380"));
    const { code, out, err } = await run("bootstrap", "--static", "--wasm-dir", path.join(dir, "wasm"), file);
    expect(err).toBe("");
    expect(code).toBe(0);
    const value = YAML.parse(out);
    expect(value.dynamic_resources).toBeUndefined();
    const [listener] = value.static_resources.listeners;
    expect(listener.filter_chains[0].filters.map((f: { name: string }) => f.name)).toEqual(["envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy"]);
    expect(listener.filter_chains[0].filters[0].typed_config.config.vm_config.code.local.filename).toBe(path.join(dir, "wasm", "redis.wasm"));
    expect(value.static_resources.clusters.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([["cache", "STATIC"], ["cache.v1", "STATIC"]]);
    expect(value.static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 6379 });
  });

  test("bootstrap --static --listener: proxy listeners without a model, the plugin configuration passed as given", async () => {
    const module = path.join(dir, "wasm", "redis.wasm");
    const config = '{"policy": {"authz": {"rules": []}},\n  "note": "it\'s"}';
    const { code, out, err } = await run("bootstrap", "--static", "--module", module, "--plugin-config", config, "--listener", "a:7001:9001",
      "--listener", "b:7002:9002", "--cluster", "extra:9003", "--connect-on-data", "--admin-port", "9911", "--stats-flush-interval", "1s");
    expect(err).toBe("");
    expect(code).toBe(0);
    const value = YAML.parse(out);
    expect(value.admin.address.socket_address.port_value).toBe(9911);
    expect(value.stats_flush_interval).toEqual({ seconds: 1 });
    const [wasm, tcp] = value.static_resources.listeners[1].filter_chains[0].filters;
    expect(wasm.typed_config.config.configuration.value).toBe(config);
    expect(wasm.typed_config.config.vm_config.code.local.filename).toBe(module);
    expect(tcp.typed_config).toMatchObject({ stat_prefix: "b", cluster: "b", upstream_connect_mode: "ON_DOWNSTREAM_DATA" });
    expect(value.static_resources.clusters.map((c: { name: string }) => c.name)).toEqual(["a", "b", "extra"]);
  });

  test("a cluster item appended to a static bootstrap's YAML joins its clusters (test/lib/envoy.sh relies on it)", async () => {
    const { out } = await run("bootstrap", "--static", "--module", path.join(dir, "wasm", "redis.wasm"), "--plugin-config", "", "--listener", "a:7001:9001");
    const cluster = JSON.parse((await run("bootstrap", "--static", "--cluster", "b:9002", "--format", "json")).out).static_resources.clusters[0];
    const value = YAML.parse(`${out}  - ${JSON.stringify(cluster)}\n`);
    expect(value.static_resources.clusters.map((c: { name: string }) => c.name)).toEqual(["a", "b"]);
    expect(value.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.config.configuration.value).toBe("");
  });

  test("bootstrap --static says which listener options do not go together", async () => {
    const file = path.join(dir, "c.yaml");
    fs.writeFileSync(file, service("6380"));
    const module = path.join(dir, "wasm", "redis.wasm");
    const cases: [string[], string][] = [
      [["--static", "--wasm-dir", path.join(dir, "wasm"), file, "--listener", "a:1:2"], "--listener: the listeners come from FILES"],
      [["--static"], "--static needs the configuration files"],
      [["--static", "--listener", "a:1:2", "--plugin-config", "{}"], "--plugin-config configures the Wasm module: add --module FILE"],
      [["--static", "--module", module], "--module and --connect-on-data apply to listeners"],
      [["--static", "--module", path.join(dir, "missing.wasm"), "--listener", "a:1:2"], "no such file"],
      [["--node", "n", "--listener", "a:1:2"], "--listener only with --static"],
      [["--static", "--listener", "a:1"], "expected NAME:PORT:UPSTREAM_PORT"],
      [["--static", "--listener", "a:1:70000"], "UPSTREAM_PORT: expected a port"],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await run("bootstrap", ...args);
      expect([args, code]).toEqual([args, 1]);
      expect(err).toContain(message);
    }
  });

  test("bootstrap with an empty node cluster is refused, as Envoy would", async () => {
    const { code, err } = await run("bootstrap", "--node", "n", "--node-cluster", "");
    expect(code).toBe(1);
    expect(err).toContain("a node id and a node cluster are both required");
  });

  test("status without a running serve says what to check", async () => {
    const { code, err } = await run("status", "--server", "127.0.0.1:1");
    expect(code).toBe(1);
    expect(err).toContain("cannot get http://127.0.0.1:1/status");
    expect(err).toContain("is metaproto serve running, with this --http-listen?");
  });

  test("bootstrap without --node says what is missing", async () => {
    const { code, err } = await run("bootstrap");
    expect(code).toBe(1);
    expect(err).toContain("--node <id> is required (the Envoy's node id), unless --static");
  });
});
