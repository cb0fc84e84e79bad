#!/usr/bin/env node
'use strict';
/*
 * Real MySQL clients for the rig and for fixture captures: npm mysql2 and npm mariadb, TLS off.
 *   node test/mysql/clients.js SCENARIO --port P [--host H] [--user U] [--password W] [--database D]
 * Scenarios: mysql2, mysql2-blob, mariadb, infile, cursor-call, wide, pipeline, and policy-mysql2,
 * policy-mariadb against a listener whose policy refuses DELETEs (see each function).
 * Prints the failures it provoked ("QUERY <label> errno=<n>") and a final "SUMMARY {json}":
 * failures by errno, the checks it made, and what the rig needs to match the server's Com_*
 * counters: `extraSelects` (SELECT statements the server ran beyond one per COM_QUERY: the
 * second statement of a multi-statement, the SELECTs inside a procedure), `preparedSelects`
 * (executions of prepared SELECTs) and the number of COM_PING / COM_CHANGE_USER /
 * COM_RESET_CONNECTION it sent.
 */
function parseArgs(argv) {
  const o = { host: '127.0.0.1', user: 'mp', password: 'mp-secret', database: 'metaproto' };
  o.scenario = argv[0];
  for (let i = 1; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    o[key] = argv[++i];
  }
  o.port = Number(o.port);
  if (!o.scenario || !o.port) throw new Error('usage: clients.js SCENARIO --port P [--host H] [--user U] [--password W] [--database D]');
  return o;
}

const summary = { errors: {}, checks: [], extraSelects: 0, preparedSelects: 0, pings: 0, changeUsers: 0, resets: 0, executes: 0 };

function check(what, condition) {
  if (!condition) throw new Error(`check failed: ${what}`);
  summary.checks.push(what);
}

/** Runs `fn`, which must fail with MySQL error `errno`; records it. */
async function expectFailure(label, errno, fn) {
  try {
    await fn();
  } catch (e) {
    if (e.errno !== errno) throw new Error(`${label}: expected errno ${errno}, got ${e.errno} (${e.message})`);
    summary.errors[errno] = (summary.errors[errno] || 0) + 1;
    console.log(`QUERY ${label} errno=${e.errno}`);
    return;
  }
  throw new Error(`${label}: expected errno ${errno}, but it succeeded`);
}

/**
 * npm mysql2 (no CLIENT_DEPRECATE_EOF): text queries, a multi-statement (chained result
 * sets), prepared statements (PREPARE once, EXECUTE several times, CLOSE), failing queries,
 * COM_PING, COM_INIT_DB through USE, COM_CHANGE_USER, COM_QUIT. Every prepared statement is a
 * SELECT (the rig compares Com_select with COM_QUERY:SELECT + COM_STMT_EXECUTE:SELECT).
 */
async function mysql2Scenario(o) {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection({
    host: o.host, port: o.port, user: o.user, password: o.password, database: o.database,
    ssl: false, multipleStatements: true,
  });
  await c.query('CREATE TABLE IF NOT EXISTS items (id INT PRIMARY KEY, name VARCHAR(64), qty INT)');
  await c.query('DELETE FROM items');
  for (let i = 1; i <= 5; i++) await c.query('INSERT INTO items VALUES (?, ?, ?)', [i, `item-${i}`, i * 10]);
  const [rows] = await c.query('SELECT id, name, qty FROM items ORDER BY id');
  check('mysql2 text SELECT returns 5 rows', rows.length === 5 && rows[4].name === 'item-5');
  await c.query('UPDATE items SET qty = qty + 1 WHERE id <= 2');
  // Comments and parentheses before the keyword.
  const [commented] = await c.query('/* dashboard */ -- panel 7\n  (SELECT COUNT(*) AS n FROM items)');
  check('mysql2 commented SELECT counts 5', Number(commented[0].n) === 5);
  // Two statements, two result sets in one reply (SERVER_MORE_RESULTS_EXISTS).
  const [multi] = await c.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c');
  check('mysql2 multi-statement returns two result sets', multi.length === 2 && multi[1][0].c === 3);
  summary.extraSelects += 1;
  for (let i = 1; i <= 3; i++) {
    const [r] = await c.execute('SELECT name, qty FROM items WHERE id = ?', [i]);
    check(`mysql2 prepared SELECT id=${i}`, r.length === 1 && r[0].name === `item-${i}`);
    summary.preparedSelects++;
  }
  c.unprepare('SELECT name, qty FROM items WHERE id = ?');
  await expectFailure('SELEC syntax error', 1064, () => c.query('SELEC nonsense'));
  await expectFailure('SELECT missing table', 1146, () => c.query('SELECT * FROM no_such_table'));
  await c.ping();
  summary.pings++;
  await c.query('USE mysql');
  await c.query('USE metaproto');
  await c.changeUser({ user: o.user, password: o.password, database: o.database });
  summary.changeUsers++;
  const [after] = await c.query('SELECT DATABASE() AS db');
  check('mysql2 change user kept the database', after[0].db === o.database);
  await c.end();
}

/** npm mysql2: a 20 MiB blob through a prepared INSERT and a text SELECT (packets split at 16 MiB). */
async function mysql2BlobScenario(o) {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false });
  await c.query('CREATE TABLE IF NOT EXISTS blobs (id INT PRIMARY KEY, data LONGBLOB)');
  await c.query('DELETE FROM blobs');
  const blob = Buffer.alloc(20 * 1024 * 1024);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + 3) & 0xff;
  // Text protocol both ways: mysql2 escapes the buffer as X'..' (a 40 MiB statement).
  await c.query('INSERT INTO blobs VALUES (1, ?)', [blob]);
  const [rows] = await c.query('SELECT id, data FROM blobs WHERE id = 1');
  check('mysql2 20 MiB blob round trip', rows.length === 1 && Buffer.compare(rows[0].data, blob) === 0);
  console.log(`BLOB bytes=${blob.length}`);
  await c.end();
}

/**
 * npm mariadb (CLIENT_DEPRECATE_EOF, metadata caching, pipelining): pipelined text queries,
 * prepared statements (one PREPARE, EXECUTEs that skip the metadata), a failing query,
 * a stored procedure with two result sets, COM_PING, COM_RESET_CONNECTION, COM_QUIT.
 */
async function mariadbScenario(o) {
  const mariadb = require('mariadb');
  const c = await mariadb.createConnection({
    host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false,
  });
  check('mariadb negotiated CLIENT_DEPRECATE_EOF', c.info.eofDeprecated === true);
  await c.query('CREATE TABLE IF NOT EXISTS mitems (id INT PRIMARY KEY, label VARCHAR(64))');
  await c.query('DELETE FROM mitems');
  // Pipelined: every command goes out before the first reply comes back.
  const inserts = [];
  for (let i = 1; i <= 10; i++) inserts.push(c.query('INSERT INTO mitems VALUES (?, ?)', [i, `label-${i}`]));
  await Promise.all(inserts);
  const selects = [];
  for (let i = 1; i <= 10; i++) selects.push(c.query('SELECT label FROM mitems WHERE id = ?', [i]));
  const results = await Promise.all(selects);
  check('mariadb pipelined SELECTs answered in order', results.every((r, i) => r[0].label === `label-${i + 1}`));
  for (let i = 1; i <= 4; i++) {
    const r = await c.execute('SELECT id, label FROM mitems WHERE id >= ? ORDER BY id', [i]);
    check(`mariadb prepared SELECT from ${i}`, r.length === 11 - i);
    summary.preparedSelects++;
  }
  await expectFailure('INSERT duplicate key', 1062, () => c.query('INSERT INTO mitems VALUES (1, ?)', ['dup']));
  await c.query('DROP PROCEDURE IF EXISTS two_results');
  await c.query('CREATE PROCEDURE two_results() BEGIN SELECT COUNT(*) AS n FROM mitems; SELECT MAX(id) AS m FROM mitems; END');
  const call = await c.query('CALL two_results()');
  check('mariadb CALL returns two result sets', Number(call[0][0].n) === 10 && Number(call[1][0].m) === 10);
  summary.extraSelects += 2;
  await c.ping();
  summary.pings++;
  await c.reset();
  summary.resets++;
  const [db] = await c.query('SELECT DATABASE() AS db');
  check('mariadb reset kept the database', db.db === o.database);
  await c.end();
}

/** npm mysql2 LOAD DATA LOCAL INFILE: the server asks for the file (0xFB), the client sends it. */
async function infileScenario(o) {
  const mysql = require('mysql2/promise');
  const { Readable } = require('stream');
  const c = await mysql.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false });
  await c.query('CREATE TABLE IF NOT EXISTS loaded (id INT, word VARCHAR(32))');
  await c.query('DELETE FROM loaded');
  const lines = Array.from({ length: 50 }, (_, i) => `${i}\tword-${i}\n`).join('');
  const [r] = await c.query({
    sql: "LOAD DATA LOCAL INFILE 'words.tsv' INTO TABLE loaded",
    infileStreamFactory: () => Readable.from([Buffer.from(lines)]),
  });
  check('LOAD DATA LOCAL INFILE loaded 50 rows', r.affectedRows === 50);
  await c.end();
}

/**
 * npm mysql2 (no CLIENT_DEPRECATE_EOF): CALL of a procedure that opens a cursor and then
 * returns a result set. MariaDB sets SERVER_STATUS_CURSOR_EXISTS on that result set's
 * column-definition EOF although it is a plain result set: its rows follow.
 */
async function cursorCallScenario(o) {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false });
  await c.query('CREATE TABLE IF NOT EXISTS citems (id INT PRIMARY KEY, label VARCHAR(32))');
  await c.query('DELETE FROM citems');
  await c.query("INSERT INTO citems VALUES (1, 'one'), (2, 'two'), (3, 'three')");
  await c.query('DROP PROCEDURE IF EXISTS cursor_then_rows');
  await c.query(`CREATE PROCEDURE cursor_then_rows()
    BEGIN
      DECLARE first_id INT;
      DECLARE cur CURSOR FOR SELECT id FROM citems ORDER BY id;
      OPEN cur;
      FETCH cur INTO first_id;
      SELECT id, label FROM citems WHERE id >= first_id ORDER BY id;
      CLOSE cur;
    END`);
  const [sets] = await c.query('CALL cursor_then_rows()');
  check('CALL with an open cursor returns its 3 rows', sets[0].length === 3 && sets[0][2].label === 'three');
  summary.extraSelects += 2; // the cursor's query (run by OPEN) and the SELECT
  const [after] = await c.query('SELECT COUNT(*) AS n FROM citems');
  check('the connection still answers after the CALL', Number(after[0].n) === 3);
  await c.end();
}

/** npm mysql2: a SELECT of WIDE_COLUMNS constant columns (more than 65535: a 3-byte column count). */
const WIDE_COLUMNS = 68001;
async function wideScenario(o) {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false });
  const [rows, fields] = await c.query({ sql: `SELECT ${Array(WIDE_COLUMNS).fill('0').join(',')}`, rowsAsArray: true });
  check(`SELECT of ${WIDE_COLUMNS} columns`, fields.length === WIDE_COLUMNS && rows.length === 1 && rows[0].length === WIDE_COLUMNS);
  const [after] = await c.query('SELECT 1 AS one');
  check('the connection still answers after the wide SELECT', after[0].one === 1);
  await c.end();
}

/**
 * npm mariadb (pipelines by default): PIPELINE_DEPTH queries issued in one tick, so every one
 * is written before the first reply is read; half INSERTs, half SELECTs, interleaved.
 */
const PIPELINE_DEPTH = 10000;
async function pipelineScenario(o) {
  const mariadb = require('mariadb');
  const c = await mariadb.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false });
  await c.query('CREATE TABLE IF NOT EXISTS pitems (id INT PRIMARY KEY, n INT)');
  await c.query('DELETE FROM pitems');
  const pending = [];
  for (let i = 0; i < PIPELINE_DEPTH / 2; i++) {
    pending.push(c.query('INSERT INTO pitems VALUES (?, ?)', [i, i * 2]));
    pending.push(c.query('SELECT n FROM pitems WHERE id = ?', [i]));
  }
  const results = await Promise.all(pending);
  check(`${PIPELINE_DEPTH} pipelined queries answered in order`,
    results.every((r, k) => (k % 2 === 0 ? r.affectedRows === 1 : r.length === 1 && r[0].n === (k - 1)))); // SELECT k/2 -> n = k-1
  await c.end();
}

/** The text the rig's policy listener answers a denied DELETE with (test.sh POLICY). */
const DENY_TEXT = 'DELETE is not allowed through MetaProto';
const DENIED = 1142; // ER_TABLEACCESS_DENIED_ERROR, SQLSTATE 42000
const RATE_LIMITED = 1226; // ER_USER_LIMIT_REACHED, SQLSTATE 42000
const FAULT = 1317; // ER_QUERY_INTERRUPTED, SQLSTATE 70100
const SQLSTATE = { [DENIED]: '42000', [RATE_LIMITED]: '42000', [FAULT]: '70100' };
/** The text the rig's policy listener aborts TRUNCATE with (test.sh POLICY). */
const FAULT_TEXT = 'TRUNCATE is failing today (MetaProto fault)';

/** Runs `fn`, which must fail with the policy's ERR (errno, SQLSTATE and, for a denial, the text). */
async function expectRefused(label, errno, fn) {
  try {
    await fn();
  } catch (e) {
    // mysql2 names the server's message sqlMessage, mariadb text.
    const text = e.sqlMessage ?? e.text;
    const expectedText = { [DENIED]: DENY_TEXT, [FAULT]: FAULT_TEXT }[errno];
    if (e.errno !== errno || e.sqlState !== SQLSTATE[errno] || (expectedText && text !== expectedText)) {
      throw new Error(`${label}: expected errno ${errno} / ${SQLSTATE[errno]}, got ${e.errno} / ${e.sqlState} (${text})`);
    }
    summary.errors[errno] = (summary.errors[errno] || 0) + 1;
    console.log(`QUERY ${label} errno=${e.errno}`);
    return;
  }
  throw new Error(`${label}: expected errno ${errno}, but it succeeded`);
}

/**
 * npm mysql2 against the policy listener (table `pol` holds ids 1-3, n = 0): a text DELETE and a
 * prepared one (PREPARE passes, its EXECUTE is refused) each get the ERR, and the same connection
 * goes on to read all three rows; three UPDATEs against a bucket of two tokens: the third is
 * refused as rate limited.
 */
async function policyMysql2Scenario(o) {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false });
  await expectRefused('mysql2 text DELETE', DENIED, () => c.query('DELETE FROM pol WHERE id = 1'));
  const [text] = await c.query('SELECT COUNT(*) AS n FROM pol');
  check('mysql2: after the refused DELETE the session reads 3 rows', Number(text[0].n) === 3);
  await expectRefused('mysql2 prepared DELETE', DENIED, () => c.execute('DELETE FROM pol WHERE id = ?', [2]));
  const [prepared] = await c.execute('SELECT id FROM pol WHERE id >= ?', [1]);
  check('mysql2: after the refused prepared DELETE a prepared SELECT reads 3 rows', prepared.length === 3);
  summary.executes++;
  await c.query('UPDATE pol SET n = n + 1 WHERE id = 3');
  await c.query('UPDATE pol SET n = n + 1 WHERE id = 3');
  await expectRefused('mysql2 third UPDATE', RATE_LIMITED, () => c.query('UPDATE pol SET n = n + 1 WHERE id = 3'));
  const [updated] = await c.query('SELECT n FROM pol WHERE id = 3');
  check('mysql2: two UPDATEs ran, the rate-limited one did not', updated[0].n === 2);
  await c.end();
}

/**
 * npm mariadb against the policy listener: a text DELETE pipelined between two SELECTs, and a
 * prepared DELETE (the driver pipelines PREPARE and EXECUTE of statement -1); each gets the
 * ERR in its place and the SELECTs around it their rows.
 */
async function policyMariadbScenario(o) {
  const mariadb = require('mariadb');
  const c = await mariadb.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false });
  const before = c.query('SELECT COUNT(*) AS n FROM pol');
  const refused = expectRefused('mariadb text DELETE', DENIED, () => c.query('DELETE FROM pol WHERE id = 1'));
  const after = c.query('SELECT COUNT(*) AS n FROM pol');
  const [first, , last] = await Promise.all([before, refused, after]);
  check('mariadb: the SELECTs around the pipelined refused DELETE read 3 rows', Number(first[0].n) === 3 && Number(last[0].n) === 3);
  await expectRefused('mariadb prepared DELETE', DENIED, () => c.execute('DELETE FROM pol WHERE id = ?', [2]));
  const rows = await c.execute('SELECT id FROM pol WHERE id >= ?', [1]);
  check('mariadb: after the refused prepared DELETE a prepared SELECT reads 3 rows', rows.length === 3);
  summary.executes++;
  await c.end();
}

/**
 * npm mysql2 against the policy listener's faults: TRUNCATE is aborted (the table keeps its three
 * rows and the session goes on), `DO` is delayed; prints DELAYED_MS and UNDELAYED_MS, the time the
 * client waited for a delayed `DO 1` and for the `SELECT 1` after it on the same connection.
 */
async function policyFaultsScenario(o) {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, ssl: false });
  await expectRefused('mysql2 TRUNCATE', FAULT, () => c.query('TRUNCATE TABLE pol'));
  const [rows] = await c.query('SELECT COUNT(*) AS n FROM pol');
  check('mysql2: after the aborted TRUNCATE the table still holds 3 rows', Number(rows[0].n) === 3);
  const timed = async (sql) => {
    const started = process.hrtime.bigint();
    await c.query(sql);
    return Number((process.hrtime.bigint() - started) / 1000000n);
  };
  console.log(`DELAYED_MS ${await timed('DO 1')}`);
  console.log(`UNDELAYED_MS ${await timed('SELECT 1')}`);
  await c.end();
}

const SCENARIOS = {
  'policy-mysql2': policyMysql2Scenario, 'policy-faults': policyFaultsScenario, 'policy-mariadb': policyMariadbScenario,
  mysql2: mysql2Scenario, 'mysql2-blob': mysql2BlobScenario, mariadb: mariadbScenario, infile: infileScenario,
  'cursor-call': cursorCallScenario, wide: wideScenario, pipeline: pipelineScenario,
};

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const run = SCENARIOS[o.scenario];
  if (!run) throw new Error(`unknown scenario ${o.scenario} (${Object.keys(SCENARIOS).join(', ')})`);
  await run(o);
  console.log(`SUMMARY ${JSON.stringify({ scenario: o.scenario, ...summary })}`);
}

main().catch((e) => {
  console.error(`FAILED: ${e.stack || e.message}`);
  process.exit(1);
});
