// One sink's path for one signal: a bounded buffer of records, sent in batches (by size and by time), one batch in
// flight at a time, retried with exponential backoff while the sink is down. An outage the buffer can
// hold loses nothing; records that arrive while the buffer is full are dropped, counted
// (metaproto_receiver_dropped_total{reason="buffer_full"}) and logged with their exact number.
import type { Logger } from "pino";
import type { Signal, TelemetryItem } from "./items";
import type { MetricsRegistry } from "./metrics";

export interface Sink {
  readonly name: string;
  /** The signals it takes; each gets its own pipeline (so a retry never sends another signal's records twice). */
  readonly signals: readonly Signal[];
  /** Records of one signal. Resolves when the sink has them all (less `rejected` it refused on purpose); throws SinkError otherwise. */
  write(signal: Signal, items: TelemetryItem[]): Promise<{ rejected?: number }>;
  close?(): Promise<void>;
}

/** A failed write. Retryable ones (sink down, overloaded) are retried; the others drop the batch. */
export class SinkError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
  }
}

export interface PipelineOptions {
  /** Records held (buffered and in flight) at most. */
  maxBufferedItems: number;
  /** A batch is sent once it has this many records... */
  batchMaxItems: number;
  /** ...or when its oldest record waited this long. */
  batchMaxDelayMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  backoffMultiplier: number;
  /** Each delay is shortened by up to this fraction at random, so receivers do not retry in step. */
  jitter: number;
}

export const DEFAULT_PIPELINE: PipelineOptions = {
  maxBufferedItems: 10_000, batchMaxItems: 512, batchMaxDelayMs: 1_000,
  initialBackoffMs: 200, maxBackoffMs: 5_000, backoffMultiplier: 2, jitter: 0.2,
};

export class SinkPipeline {
  /** Oldest first; the batch in flight is at the head. */
  private queue: TelemetryItem[] = [];
  /** When each queued record arrived (parallel to queue): a batch goes when its oldest waited batchMaxDelayMs. */
  private arrivals: number[] = [];
  private sending = false;
  /** Records of the batch being written (the head of the queue). */
  private inFlight = 0;
  private batchTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private backoffMs: number;
  private stopped = false;
  private draining = false;
  /** Records dropped since the buffer last had room (for the log line that closes an episode). */
  private droppedThisEpisode = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly count: {
    exported: (labels: Record<string, string>, by?: number) => void;
    retries: (labels: Record<string, string>, by?: number) => void;
    dropped: (labels: Record<string, string>, by?: number) => void;
  };

  constructor(readonly sink: Sink, readonly signal: Signal, readonly options: PipelineOptions, metrics: MetricsRegistry, private readonly log: Logger,
    private readonly random: () => number = Math.random) {
    this.backoffMs = options.initialBackoffMs;
    this.count = {
      exported: metrics.counter("metaproto_receiver_exported_total", "Records a sink accepted"),
      retries: metrics.counter("metaproto_receiver_retries_total", "Batches sent again after a failed write"),
      dropped: metrics.counter("metaproto_receiver_dropped_total", "Records lost, by reason: buffer_full (arrived while the buffer was full), rejected (the sink refused them for good), shutdown (still buffered at stop)"),
    };
    metrics.gauge("metaproto_receiver_buffer_items", "Records buffered for a sink, in flight included", { sink: sink.name, signal }, () => this.queue.length);
    metrics.gauge("metaproto_receiver_buffer_capacity", "The most records a sink's buffer holds", { sink: sink.name, signal }, () => options.maxBufferedItems);
  }

  get buffered(): number {
    return this.queue.length;
  }

  /** Takes what fits in the buffer; returns how many records were dropped. */
  offer(items: TelemetryItem[]): number {
    const wanted = items.filter((item) => item.signal === this.signal);
    const room = this.stopped ? 0 : Math.max(0, this.options.maxBufferedItems - this.queue.length);
    const taken = wanted.slice(0, room);
    const dropped = wanted.slice(room);
    const now = Date.now();
    for (const item of taken) {
      this.queue.push(item);
      this.arrivals.push(now);
    }
    if (dropped.length) this.drop(dropped, this.stopped ? "shutdown" : "buffer_full");
    if (taken.length) this.schedule();
    return dropped.length;
  }

  private drop(items: TelemetryItem[], reason: string): void {
    this.count.dropped({ sink: this.sink.name, signal: this.signal, reason }, items.length);
    if (reason === "buffer_full") {
      if (this.droppedThisEpisode === 0) {
        this.log.warn({ sink: this.sink.name, signal: this.signal, capacity: this.options.maxBufferedItems }, "buffer full: dropping new records until the sink takes some (counted in metaproto_receiver_dropped_total)");
      }
      this.droppedThisEpisode += items.length;
    } else {
      this.log.warn({ sink: this.sink.name, signal: this.signal, records: items.length, reason }, "records dropped");
    }
  }

  private schedule(): void {
    if (this.sending || this.retryTimer || this.stopped) return;
    if (this.queue.length >= this.options.batchMaxItems || this.draining) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
      void this.send();
    } else if (!this.batchTimer && this.queue.length > 0) {
      const due = Math.max(0, this.arrivals[0] + this.options.batchMaxDelayMs - Date.now());
      this.batchTimer = setTimeout(() => { this.batchTimer = undefined; void this.send(); }, due);
    }
  }

  private async send(): Promise<void> {
    if (this.sending || this.queue.length === 0) return this.settle();
    this.sending = true;
    const batch = this.queue.slice(0, this.options.batchMaxItems);
    this.inFlight = batch.length;
    let retry = false;
    try {
      const { rejected = 0 } = await this.sink.write(this.signal, batch);
      this.queue.splice(0, batch.length);
      this.arrivals.splice(0, batch.length);
      this.backoffMs = this.options.initialBackoffMs;
      this.count.exported({ sink: this.sink.name, signal: this.signal }, batch.length - Math.min(rejected, batch.length));
      if (rejected > 0) this.drop(batch.slice(0, rejected), "rejected");
      if (this.droppedThisEpisode > 0) {
        this.log.warn({ sink: this.sink.name, signal: this.signal, dropped: this.droppedThisEpisode }, "buffer has room again; records dropped while it was full");
        this.droppedThisEpisode = 0;
      }
    } catch (err) {
      const retryable = !(err instanceof SinkError) || err.retryable;
      if (this.stopped) {
        // Stopped while this batch was being written: no more attempts.
        this.queue.splice(0, batch.length);
        this.arrivals.splice(0, batch.length);
        this.drop(batch, "shutdown");
      } else if (retryable) {
        retry = true;
        const delay = Math.round(this.backoffMs * (1 - this.options.jitter * this.random()));
        this.count.retries({ sink: this.sink.name, signal: this.signal });
        this.log.warn({ sink: this.sink.name, signal: this.signal, batch: batch.length, buffered: this.queue.length, retryInMs: delay, err: (err as Error).message }, "sink write failed; retrying");
        this.backoffMs = Math.min(this.options.maxBackoffMs, this.backoffMs * this.options.backoffMultiplier);
        this.retryTimer = setTimeout(() => { this.retryTimer = undefined; void this.send(); }, delay);
      } else {
        this.queue.splice(0, batch.length);
        this.arrivals.splice(0, batch.length);
        this.drop(batch, "rejected");
        this.log.error({ sink: this.sink.name, signal: this.signal, err: (err as Error).message }, "sink refused a batch for good");
      }
    } finally {
      this.sending = false;
      this.inFlight = 0;
    }
    if (!retry) this.schedule();
    this.settle();
  }

  private settle(): void {
    if (this.queue.length === 0 && !this.sending) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves once the buffer is empty (everything sent or dropped). */
  drained(): Promise<void> {
    if (this.queue.length === 0 && !this.sending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends what is buffered right away (no waiting for a batch to fill), e.g. before stopping. */
  flushNow(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    void this.send();
  }

  /** Tries to send what is buffered for up to graceMs; what is left is dropped with reason "shutdown". */
  async stop(graceMs: number): Promise<void> {
    this.draining = true;
    this.flushNow();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drained(), new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); })]);
    clearTimeout(timer);
    this.stopped = true;
    clearTimeout(this.batchTimer);
    clearTimeout(this.retryTimer);
    // A batch still being written is counted by how its write ends; the rest is dropped now.
    const left = this.queue.splice(this.inFlight);
    this.arrivals.splice(this.inFlight);
    if (left.length) this.drop(left, "shutdown");
    this.settle();
  }
}
