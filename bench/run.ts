/**
 * `npm run bench`: signing, dispatch and the durable engine (SQLite
 * throughput and latency, PostgreSQL against pg-boss), then a summary of
 * every figure against its target. Ratios, not absolute rates, are what to
 * compare across machines: each baseline is measured in the same run on the
 * same machine.
 *
 * `npx tsx bench/run.ts [section …]` runs only the sections named: `signing`,
 * `tracing` (the hooks' cost with no OpenTelemetry SDK), `filter` (payload filter evaluations), `dispatch`, `sqlite`, `postgres`, `memory`, `peers` (against BullMQ),
 * `fairness` (noisy neighbours), `ingest`, `retention` (a purge pass beside sends), or `engine` (sqlite and postgres,
 * plus memory when BENCH_MEMORY=1).
 *
 * `BENCH_DURATION_MS` (default 5000) sets the measured window of each
 * dispatch run; the signing time budget scales with it. `BENCH_SCALE`
 * (default 1, or BENCH_DURATION_MS / 5000 when that is shorter) scales the
 * engine's message counts and fixed-rate runs. A short BENCH_DURATION_MS
 * such as 500 makes a quick smoke run of everything. The memory benchmark
 * (1,000,000 queued deliveries at scale 1, several minutes) runs only with
 * `BENCH_MEMORY=1` or when named.
 */
import { cpus } from "node:os";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatChecks,
  meetsTarget,
  scaleFromEnv,
} from "./common.js";
import { main as runDispatch } from "./dispatch.js";
import { main as runSqlite } from "./engine.js";
import { main as runMemory } from "./engine-memory.js";
import { main as runPostgres } from "./engine-postgres.js";
import { main as runFairness } from "./fairness.js";
import { main as runFilter } from "./filter.js";
import { main as runIngest } from "./ingest.js";
import { main as runPeers } from "./peers.js";
import { main as runRetention } from "./retention.js";
import { main as runSigning } from "./signing.js";
import { main as runTracing } from "./tracing.js";

const SECTIONS: Record<string, (options: BenchOptions) => Promise<BenchReport>> = {
  signing: runSigning,
  tracing: runTracing,
  filter: runFilter,
  dispatch: runDispatch,
  sqlite: runSqlite,
  postgres: runPostgres,
  memory: runMemory,
  peers: runPeers,
  fairness: runFairness,
  ingest: runIngest,
  retention: runRetention,
};

/** The sections to run, in order, from the command line (default: all but memory, unless BENCH_MEMORY=1). */
function sectionsFromArgs(args: readonly string[]): string[] {
  const withMemory = process.env.BENCH_MEMORY === "1";
  const engine = ["sqlite", "postgres", ...(withMemory ? ["memory"] : [])];
  if (args.length === 0)
    return ["signing", "tracing", "filter", "dispatch", ...engine, "peers", "fairness", "ingest", "retention"];
  const chosen = args.flatMap((arg) => (arg === "engine" ? engine : [arg]));
  const unknown = chosen.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    throw new Error(
      `unknown benchmark section ${unknown.join(", ")}; choose from ${Object.keys(SECTIONS).join(", ")}, engine`,
    );
  }
  return [...new Set(chosen)];
}

async function run(): Promise<void> {
  const sections = sectionsFromArgs(process.argv.slice(2));
  const durationMs = durationFromEnv();
  const scale = scaleFromEnv(process.env, durationMs);
  console.log(
    `# hookline benchmarks — Node ${process.version}, ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ""}`.trimEnd(),
  );
  console.log(`BENCH_DURATION_MS=${durationMs} BENCH_SCALE=${scale} sections: ${sections.join(", ")}`);

  const started = performance.now();
  const reports: BenchReport[] = [];
  for (const section of sections)
    reports.push(await (SECTIONS[section] as (typeof SECTIONS)[string])({ durationMs, scale }));

  const checks = reports.flatMap((report) => report.checks);
  const missed = checks.filter((check) => !meetsTarget(check)).length;
  console.log("\n## Summary — ratios against baselines measured in this run, and absolute targets\n");
  console.log(formatChecks(checks));
  console.log(
    missed === 0
      ? "\nAll figures meet their targets."
      : `\n${missed} of ${checks.length} figures miss their target (informational: the exit code stays 0).`,
  );
  console.log(`total time ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

try {
  await run();
} catch (error) {
  console.error("\nbenchmark failed:", error);
  process.exitCode = 1;
}

// Everything above closes its sockets and child process, so the event loop
// empties and node exits by itself. Should something be left open anyway,
// say so and exit instead of hanging; unref() keeps this timer from being
// the thing that holds the process open.
setTimeout(() => {
  console.error("benchmark: handles still open 5 s after the end; exiting");
  process.exit(process.exitCode ?? 1);
}, 5_000).unref();
