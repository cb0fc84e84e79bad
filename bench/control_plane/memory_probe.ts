// Preloaded into `metaproto serve` (node --expose-gc --require ...) by the control-plane benchmark:
// on SIGUSR2 it writes the process's memory to $METAPROTO_BENCH_MEMORY_FILE, as found and again after
// a full GC (what the control plane retains). SIGUSR1 is Node's inspector signal; SIGUSR2 is free.
import { renameSync, writeFileSync } from "fs";
import * as v8 from "v8";

export interface MemoryReading {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface MemoryProbe {
  asFound: MemoryReading;
  afterGc: MemoryReading;
  heapLimit: number;
}

const file = process.env.METAPROTO_BENCH_MEMORY_FILE;
if (file) {
  process.on("SIGUSR2", () => {
    const asFound = process.memoryUsage();
    (globalThis as { gc?: () => void }).gc?.();
    const probe: MemoryProbe = { asFound, afterGc: process.memoryUsage(), heapLimit: v8.getHeapStatistics().heap_size_limit };
    // Written whole, then renamed: the benchmark never reads half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(probe));
    renameSync(`${file}.tmp`, file);
  });
}
