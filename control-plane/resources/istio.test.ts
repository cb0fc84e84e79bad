import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ProxyTestHost } from "../../api/proxytest";
import { compiledCodec } from "../../api/proxytest/codec_harness";
import { loadFiles } from "../model/load";
import { repoRoot } from "../xds/api";
import { istioManifests, istioPodAnnotations } from "./istio";

const example = path.join(repoRoot(), "control-plane", "examples", "redis.yaml");
const wasmDir = path.join(repoRoot(), "dist", "wasm");

async function manifests() {
  await compiledCodec("redis"); // dist/wasm/redis.wasm, whose sha256 the plugin pins
  const { model, errors } = loadFiles([example]);
  expect(errors).toEqual([]);
  return istioManifests(model!, { namespace: "shop", moduleUrl: "http://cp.metaproto:18001/wasm/", wasmDir });
}

test("a WasmPlugin of type NETWORK per Service: module URL and sha256, inbound port, the filter's configuration", async () => {
  const [plugin] = (await manifests()) as any[];
  expect(plugin).toMatchObject({ apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { namespace: "shop" } });
  expect(plugin.spec.type).toBe("NETWORK");
  expect(plugin.spec.url).toBe("http://cp.metaproto:18001/wasm/redis.wasm");
  expect(plugin.spec.sha256).toBe(createHash("sha256").update(fs.readFileSync(path.join(wasmDir, "redis.wasm"))).digest("hex"));
  expect(plugin.spec.match).toEqual([{ mode: "SERVER", ports: [{ number: expect.any(Number) }] }]);
  expect(["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]).toContain(plugin.spec.failStrategy);
  // The sidecar's filter gets pluginConfig as its configuration JSON: the compiled filter accepts it.
  const host = await ProxyTestHost.load(await compiledCodec("redis"), { pluginConfig: JSON.stringify(plugin.spec.pluginConfig) });
  expect(() => host.start()).not.toThrow();
}, 120_000);

test("the ConfigMap carries the stats tags of every label and the duration buckets; pods opt in by annotation", async () => {
  const all = (await manifests()) as any[];
  const configMap = all.find((m) => m.kind === "ConfigMap");
  const bootstrap = JSON.parse(configMap.data["custom_bootstrap.json"]);
  const contract = JSON.parse(fs.readFileSync(path.join(repoRoot(), "api", "telemetry", "metrics.json"), "utf8"));
  expect(bootstrap.stats_config.stats_tags.map((t: { tag_name: string }) => t.tag_name)).toEqual(contract.labels);
  expect(bootstrap.stats_config.histogram_bucket_settings[0].match.prefix).toBe("wasmcustom.metaproto_request_duration_microseconds");
  expect(istioPodAnnotations()["sidecar.istio.io/bootstrapOverride"]).toBe(configMap.metadata.name);
  expect(JSON.parse(istioPodAnnotations()["proxy.istio.io/config"]).proxyStatsMatcher.inclusionPrefixes).toEqual(["wasmcustom.metaproto_"]);
});
