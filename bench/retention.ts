/**
 * What a retention pass costs the traffic beside it, on SQLite (one writer at
 * a time, so the purge's write transactions are what could stall sends): a
 * file holding finished messages sent 100 days ago (deleted by the pass) and
 * 40 days ago (payloads expunged), then 32 concurrent `send()` loops with the
 * workers running over an in-process transport, first alone (the baseline),
 * then while one purge pass runs with the default batch size. Prints the
 * longest purge batch (how long the write lock was held at most) and the
 * send latencies of both phases.
 *
 * Run alone with `npx tsx bench/retention.ts`, or through `npm run bench`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Clock } from "../src/core/clock.js";
import { createHookline, type Hookline, HTTPWebhookTransport } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatCount,
  formatTable,
  quantile,
  scaled,
  scaleFromEnv,
} from "./common.js";

const DAY_MS = 24 * 3_600_000;
const SENDERS = 32;
/** The longest a purge batch may hold SQLite's write lock. */
const TARGET_BATCH_MS = 50;

/** The system clock, set back by `offsetMs` while old traffic is written. */
class ShiftedClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() - this.offsetMs;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/** Sends from SENDERS loops until `done()`; returns each send's latency in ms. */
async function load(hl: Hookline, done: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (!done()) {
        const started = performance.now();
        await hl.send({ eventType: "order.paid", payload: { id: latencies.length, note: "x".repeat(200) } });
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

export async function main(options: BenchOptions): Promise<BenchReport> {
  const scale = options.scale ?? 1;
  const perAge = scaled(50_000, scale, 1_000);
  const dir = mkdtempSync(join(tmpdir(), "hookline-bench-retention-"));
  const clock = new ShiftedClock();
  const hl = await createHookline({
    store: sqliteStore({ path: join(dir, "hookline.db") }),
    clock,
    transport: new HTTPWebhookTransport(),
    retention: { payloadMs: 30 * DAY_MS, historyMs: 90 * DAY_MS },
  });
  try {
    await hl.endpoints.create({ url: "https://example.com/hook" });
    for (const ageDays of [100, 40]) {
      clock.offsetMs = ageDays * DAY_MS;
      for (let sent = 0; sent < perAge; sent += 500) {
        await Promise.all(
          Array.from({ length: 500 }, () => hl.send({ eventType: "order.paid", payload: { note: "x".repeat(200) } })),
        );
        while ((await hl.processDue()) > 0) {}
      }
    }
    // The workers' first background pass runs at start: still at the old clock, it finds nothing
    // expired, and joining it (purge() waits for a pass under way) leaves the data to the measured pass.
    await hl.start();
    await hl.purge();
    clock.offsetMs = 0;

    const baselineMs = Math.max(1_000, options.durationMs / 2);
    const baselineEnd = performance.now() + baselineMs;
    const baseline = await load(hl, () => performance.now() > baselineEnd);

    let purging = true;
    const started = performance.now();
    const [report, during] = await Promise.all([
      hl.purge().finally(() => {
        purging = false;
      }),
      load(hl, () => !purging),
    ]);
    const purgeMs = performance.now() - started;

    const row = (name: string, latencies: number[]) => [
      name,
      formatCount(latencies.length),
      quantile(latencies, 0.5).toFixed(2),
      quantile(latencies, 0.99).toFixed(2),
      (latencies[latencies.length - 1] ?? 0).toFixed(2),
    ];
    console.log(
      `\nRetention on SQLite: ${formatCount(perAge)} messages 100 days old (deleted) and ${formatCount(perAge)} 40 days old (payloads expunged), ${SENDERS} senders beside the pass`,
    );
    console.log(
      formatTable(
        ["phase", "sends", "p50 ms", "p99 ms", "max ms"],
        [row("sends alone (baseline)", baseline), row("sends during the purge pass", during)],
      ),
    );
    console.log(
      `purge pass: ${formatCount(report.expunged)} expunged, ${formatCount(report.deleted)} deleted in ${report.batches} batches, ${(purgeMs / 1000).toFixed(1)} s; longest batch ${report.longestBatchMs.toFixed(1)} ms`,
    );
    return {
      checks: [
        {
          name: "retention: longest purge batch (SQLite write lock held)",
          ratio: report.longestBatchMs,
          target: TARGET_BATCH_MS,
          direction: "atMost",
          unit: " ms",
        },
      ],
    };
  } finally {
    await hl.close({ timeoutMs: 1_000 });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const durationMs = durationFromEnv();
  await main({ durationMs, scale: scaleFromEnv(process.env, durationMs) });
}
