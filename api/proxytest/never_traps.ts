/// <reference types="jest" />
// The robustness tests every codec needs, as one call: random bytes in both directions and
// captured sessions with bytes changed, chunked at random, under random buffer caps. Whatever
// the bytes, the VM must not trap, nothing may fault, and every byte must leave the filter as it
// came. Registers jest tests (like testChunkings), so only test files call it.
import fc from "fast-check";
import { split, startedHost } from "./codec_harness";
import type { Direction } from "./codec_harness";
import type { ProxyTestHost } from "./host";

/** Bytes one side sent in one read. */
export interface Turn {
  side: Direction;
  bytes: Buffer;
}

/**
 * A captured session. With `turns` (server-first protocols, client turns that answer the server)
 * it is replayed turn by turn and only overwritten in place, so the turns stay aligned; without,
 * the request stream goes first, then the response, and bytes are also inserted and removed.
 */
export interface CapturedSession {
  request: Buffer;
  response: Buffer;
  turns?: Turn[];
}

export interface NeverTrapsOptions {
  /** Captured sessions to corrupt; none: only the random-bytes test is registered. */
  sessions?: CapturedSession[];
  /** Random bytes start with one of these (your magic, a frame header) to get past the first checks. */
  prefixes?: Buffer[];
  /** Played on every connection before the random bytes, e.g. a real login. */
  prelude?: Turn[];
  /** Plugin configuration (besides max_buffered_bytes, drawn from `bufferCaps`). */
  config?: Record<string, unknown>;
  /** The range max_buffered_bytes is drawn from (default [256, 4096]): small caps reach the truncation paths. */
  bufferCaps?: [number, number];
  /** Runs per property (default 300). */
  runs?: number;
  /** At least this share of the random-bytes runs must count a decode error (default 0). */
  minDecodeErrorShare?: number;
  /** Per-test timeout in ms (default 120 000). */
  timeoutMs?: number;
}

/** Registers "never traps" tests for the compiled codec `module()` returns (compiled in beforeAll). */
export function testNeverTraps(module: () => WebAssembly.Module, options: NeverTrapsOptions = {}): void {
  const runs = options.runs ?? 300;
  const [minCap, maxCap] = options.bufferCaps ?? [256, 4096];
  const cap = fc.integer({ min: minCap, max: maxCap });
  const prefix = options.prefixes?.length ? fc.constantFrom(...options.prefixes) : fc.constant(Buffer.alloc(0));
  const side = fc.constantFrom<Direction>("downstream", "upstream");
  const randomTurn = fc.record({
    side,
    bytes: fc.tuple(prefix, fc.uint8Array({ minLength: 1, maxLength: 400 })).map(([p, b]) => Buffer.concat([p, Buffer.from(b)])),
  });
  const timeout = options.timeoutMs ?? 120_000;

  test("random bytes in random directions never trap the VM", async () => {
    let withErrors = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(randomTurn, { minLength: 1, maxLength: 12 }), cap, async (turns, maxBuffered) => {
        const host = await startedHost(module(), { ...options.config, max_buffered_bytes: maxBuffered });
        playChecked(host, [...(options.prelude ?? []), ...turns]);
        if (decodeErrors(host) > 0) withErrors++;
      }),
      { numRuns: runs },
    );
    expect(withErrors).toBeGreaterThanOrEqual(Math.floor(runs * (options.minDecodeErrorShare ?? 0)));
  }, timeout);

  const sessions = options.sessions ?? [];
  if (sessions.length === 0) return;
  const edit = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), op: fc.constantFrom("overwrite", "insert", "remove") });
  test("captured sessions with bytes overwritten, inserted and removed, chunked at random, never trap the VM", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: sessions.length - 1 }), fc.array(fc.tuple(fc.boolean(), edit), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }), cap,
        async (which, edits, cuts, maxBuffered) => {
          const session = sessions[which];
          const streams = { downstream: Buffer.from(session.request), upstream: Buffer.from(session.response) };
          for (const [inRequest, e] of edits) {
            const name = inRequest ? "downstream" : "upstream";
            const bytes = streams[name];
            if (bytes.length === 0) continue;
            const at = e.at % bytes.length;
            // Turns fix each read's length: only overwrite, so they still line up.
            const op = session.turns ? "overwrite" : e.op;
            if (op === "overwrite") bytes[at] = e.byte;
            else if (op === "insert") streams[name] = Buffer.concat([bytes.subarray(0, at), Buffer.from([e.byte]), bytes.subarray(at)]);
            else streams[name] = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
          }
          const turns = session.turns ? realigned(session.turns, streams) : [
            { side: "downstream" as const, bytes: streams.downstream }, { side: "upstream" as const, bytes: streams.upstream },
          ];
          const chunked = turns.flatMap((t) => split(t.bytes, cuts.map((c) => c % Math.max(1, t.bytes.length)))
            .map((bytes) => ({ side: t.side, bytes })));
          const host = await startedHost(module(), { ...options.config, max_buffered_bytes: maxBuffered });
          playChecked(host, chunked);
        },
      ),
      { numRuns: runs },
    );
  }, timeout);
}

/** The turns' lengths over the (edited) streams. */
function realigned(turns: Turn[], streams: Record<Direction, Buffer>): Turn[] {
  const offset = { downstream: 0, upstream: 0 };
  return turns.map((t) => {
    const bytes = streams[t.side].subarray(offset[t.side], offset[t.side] + t.bytes.length);
    offset[t.side] += t.bytes.length;
    return { side: t.side, bytes };
  });
}

/** Plays `turns` on a new connection and closes it: no trap, no fault, every byte forwarded unchanged. */
function playChecked(host: ProxyTestHost, turns: Turn[]): void {
  const conn = host.newConnection();
  const sent = { downstream: [] as Buffer[], upstream: [] as Buffer[] };
  const forwarded = { downstream: [] as Buffer[], upstream: [] as Buffer[] };
  for (const t of turns) {
    sent[t.side].push(t.bytes);
    forwarded[t.side].push(Buffer.from(conn[t.side](t.bytes).forwarded));
  }
  conn.close("downstream");
  expect(host.traps).toEqual([]);
  expect(host.memoryFaults).toEqual([]);
  expect(Buffer.concat(forwarded.downstream).equals(Buffer.concat(sent.downstream))).toBe(true);
  expect(Buffer.concat(forwarded.upstream).equals(Buffer.concat(sent.upstream))).toBe(true);
}

function decodeErrors(host: ProxyTestHost): number {
  return host.metrics().filter((m) => m.name.startsWith("metaproto_decode_errors_total;")).reduce((n, m) => n + m.value, 0);
}
