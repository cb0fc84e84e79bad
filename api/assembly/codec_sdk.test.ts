// What the SDK hands a codec, seen through a compiled test codec (testdata/sdk_codec.ts): the
// configured caps before the first decode, and a typed state per connection shared by both
// directions.
import { readFileSync } from "fs";
import * as path from "path";
import { compileAssemblyScript, decodedMessages, repoRoot, startedHost } from "../proxytest";

let wasm: WebAssembly.Module;
beforeAll(async () => {
  const out = path.join(repoRoot(), "build", "test", "sdk_codec.wasm");
  await compileAssemblyScript("api/assembly/testdata/sdk_codec.ts", out);
  wasm = new WebAssembly.Module(new Uint8Array(readFileSync(out)));
}, 120_000);

test("the codec sees max_buffered_bytes and max_pending_calls as configured", async () => {
  const host = await startedHost(wasm, { max_buffered_bytes: 4096, max_pending_calls: 7 });
  host.newConnection().downstream("a\n");
  expect(decodedMessages(host).map((m) => m.service)).toEqual(["4096/7"]);
});

test("without them, the defaults: 1 MiB, and 65536 calls for in-order pairing", async () => {
  const host = await startedHost(wasm, {});
  host.newConnection().downstream("a\n");
  expect(decodedMessages(host).map((m) => m.service)).toEqual([`${1024 * 1024}/65536`]);
});

test("each connection has its own state, shared by its two directions", async () => {
  const host = await startedHost(wasm, {});
  const first = host.newConnection();
  const second = host.newConnection();
  first.downstream("a\nb\n");
  second.downstream("c\n");
  first.upstream("ok\n");
  second.upstream("ok\n");
  const seen = decodedMessages(host).map((m) => `${m.direction}:${m.method}`);
  expect(seen).toEqual(["downstream:1", "downstream:2", "downstream:1", "upstream:3", "upstream:2"]);
  expect(host.traps).toEqual([]);
});
