/**
 * Compiles AssemblyScript test modules for the proxytest host emulator, with the repository's
 * asconfig.json (`--config asconfig.json --target release`), exactly as build.sh builds codecs.
 */
import { execFile } from "child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "fs";
import * as path from "path";

/** The repository root: the nearest ancestor of this file holding asconfig.json and the AssemblyScript compiler. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, "asconfig.json")) && existsSync(path.join(dir, "node_modules", "assemblyscript", "bin", "asc.js"))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no asconfig.json with node_modules/assemblyscript above ${__dirname}`);
    dir = parent;
  }
}

const IMPORT_RE = /(?:import|export)\s+(?:[^'";]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']/g;

/** The entry file and every local (relative) module it imports, transitively. */
function localSources(entry: string): string[] {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT_RE)) {
      const base = path.resolve(path.dirname(file), m[1]);
      for (const candidate of [base, base + ".ts", path.join(base, "index.ts")]) {
        if (existsSync(candidate) && statSync(candidate).isFile()) {
          stack.push(candidate);
          break;
        }
      }
    }
  }
  return [...seen];
}

/**
 * Compiles `entry` (AssemblyScript) to `outFile` with `asc --config <config> --target release`
 * (`config` defaults to the repository's asconfig.json, the one build.sh uses).
 * Relative paths are resolved against the repository root. The build is skipped when `outFile` is
 * newer than the entry, every local module it imports (transitively) and asconfig.json. Safe to call
 * from parallel jest workers (the output is written to a temporary file and renamed).
 * @throws Error with the compiler's output if compilation fails
 */
export async function compileAssemblyScript(entry: string, outFile: string, config = "asconfig.json"): Promise<void> {
  const root = repoRoot();
  const entryPath = path.resolve(root, entry);
  const outPath = path.resolve(root, outFile);
  if (!existsSync(entryPath)) throw new Error(`compileAssemblyScript: no such file ${entryPath}`);
  const inputs = [...localSources(entryPath), path.resolve(root, config)];
  if (existsSync(outPath)) {
    const built = statSync(outPath).mtimeMs;
    if (inputs.every((f) => statSync(f).mtimeMs < built)) return;
  }
  mkdirSync(path.dirname(outPath), { recursive: true });
  const tmp = `${outPath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp.wasm`;
  const asc = path.join(root, "node_modules", "assemblyscript", "bin", "asc.js");
  const args = [asc, path.relative(root, entryPath), "--config", path.relative(root, path.resolve(root, config)), "--target", "release", "--outFile", tmp];
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, args, { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`asc failed for ${entry}:\n${stdout}${stderr}`));
        else resolve();
      });
    });
    renameSync(tmp, outPath);
  } finally {
    rmSync(tmp, { force: true });
  }
}
