// Configuration files → a snapshot Envoy can take, or the reasons it cannot. Used by `validate` and
// `serve` alike, so whatever validate accepts is exactly what serve would push.
import * as fs from "fs";
import * as path from "path";
import { ConfigError, formatError, loadFiles, Model } from "./model/load";
import { BRIDGE_MODULES } from "./model/router_mode";
import { translate, TranslateOptions } from "./resources/translate";
import type { ResourceSet } from "./resources/types";
import { Snapshot } from "./xds/cache";

export type Compiled =
  | { ok: true; model: Model; resources: ResourceSet; snapshot: Snapshot }
  | { ok: false; errors: string[] };

export function compileConfig(files: string[], options: TranslateOptions & { checkWasmFiles?: boolean; previous?: Snapshot }): Compiled {
  const { model, errors } = loadFiles(files);
  if (!model) return { ok: false, errors: errors.map(formatError) };
  const missing: ConfigError[] = [];
  if (options.checkWasmFiles !== false) {
    for (const { file, document, value } of model.services.values()) {
      // A router-mode Service runs its protocol's bridge instead of the codec's filter.
      const bridge = value.spec.mode === "router" ? BRIDGE_MODULES[value.spec.protocol] : undefined;
      const wasm = path.join(options.wasmDir, `${bridge ?? value.spec.protocol}.wasm`);
      if (!fs.existsSync(wasm)) {
        missing.push({ file, document, kind: value.kind, name: value.metadata.name, path: bridge ? ["spec", "mode"] : ["spec", "protocol"],
          message: bridge ? `no bridge module ${wasm}: build it (./build.sh build compiles filters/bridge/), or point --wasm-dir at its folder`
            : `no codec module ${wasm}: build it (./build.sh build compiles codecs/${value.spec.protocol}/), or point --wasm-dir at its folder` });
      }
    }
  }
  if (missing.length) return { ok: false, errors: missing.map(formatError) };
  try {
    const resources = translate(model, options);
    const inconsistent = Snapshot.consistencyErrors(resources);
    if (inconsistent.length) return { ok: false, errors: inconsistent.map((e) => `internal: ${e} (a bug in the translation: please report it with your files)`) };
    return { ok: true, model, resources, snapshot: new Snapshot(resources, options.previous) };
  } catch (err) {
    return { ok: false, errors: [`internal: ${(err as Error).message} (a bug in the translation: please report it with your files)`] };
  }
}
