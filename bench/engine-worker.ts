/**
 * A delivery worker process for the engine benchmarks (bench/engine.ts):
 * `node --import tsx bench/engine-worker.ts`, configured by environment:
 *
 * - BENCH_STORE `sqlite` | `postgres`, BENCH_DB (file path or connection
 *   string), BENCH_SCHEMA (PostgreSQL);
 * - BENCH_CONCURRENCY, BENCH_PER_ENDPOINT (the engine's `concurrency` and
 *   `perEndpointConcurrency`).
 *
 * It opens the store and prints `ready <rss>`, then waits: the parent loads
 * the backlog first and times the drain from the moment it writes `go` on our
 * stdin, which starts the workers (`hl.start()`). From then on it prints
 * `succeeded <n>` whenever the count of `delivery:succeeded` events grew
 * (coalesced per event-loop turn), and samples its RSS every 500 ms (printed
 * as `rss <bytes>`). `stop`
 * on stdin, or stdin closing (the parent died), stops the workers, closes the
 * store and prints `done <succeeded> <failed> <cpu µs> <peak rss> <samples>`
 * before exiting.
 */
import { createHookline, type Store } from "../src/index.js";

const RSS_SAMPLE_MS = 500;

function integerFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  const value = text === undefined || text === "" ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${text}`);
  return value;
}

const kind = process.env.BENCH_STORE;
const db = process.env.BENCH_DB ?? "";
let store: Store;
if (kind === "sqlite") {
  const { sqliteStore } = await import("../src/sqlite.js");
  store = sqliteStore({ path: db });
} else if (kind === "postgres") {
  const { postgresStore } = await import("../src/postgres.js");
  store = postgresStore({ connectionString: db, schema: process.env.BENCH_SCHEMA ?? "hookline" });
} else {
  throw new Error(`BENCH_STORE must be sqlite or postgres, got ${kind}`);
}

const hl = await createHookline({
  store,
  allowPrivateNetworks: true,
  concurrency: integerFromEnv("BENCH_CONCURRENCY", 32),
  perEndpointConcurrency: integerFromEnv("BENCH_PER_ENDPOINT", 32),
});

let succeeded = 0;
let failed = 0;
let reportScheduled = false;
let peakRss = process.memoryUsage.rss();
let samples = 0;
hl.on("delivery:succeeded", () => {
  succeeded++;
  if (reportScheduled) return;
  reportScheduled = true;
  setImmediate(() => {
    reportScheduled = false;
    process.stdout.write(`succeeded ${succeeded}\n`);
  });
});
// A failed attempt is not expected against the benchmark receiver: count it so the parent can say so.
hl.on("delivery:failed", () => failed++);
hl.on("delivery:exhausted", () => failed++);
hl.on("error", (error) => console.error("bench worker error:", error));

const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  peakRss = Math.max(peakRss, rss);
  samples++;
  process.stdout.write(`rss ${rss}\n`);
}, RSS_SAMPLE_MS);

let cpuAtStart: NodeJS.CpuUsage | null = null;
let stopping: Promise<void> | null = null;
function stop(): Promise<void> {
  stopping ??= (async () => {
    clearInterval(sampler);
    await hl.close({ timeoutMs: 2_000 });
    const cpu = process.cpuUsage(cpuAtStart ?? undefined);
    process.stdout.write(`done ${succeeded} ${failed} ${cpu.user + cpu.system} ${peakRss} ${samples}\n`);
    process.exit(0);
  })();
  return stopping;
}

process.stdin.setEncoding("utf8");
let pending = "";
process.stdin.on("data", (chunk: string) => {
  pending += chunk;
  for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
    const line = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    if (line === "go") {
      cpuAtStart = process.cpuUsage();
      hl.start().catch((error: unknown) => {
        console.error("bench worker: start failed:", error);
        void stop();
      });
    } else if (line === "stop") {
      void stop();
    }
  }
});
process.stdin.on("end", () => void stop());
process.on("SIGTERM", () => void stop());
process.stdout.write(`ready ${process.memoryUsage.rss()}\n`);
