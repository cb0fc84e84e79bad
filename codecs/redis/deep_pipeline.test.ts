// A pipeline deeper than the 1024 pending calls the framework once kept, captured from
// redis-benchmark -P 3000 (fixtures/README.md): every SET is paired with its reply.
import { compiledRedis, fixture, requestsTotal, startedHost } from "./test_frames";

let redis: WebAssembly.Module;
beforeAll(async () => {
  redis = await compiledRedis();
}, 120_000);

const request = fixture("redis-benchmark-deep-set.request.bin");
const response = fixture("redis-benchmark-deep-set.response.bin");

test.each([["whole", request.length], ["in 1460-byte reads", 1460]])("3000 SETs before the first reply (%s)", async (_name, size) => {
  const host = await startedHost(redis, {}, { logLevel: "info" });
  const conn = host.newConnection();
  for (let at = 0; at < request.length; at += size) conn.downstream(request.subarray(at, at + size));
  for (let at = 0; at < response.length; at += size) conn.upstream(response.subarray(at, at + size));
  expect(host.counterValue(requestsTotal("SET", "ok", "OK"))).toBe(3000);
  expect(host.metrics().filter((m) => /no_response|decode_errors/.test(m.name))).toEqual([]);
});
