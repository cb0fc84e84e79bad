import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "fs";
import * as path from "path";
import { compileAssemblyScript, repoRoot } from "./index";

// Scratch sources live under build/ (git-ignored) so relative imports resolve. They are plain
// modules, so they build with the test-data config (the repository's expects api/assembly's abort).
const CONFIG = "api/proxytest/testdata/asconfig.json";
mkdirSync(path.join(repoRoot(), "build"), { recursive: true });
const dir = mkdtempSync(path.join(repoRoot(), "build", "proxytest-compile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("builds, skips an up-to-date output, and rebuilds when an imported file changes", async () => {
  const dep = path.join(dir, "dep.ts");
  const entry = path.join(dir, "entry.ts");
  const out = path.join(dir, "out.wasm");
  writeFileSync(dep, "export function two(): i32 { return 2; }\n");
  writeFileSync(entry, 'import { two } from "./dep";\nexport function four(): i32 { return two() * 2; }\n');
  await compileAssemblyScript(entry, out, CONFIG);
  const first = statSync(out).mtimeMs;
  const mod = new WebAssembly.Module(new Uint8Array(readFileSync(out)));
  expect(WebAssembly.Module.exports(mod).map((e) => e.name)).toContain("four");

  await compileAssemblyScript(entry, out, CONFIG);
  expect(statSync(out).mtimeMs).toBe(first);

  const later = new Date(first + 5000);
  utimesSync(dep, later, later);
  await compileAssemblyScript(entry, out, CONFIG);
  expect(statSync(out).mtimeMs).toBeGreaterThan(first);
}, 60_000);

test("a compile error is reported with the compiler output", async () => {
  const entry = path.join(dir, "broken.ts");
  writeFileSync(entry, "export function f(): i32 { return nope; }\n");
  await expect(compileAssemblyScript(entry, path.join(dir, "broken.wasm"), CONFIG)).rejects.toThrow(/asc failed[\s\S]*nope/);
}, 60_000);
