// A hostile server through the compiled dist/wasm/mysql.wasm: every query answered with an ERR of
// a new code (all 65,534 a u16 allows). Response codes are folded past max_response_codes.
import { memoryCurve } from "../../api/proxytest";
import { COM, command, compiledMysql, err, greeting, login, ok, startedHost } from "./test_frames";

let mysql: WebAssembly.Module;
beforeAll(async () => {
  mysql = await compiledMysql();
}, 120_000);

test("65,534 distinct ERR codes: codes folded into `other`, memory flat", async () => {
  const host = await startedHost(mysql, {}, { logLevel: "info" });
  const conn = host.newConnection();
  conn.upstream(greeting());
  conn.downstream(login({ database: "db" }));
  conn.upstream(ok(2));
  const query = command(COM.QUERY, "SELECT 1");
  let code = 1;
  const round = (n: number) => {
    for (let i = 0; i < n && code < 65535; i++) {
      conn.downstream(query);
      conn.upstream(err(1, code++));
    }
  };
  const [, middle, end] = memoryCurve(host, () => round(21845));
  expect(host.traps).toEqual([]);
  expect(end).toBeLessThanOrEqual(middle);
  const selects = host.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;protocol=mysql;service=db;method=COM_QUERY:SELECT;"));
  expect(selects.reduce((n, m) => n + m.value, 0)).toBe(65_534);
  // Up to 32 named codes, then one `other` per response_status the codes fell in.
  expect(selects.filter((m) => !m.name.endsWith("response_code=other")).length).toBe(32);
  expect(host.counterValue("metaproto_label_overflow_total;protocol=mysql;dimension=response_code")).toBe(65_534 - 32);
}, 120_000);
