import { performance } from "node:perf_hooks";
import type { Clock } from "../core/clock.js";
import { ConfigurationError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";
import type { Store } from "../store/store.js";

/**
 * How long finished messages are kept (`createHookline({ retention })`).
 * Nothing is purged unless a period is given; a message still being
 * delivered or retried is never touched.
 */
export interface RetentionOptions {
  /**
   * Payloads of finished messages older than this are expunged: the message,
   * its deliveries and its attempts stay, the body is emptied. A message sent
   * with its own `payloadRetentionMs` follows that instead. Null: kept.
   */
  payloadMs?: number | null;
  /** Finished messages older than this go altogether, with their deliveries and attempts. Null: kept. */
  historyMs?: number | null;
  /** Time between purge passes while the workers run (default 60 s). */
  intervalMs?: number;
  /** Messages per purge transaction (default 200): small, so a pass never holds the write lock long. */
  batchSize?: number;
}

/** What one purge pass did, and the longest single batch (the longest the store's write lock was held). */
export interface PurgeReport {
  expunged: number;
  deleted: number;
  batches: number;
  longestBatchMs: number;
}

function period(name: string, value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `retention.${name} must be a positive integer`);
  }
  return value;
}

/**
 * The background purger: every `intervalMs` while the workers run, it
 * deletes expired history, then expunges expired payloads, each in batches
 * of `batchSize` messages, one short transaction per batch, yielding to the
 * event loop between batches so deliveries interleave.
 */
export class RetentionPurger {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #payloadMs: number | null;
  readonly #historyMs: number | null;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  readonly #onError: (error: unknown) => void;
  readonly #onPurged: (report: PurgeReport) => void;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<PurgeReport> | null = null;
  #stopped = true;

  constructor(
    store: Store,
    clock: Clock,
    options: RetentionOptions,
    hooks: { onError: (error: unknown) => void; onPurged: (report: PurgeReport) => void },
  ) {
    this.#store = store;
    this.#clock = clock;
    this.#payloadMs = period("payloadMs", options.payloadMs);
    this.#historyMs = period("historyMs", options.historyMs);
    this.#intervalMs = period("intervalMs", options.intervalMs) ?? DEFAULTS.retentionIntervalMs;
    this.#batchSize = period("batchSize", options.batchSize) ?? DEFAULTS.retentionBatchSize;
    this.#onError = hooks.onError;
    this.#onPurged = hooks.onPurged;
  }

  /** Starts purging in the background: a first pass at once, then one every `intervalMs`. Idempotent. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops the background passes; a pass under way ends after its current batch. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
  }

  /** One full pass now (waits for a pass under way instead of starting a second one). */
  purge(): Promise<PurgeReport> {
    return this.#run(false);
  }

  #run(background: boolean): Promise<PurgeReport> {
    this.#running ??= this.#pass(background).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#run(true)
        .then((report) => {
          if (report.expunged > 0 || report.deleted > 0) this.#onPurged(report);
        }, this.#onError)
        .finally(() => this.#schedule(this.#intervalMs));
    }, delayMs);
    this.#timer.unref();
  }

  /** A background pass stops between batches once `stop()` is called; one asked for by `purge()` runs to its end. */
  async #pass(background: boolean): Promise<PurgeReport> {
    const interrupted = () => background && this.#stopped;
    const report: PurgeReport = { expunged: 0, deleted: 0, batches: 0, longestBatchMs: 0 };
    const limit = this.#batchSize;
    const batch = async (step: () => Promise<number>): Promise<number> => {
      const started = performance.now();
      const count = await step();
      report.batches++;
      report.longestBatchMs = Math.max(report.longestBatchMs, performance.now() - started);
      // Deliveries waiting for the write lock get it before the next batch.
      await new Promise((resolve) => setImmediate(resolve));
      return count;
    };
    const now = this.#clock.now();
    // History first: what is deleted need not be expunged before.
    if (this.#historyMs !== null) {
      const before = now - this.#historyMs;
      for (let n = limit; n === limit && !interrupted(); ) {
        n = await batch(() => this.#store.deleteHistory({ before, limit }));
        report.deleted += n;
      }
    }
    // Messages with a retention of their own are expunged even when the store-wide one is off (cutoff 0).
    const payloadBefore = this.#payloadMs === null ? 0 : now - this.#payloadMs;
    for (let n = limit; n === limit && !interrupted(); ) {
      n = await batch(() => this.#store.expirePayloads({ before: payloadBefore, now, limit }));
      report.expunged += n;
    }
    return report;
  }
}
