// AwaitingReplies, compiled, against a plain array model: any sequence of pushes, peeks and
// shifts under any limit gives the model's answers.
import fc from "fast-check";
import { readFileSync } from "fs";
import * as path from "path";
import { compileAssemblyScript, repoRoot } from "../proxytest";

interface Driver {
  reset(limit: number): void;
  push(tag: number): void;
  peek(): bigint;
  shift(): bigint;
  length(): number;
  clear(): void;
}

let driver: Driver;
beforeAll(async () => {
  const out = path.join(repoRoot(), "build", "awaiting_replies_driver.wasm");
  await compileAssemblyScript("api/assembly/testdata/awaiting_replies_driver.ts", out, "api/proxytest/testdata/asconfig.json");
  const module = new WebAssembly.Module(new Uint8Array(readFileSync(out)));
  // The module imports only the WASI calls abort would use: none run unless it traps.
  const imports: WebAssembly.Imports = {};
  for (const i of WebAssembly.Module.imports(module)) {
    imports[i.module] ??= {};
    (imports[i.module] as Record<string, unknown>)[i.name] = () => { throw new Error(`${i.module}.${i.name} called`); };
  }
  const instance = new WebAssembly.Instance(module, imports);
  (instance.exports._initialize as (() => void) | undefined)?.();
  driver = instance.exports as unknown as Driver;
}, 120_000);

test("a FIFO of tags, equal neighbours kept as runs", () => {
  driver.reset(0);
  expect(driver.peek()).toBe(-1n);
  for (const tag of [1, 1, 1, 2, 1]) driver.push(tag);
  expect(driver.length()).toBe(5);
  expect([driver.shift(), driver.shift(), driver.peek(), driver.shift(), driver.shift(), driver.shift(), driver.shift()])
    .toEqual([1n, 1n, 1n, 1n, 2n, 1n, -1n]);
  expect(driver.length()).toBe(0);
});

test("past the limit the oldest is forgotten, as the framework evicts it", () => {
  driver.reset(2);
  for (const tag of [7, 8, 9]) driver.push(tag);
  expect([driver.length(), driver.shift(), driver.shift(), driver.shift()]).toEqual([2, 8n, 9n, -1n]);
});

test("any sequence of operations matches an array model", () => {
  const op = fc.oneof(
    fc.record({ op: fc.constant("push" as const), tag: fc.integer({ min: 0, max: 3 }), times: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ op: fc.constant("shift" as const), times: fc.integer({ min: 1, max: 200 }) }),
    fc.constant({ op: "clear" as const }),
  );
  fc.assert(fc.property(fc.integer({ min: 0, max: 300 }), fc.array(op, { maxLength: 40 }), (limit, ops) => {
    driver.reset(limit);
    const model: number[] = [];
    for (const o of ops) {
      if (o.op === "clear") { driver.clear(); model.length = 0; continue; }
      for (let i = 0; i < o.times; i++) {
        if (o.op === "push") {
          if (limit > 0 && model.length >= limit) model.shift();
          model.push(o.tag);
          driver.push(o.tag);
        } else {
          expect(driver.peek()).toBe(BigInt(model.length ? model[0] : -1));
          expect(driver.shift()).toBe(BigInt(model.length ? model.shift()! : -1));
        }
      }
      expect(driver.length()).toBe(model.length);
    }
  }), { numRuns: 200 });
});
