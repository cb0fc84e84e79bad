// A hostile server through the compiled dist/wasm/thrift.wasm: every reply a TApplicationException
// of a new type (an i32 the upstream chooses). Series and memory must stay flat.
import { memoryCurve } from "../../api/proxytest";
import { appException, call, compiledThrift, startedHost } from "./test_frames";

let thrift: WebAssembly.Module;
beforeAll(async () => {
  thrift = await compiledThrift();
}, 120_000);

test("201,000 distinct exception types: response codes folded into `other`, memory flat", async () => {
  const host = await startedHost(thrift, {}, { logLevel: "info" });
  const conn = host.newConnection();
  const request = call("binary", "framed", "ping");
  let type = 0;
  const round = (n: number) => {
    const replies: Buffer[] = [];
    for (let i = 0; i < n; i++) replies.push(appException("binary", "framed", "ping", 1000 + type++));
    conn.downstream(Buffer.concat(new Array(n).fill(request)));
    conn.upstream(Buffer.concat(replies));
  };
  const [, middle, end] = memoryCurve(host, () => { for (let i = 0; i < 67; i++) round(1000); });
  expect(host.traps).toEqual([]);
  expect(end).toBeLessThanOrEqual(middle);
  const requests = host.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;"));
  // The default max_response_codes (32) named codes, then `other`.
  expect(requests.length).toBe(32 + 1);
  expect(requests.reduce((n, m) => n + m.value, 0)).toBe(201_000);
  expect(host.counterValue("metaproto_requests_total;protocol=thrift;service=;method=ping;response_status=server_error;response_code=other")).toBe(201_000 - 32);
  expect(host.counterValue("metaproto_label_overflow_total;protocol=thrift;dimension=response_code")).toBe(201_000 - 32);
}, 120_000);
