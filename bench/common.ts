/**
 * Small helpers shared by the benchmark files: run-length configuration,
 * medians, ratio checks against targets and plain-text tables.
 */

/** Measured window of one dispatch run when `BENCH_DURATION_MS` is not set. */
export const DEFAULT_DURATION_MS = 5_000;

/** Options every benchmark's `main` accepts. */
export interface BenchOptions {
  /** Length of one measured dispatch run; signing scales its per-task budget from it. */
  durationMs: number;
}

/** A measured ratio and the target it should reach (`ratio ≥ target`). */
export interface RatioCheck {
  name: string;
  ratio: number;
  target: number;
}

/** What each benchmark's `main` hands back to `run.ts` for the summary. */
export interface BenchReport {
  checks: RatioCheck[];
}

/**
 * `BENCH_DURATION_MS` from the environment, else the default. Anything that
 * is not a positive integer is an error rather than a silent fallback: a typo
 * should not turn a 200 ms smoke run into a full one.
 */
export function durationFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.BENCH_DURATION_MS;
  if (text === undefined || text === "") return DEFAULT_DURATION_MS;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 100) {
    throw new Error(`BENCH_DURATION_MS must be an integer ≥ 100 (milliseconds), got ${JSON.stringify(text)}`);
  }
  return value;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** 312450.7 → "312,451". */
export function formatCount(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "n/a";
}

/** 0.934 → "0.93×". */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : "n/a";
}

export function meetsTarget(check: RatioCheck): boolean {
  return Number.isFinite(check.ratio) && check.ratio >= check.target;
}

/**
 * A plain-text table: the first column left-aligned, the others right-aligned
 * (they hold numbers), columns separated by two spaces.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return column === 0 ? cell.padEnd(width) : cell.padStart(width);
      })
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** The summary rows for a set of checks: name, measured ratio, target, verdict. */
export function formatChecks(checks: readonly RatioCheck[]): string {
  return formatTable(
    ["check", "ratio", "target", "result"],
    checks.map((check) => [
      check.name,
      formatRatio(check.ratio),
      `≥ ${formatRatio(check.target)}`,
      meetsTarget(check) ? "ok" : "BELOW TARGET",
    ]),
  );
}
