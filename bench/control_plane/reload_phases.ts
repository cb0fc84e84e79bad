// Where one reload's time goes: serve's own steps (control-plane/serve.ts reload → configure.ts), run
// here in the benchmark's process on the same files, each step timed on its own. The file is changed
// before each reload, so the YAML is parsed again as in serve (model/load.ts skips unchanged files).
import { writeFileSync } from "fs";
import * as path from "path";
import * as jsYaml from "js-yaml";
import * as YAML from "yaml";
import { CORE_SCHEMA, loadFiles } from "../../control-plane/model/load";
import { KINDS, Kind } from "../../control-plane/model/schema";
import { crossCheck } from "../../control-plane/model/cross_check";
import { translate } from "../../control-plane/resources/translate";
import { Snapshot } from "../../control-plane/xds/cache";
import { envoyApi } from "../../control-plane/xds/api";
import { summarize, Summary } from "./stats";

export interface ReloadPhases {
  /** CPU time (process.cpuUsage, all threads: GC helpers included) per step: unlike wall time, not stretched by waiting for a busy CPU. */
  cpu: { load: Summary; translate: Summary; snapshot: Summary; total: Summary };
  /** model/load.ts loadFiles as a whole: read, YAML parse, schema (zod), cross-document checks. */
  load: Summary;
  /** Its parts, measured separately on the same text: the whole file parsed by js-yaml (as load reads documents), and by the `yaml` package. */
  jsYamlParse?: Summary;
  yamlParse: Summary;
  schema: Summary;
  crossCheck: Summary;
  /** resources/translate.ts: model → Envoy resources. */
  translate: Summary;
  /** xds/cache.ts: checks, then encoding of the resources that changed (the rest reused from the last snapshot). */
  snapshot: Summary;
  total: Summary;
}

const now = () => performance.now();
const cpuNow = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};

export function measureReloadPhases(workDir: string, wasmDir: string, texts: string[]): ReloadPhases {
  envoyApi(); // loaded once at serve's start, not per reload
  const file = path.join(workDir, "phases.yaml");
  const samples: Record<Exclude<keyof ReloadPhases, "cpu">, number[]> = { load: [], jsYamlParse: [], yamlParse: [], schema: [], crossCheck: [], translate: [], snapshot: [], total: [] };
  const cpu: Record<keyof ReloadPhases["cpu"], number[]> = { load: [], translate: [], snapshot: [], total: [] };
  let previous: Snapshot | undefined;
  texts.forEach((text, i) => {
    writeFileSync(file, text);
    const [t0, c0] = [now(), cpuNow()];
    const { model, errors } = loadFiles([file]);
    if (!model) throw new Error(`the generated configuration does not load: ${JSON.stringify(errors[0])}`);
    const [t1, c1] = [now(), cpuNow()];
    const resources = translate(model, { wasmDir });
    const [t2, c2] = [now(), cpuNow()];
    const inconsistent = Snapshot.consistencyErrors(resources);
    if (inconsistent.length) throw new Error(inconsistent[0]);
    const snapshot = new Snapshot(resources, previous);
    const [t3, c3] = [now(), cpuNow()];
    previous = snapshot;
    // The first reload encodes everything (serve's start); later ones are what a change costs.
    if (i === 0) return;
    samples.load.push(t1 - t0);
    samples.translate.push(t2 - t1);
    samples.snapshot.push(t3 - t2);
    samples.total.push(t3 - t0);
    cpu.load.push(c1 - c0);
    cpu.translate.push(c2 - c1);
    cpu.snapshot.push(c3 - c2);
    cpu.total.push(c3 - c0);

    const y0 = now();
    YAML.parseAllDocuments(text, { prettyErrors: false }).map((d) => d.toJS());
    const y1 = now();
    samples.yamlParse.push(y1 - y0);
    const p0 = now();
    const values = (jsYaml.loadAll(text, undefined, { schema: CORE_SCHEMA }) as { kind: string }[]).filter((v) => v);
    const p1 = now();
    const parsed = values.map((v) => KINDS[v.kind as Kind].parse(v));
    const p2 = now();
    const services = new Map();
    const routers = new Map();
    parsed.forEach((value, d) => (value.kind === "Service" ? services : routers).set(value.metadata.name, { file, document: d + 1, value }));
    const p3 = now();
    crossCheck({ services, routers, telemetry: new Map() });
    const p4 = now();
    samples.jsYamlParse.push(p1 - p0);
    samples.schema.push(p2 - p1);
    samples.crossCheck.push(p4 - p3);
  });
  const summaries = <K extends string>(of: Record<K, number[]>) => Object.fromEntries(Object.entries<number[]>(of).map(([k, v]) => [k, summarize(v)])) as Record<K, Summary>;
  return { ...summaries(samples), cpu: summaries(cpu) };
}
