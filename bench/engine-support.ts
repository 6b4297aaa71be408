/**
 * Helpers shared by the durable-engine benchmarks: the message payload, a
 * parallel sender, temporary directories, PostgreSQL schemas and the worker
 * child processes (bench/engine-worker.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { newId } from "../src/core/ids.js";
import { type DeliveryRecord, type Hookline, type MessageRecord, WebhookEvent } from "../src/index.js";
import { newEvent } from "./dispatch.js";

/** Where the PostgreSQL benchmarks connect. */
export const PG_URL =
  process.env.HOOKLINE_BENCH_PG_URL ?? process.env.HOOKLINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export const EVENT_TYPE = "invoice.paid";
/** A fixed `whsec_` secret, as in bench/dispatch.ts. */
export const SECRET = `whsec_${Buffer.alloc(24, 0x5a).toString("base64")}`;

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const WORKER_PATH = fileURLToPath(new URL("./engine-worker.ts", import.meta.url));

/** The ~0.9 KiB invoice payload of bench/dispatch.ts; the engine's envelope brings the body to ~1 KiB. */
const TEMPLATE = newEvent(0).payload as Record<string, unknown>;

/** The payload of message `sequence`: the dispatch benchmark's, with its own invoice id. */
export function payloadFor(sequence: number): Record<string, unknown> {
  return { ...TEMPLATE, id: `in_${sequence}` };
}

/**
 * Sends messages `first` … `first + count - 1` through `hl.send()` from
 * `lanes` concurrent loops, each awaiting its send before the next: every
 * message is durable when this resolves.
 */
export async function sendMany(hl: Hookline, first: number, count: number, lanes: number): Promise<void> {
  let next = first;
  const end = first + count;
  const lane = async () => {
    while (next < end) {
      const sequence = next++;
      await hl.send({ eventType: EVENT_TYPE, payload: payloadFor(sequence) });
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, count) }, lane));
}

/**
 * The rows `send()` would write for message `sequence` (the seed's envelope
 * with its own ids, one due delivery to `endpointId`), for loading a backlog
 * straight into a database faster than one `send()` transaction per message.
 */
export function backlogRecords(
  sequence: number,
  appId: string,
  endpointId: string,
): { message: MessageRecord; delivery: DeliveryRecord } {
  const now = Date.now();
  const id = newId("msg", now);
  const body = new WebhookEvent({
    eventType: EVENT_TYPE,
    payload: payloadFor(sequence),
    eventId: id,
    timestamp: new Date(now),
  }).toJson();
  return {
    message: {
      id,
      appId,
      eventId: id,
      eventType: EVENT_TYPE,
      body,
      bodyFormat: "envelope",
      channels: null,
      tags: null,
      createdAt: now,
    },
    delivery: {
      id: newId("dlv", now),
      messageId: id,
      endpointId,
      appId,
      status: "pending",
      attemptCount: 0,
      nextAttemptAt: now,
      leaseOwner: null,
      nextTrigger: "scheduled",
      lastStatusCode: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
    },
  };
}

/** A new directory under the OS temp dir, removed with everything in it once `fn` settles. */
/** Clock ticks per second of /proc's CPU times (USER_HZ): 100 on every Linux build this runs on. */
const USER_HZ = 100;

/**
 * CPU time (µs) a local server has used so far, all its processes together,
 * read from /proc: each live process named `name` (its own time, plus what it
 * collected from children that exited, so PostgreSQL's closed backends still
 * count through the postmaster). Null where /proc or the server is not there
 * (another OS, a remote server). The difference of two readings is the
 * server's CPU between them, whatever connections opened and closed.
 */
export async function serverCpuMicros(name: "postgres" | "redis-server"): Promise<number | null> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return null;
  }
  let ticks = 0;
  let found = false;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => null);
    if (stat === null || stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) !== name) continue;
    // After the name: field 3 (state) onwards; utime, stime, cutime, cstime are fields 14–17.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    found = true;
  }
  return found ? (ticks * 1_000_000) / USER_HZ : null;
}

/** Server CPU per message (µs) between two readings of {@link serverCpuMicros}; NaN when either is missing. */
export function serverCpuPerMessage(before: number | null, after: number | null, messages: number): number {
  return before === null || after === null ? Number.NaN : (after - before) / messages;
}

export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A schema name no other run uses. */
export function uniqueSchemaName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

/** Runs `fn` with a connected client, always ending it. */
export async function withPgClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Null when PostgreSQL answers at PG_URL, else why not. */
export async function postgresUnreachable(): Promise<string | null> {
  try {
    await withPgClient((client) => client.query("SELECT 1"));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withPgClient((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms));

/** What a worker process reports when it stops. */
export interface WorkerSummary {
  succeeded: number;
  failed: number;
  /** CPU time (user + system) from `go` to its stop, µs. */
  cpuMicros: number;
  /** Largest of its RSS samples (every 500 ms) and its RSS at start-up, bytes. */
  peakRssBytes: number;
  samples: number;
}

export interface WorkerEnvironment {
  store: "sqlite" | "postgres";
  db: string;
  schema?: string;
  concurrency: number;
  perEndpointConcurrency: number;
}

/**
 * One bench/engine-worker.ts process. Emits `progress` whenever its count of
 * succeeded deliveries grows. Never outlives this process: its stdin is our
 * pipe (it stops when that closes), and a backstop kills it on our exit.
 */
export class WorkerProcess extends EventEmitter<{ progress: []; exit: [] }> {
  succeeded = 0;
  /** RSS at start-up, then the latest 500 ms sample, bytes. */
  rssBytes = 0;
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  readonly #exited: Promise<void>;
  #summary: WorkerSummary | null = null;

  constructor(environment: WorkerEnvironment) {
    super();
    // BENCH_CPU_PROF=<dir>: each worker process writes a V8 CPU profile there when it exits.
    const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROF] : [];
    const child = spawn(process.execPath, [...profile, "--import", "tsx", WORKER_PATH], {
      cwd: ROOT,
      env: {
        ...process.env,
        BENCH_STORE: environment.store,
        BENCH_DB: environment.db,
        BENCH_SCHEMA: environment.schema ?? "",
        BENCH_CONCURRENCY: String(environment.concurrency),
        BENCH_PER_ENDPOINT: String(environment.perEndpointConcurrency),
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.#child = child;
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    this.#exited = new Promise((resolveExit) =>
      child.once("exit", () => {
        process.off("exit", killOnExit);
        this.emit("exit");
        resolveExit();
      }),
    );
    let markReady: () => void = () => {};
    this.#ready = new Promise<void>((resolveReady, reject) => {
      markReady = resolveReady;
      child.once("exit", (code, signal) => reject(new Error(`bench worker exited (${code ?? signal}) before ready`)));
    });
    this.#ready.catch(() => {});
    if (child.stdout === null) throw new Error("bench worker has no stdout");
    createInterface({ input: child.stdout }).on("line", (line) => {
      const [kind, ...fields] = line.split(" ");
      const numbers = fields.map(Number);
      if (kind === "succeeded") {
        this.succeeded = numbers[0] ?? this.succeeded;
        this.emit("progress");
      } else if (kind === "rss" || kind === "ready") {
        this.rssBytes = numbers[0] ?? this.rssBytes;
        if (kind === "ready") markReady();
      } else if (kind === "done") {
        const [succeeded = 0, failed = 0, cpuMicros = 0, peakRssBytes = 0, samples = 0] = numbers;
        this.#summary = { succeeded, failed, cpuMicros, peakRssBytes, samples };
        this.succeeded = succeeded;
      }
    });
    child.stdin?.on("error", () => {});
  }

  /** Resolves once the store is open and the worker waits for `go`. */
  ready(timeoutMs = 30_000): Promise<void> {
    return withTimeout(this.#ready, timeoutMs, "bench worker did not get ready");
  }

  /** Starts its delivery workers. */
  go(): void {
    this.#child.stdin?.write("go\n");
  }

  /** Stops it gracefully (escalating to SIGTERM, then SIGKILL) and returns what it reported. */
  async stop(): Promise<WorkerSummary | null> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.write("stop\n");
      child.stdin?.end();
      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        if (await settlesWithin(this.#exited, 5_000)) break;
        child.kill(signal);
      }
      await settlesWithin(this.#exited, 5_000);
    }
    return this.#summary;
  }
}

async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  try {
    await withTimeout(promise, timeoutMs, "timeout");
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves once the workers together report `total` succeeded deliveries;
 * rejects after `timeoutMs` or when one of them exits first.
 */
export function untilSucceeded(workers: readonly WorkerProcess[], total: number, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolveDone, reject) => {
    const check = () => {
      if (workers.reduce((sum, w) => sum + w.succeeded, 0) >= total) finish(null);
    };
    const exited = () => finish(new Error("a bench worker exited before the backlog was drained"));
    const timer = setTimeout(() => {
      const done = workers.reduce((sum, w) => sum + w.succeeded, 0);
      finish(new Error(`drain timed out after ${timeoutMs} ms with ${done} of ${total} delivered`));
    }, timeoutMs);
    const finish = (error: Error | null) => {
      clearTimeout(timer);
      for (const worker of workers) {
        worker.off("progress", check);
        worker.off("exit", exited);
      }
      if (error === null) resolveDone();
      else reject(error);
    };
    for (const worker of workers) {
      worker.on("progress", check);
      worker.on("exit", exited);
    }
    check();
  });
}
