/// <reference types="jest" />
// The cuts every codec test puts a captured session through: each direction whole (many
// messages per chunk), one byte per chunk, and random chunkings. Registers jest tests when
// called, so only test files call it.
import fc from "fast-check";
import { bytewise, split } from "./codec_harness";

/** `check` gets the request and the response cut the same way a test names; it asserts. */
export type SessionCheck = (request: Buffer[], response: Buffer[]) => Promise<void>;

export function testChunkings(request: Buffer, response: Buffer, check: SessionCheck, randomRuns = 20): void {
  test("whole session, each direction in one chunk (many messages coalesced)", () => check([request], [response]));

  test("one byte at a time", () => check(bytewise(request), bytewise(response)));

  test("random chunkings", async () => {
    const cuts = (n: number) => fc.array(fc.integer({ min: 1, max: Math.max(1, n - 1) }), { maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(cuts(request.length), cuts(response.length), (a, b) => check(split(request, a), split(response, b))),
      { numRuns: randomRuns },
    );
  });
}
