// The compiled dist/wasm/mysql.wasm never traps, whatever the bytes: random input, captured
// sessions with bytes changed, odd buffer caps. Memory stays bounded over many connections.
import fc from "fast-check";
import { ProxyTestHost } from "../../api/proxytest";
import { Side, Turn, coalesced, compiledMysql, play, rechunked, session, startedHost } from "./test_frames";

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

const side = fc.constantFrom<Side>("downstream", "upstream");
const turn = fc.record({ side, bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)) });

test("random bytes in random directions never trap the VM", async () => {
  const host = await startedHost(mysql);
  await fc.assert(
    fc.asyncProperty(fc.array(turn, { minLength: 1, maxLength: 12 }), async (turns) => {
      playChecked(host, turns);
      expect(host.traps).toEqual([]);
    }),
    { numRuns: 300 },
  );
  // Random bytes are not MySQL: most connections end in a counted decode error.
  const errors = host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total;")).reduce((n, m) => n + m.value, 0);
  expect(errors).toBeGreaterThan(150);
});

test("random bytes after a real login never trap the VM", async () => {
  const login = session("mariadb").turns.slice(0, 3);
  const host = await startedHost(mysql);
  await fc.assert(
    fc.asyncProperty(fc.array(turn, { minLength: 1, maxLength: 12 }), async (turns) => {
      playChecked(host, [...login, ...turns]);
      expect(host.traps).toEqual([]);
    }),
    { numRuns: 300 },
  );
});

test("captured sessions with bytes overwritten, chunked at random, under random buffer caps never trap the VM", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: SESSIONS.length - 1 }),
      fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      fc.integer({ min: 256, max: 4096 }),
      async (which, edits, cuts, cap) => {
        const s = SESSIONS[which];
        const request = Buffer.from(s.request);
        const response = Buffer.from(s.response);
        for (const [inRequest, at, value] of edits) {
          const target = inRequest ? request : response;
          target[at % target.length] = value;
        }
        // The same turns over the edited streams.
        const offset = { downstream: 0, upstream: 0 };
        const turns = s.turns.map((t) => {
          const stream = t.side === "downstream" ? request : response;
          const bytes = stream.subarray(offset[t.side], offset[t.side] + t.bytes.length);
          offset[t.side] += t.bytes.length;
          return { side: t.side, bytes };
        });
        const chunked = rechunked(coalesced(turns), {
          downstream: cuts.map((c) => c % request.length), upstream: cuts.map((c) => c % response.length),
        });
        const host = await startedHost(mysql, { max_buffered_bytes: cap });
        playChecked(host, chunked);
        expect(host.traps).toEqual([]);
      },
    ),
    { numRuns: 300 },
  );
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
