// The toy line protocol (line_codec.ts) compiled like any codec, and a started host running it:
// what the framework's own tests drive.
import { readFileSync } from "fs";
import * as path from "path";
import { ProxyTestHost, compileAssemblyScript, repoRoot } from "../../../api/proxytest";

const WASM = "build/test/line.wasm";

export async function compiledLine(): Promise<WebAssembly.Module> {
  await compileAssemblyScript("filters/metaprotocol/testdata/main.ts", WASM);
  return new WebAssembly.Module(readFileSync(path.join(repoRoot(), WASM)));
}

/** A started host with the line module and this plugin configuration. */
export async function lineHost(module: WebAssembly.Module, config: object = {}): Promise<ProxyTestHost> {
  const host = await ProxyTestHost.load(module, { pluginConfig: JSON.stringify(config) });
  host.start();
  return host;
}
