// The compiled dist/wasm/mysql.wasm against sessions captured between real clients and a real
// MariaDB 10.11 server (codecs/mysql/fixtures/README.md). Each session is replayed in the order
// the two directions interleaved (MySQL turns depend on each other), as recorded, coalesced,
// one byte at a time, split at every byte boundary and in random chunkings.
import fc from "fast-check";
import {
  Decoded, Session, Turn, bytewise, callsCounted, coalesced, compiledMysql, decodeErrors, decodedMessages, play,
  rechunked, requestsTotal, session, startedHost,
} from "./test_frames";

let mysql: WebAssembly.Module;
beforeAll(async () => {
  mysql = await compiledMysql();
}, 120_000);

/** A call as the client made it: [kind, service, method, status, code]. Oneway calls have status "none". */
type Call = [string, string, string, string, string];

interface Expected {
  session: Session;
  calls: Call[];
  /** Client bytes that belong to no call: auth data after an auth switch, LOCAL INFILE contents. */
  clientTurnBytes: number;
  passThrough?: string;
}

const OK = "ok";
const DB = "metaproto";

function times(n: number, call: Call): Call[] {
  return Array.from({ length: n }, () => call);
}

const EXPECTED: Expected[] = [
  {
    // test/mysql/clients.js mysql2 (npm mysql2 3.24.6, no CLIENT_DEPRECATE_EOF)
    session: session("mysql2"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:DELETE", OK, "0"],
      ...times(5, ["request", DB, "COM_QUERY:INSERT", OK, "0"]),
      ["request", DB, "COM_QUERY:SELECT", OK, "0"],
      ["request", DB, "COM_QUERY:UPDATE", OK, "0"],
      ["request", DB, "COM_QUERY:SELECT", OK, "0"], // after a block comment, a line comment and "("
      ["request", DB, "COM_QUERY:SELECT", OK, "0"], // two statements, two result sets
      ["request", DB, "COM_STMT_PREPARE", OK, "0"],
      ...times(3, ["request", DB, "COM_STMT_EXECUTE:SELECT", OK, "0"]),
      ...times(2, ["oneway", DB, "COM_STMT_CLOSE", "none", ""]),
      ["request", DB, "COM_QUERY:OTHER", "client_error", "1064"], // "SELEC nonsense"
      ["request", DB, "COM_QUERY:SELECT", "client_error", "1146"],
      ["request", DB, "COM_PING", OK, "0"],
      ["request", DB, "COM_QUERY:USE", OK, "0"], // USE mysql
      ["request", "mysql", "COM_QUERY:USE", OK, "0"], // USE metaproto
      ["request", DB, "COM_CHANGE_USER", OK, "0"], // answered with an auth switch first
      ["request", DB, "COM_QUERY:SELECT", OK, "0"],
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 24, // the auth switch response to COM_CHANGE_USER
  },
  {
    // test/mysql/clients.js mariadb (npm mariadb 3.5.4: CLIENT_DEPRECATE_EOF, metadata cache, pipelining)
    session: session("mariadb"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_QUERY:SET", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:DELETE", OK, "0"],
      ...times(10, ["request", DB, "COM_QUERY:INSERT", OK, "0"]), // pipelined
      ...times(10, ["request", DB, "COM_QUERY:SELECT", OK, "0"]), // pipelined
      ["request", DB, "COM_STMT_PREPARE", OK, "0"],
      ...times(4, ["request", DB, "COM_STMT_EXECUTE:SELECT", OK, "0"]), // the first pipelined with statement id -1
      ["request", DB, "COM_QUERY:INSERT", "client_error", "1062"],
      ["request", DB, "COM_QUERY:DROP", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:CALL", OK, "0"], // two result sets and a final OK
      ["request", DB, "COM_PING", OK, "0"],
      ["request", DB, "COM_RESET_CONNECTION", OK, "0"],
      ["oneway", DB, "COM_STMT_CLOSE", "none", ""],
      ["request", DB, "COM_QUERY:SELECT", OK, "0"],
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 0,
  },
  {
    // test/mysql/clients.js infile (npm mysql2, LOAD DATA LOCAL INFILE)
    session: session("infile"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:DELETE", OK, "0"],
      ["request", DB, "COM_QUERY:LOAD", OK, "0"],
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 534 + 4, // the file (one packet) and the empty packet ending it
  },
  ...["raw-eof", "raw-deprecate-eof"].map((name): Expected => ({
    // test/mysql/raw_client.js: the commands the npm drivers never send, without and with
    // CLIENT_DEPRECATE_EOF; raw-eof also gets MariaDB progress reports during an ALTER TABLE.
    session: session(name),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_INIT_DB", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:REPLACE", OK, "0"],
      ["request", DB, "COM_FIELD_LIST", OK, "0"],
      ["request", DB, "COM_STATISTICS", OK, "0"],
      ["request", DB, "COM_SET_OPTION", OK, "0"], // answered with an EOF (an OK under DEPRECATE_EOF)
      ["request", DB, "COM_STMT_PREPARE", OK, "0"],
      ["oneway", DB, "COM_STMT_SEND_LONG_DATA", "none", ""],
      ["request", DB, "COM_STMT_EXECUTE:UPDATE", OK, "0"],
      ["request", DB, "COM_STMT_RESET", OK, "0"],
      ["request", DB, "COM_STMT_PREPARE", OK, "0"],
      ["request", DB, "COM_STMT_EXECUTE:SELECT", OK, "0"], // opens a cursor: metadata only
      ...times(2, ["request", DB, "COM_STMT_FETCH", OK, "0"]),
      ...times(2, ["oneway", DB, "COM_STMT_CLOSE", "none", ""]),
      ["request", DB, "COM_PROCESS_INFO", OK, "0"],
      ["request", DB, "COM_REFRESH", OK, "0"],
      ["request", DB, "COM_DEBUG", OK, "0"],
      ["request", DB, "COM_QUERY:SELECT", "client_error", "1146"], // SELECT 1; SELECT <missing>; SELECT 2
      ...(name === "raw-eof" ? [
        ["request", DB, "COM_QUERY:SET", OK, "0"],
        ["request", DB, "COM_QUERY:DROP", OK, "0"],
        ["request", DB, "COM_QUERY:CREATE", OK, "0"],
        ["request", DB, "COM_QUERY:ALTER", OK, "0"], // two progress reports, then OK
        ["request", DB, "COM_QUERY:DROP", OK, "0"],
      ] as Call[] : []),
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 0,
  })),
  {
    // the Debian mariadb CLI 10.11 (libmariadb) with --ssl=0: metadata cache, no DEPRECATE_EOF, COM_INIT_DB for USE
    session: session("cli"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_QUERY:SELECT", OK, "0"],
      ["request", DB, "COM_QUERY:SHOW", OK, "0"],
      ["request", DB, "COM_QUERY:SELECT", OK, "0"],
      ["request", DB, "COM_INIT_DB", OK, "0"],
      ["request", "mysql", "COM_QUERY:SELECT", OK, "0"],
      ["oneway", "mysql", "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 0,
  },
  {
    // mariadb-admin status ping: COM_STATISTICS (a text reply) and COM_PING; no database
    session: session("admin"),
    calls: [
      ["request", "", "LOGIN", OK, "0"],
      ["request", "", "COM_STATISTICS", OK, "0"],
      ["request", "", "COM_PING", OK, "0"],
      ["oneway", "", "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 0,
  },
  {
    // the mariadb CLI with a wrong password: the login fails, the server hangs up
    session: session("auth-failure"),
    calls: [["request", "", "LOGIN", "client_error", "1045"]],
    clientTurnBytes: 0,
  },
  {
    // test/mysql/clients.js cursor-call (npm mysql2, no DEPRECATE_EOF): a CALL whose procedure has a
    // cursor open while it returns a result set; MariaDB sets SERVER_STATUS_CURSOR_EXISTS on that
    // result set's column EOF, and its rows follow.
    session: session("cursor-call"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:DELETE", OK, "0"],
      ["request", DB, "COM_QUERY:INSERT", OK, "0"],
      ["request", DB, "COM_QUERY:DROP", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:CALL", OK, "0"], // column EOF status 0x006a, 3 rows, EOF, final OK
      ["request", DB, "COM_QUERY:SELECT", OK, "0"],
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 0,
  },
];

async function run(turns: Turn[], config: object = {}) {
  const host = await startedHost(mysql, config);
  const conn = host.newConnection();
  const forwarded = play(conn, turns);
  conn.close("downstream");
  expect(host.traps).toEqual([]);
  return { host, forwarded, decoded: decodedMessages(host) };
}

function checkSession(e: Expected, result: Awaited<ReturnType<typeof run>>): void {
  const { session: s, calls } = e;
  // Transparent: every byte leaves the filter as it came, in order.
  expect(result.forwarded.downstream.equals(s.request)).toBe(true);
  expect(result.forwarded.upstream.equals(s.response)).toBe(true);
  expect(decodeErrors(result.host)).toEqual([]);

  const requests = result.decoded.filter((m) => m.direction === "downstream");
  const responses = result.decoded.filter((m) => m.direction === "upstream" && m.kind === "response");
  const events = result.decoded.filter((m) => m.direction === "upstream" && m.kind !== "response");
  // The greeting is the only event.
  expect(events.map((m) => [m.kind, m.attributes.server_version])).toEqual([["event", "10.11.19-MariaDB-0+deb12u1"]]);

  // Responses come in request order; pair them up as the framework does.
  const answered = [...responses];
  const seen: Call[] = requests.map((m: Decoded) => {
    if (m.kind !== "request") return [m.kind, m.service, m.method, "none", ""];
    const reply = answered.shift()!;
    expect(reply.method).toBe(m.method);
    return [m.kind, m.service, m.method, reply.status, reply.code];
  });
  expect(seen).toEqual(calls);
  expect(answered).toEqual([]);
  expect(requests.every((m) => !m.truncated)).toBe(true);

  // Frame lengths add up to the whole session: nothing decoded twice, nothing lost but client turns.
  const total = (ms: Decoded[]) => ms.reduce((n, m) => n + m.frame_length, 0);
  expect(total(requests)).toBe(s.request.length - e.clientTurnBytes);
  expect(total(responses) + total(events)).toBe(s.response.length);

  // Metrics: one count per call, by service, method and outcome.
  const { host } = result;
  const expected = new Map<string, number>();
  for (const [kind, service, method, status, code] of calls) {
    const key = kind === "oneway" ? requestsTotal(service, method, "no_response", "oneway") : requestsTotal(service, method, status, code);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  for (const [name, count] of expected) expect([name, host.counterValue(name)]).toEqual([name, count]);
  expect(callsCounted(host)).toBe(calls.length);
  const durations = host.metrics().filter((m) => m.name.startsWith("metaproto_request_duration_microseconds;"));
  expect(durations.reduce((n, m) => n + (m.samples?.length ?? 0), 0)).toBe(calls.filter((c) => c[0] === "request").length);
  const requestBytes = host.metrics().filter((m) => m.name.startsWith("metaproto_request_bytes_total;")).reduce((n, m) => n + m.value, 0);
  expect(requestBytes).toBe(s.request.length - e.clientTurnBytes);
}

describe.each(EXPECTED)("$session.name", (e) => {
  test("as recorded", async () => {
    checkSession(e, await run(e.session.turns));
  });

  test("each side's consecutive chunks coalesced (pipelined commands in one read)", async () => {
    checkSession(e, await run(coalesced(e.session.turns)));
  });

  test("one byte at a time", async () => {
    checkSession(e, await run(bytewise(e.session.turns)));
  });

  test("random chunkings", async () => {
    const cuts = (n: number) => fc.array(fc.integer({ min: 1, max: n - 1 }), { maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(cuts(e.session.request.length), cuts(e.session.response.length), async (down, up) => {
        checkSession(e, await run(rechunked(coalesced(e.session.turns), { downstream: down, upstream: up })));
      }),
      { numRuns: 25 },
    );
  });

  test("every two-chunk split of each side", async () => {
    const { request, response } = e.session;
    for (let i = 1; i < Math.max(request.length, response.length); i++) {
      const cuts = { downstream: [i % request.length], upstream: [i % response.length] };
      checkSession(e, await run(rechunked(coalesced(e.session.turns), cuts)));
    }
  }, 300_000);

  test("with max_buffered_bytes at its minimum (256): long packets decode from their prefix", async () => {
    const result = await run(e.session.turns, { max_buffered_bytes: 256 });
    expect(decodeErrors(result.host)).toEqual([]);
    expect(callsCounted(result.host)).toBe(e.calls.length);
  });
});

// Sessions too long to replay split at every byte: replayed as recorded, coalesced, and in a few
// random chunkings.
const LONG: Expected[] = [
  {
    // sysbench oltp_read_write, prepared statements (its default), one thread, two events: each
    // execution is named by its statement's first keyword, as COM_QUERY is
    session: session("sysbench"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ...times(11, ["request", DB, "COM_STMT_PREPARE", OK, "0"]), // BEGIN, COMMIT, 5 SELECTs, 2 UPDATEs, DELETE, INSERT
      ...[1, 2].flatMap((): Call[] => [ // two events
        ["request", DB, "COM_STMT_EXECUTE:BEGIN", OK, "0"],
        ...times(14, ["request", DB, "COM_STMT_EXECUTE:SELECT", OK, "0"]), // 10 point selects, 4 ranges
        ...times(2, ["request", DB, "COM_STMT_EXECUTE:UPDATE", OK, "0"]),
        ["request", DB, "COM_STMT_EXECUTE:DELETE", OK, "0"],
        ["request", DB, "COM_STMT_EXECUTE:INSERT", OK, "0"],
        ["request", DB, "COM_STMT_EXECUTE:COMMIT", OK, "0"],
      ]),
      ...times(11, ["oneway", DB, "COM_STMT_CLOSE", "none", ""]),
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 0,
  },
  {
    // the Debian mariadb CLI, --local-infile=1: LOAD DATA LOCAL of a 3.3 MB file in 4096-byte
    // packets, so the file's sequence ids wrap past 255 three times (the 256th packet has id 0)
    session: session("infile-large"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:LOAD", OK, "0"], // a progress report, then the OK
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 847 * (4 + 4096) + (4 + 3188) + 4, // the file in 848 packets, then the empty packet
  },
  {
    // test/mysql/clients.js wide (npm mysql2): SELECT of 68001 columns, a column count of 0xfd a1 09 01
    session: session("wide"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_QUERY:SELECT", OK, "0"],
      ["request", DB, "COM_QUERY:SELECT", OK, "0"],
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 0,
  },
  {
    // test/mysql/clients.js pipeline (npm mariadb): 10000 queries issued in one tick
    session: session("pipeline"),
    calls: [
      ["request", DB, "LOGIN", OK, "0"],
      ["request", DB, "COM_QUERY:SET", OK, "0"],
      ["request", DB, "COM_QUERY:CREATE", OK, "0"],
      ["request", DB, "COM_QUERY:DELETE", OK, "0"],
      ...Array.from({ length: 5000 }).flatMap((): Call[] => [["request", DB, "COM_QUERY:INSERT", OK, "0"], ["request", DB, "COM_QUERY:SELECT", OK, "0"]]),
      ["oneway", DB, "COM_QUIT", "none", ""],
    ],
    clientTurnBytes: 0,
  },
];

describe.each(LONG)("$session.name", (e) => {
  test("as recorded", async () => {
    checkSession(e, await run(e.session.turns));
  }, 60_000);

  test("each side's consecutive chunks coalesced", async () => {
    checkSession(e, await run(coalesced(e.session.turns)));
  }, 60_000);

  test("random chunkings", async () => {
    const cuts = (n: number) => fc.array(fc.integer({ min: 1, max: n - 1 }), { maxLength: 200 });
    await fc.assert(
      fc.asyncProperty(cuts(e.session.request.length), cuts(e.session.response.length), async (down, up) => {
        checkSession(e, await run(rechunked(coalesced(e.session.turns), { downstream: down, upstream: up })));
      }),
      { numRuns: 5 },
    );
  }, 120_000);

  test("with max_buffered_bytes at its minimum (256): long packets decode from their prefix", async () => {
    const result = await run(e.session.turns, { max_buffered_bytes: 256 });
    expect(decodeErrors(result.host)).toEqual([]);
    expect(callsCounted(result.host)).toBe(e.calls.length);
  }, 60_000);
});

test("pipeline: all 10000 commands arrive before the first reply", async () => {
  const e = LONG.find((l) => l.session.name === "pipeline")!;
  const { request, response, turns } = e.session;
  // The login exchange as recorded (greeting, handshake response, OK), then every other client
  // byte, then every other server byte.
  const login = turns.slice(0, 3);
  const sent = { downstream: 0, upstream: 0 };
  for (const t of login) sent[t.side] += t.bytes.length;
  expect(login.map((t) => t.side)).toEqual(["upstream", "downstream", "upstream"]);
  const deep: Turn[] = [...login, { side: "downstream", bytes: request.subarray(sent.downstream) }, { side: "upstream", bytes: response.subarray(sent.upstream) }];
  checkSession(e, await run(deep));
}, 60_000);

describe.each([
  ["tls", "the Debian mariadb CLI, TLS on by default: an SSLRequest, then TLS records", "tls"],
  ["compressed", "the mariadb CLI with --compress --ssl=0: CLIENT_COMPRESS, then zlib frames", "compressed"],
])("%s", (name, _description, reason) => {
  const s = session(name);
  test.each([
    ["as recorded", s.turns],
    ["one byte at a time", bytewise(s.turns)],
  ])("passed through untouched (%s)", async (_, turns) => {
    const result = await run(turns as Turn[]);
    expect(result.forwarded.downstream.equals(s.request)).toBe(true);
    expect(result.forwarded.upstream.equals(s.response)).toBe(true);
    expect(result.host.counterValue(`metaproto_passthrough_connections_total;protocol=mysql;reason=${reason}`)).toBe(1);
    expect(decodeErrors(result.host)).toEqual([]);
    expect(callsCounted(result.host)).toBe(0);
    // Only the greeting was decoded: the handshake response that switched protocols was not a call.
    expect(result.decoded.map((m) => [m.direction, m.kind])).toEqual([["upstream", "event"]]);
  });
});
