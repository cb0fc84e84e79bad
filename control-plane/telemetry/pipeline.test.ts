import pino from "pino";
import type { Signal, TelemetryItem } from "./items";
import { MetricsRegistry } from "./metrics";
import { PipelineOptions, Sink, SinkError, SinkPipeline } from "./pipeline";

const silent = pino({ level: "silent" });

function spans(count: number, from = 0): TelemetryItem[] {
  return Array.from({ length: count }, (_, i) => ({ signal: "traces" as const, origin: {}, record: { name: `span-${from + i}` } }));
}

/** A sink that records what it got; `down` makes writes fail (retryably unless `fatal`). */
class FakeSink implements Sink {
  readonly name = "fake";
  readonly signals: Signal[] = ["traces"];
  batches: string[][] = [];
  down = false;
  fatal = false;
  rejectNext = 0;
  attempts: number[] = [];

  async write(_signal: Signal, items: TelemetryItem[]): Promise<{ rejected?: number }> {
    this.attempts.push(Date.now());
    if (this.down) throw new SinkError("connection refused", !this.fatal);
    this.batches.push(items.map((i) => i.record.name as string));
    const rejected = this.rejectNext;
    this.rejectNext = 0;
    return { rejected };
  }

  get names(): string[] {
    return this.batches.flat();
  }
}

const options = (overrides: Partial<PipelineOptions> = {}): PipelineOptions => ({
  maxBufferedItems: 100, batchMaxItems: 10, batchMaxDelayMs: 1_000,
  initialBackoffMs: 100, maxBackoffMs: 800, backoffMultiplier: 2, jitter: 0, ...overrides,
});

function setup(overrides: Partial<PipelineOptions> = {}) {
  const sink = new FakeSink();
  const metrics = new MetricsRegistry();
  const pipeline = new SinkPipeline(sink, "traces", options(overrides), metrics, silent, () => 0.5);
  const dropped = (reason: string) => metrics.value("metaproto_receiver_dropped_total", { sink: "fake", signal: "traces", reason });
  return { sink, metrics, pipeline, dropped };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test("a full batch goes at once; the rest waits for the batch delay", async () => {
  const { sink, pipeline } = setup({ batchMaxItems: 3 });
  pipeline.offer(spans(7));
  await jest.advanceTimersByTimeAsync(0);
  expect(sink.batches).toEqual([["span-0", "span-1", "span-2"], ["span-3", "span-4", "span-5"]]);
  await jest.advanceTimersByTimeAsync(999);
  expect(sink.batches).toHaveLength(2);
  await jest.advanceTimersByTimeAsync(1);
  expect(sink.batches[2]).toEqual(["span-6"]);
  expect(pipeline.buffered).toBe(0);
});

test("records of another signal never enter the pipeline", async () => {
  const { sink, pipeline } = setup();
  pipeline.offer([{ signal: "logs", origin: {}, record: { event_name: "x" } }]);
  await jest.advanceTimersByTimeAsync(2_000);
  expect(sink.batches).toEqual([]);
  expect(pipeline.buffered).toBe(0);
});

test("failed writes are retried with exponential backoff, capped, and nothing is lost or reordered", async () => {
  const { sink, metrics, pipeline } = setup({ batchMaxItems: 5 });
  sink.down = true;
  const start = Date.now();
  pipeline.offer(spans(5));
  await jest.advanceTimersByTimeAsync(0);
  // Delays 100, 200, 400, 800, 800 (capped): attempts at 0, 100, 300, 700, 1500, 2300.
  await jest.advanceTimersByTimeAsync(2_300);
  expect(sink.attempts.map((t) => t - start)).toEqual([0, 100, 300, 700, 1500, 2300]);
  expect(metrics.value("metaproto_receiver_retries_total", { sink: "fake", signal: "traces" })).toBe(6);
  pipeline.offer(spans(3, 5));
  sink.down = false;
  await jest.advanceTimersByTimeAsync(800);
  expect(sink.names).toEqual(spans(5).map((s) => s.record.name));
  // The 3 that came during the outage go 1 s after they arrived, not 1 s after the outage ended.
  await jest.advanceTimersByTimeAsync(199);
  expect(sink.names).toHaveLength(5);
  await jest.advanceTimersByTimeAsync(1);
  expect(sink.names).toEqual(spans(8).map((s) => s.record.name));
  expect(metrics.value("metaproto_receiver_exported_total", { sink: "fake", signal: "traces" })).toBe(8);
  // A success resets the backoff: the next outage starts again at 100 ms.
  sink.down = true;
  sink.attempts = [];
  pipeline.offer(spans(10, 8));
  await jest.advanceTimersByTimeAsync(100);
  expect(sink.attempts).toHaveLength(2);
});

test("jitter shortens each delay by up to its fraction", async () => {
  const sink = new FakeSink();
  sink.down = true;
  const pipeline = new SinkPipeline(sink, "traces", options({ jitter: 0.5, batchMaxItems: 1 }), new MetricsRegistry(), silent, () => 1);
  const start = Date.now();
  pipeline.offer(spans(1));
  await jest.advanceTimersByTimeAsync(200);
  // 100 ms less 50 %, then 200 ms less 50 %.
  expect(sink.attempts.map((t) => t - start)).toEqual([0, 50, 150]);
});

test("an outage the buffer holds loses nothing; beyond it, new records are dropped and counted exactly", async () => {
  const { sink, metrics, pipeline, dropped } = setup({ maxBufferedItems: 25, batchMaxItems: 10 });
  sink.down = true;
  expect(pipeline.offer(spans(20))).toBe(0);
  await jest.advanceTimersByTimeAsync(5_000);
  expect(pipeline.offer(spans(12, 20))).toBe(7);
  expect(pipeline.offer(spans(4, 32))).toBe(4);
  expect(dropped("buffer_full")).toBe(11);
  expect(metrics.value("metaproto_receiver_buffer_items", { sink: "fake", signal: "traces" })).toBe(25);
  sink.down = false;
  await jest.advanceTimersByTimeAsync(2_000);
  // The oldest 25 arrive, in order; the 11 that found the buffer full are gone and counted.
  expect(sink.names).toEqual(spans(25).map((s) => s.record.name));
  expect(metrics.value("metaproto_receiver_exported_total", { sink: "fake", signal: "traces" })).toBe(25);
  expect(pipeline.buffered).toBe(0);
  expect(pipeline.offer(spans(1, 100))).toBe(0);
  expect(dropped("buffer_full")).toBe(11);
});

test("the batch in flight counts against the buffer", async () => {
  const { sink, pipeline, dropped } = setup({ maxBufferedItems: 10, batchMaxItems: 10 });
  let release!: () => void;
  sink.write = async (_signal, items) => {
    await new Promise<void>((resolve) => { release = resolve; });
    sink.batches.push(items.map((i) => i.record.name as string));
    return {};
  };
  pipeline.offer(spans(10));
  await jest.advanceTimersByTimeAsync(0);
  expect(pipeline.offer(spans(3, 10))).toBe(3);
  release();
  await jest.advanceTimersByTimeAsync(0);
  expect(pipeline.offer(spans(3, 13))).toBe(0);
  expect(dropped("buffer_full")).toBe(3);
});

test("a batch the sink refuses for good is dropped as rejected, not retried", async () => {
  const { sink, metrics, pipeline, dropped } = setup({ batchMaxItems: 4 });
  sink.down = true;
  sink.fatal = true;
  pipeline.offer(spans(4));
  await jest.advanceTimersByTimeAsync(5_000);
  expect(sink.attempts).toHaveLength(1);
  expect(dropped("rejected")).toBe(4);
  expect(metrics.value("metaproto_receiver_retries_total", { sink: "fake", signal: "traces" })).toBe(0);
  expect(pipeline.buffered).toBe(0);
});

test("a partial success counts the records the sink says it rejected", async () => {
  const { sink, metrics, pipeline, dropped } = setup({ batchMaxItems: 4 });
  sink.rejectNext = 1;
  pipeline.offer(spans(4));
  await jest.advanceTimersByTimeAsync(0);
  expect(dropped("rejected")).toBe(1);
  expect(metrics.value("metaproto_receiver_exported_total", { sink: "fake", signal: "traces" })).toBe(3);
});

test("stop sends what is buffered at once, and counts what the sink could not take in the grace time", async () => {
  const { sink, pipeline, dropped } = setup({ batchMaxItems: 10, batchMaxDelayMs: 60_000 });
  pipeline.offer(spans(3));
  const stopped = pipeline.stop(1_000);
  await jest.advanceTimersByTimeAsync(0);
  await stopped;
  expect(sink.names).toEqual(["span-0", "span-1", "span-2"]);

  const down = setup({ batchMaxItems: 10 });
  down.sink.down = true;
  down.pipeline.offer(spans(15));
  const stopping = down.pipeline.stop(1_000);
  await jest.advanceTimersByTimeAsync(1_000);
  await stopping;
  expect(down.dropped("shutdown")).toBe(15);
  expect(down.pipeline.offer(spans(2))).toBe(2);
  expect(down.dropped("shutdown")).toBe(17);
});

test("a batch still being written when the grace time ends is counted once, by how its write ends", async () => {
  for (const outcome of ["succeeds", "fails"] as const) {
    const { sink, metrics, pipeline, dropped } = setup({ batchMaxItems: 4 });
    let finish!: () => void;
    sink.write = async (_signal, items) => {
      await new Promise<void>((resolve) => { finish = resolve; });
      if (outcome === "fails") throw new SinkError("reset", true);
      sink.batches.push(items.map((i) => i.record.name as string));
      return {};
    };
    pipeline.offer(spans(6)); // one batch of 4 in flight, 2 waiting
    await jest.advanceTimersByTimeAsync(0);
    const stopping = pipeline.stop(500);
    await jest.advanceTimersByTimeAsync(500);
    await stopping;
    expect(dropped("shutdown")).toBe(2);
    finish();
    await jest.advanceTimersByTimeAsync(0);
    const exported = metrics.value("metaproto_receiver_exported_total", { sink: "fake", signal: "traces" });
    expect([exported, dropped("shutdown")]).toEqual(outcome === "succeeds" ? [4, 2] : [0, 6]);
    expect(pipeline.buffered).toBe(0);
  }
});
