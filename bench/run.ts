/**
 * `npm run bench`: signing, then dispatch, then a summary of every ratio
 * against its target. Ratios, not absolute rates, are what to compare across
 * machines: each baseline is measured in the same run on the same machine.
 *
 * `BENCH_DURATION_MS` (default 5000) sets the measured window of each
 * dispatch run; the signing time budget scales with it. A short value such
 * as 500 makes a quick smoke run.
 */
import { cpus } from "node:os";
import { type BenchReport, durationFromEnv, formatChecks, meetsTarget } from "./common.js";
import { main as runDispatch } from "./dispatch.js";
import { main as runSigning } from "./signing.js";

async function run(): Promise<void> {
  const durationMs = durationFromEnv();
  console.log(
    `# hookline benchmarks — Node ${process.version}, ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ""}`.trimEnd(),
  );
  console.log(`BENCH_DURATION_MS=${durationMs}`);

  const reports: BenchReport[] = [];
  reports.push(await runSigning({ durationMs }));
  reports.push(await runDispatch({ durationMs }));

  const checks = reports.flatMap((report) => report.checks);
  const below = checks.filter((check) => !meetsTarget(check)).length;
  console.log("\n## Summary — ratios against baselines measured in this run\n");
  console.log(formatChecks(checks));
  console.log(
    below === 0
      ? "\nAll ratios meet their targets."
      : `\n${below} of ${checks.length} ratios below target (informational: the exit code stays 0).`,
  );
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
