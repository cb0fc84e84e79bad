// The generator of the configuration readers: what it reads from api/proto, and what it refuses
// rather than silently dropping (a rule only one of the two readers would apply).
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

const generator = require("./generate-config");

const REPO = path.resolve(__dirname, "..");
const SOURCES: string[] = generator.SOURCES.map((source: string) => path.join(generator.PROTO_ROOT, source));

/** A copy of the configuration protos with `edit` applied to filter_config.proto. */
function editedRepo(edit: (text: string) => string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "generate-config-"));
  for (const source of SOURCES) {
    mkdirSync(path.dirname(path.join(dir, source)), { recursive: true });
    const text = readFileSync(path.join(REPO, source), "utf8");
    writeFileSync(path.join(dir, source), source.endsWith("filter_config.proto") ? edit(text) : text);
  }
  return dir;
}

describe("generate-config", () => {
  test("reads every message, each after those it uses, with inline fields' keys in their parent's JSON object", () => {
    const model = generator.loadModel();
    const names: string[] = model.messages.map((m: { name: string }) => m.name);
    expect(names.indexOf("CallMatch")).toBeLessThan(names.indexOf("AuthzRule"));
    expect(names.indexOf("Export")).toBeLessThan(names.indexOf("Tracing"));
    const tracing = model.byName.get("Tracing");
    const exportField = tracing.fields.find((f: { name: string }) => f.name === "export");
    expect(exportField).toMatchObject({ kind: "message", message: "Export", inline: true });
    const asText: string = generator.generateAssemblyScript(model);
    expect(asText).toContain('export const TRACING_JSON_KEYS: Array<string> = ["collector_cluster","max_batch","flush_interval_ms","max_queue","max_retries","export_timeout_ms","service_name","sampling","propagation","span_kind","max_query_text_length"];');
    const maxBatch = model.byName.get("Export").fields.find((f: { name: string }) => f.name === "max_batch");
    expect(maxBatch).toMatchObject({ kind: "number", min: 1, max: 65536, whole: true, default: 512, notAbove: "max_queue" });
  });

  test("refuses a rule it cannot generate for both readers, naming the field", () => {
    const repo = editedRepo((text) => text.replace("string deny_text = 2;", "string deny_text = 2 [(validate.rules).string.email = true];"));
    expect(() => generator.loadModel(repo)).toThrow(/metaproto\.filter\.v1alpha1\.Authz\.deny_text string: unsupported rule email/);
  });

  test("refuses a pattern without the hint its error needs", () => {
    const repo = editedRepo((text) => text.replace(",\n    (metaproto.api.field).pattern_hint = \"an IPv4 CIDR such as 10.0.0.0/8\"", ""));
    expect(() => generator.loadModel(repo)).toThrow(/CallMatch\.source_cidrs: a pattern needs \(metaproto\.api\.field\)\.pattern_hint/);
  });

  test("refuses an at_least_one_of that names no field", () => {
    const repo = editedRepo((text) => text.replace('at_least_one_of: ["abort", "delay"]', 'at_least_one_of: ["abort", "dealy"]'));
    expect(() => generator.loadModel(repo)).toThrow(/Fault: at_least_one_of names no field dealy/);
  });
});
