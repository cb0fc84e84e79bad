// The regex engine, compiled, against JavaScript's own RegExp (anchored) on the syntax both
// accept, plus what it must refuse and a pattern that would take exponential time when backtracking.
import fc from "fast-check";
import { ProxyTestHost, compileAssemblyScript, repoRoot } from "../../../api/proxytest";
import { readFileSync } from "fs";
import * as path from "path";

let host: ProxyTestHost;
beforeAll(async () => {
  await compileAssemblyScript("filters/metaprotocol/testdata/regex_main.ts", "build/test/regex.wasm");
  host = await ProxyTestHost.load(new WebAssembly.Module(readFileSync(path.join(repoRoot(), "build/test/regex.wasm"))));
  host.start();
}, 120_000);

function utf16(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "utf16le"));
}

function matches(pattern: string, text: string): number {
  const p = host.writeGuestBytes(pattern.length ? utf16(pattern) : new Uint8Array(2));
  const t = host.writeGuestBytes(text.length ? utf16(text) : new Uint8Array(2));
  return Number(host.call("regex_matches", p, pattern.length, t, text.length));
}

const CASES: Array<[string, string[], string[]]> = [
  ["GET|SET", ["GET", "SET"], ["GETS", "get", ""]],
  ["COM_QUERY:(SELECT|SHOW)", ["COM_QUERY:SELECT", "COM_QUERY:SHOW"], ["COM_QUERY:INSERT"]],
  ["io\\.metaproto\\..*Service", ["io.metaproto.demo.GreetingService"], ["ioXmetaproto.demo.GreetingService"]],
  ["[a-z]+[0-9]{2,3}", ["abc12", "x999"], ["abc1", "abc1234", "ABC12"]],
  ["[^/]+/v\\d+", ["svc/v1", "a/v20"], ["a/b/v1", "svc/vx"]],
  ["^tenant-(a|b)?$", ["tenant-", "tenant-a"], ["tenant-c"]],
  ["\\w+\\s\\S*", ["ab cd", "a "], ["ab", " cd"]],
  ["(?:ab)*c", ["c", "ababc"], ["abac"]],
  ["x{0}y", ["y"], ["xy"]],
  ["a{2,}", ["aa", "aaaa"], ["a"]],
];

test.each(CASES)("%s", (pattern, yes, no) => {
  for (const text of yes) expect([pattern, text, matches(pattern, text)]).toEqual([pattern, text, 1]);
  for (const text of no) expect([pattern, text, matches(pattern, text)]).toEqual([pattern, text, 0]);
});

test("refused: backreferences, lookarounds, unbalanced groups, huge counts", () => {
  for (const bad of ["(a)\\1", "(?=a)", "(a", "a)", "a{1000}", "*a", "[a", "a\\", "a^b"]) {
    expect([bad, matches(bad, "a")]).toEqual([bad, -1]);
  }
});

test("linear time: (a*)*b against 30 a's", () => {
  const started = Date.now();
  expect(matches("(a*)*b", "a".repeat(30))).toBe(0);
  expect(matches("(a|aa)*c", "a".repeat(5000))).toBe(0);
  expect(Date.now() - started).toBeLessThan(2000);
});

test("agrees with JavaScript's RegExp on random patterns of the shared syntax", () => {
  const atom = fc.constantFrom("a", "b", ".", "[ab]", "[^a]", "\\d", "(a|b)", "(?:ab)", "1");
  const quantifier = fc.constantFrom("", "", "*", "+", "?", "{2}", "{1,2}");
  const pattern = fc.array(fc.tuple(atom, quantifier).map(([a, q]) => a + q), { minLength: 1, maxLength: 5 }).map((p) => p.join(""));
  fc.assert(fc.property(pattern, fc.stringMatching(/^[ab1c]{0,8}$/), (p, text) => {
    const expected = new RegExp(`^(?:${p})$`).test(text) ? 1 : 0;
    expect(matches(p, text)).toBe(expected);
  }), { numRuns: 500 });
});
