const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const BAR_WIDTH = 24;

/** A progress indicator on stderr; silent unless stderr is a terminal. */
export interface Progress {
  /** Shows `done` of `total` as a bar, or just a status text when the total is unknown. */
  update(status: string, done?: number, total?: number): void;
  /** Clears the indicator. */
  stop(): void;
}

/**
 * Starts a spinner (or a bar once totals are known) on stderr, redrawn every
 * 100 ms with the elapsed time. Does nothing when stderr is not a TTY, so
 * scripts and logs never see control characters.
 */
export function startProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const started = Date.now();
  let frame = 0;
  let status = "";
  let fraction: number | null = null;
  const draw = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const head =
      fraction === null
        ? (FRAMES[frame++ % FRAMES.length] ?? "*")
        : `[${"#".repeat(Math.round(fraction * BAR_WIDTH)).padEnd(BAR_WIDTH, "-")}] ${Math.floor(fraction * 100)}%`;
    const text = `${head} ${label}${status ? ` ${status}` : ""} (${seconds}s)`;
    stream.write(`\r\x1b[2K${text.slice(0, Math.max(20, (stream.columns || 80) - 1))}`);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  draw();
  return {
    update(nextStatus, done, total) {
      status = nextStatus;
      fraction = done !== undefined && total !== undefined && total > 0 ? Math.min(1, done / total) : null;
      draw();
    },
    stop() {
      clearInterval(timer);
      stream.write("\r\x1b[2K");
    },
  };
}
