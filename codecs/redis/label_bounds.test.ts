// A hostile server through the compiled dist/wasm/redis.wasm: error replies with a new code word
// each time. Only words Redis defines become labels; series and memory stay flat.
import { memoryCurve } from "../../api/proxytest";
import { command, compiledRedis, startedHost } from "./test_frames";

let redis: WebAssembly.Module;
beforeAll(async () => {
  redis = await compiledRedis();
}, 120_000);

test("150,000 distinct error words: one series, memory flat", async () => {
  const host = await startedHost(redis, {}, { logLevel: "info" });
  const conn = host.newConnection();
  const get = command("GET", "k");
  let word = 0;
  const round = (n: number) => {
    let replies = "";
    for (let i = 0; i < n; i++) replies += `-E${word++}X${"Z".repeat(200)} something failed\r\n`;
    conn.downstream(Buffer.concat(new Array(n).fill(get)));
    conn.upstream(replies);
  };
  const [, middle, end] = memoryCurve(host, () => { for (let i = 0; i < 50; i++) round(1000); });
  expect(host.traps).toEqual([]);
  expect(end).toBeLessThanOrEqual(middle);
  const requests = host.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;"));
  expect(requests.map((m) => [m.name, m.value])).toEqual([
    ["metaproto_requests_total;protocol=redis;service=0;method=GET;response_status=server_error;response_code=OTHER", 150_000],
  ]);
}, 120_000);
