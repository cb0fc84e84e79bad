import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigWatcher } from "./watch";

// Real files and timers; the debounce is long so that a loaded machine cannot blur the two cases.
jest.setTimeout(30000);
const DEBOUNCE_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let watcher: ConfigWatcher | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "metaproto-watch-"));
  fs.writeFileSync(path.join(dir, "config.yaml"), "a: 1\n");
});
afterEach(() => {
  watcher?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Resolves with the times (ms after `from`) of the calls seen until `until` ms have passed. */
function calls(files: string[], from: number, until: number): Promise<number[]> {
  const seen: number[] = [];
  watcher = new ConfigWatcher(files, DEBOUNCE_MS, () => seen.push(Date.now() - from));
  return sleep(until).then(() => seen);
}

describe("ConfigWatcher", () => {
  test("a save by rename after a quiet spell is taken at once, not after the debounce", async () => {
    const file = path.join(dir, "config.yaml");
    const from = Date.now();
    const seen = calls([file], from, DEBOUNCE_MS + 1000);
    await sleep(100);
    fs.writeFileSync(`${file}.new`, "a: 2\n");
    fs.renameSync(`${file}.new`, file);
    const times = await seen;
    expect(times).toHaveLength(1);
    expect(times[0]).toBeLessThan(DEBOUNCE_MS / 2);
  });

  test("a burst of writes is taken once, when it has been quiet for the debounce", async () => {
    const file = path.join(dir, "config.yaml");
    const from = Date.now();
    const seen = calls([dir], from, 2 * DEBOUNCE_MS + 1000);
    await sleep(100);
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(file, `a: ${i}\n`);
      fs.writeFileSync(path.join(dir, "other.yml"), `b: ${i}\n`);
      await sleep(5);
    }
    const lastWrite = Date.now() - from;
    const times = await seen;
    expect(times).toHaveLength(1);
    expect(times[0]).toBeGreaterThanOrEqual(lastWrite + DEBOUNCE_MS - 50);
  });
});
