// The compiled dist/wasm/mysql.wasm never traps, whatever the bytes: random input, captured
// sessions with bytes changed, odd buffer caps. Memory stays bounded over many connections.
import { ProxyTestHost, testNeverTraps } from "../../api/proxytest";
import { Turn, compiledMysql, play, session, startedHost } from "./test_frames";

let mysql: WebAssembly.Module;
beforeAll(async () => {
  mysql = await compiledMysql();
}, 120_000);

const SESSIONS = ["mysql2", "mariadb", "infile", "raw-eof", "raw-deprecate-eof", "cli", "admin", "auth-failure", "tls", "compressed", "cursor-call", "sysbench"].map(session);

function playChecked(host: ProxyTestHost, turns: Turn[]): void {
  const conn = host.newConnection();
  const sent = { downstream: [] as Buffer[], upstream: [] as Buffer[] };
  for (const t of turns) sent[t.side].push(t.bytes);
  const forwarded = play(conn, turns);
  conn.close("downstream");
  // Whatever the codec made of the bytes, they all went through unchanged.
  expect(forwarded.downstream.equals(Buffer.concat(sent.downstream))).toBe(true);
  expect(forwarded.upstream.equals(Buffer.concat(sent.upstream))).toBe(true);
}

// Random bytes in random directions, and the captured sessions overwritten in place (their turns
// kept), chunked at random under random buffer caps. Random bytes are not MySQL: most
// connections end in a counted decode error.
testNeverTraps(() => mysql, { sessions: SESSIONS, minDecodeErrorShare: 0.5 });

describe("after a real login", () => {
  testNeverTraps(() => mysql, { prelude: session("mariadb").turns.slice(0, 3) });
});

test("memory stays bounded over many connections", async () => {
  const host = await startedHost(mysql);
  const mariadb = session("mariadb");
  for (let i = 0; i < 50; i++) playChecked(host, mariadb.turns);
  const warm = host.guestMemoryBytes();
  for (let i = 0; i < 300; i++) playChecked(host, SESSIONS[i % SESSIONS.length].turns);
  expect(host.traps).toEqual([]);
  expect(host.guestMemoryBytes()).toBeLessThanOrEqual(warm * 2);
});
