// `metaproto serve` runs the receiver when the configuration has a Telemetry document, and its
// enrichment follows configuration reloads at once (not only at the 10-minute refresh).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import pino from "pino";
import { ControlPlane } from "../serve";
import type { TelemetryItem } from "./items";

jest.setTimeout(30000);

const config = (dir: string, subset: string, telemetry = true) => `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: cache }
spec:
  protocol: redis
  port: 6380
  subsets: [{ name: ${subset}, endpoints: [{ address: 127.0.0.1, port: 6379 }] }]
` + (telemetry ? `---
apiVersion: metaproto.io/v1alpha1
kind: Telemetry
metadata: { name: default }
spec:
  otlp: { grpc: { port: 0 } }
  batch: { maxDelay: 20ms }
  sinks: [{ jsonLines: { path: ${JSON.stringify(path.join(dir, "records.jsonl"))} } }]
` : "");

const span = (): TelemetryItem => ({ signal: "traces", origin: {}, record: { name: "GET", attributes: [
  { key: "server.address", value: { string_value: "127.0.0.1" } }, { key: "server.port", value: { int_value: "6379" } },
] } });

async function records(file: string, count: number): Promise<any[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
    if (lines.length >= count) return lines.map((l) => JSON.parse(l));
    if (Date.now() > deadline) throw new Error(`only ${lines.length} of ${count} records in ${file}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let dir: string;
let plane: ControlPlane | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "metaproto-serve-telemetry-"));
  fs.writeFileSync(path.join(dir, "redis.wasm"), "");
});
afterEach(async () => {
  await plane?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const start = async (text: string) => {
  fs.writeFileSync(path.join(dir, "config.yaml"), text);
  plane = new ControlPlane({ files: [path.join(dir, "config.yaml")], wasmDir: dir, address: "127.0.0.1", port: 0, debounceMs: 50, log: pino({ level: "silent" }) });
  await plane.start();
  return plane;
};

test("serve runs the receiver of a Telemetry document; a reload re-enriches at once", async () => {
  const plane = await start(config(dir, "v1"));
  expect(plane.receiver?.grpcPort).toBeGreaterThan(0);
  plane.receiver!.accept([span()]);
  expect((await records(path.join(dir, "records.jsonl"), 1))[0].attributes["metaproto.server.subset"]).toBe("v1");

  fs.writeFileSync(path.join(dir, "config.yaml"), config(dir, "v2"));
  const deadline = Date.now() + 10_000;
  while (plane.applied < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  plane.receiver!.accept([span()]);
  expect((await records(path.join(dir, "records.jsonl"), 2))[1].attributes["metaproto.server.subset"]).toBe("v2");
});

test("without a Telemetry document serve runs no receiver", async () => {
  expect((await start(config(dir, "v1", false))).receiver).toBeUndefined();
});
