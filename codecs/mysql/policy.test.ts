// Policies through the compiled dist/wasm/mysql.wasm: a refused command never reaches the server
// (a COM_PING goes in its place) and the client gets an ERR packet in the refused command's reply
// position, the replies before and after it intact, whatever the chunking. Where no probe keeps
// the codec's view of the connection true, the connection is closed instead, and counted.
import { testChunkings } from "../../api/proxytest/chunkings";
import {
  CAP, COM, columnDef, command, compiledMysql, decodeErrors, eof, greeting, lenenc, lenencString, login, ok, packet,
  packets, requestsTotal, resultSet, startedHost, u16le, u32le,
} from "./test_frames";

let mysql: WebAssembly.Module;
beforeAll(async () => {
  mysql = await compiledMysql();
}, 120_000);

const DB = "metaproto";
const CAPABILITIES = CAP.CONNECT_WITH_DB | CAP.PROTOCOL_41 | CAP.SECURE_CONNECTION | CAP.PLUGIN_AUTH | CAP.MULTI_RESULTS |
  CAP.SESSION_TRACK | CAP.LOCAL_FILES | CAP.DEPRECATE_EOF;
const PING = command(COM.PING);
const DENIED_TEXT = "denied by MetaProto authz policy";

function deny(...methods: string[]) {
  return { policy: { authz: { rules: methods.map((m) => ({ action: "deny", match: { method: { exact: m } } })) } } };
}

/** An ERR packet as the server writes it (protocol 4.1: '#' and the SQLSTATE before the message). */
function errPacket(seq: number, code: number, sqlState: string, message: string): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([0xff]), u16le(code), Buffer.from("#" + sqlState, "latin1"), Buffer.from(message, "utf8")]));
}

function query(sql: string): Buffer {
  return command(COM.QUERY, sql);
}

function execute(id: number): Buffer {
  return command(COM.STMT_EXECUTE, Buffer.concat([u32le(id), Buffer.from([0]), u32le(1)]));
}

/** A COM_STMT_PREPARE reply for a statement without parameters or columns. */
function prepareOk(seq: number, id: number): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([0]), u32le(id), Buffer.from([0, 0, 0, 0, 0, 0, 0])]));
}

/** A host with `config`, and one connection logged in to `metaproto`. */
async function loggedIn(config: object, capabilities = CAPABILITIES) {
  const host = await startedHost(mysql, config, { logLevel: "info" });
  const conn = host.newConnection();
  conn.upstream(greeting());
  conn.downstream(login({ capabilities, database: DB }));
  conn.upstream(ok(2));
  return { host, conn };
}

function forward(chunks: Buffer[], side: (b: Buffer) => { forwarded: Uint8Array }): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(side(c).forwarded)));
}

describe("a denied COM_QUERY between two allowed ones, pipelined", () => {
  const request = Buffer.concat([query("INSERT INTO t VALUES (1)"), query("DELETE FROM t"), query("SELECT a FROM t")]);
  const serverSees = Buffer.concat([query("INSERT INTO t VALUES (1)"), PING, query("SELECT a FROM t")]);
  const rows = resultSet(1, ["a"], [[Buffer.from("1")]], { deprecateEof: true }).bytes;
  const serverReplies = Buffer.concat([ok(1, { affected: 1 }), ok(1), rows]);
  const clientGets = Buffer.concat([ok(1, { affected: 1 }), errPacket(1, 1142, "42000", DENIED_TEXT), rows]);

  testChunkings(request, serverReplies, async (requestChunks, replyChunks) => {
    const { host, conn } = await loggedIn(deny("COM_QUERY:DELETE"));
    expect(forward(requestChunks, (c) => conn.downstream(c)).equals(serverSees)).toBe(true);
    expect(forward(replyChunks, (c) => conn.upstream(c)).equals(clientGets)).toBe(true);
    expect(conn.closedByFilter).toBe(false);
    expect(host.counterValue("metaproto_local_replies_total;protocol=mysql;reason=denied")).toBe(1);
    expect(host.counterValue(requestsTotal(DB, "COM_QUERY:DELETE", "client_error", "1142"))).toBe(1);
    expect(host.counterValue(requestsTotal(DB, "COM_QUERY:INSERT", "ok", "0"))).toBe(1);
    expect(host.counterValue(requestsTotal(DB, "COM_QUERY:SELECT", "ok", "0"))).toBe(1);
    expect(decodeErrors(host)).toEqual([]);
    expect(host.traps).toEqual([]);
  });
});

describe("a denied COM_STMT_EXECUTE pipelined behind a PREPARE still answering, then an allowed one", () => {
  // MariaDB's connector pipelines EXECUTE of statement id 0xFFFFFFFF ("the one just prepared").
  const prepareAndRun = (id: number) => Buffer.concat([command(COM.STMT_PREPARE, "DELETE FROM t WHERE a = 1"), execute(id)]);
  const request = Buffer.concat([prepareAndRun(0xffffffff), command(COM.STMT_PREPARE, "SELECT 1"), execute(0xffffffff)]);
  const serverSees = Buffer.concat([command(COM.STMT_PREPARE, "DELETE FROM t WHERE a = 1"), PING, command(COM.STMT_PREPARE, "SELECT 1"), execute(0xffffffff)]);
  const selectPrepared = Buffer.concat([packet(1, Buffer.concat([Buffer.from([0]), u32le(2), Buffer.from([1, 0, 0, 0, 0, 0, 0])])), columnDef(2, "1")]);
  const binaryRows = Buffer.concat([packet(1, lenenc(1)), columnDef(2, "1"), packet(3, Buffer.concat([Buffer.from([0, 0]), lenencString("1")])), ok(4, { header: 0xfe })]);
  const serverReplies = Buffer.concat([prepareOk(1, 1), ok(1), selectPrepared, binaryRows]);
  const clientGets = Buffer.concat([prepareOk(1, 1), errPacket(1, 1142, "42000", DENIED_TEXT), selectPrepared, binaryRows]);

  testChunkings(request, serverReplies, async (requestChunks, replyChunks) => {
    const { host, conn } = await loggedIn(deny("COM_STMT_EXECUTE:DELETE"));
    expect(forward(requestChunks, (c) => conn.downstream(c)).equals(serverSees)).toBe(true);
    expect(forward(replyChunks, (c) => conn.upstream(c)).equals(clientGets)).toBe(true);
    expect(conn.closedByFilter).toBe(false);
    expect(host.counterValue(requestsTotal(DB, "COM_STMT_EXECUTE:DELETE", "client_error", "1142"))).toBe(1);
    expect(host.counterValue(requestsTotal(DB, "COM_STMT_EXECUTE:SELECT", "ok", "0"))).toBe(1);
    expect(host.counterValue(requestsTotal(DB, "COM_STMT_PREPARE", "ok", "0"))).toBe(2);
    expect(decodeErrors(host)).toEqual([]);
    expect(host.traps).toEqual([]);
  });
});

test("rate limited: ER_USER_LIMIT_REACHED (1226, 42000), a server error; the bucket's tokens pass first", async () => {
  const config = { policy: { rate_limits: [{ name: "selects", match: { method: { exact: "COM_QUERY:SELECT" } }, max_tokens: 2, tokens_per_fill: 1, fill_interval_ms: 1000 }] } };
  const { host, conn } = await loggedIn(config);
  const select = query("SELECT 1");
  const sent = Buffer.from(conn.downstream(Buffer.concat([select, select, select, select])).forwarded);
  expect(sent.equals(Buffer.concat([select, select, PING, PING]))).toBe(true);
  const one = resultSet(1, ["1"], [[Buffer.from("1")]], { deprecateEof: true }).bytes;
  const replies = Buffer.from(conn.upstream(Buffer.concat([one, one, ok(1), ok(1)])).forwarded);
  const limited = errPacket(1, 1226, "42000", "rate limited by MetaProto");
  expect(replies.equals(Buffer.concat([one, one, limited, limited]))).toBe(true);
  expect(host.counterValue(requestsTotal(DB, "COM_QUERY:SELECT", "server_error", "1226"))).toBe(2);
  expect(host.counterValue("metaproto_local_replies_total;protocol=mysql;reason=rate_limited")).toBe(2);
  host.advanceTime(1000);
  expect(Buffer.from(conn.downstream(select).forwarded).equals(select)).toBe(true);
});

test("fault: ER_QUERY_INTERRUPTED (1317, 70100), a server error, with the fault's text", async () => {
  const config = { policy: { faults: [{ match: { method: { exact: "COM_QUERY:UPDATE" } }, abort: { percentage: 100, text: "injected" } }] } };
  const { host, conn } = await loggedIn(config);
  expect(Buffer.from(conn.downstream(query("UPDATE t SET a = 2")).forwarded).equals(PING)).toBe(true);
  expect(Buffer.from(conn.upstream(ok(1)).forwarded).equals(errPacket(1, 1317, "70100", "injected"))).toBe(true);
  expect(host.counterValue(requestsTotal(DB, "COM_QUERY:UPDATE", "server_error", "1317"))).toBe(1);
  expect(host.counterValue("metaproto_local_replies_total;protocol=mysql;reason=fault")).toBe(1);
});

test("the message is the policy's text in UTF-8, cut at 511 bytes on a character boundary", async () => {
  const text = "refusé " + "é".repeat(400);
  const config = { policy: { authz: { deny_text: text, rules: [{ action: "deny", match: { method: { exact: "COM_QUERY:DROP" } } }] } } };
  const { conn } = await loggedIn(config);
  conn.downstream(query("DROP TABLE t"));
  const reply = Buffer.from(conn.upstream(ok(1)).forwarded);
  const message = reply.subarray(4 + 3 + 6);
  expect(message.length).toBe(510); // "refusé " is 8 bytes; 251 more "é" of 2 bytes fit in 511, a 252nd would not
  expect(message.toString("utf8")).toBe(Buffer.from(text, "utf8").subarray(0, 510).toString("utf8"));
  expect(reply.readUIntLE(0, 3)).toBe(reply.length - 4);
});

describe("where a COM_PING's OK would leave the codec's view wrong, the connection is closed and the command never sent", () => {
  const prepared = [["downstream", command(COM.STMT_PREPARE, "SELECT 1")], ["upstream", prepareOk(1, 1)]] as const;
  test.each([
    ["USE (the schema would change)", "COM_QUERY:USE", query("USE other"), []],
    ["COM_INIT_DB (the schema would change)", "COM_INIT_DB", command(COM.INIT_DB, "other"), []],
    ["LOAD DATA LOCAL (the reply may ask for the client's file)", "COM_QUERY:LOAD", query("LOAD DATA LOCAL INFILE 'f' INTO TABLE t"), []],
    ["COM_STMT_PREPARE (its reply has another shape)", "COM_STMT_PREPARE", command(COM.STMT_PREPARE, "SELECT 1"), []],
    ["COM_RESET_CONNECTION (prepared statements would be forgotten)", "COM_RESET_CONNECTION", command(COM.RESET_CONNECTION), []],
    ["COM_CHANGE_USER (an auth exchange)", "COM_CHANGE_USER", command(COM.CHANGE_USER, Buffer.from("u\0\0other\0", "latin1")), []],
    ["COM_FIELD_LIST (its reply has another shape)", "COM_FIELD_LIST", command(COM.FIELD_LIST, Buffer.from("t\0", "latin1")), []],
    ["COM_STATISTICS (its reply has another shape)", "COM_STATISTICS", command(COM.STATISTICS), []],
    ["COM_STMT_FETCH (its reply has another shape)", "COM_STMT_FETCH", command(COM.STMT_FETCH, Buffer.concat([u32le(1), u32le(10)])), prepared],
    ["a command behind a COM_CHANGE_USER still authenticating", "COM_QUERY:SELECT",
      Buffer.concat([command(COM.CHANGE_USER, Buffer.from("u\0\0other\0", "latin1")), query("SELECT 1")]), []],
  ])("%s", async (_, method, refused, before) => {
    const { host, conn } = await loggedIn(deny(method));
    for (const [side, bytes] of before) conn[side](bytes);
    const sent = Buffer.from(conn.downstream(refused).forwarded);
    expect(sent.includes(PING)).toBe(false);
    expect(refused.subarray(sent.length).length).toBeGreaterThan(0);
    expect(sent.equals(refused.subarray(0, sent.length))).toBe(true); // only what came before the refused command
    expect(conn.closedByFilter).toBe(true);
    expect(host.counterValue("metaproto_policy_closes_total;protocol=mysql;reason=no_probe")).toBe(1);
    expect(host.counterValue("metaproto_local_replies_total;protocol=mysql;reason=denied") ?? 0).toBe(0);
  });

  test("the login", async () => {
    const host = await startedHost(mysql, deny("LOGIN"), { logLevel: "info" });
    const conn = host.newConnection();
    conn.upstream(greeting());
    expect(Buffer.from(conn.downstream(login({ capabilities: CAPABILITIES, database: DB })).forwarded).length).toBe(0);
    expect(conn.closedByFilter).toBe(true);
    expect(host.counterValue("metaproto_policy_closes_total;protocol=mysql;reason=no_probe")).toBe(1);
  });

  test("a command of 16 MiB and more (its reply does not start at sequence id 1, as a PING's does)", async () => {
    const { host, conn } = await loggedIn({ max_buffered_bytes: 32 * 1024 * 1024, ...deny("COM_QUERY:DELETE") });
    const sql = Buffer.concat([Buffer.from("\x03DELETE FROM t WHERE a = '", "latin1"), Buffer.alloc(0xffffff, 0x61), Buffer.from("'")]);
    let sent = 0;
    const wire = packets(0, sql);
    for (let at = 0; at < wire.length; at += 256 * 1024) sent += conn.downstream(wire.subarray(at, at + 256 * 1024)).forwarded.length;
    expect(sent).toBe(0);
    expect(conn.closedByFilter).toBe(true);
    expect(host.counterValue("metaproto_policy_closes_total;protocol=mysql;reason=no_probe")).toBe(1);
  }, 60_000);
});

test("the probe's OK is read as the refused command's reply: the schema stays, prepared statements stay named", async () => {
  const { host, conn } = await loggedIn(deny("COM_STMT_EXECUTE:DELETE", "COM_QUERY:DELETE"));
  conn.downstream(command(COM.STMT_PREPARE, "DELETE FROM t"));
  conn.upstream(prepareOk(1, 4));
  for (const refused of [execute(4), query("DELETE FROM t; USE other")]) {
    expect(Buffer.from(conn.downstream(refused).forwarded).equals(PING)).toBe(true);
    conn.upstream(ok(1));
  }
  conn.downstream(execute(4));
  conn.upstream(ok(1));
  expect(host.counterValue(requestsTotal(DB, "COM_STMT_EXECUTE:DELETE", "client_error", "1142"))).toBe(2);
  expect(host.counterValue(requestsTotal(DB, "COM_QUERY:DELETE", "client_error", "1142"))).toBe(1);
  expect(decodeErrors(host)).toEqual([]);
});

test("without a policy nothing changes: a DELETE reaches the server byte for byte", async () => {
  const { conn } = await loggedIn({});
  expect(Buffer.from(conn.downstream(query("DELETE FROM t")).forwarded).equals(query("DELETE FROM t"))).toBe(true);
  expect(Buffer.from(conn.upstream(ok(1)).forwarded).equals(ok(1))).toBe(true);
});

test("connection routes never hold a MySQL connection: the client waits for the greeting, so tcp_proxy must connect", async () => {
  const config = { policy: { routes: [{ match: { method: { prefix: "COM_QUERY" } }, cluster: "replicas" }] } };
  const host = await startedHost(mysql, config, { logLevel: "info" });
  const conn = host.newConnection();
  expect(conn.onNewConnectionStatus).toBe(0); // Continue: tcp_proxy connects at once
  conn.upstream(greeting());
  conn.downstream(login({ capabilities: CAPABILITIES, database: DB }));
  conn.upstream(ok(2));
  const select = query("SELECT 1");
  expect(Buffer.from(conn.downstream(select).forwarded).equals(select)).toBe(true);
  expect(conn.filterState.has("envoy.tcp_proxy.cluster")).toBe(false);
  expect(host.counterValue("metaproto_connection_routes_total;protocol=mysql;reason=server_first")).toBe(1);
  expect(host.traps).toEqual([]);
});
