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
  /**
   * Share of the full workload (message counts, fixed-rate run lengths) the
   * engine benchmarks run: 1 is the full run, 0.05 a quick check.
   */
  scale?: number;
}

/**
 * A measured figure and the target it should reach: a ratio that must be at
 * least `target` (the default), or a figure with a unit, such as a latency
 * in ms or a memory peak in MB, that must stay at or below it.
 */
export interface RatioCheck {
  name: string;
  ratio: number;
  target: number;
  /** `atLeast` (default): ratio ≥ target; `atMost`: ratio ≤ target. */
  direction?: "atLeast" | "atMost";
  /** Unit printed after the figure; `×` (a ratio) when omitted. */
  unit?: string;
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

/**
 * `BENCH_SCALE` from the environment: a number in (0, 1] … 10 multiplying the
 * engine benchmarks' message counts and fixed-rate run lengths. When it is not
 * set, a shortened `BENCH_DURATION_MS` shrinks them in proportion (500 ms →
 * 0.1), so one knob makes a quick smoke run of everything.
 */
export function scaleFromEnv(env: NodeJS.ProcessEnv = process.env, durationMs = durationFromEnv(env)): number {
  const text = env.BENCH_SCALE;
  if (text === undefined || text === "") return Math.min(1, durationMs / DEFAULT_DURATION_MS);
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > 10) {
    throw new Error(`BENCH_SCALE must be a number in (0, 10], got ${JSON.stringify(text)}`);
  }
  return value;
}

/** `count × scale`, rounded, never below `minimum`. */
export function scaled(count: number, scale: number, minimum = 1): number {
  return Math.max(minimum, Math.round(count * scale));
}

/** The `fraction` quantile (0.5 = median, 0.99 = p99) by nearest rank; NaN when empty. */
export function quantile(sortedAscending: readonly number[], fraction: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sortedAscending.length) - 1;
  return sortedAscending[clamp(rank, 0, sortedAscending.length - 1)] as number;
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
  if (!Number.isFinite(check.ratio)) return false;
  return check.direction === "atMost" ? check.ratio <= check.target : check.ratio >= check.target;
}

/** A check's figure with its unit: "0.93×", "4.2 ms", "187 MB". */
export function formatFigure(value: number, unit = "×"): string {
  if (unit === "×") return formatRatio(value);
  if (!Number.isFinite(value)) return "n/a";
  return `${value < 10 ? value.toFixed(1) : formatCount(value)} ${unit}`;
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
    ["check", "measured", "target", "result"],
    checks.map((check) => [
      check.name,
      formatFigure(check.ratio, check.unit),
      `${check.direction === "atMost" ? "≤" : "≥"} ${formatFigure(check.target, check.unit)}`,
      meetsTarget(check) ? "ok" : check.direction === "atMost" ? "ABOVE TARGET" : "BELOW TARGET",
    ]),
  );
}
