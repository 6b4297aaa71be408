import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "pino";
import type { Hookline } from "../delivery/hookline.js";
import type { HooklineEvents } from "../delivery/hookline-types.js";

/** Set in the environment of the process `hookline serve` starts for its delivery workers. */
export const WORKER_ROLE_ENV = "HOOKLINE_SERVE_ROLE";

/** The engine events the workers' process hands to the API's process, which logs and counts them. */
const FORWARDED = [
  "delivery:succeeded",
  "delivery:failed",
  "delivery:exhausted",
  "endpoint:failing",
  "endpoint:disabled",
  "retention:purged",
] as const satisfies ReadonlyArray<keyof HooklineEvents>;
type Forwarded = (typeof FORWARDED)[number];
type EventBatch = Array<[Forwarded, unknown]>;

/** Events are sent in batches this often, so a busy worker costs one IPC message per interval, not per delivery. */
const FORWARD_INTERVAL_MS = 100;
/** Wake-ups of the workers' process are sent at most this often. */
const WAKE_COALESCE_MS = 10;
/** A worker process that dies is started again after this long. */
const RESTART_DELAY_MS = 1_000;
/** Exits this soon after a start count as a crash loop… */
const EARLY_EXIT_MS = 5_000;
/** …and this many in a row make `serve` give up instead of restarting forever. */
const MAX_EARLY_EXITS = 5;

/**
 * In the workers' process: calls `onGone` once the parent is gone — its IPC
 * channel closes even when it is SIGKILLed — at once if it already is, so no
 * worker outlives its service.
 */
export function onParentGone(onGone: () => void): void {
  if (!process.connected) {
    onGone();
    return;
  }
  process.once("disconnect", onGone);
}

/**
 * In the workers' process: hands the engine's events to the parent over the
 * IPC channel (attempts without their response excerpt, which the parent
 * does not use), and wakes the workers when the parent's sends ask it to.
 */
export function connectToParent(hookline: Hookline): void {
  const send = process.send?.bind(process);
  if (send === undefined) return;
  let batch: EventBatch = [];
  const timer = setInterval(() => {
    if (batch.length === 0 || !process.connected) return;
    const sending = batch;
    batch = [];
    send(sending);
  }, FORWARD_INTERVAL_MS);
  timer.unref();
  for (const name of FORWARDED) {
    hookline.on(name, (event: unknown) => {
      const attempt = (event as { attempt?: Record<string, unknown> }).attempt;
      batch.push([name, attempt ? { ...(event as object), attempt: { ...attempt, responseExcerpt: null } } : event]);
    });
  }
  // The API's sends wake the workers at once, as they would in one process.
  process.on("message", (message) => {
    if (message === "wake") hookline.wake();
  });
  process.once("disconnect", () => clearInterval(timer));
}

/**
 * The delivery workers of `hookline serve`, in a process of their own so the
 * API and the deliveries each get a core. The same command line runs again
 * with {@link WORKER_ROLE_ENV} set; its events come back over IPC and are
 * emitted on the API's engine (logs, /metrics). A worker process that dies
 * is started again (its leases are taken over at once: same host, PID gone).
 */
export class WorkerProcess {
  readonly #hookline: Hookline;
  readonly #logger: Logger;
  #child: ChildProcess | null = null;
  #stopping = false;
  #earlyExits = 0;
  #onGiveUp: (error: Error) => void;
  #wakePending = false;

  constructor(hookline: Hookline, logger: Logger, onGiveUp: (error: Error) => void) {
    this.#hookline = hookline;
    this.#logger = logger;
    this.#onGiveUp = onGiveUp;
    // At most one wake-up per WAKE_COALESCE_MS, however many sends committed meanwhile: each one
    // costs the workers a write transaction, and on SQLite those wait for the API's own writes.
    hookline.on("work:queued", () => {
      if (this.#wakePending) return;
      this.#wakePending = true;
      setTimeout(() => {
        this.#wakePending = false;
        if (this.#child?.connected) this.#child.send("wake");
      }, WAKE_COALESCE_MS).unref();
    });
  }

  /** The worker process's PID, while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): void {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      env: { ...process.env, [WORKER_ROLE_ENV]: "workers" },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#child = child;
    child.on("message", (batch: EventBatch) => {
      for (const [name, event] of batch) (this.#hookline.emit as (n: string, e: unknown) => boolean)(name, event);
    });
    child.once("exit", (code, signal) => {
      this.#child = null;
      if (this.#stopping) return;
      this.#earlyExits = Date.now() - startedAt < EARLY_EXIT_MS ? this.#earlyExits + 1 : 0;
      if (this.#earlyExits >= MAX_EARLY_EXITS) {
        this.#onGiveUp(
          new Error(`the delivery workers' process exited ${MAX_EARLY_EXITS} times within seconds of starting`),
        );
        return;
      }
      this.#logger.error({ code, signal }, "the delivery workers' process exited; starting it again");
      setTimeout(() => {
        if (!this.#stopping) this.start();
      }, RESTART_DELAY_MS).unref();
    });
  }

  /** Asks the worker process to stop (SIGTERM: attempts in flight finish) and waits for it, at most `timeoutMs` + 5 s. */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs + 5_000);
    await exited;
    clearTimeout(killer);
  }
}
