/**
 * Memory of a worker process draining a large SQLite backlog: 1,000,000
 * deliveries (at BENCH_SCALE=1) wait in the queue, then one worker process
 * (bench/engine-worker.ts, 32 in flight) drains them to bench/receiver.mjs
 * while it samples its RSS every 500 ms; the peak is what counts.
 *
 * The backlog is written straight into the database file by this process
 * with better-sqlite3, 5,000 messages (and their deliveries) per transaction,
 * through the stores' own row mapping (src/store/sql/rows.ts) and the seed's
 * envelope: the same rows `send()` would write, about 10× faster than one
 * `send()` transaction per message. The worker process starts only after
 * that, so its RSS holds nothing of the loading.
 *
 * The drain stops after BENCH_MEMORY_WINDOW_MS (default 300,000 ms, scaled)
 * if the backlog is not empty by then: the figures are then those of a
 * bounded window of the full backlog, and the output says so.
 *
 * Opt-in: `BENCH_MEMORY=1 npm run bench`, or `npx tsx bench/run.ts memory`.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { createHookline } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";
import { DELIVERY_COLUMNS, deliveryToRow, MESSAGE_COLUMNS, messageToRow } from "../src/store/sql/rows.js";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatCount,
  formatTable,
  scaled,
  scaleFromEnv,
} from "./common.js";
import { IN_FLIGHT, Receiver } from "./dispatch.js";
import { backlogRecords, SECRET, WorkerProcess, withTempDir } from "./engine-support.js";

const BACKLOG = 1_000_000;
const INSERT_BATCH = 5_000;
const DEFAULT_WINDOW_MS = 300_000;
const PROGRESS_EVERY_MS = 30_000;
const PEAK_RSS_TARGET_MB = 300;
const MB = 1024 * 1024;

function windowFromEnv(scale: number): number {
  const text = process.env.BENCH_MEMORY_WINDOW_MS;
  if (text === undefined || text === "") return scaled(DEFAULT_WINDOW_MS, scale, 10_000);
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1_000) {
    throw new Error(`BENCH_MEMORY_WINDOW_MS must be an integer ≥ 1000, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** Writes `count` messages with one due delivery each to `endpointId`; returns messages/s. */
function loadBacklog(path: string, endpointId: string, appId: string, count: number): number {
  const db = new Database(path, { timeout: 5_000 });
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const insertMessage = db.prepare(
      `INSERT INTO messages (${MESSAGE_COLUMNS.join(", ")}) VALUES (${MESSAGE_COLUMNS.map(() => "?").join(", ")})`,
    );
    const insertDelivery = db.prepare(
      `INSERT INTO deliveries (${DELIVERY_COLUMNS.join(", ")}) VALUES (${DELIVERY_COLUMNS.map(() => "?").join(", ")})`,
    );
    const insertBatch = db.transaction((first: number, size: number) => {
      for (let sequence = first; sequence < first + size; sequence++) {
        const { message, delivery } = backlogRecords(sequence, appId, endpointId);
        insertMessage.run(...messageToRow(message));
        insertDelivery.run(...deliveryToRow(delivery));
      }
    });
    const started = performance.now();
    for (let first = 0; first < count; first += INSERT_BATCH) {
      insertBatch.immediate(first, Math.min(INSERT_BATCH, count - first));
    }
    db.pragma("wal_checkpoint(TRUNCATE)");
    return (count * 1000) / (performance.now() - started);
  } finally {
    db.close();
  }
}

/** Runs the memory benchmark (opt-in) and returns its check. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  const scale = options.scale ?? scaleFromEnv(process.env, options.durationMs);
  const backlog = scaled(BACKLOG, scale, 1_000);
  const windowMs = windowFromEnv(scale);
  console.log(
    `\n## Memory — one worker process drains ${formatCount(backlog)} queued SQLite deliveries (${IN_FLIGHT} in flight),` +
      ` RSS sampled every 500 ms, drain window ≤ ${Math.round(windowMs / 1000)} s\n`,
  );
  const receiver = await Receiver.start();
  try {
    return await withTempDir("hookline-bench-memory", async (dir) => {
      const path = join(dir, "backlog.db");
      const hl = await createHookline({ store: sqliteStore({ path }), allowPrivateNetworks: true });
      let endpointId: string;
      let appId: string;
      try {
        const endpoint = await hl.endpoints.create({ url: `http://127.0.0.1:${receiver.port}/hook`, secret: SECRET });
        endpointId = endpoint.id;
        appId = endpoint.appId;
      } finally {
        await hl.close();
      }
      const insertRate = loadBacklog(path, endpointId, appId, backlog);
      const databaseBytes = statSync(path).size;
      console.log(
        `backlog written: ${formatCount(backlog)} messages + deliveries at ${formatCount(insertRate)} messages/s` +
          ` (batched inserts, ${INSERT_BATCH} per transaction); database ${formatCount(databaseBytes / MB)} MB`,
      );

      const worker = new WorkerProcess({
        store: "sqlite",
        db: path,
        concurrency: IN_FLIGHT,
        perEndpointConcurrency: IN_FLIGHT,
      });
      try {
        await worker.ready();
        const rssAtReady = worker.rssBytes;
        const started = performance.now();
        worker.go();
        const deadline = started + windowMs;
        let nextProgress = started + PROGRESS_EVERY_MS;
        let peakSeen = rssAtReady;
        // Polled, not awaited per event: a 1 M drain emits far too many progress events to wait on each.
        while (worker.succeeded < backlog && performance.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          peakSeen = Math.max(peakSeen, worker.rssBytes);
          if (performance.now() >= nextProgress) {
            nextProgress += PROGRESS_EVERY_MS;
            const seconds = (performance.now() - started) / 1000;
            console.log(
              `  ${seconds.toFixed(0)} s: ${formatCount(worker.succeeded)} delivered` +
                ` (${formatCount(worker.succeeded / seconds)}/s), RSS ${formatCount(worker.rssBytes / MB)} MB`,
            );
          }
        }
        const elapsedMs = performance.now() - started;
        const delivered = worker.succeeded;
        const summary = await worker.stop();
        if (summary === null) throw new Error("the memory worker did not report its figures");
        if (summary.failed > 0) throw new Error(`${summary.failed} attempts failed during the memory drain`);
        const peakMb = Math.max(summary.peakRssBytes, peakSeen) / MB;
        const complete = delivered >= backlog;
        console.log(
          `\n${formatTable(
            ["backlog", "delivered", "drain s", "deliveries/s", "RSS at start MB", "peak RSS MB", "samples"],
            [
              [
                formatCount(backlog),
                formatCount(delivered),
                (elapsedMs / 1000).toFixed(1),
                formatCount((delivered * 1000) / elapsedMs),
                formatCount(rssAtReady / MB),
                formatCount(peakMb),
                formatCount(summary.samples),
              ],
            ],
          )}`,
        );
        const expectedSamples = Math.floor(elapsedMs / 500);
        if (summary.samples < expectedSamples * 0.8) {
          console.log(
            `\nonly ${summary.samples} RSS samples of ~${expectedSamples}: the worker's event loop was blocked` +
              " for long stretches (synchronous SQLite calls), so samples came late",
          );
        }
        console.log(
          complete
            ? "\nthe whole backlog was drained"
            : `\nthe drain window ended with ${formatCount(backlog - delivered)} deliveries still queued:` +
                " these figures are for a bounded window of the full backlog",
        );
        return {
          checks: [
            {
              name: `peak RSS draining ${formatCount(backlog)} queued${complete ? "" : " (window)"}`,
              ratio: peakMb,
              target: PEAK_RSS_TARGET_MB,
              direction: "atMost",
              unit: "MB",
            },
          ],
        };
      } finally {
        await worker.stop();
      }
    });
  } finally {
    await receiver.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
