// Profiles a compiled codec in Node's V8 through the host emulator, for finding the hot path:
//   node --prof build/bench/bench/lib/profile_codec.js <protocol> <module.wasm> [seconds] [call name]
//   node --prof-process --preprocess isolate*.log > profile.json   (or without --preprocess for text)
// Build the module with names (asc ... --debug) so Wasm frames show function names.
import { readFileSync } from "fs";
import * as path from "path";
import type { ProtocolBench } from "./protocol";
import { decodeRate } from "./wasm_bench";

async function main(): Promise<void> {
  const [name, wasm, seconds = "5", callName] = process.argv.slice(2);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const protocol: ProtocolBench = require(path.join(__dirname, "..", "protocols", name)).protocol;
  const module = new WebAssembly.Module(readFileSync(wasm));
  const calls = protocol.codecCalls(process.cwd()).filter((c) => !callName || c.name.startsWith(callName));
  const r = await decodeRate(module, protocol.pluginConfig, callName ?? "mixed", calls, Number(seconds));
  process.stdout.write(JSON.stringify(r) + "\n");
}

void main();
