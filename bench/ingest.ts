/**
 * Ingestion over HTTP: `hookline serve` (the built CLI, dist/cli/main.js) as
 * a child process on a fresh SQLite file, driven with
 * `POST /api/v1/app/{app}/msg` (~1 KiB payloads, the invoice of
 * bench/dispatch.ts) from an undici Pool with 32 keep-alive connections and
 * 32 requests in flight, while the service's own workers deliver every
 * message to a receiver in a third process.
 *
 * The receiver is a counting twin of bench/receiver.mjs (same answers: 200
 * "ok" with keep-alive), written below and run with `node -e`: it counts the
 * requests and the distinct `webhook-id`s it gets, so "delivered" is measured
 * where the webhooks land, not where the server says they went.
 *
 * Runs: A the default (`serve` starts its workers in a second process), A1
 * `--processes 1` (API and workers in one process), B `--no-workers`.
 * Reported: accepted messages/s (2xx answers), delivered messages/s (at the
 * receiver) while sending, the backlog when sending stops and how long it
 * takes to drain, API latency p50/p90/p99/max under that load, and the CPU
 * each process used (the machine has two cores for all three). Then the same
 * load once more with `--no-workers`: the ingest-only ceiling; and, as the
 * baseline measured in the same run, a bare fastify route taking the same
 * request and answering the same JSON (no auth, validation or storage). The
 * database's own counts are read after each server stops, as a cross-check.
 *
 * `BENCH_DURATION_MS` (default 5000) is the measured window of each run,
 * after a warm-up of a fifth of it (100 ms … 1 s). `BENCH_INGEST_LOG_LEVEL`
 * sets the server's `--log-level` (default `info`, what `npm start` runs);
 * `BENCH_CPU_PROF=<dir>` runs the server with `--cpu-prof` into that
 * directory. `BENCH_INGEST_SPLIT=1` adds a third run: the API (`--no-workers`)
 * and the workers (`--no-api`) as two processes on the same SQLite file. Needs a current build (`npm run build`).
 *
 * Run alone with `npx tsx bench/ingest.ts`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Pool } from "undici";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatCount,
  formatRatio,
  formatTable,
  quantile,
  type RatioCheck,
} from "./common.js";
import { IN_FLIGHT, newEvent } from "./dispatch.js";

/** Accepted and delivered messages per second the service should sustain on this machine. */
export const TARGET_MESSAGES_PER_SECOND = 5_000;
const EVENT_TYPE = "invoice.paid";
const REQUEST_TIMEOUT_MS = 10_000;
/** A run gives up early after this many failed requests: its figures would mean nothing. */
const MAX_FAILURES = 100;
const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
const DRAIN_POLL_MS = 25;
const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const CLI_PATH = join(ROOT, "dist", "cli", "main.js");

// ---- the counting receiver ----------------------------------------------------

/**
 * bench/receiver.mjs plus counters, as CommonJS for `node -e`. A "stats" line
 * on stdin is answered with "stats <requests> <distinct webhook-ids>". It
 * exits when its stdin closes (a crashed parent leaves nothing behind) or on
 * SIGTERM.
 */
const COUNTING_RECEIVER_SOURCE = `
const { createServer } = require("node:http");
let requests = 0;
const ids = new Set();
const server = createServer((request, response) => {
  request.on("data", () => {});
  request.on("end", () => {
    requests++;
    const id = request.headers["webhook-id"];
    if (typeof id === "string") ids.add(id);
    response.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
    response.end("ok");
  });
});
server.keepAliveTimeout = 60000;
server.headersTimeout = 65000;
let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.setEncoding("utf8");
let pending = "";
process.stdin.on("data", (chunk) => {
  pending += chunk;
  for (let newline = pending.indexOf("\\n"); newline >= 0; newline = pending.indexOf("\\n")) {
    const line = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    if (line === "stats") process.stdout.write("stats " + requests + " " + ids.size + "\\n");
  }
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") process.exit(1);
  process.stdout.write(address.port + "\\n");
});
`;

interface ReceiverCounts {
  requests: number;
  /** Distinct `webhook-id`s: messages delivered at least once. */
  distinct: number;
}

// ---- child processes ----------------------------------------------------------

let clockTicksPerSecond: number | undefined;

/** The kernel's clock ticks per second, the unit of /proc CPU times (usually 100). */
function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/** CPU time (user + system, every thread) of a child process so far, µs; NaN when unreadable. */
function childCpuMicros(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU time of the whole machine so far (every core, every process), µs; NaN when unreadable. */
function machineBusyMicros(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    // cpu user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const busy = ticks.reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
    return (busy * 1_000_000) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

function selfCpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** Resolves once the child has exited, or false after `timeoutMs`. */
async function exitedWithin(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      once(child, "exit").then(() => true),
      new Promise<boolean>((resolveTimeout) => {
        timer = setTimeout(() => resolveTimeout(false), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM (or closing stdin), then SIGKILL if the child lingers. */
async function stopChild(child: ChildProcess, gracefulMs: number, closeStdin = false): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (closeStdin) child.stdin?.end();
  else child.kill("SIGTERM");
  if (await exitedWithin(child, gracefulMs)) return;
  child.kill("SIGKILL");
  await exitedWithin(child, 2_000);
}

/** Kills the child if this process exits first (a crash, Ctrl-C): never leave one behind. */
function killOnExit(child: ChildProcess): void {
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms));

class CountingReceiver {
  readonly port: number;
  readonly child: ChildProcess;
  readonly #lines: AsyncIterator<string>;

  private constructor(child: ChildProcess, port: number, lines: AsyncIterator<string>) {
    this.child = child;
    this.port = port;
    this.#lines = lines;
  }

  static async start(): Promise<CountingReceiver> {
    const child = spawn(process.execPath, ["-e", COUNTING_RECEIVER_SOURCE], { stdio: ["pipe", "pipe", "inherit"] });
    killOnExit(child);
    try {
      if (child.stdout === null) throw new Error("receiver has no stdout");
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const first = await withTimeout(lines.next(), 10_000, "receiver did not report its port");
      const port = Number(first.value);
      if (first.done || !Number.isInteger(port) || port <= 0) throw new Error(`receiver printed ${first.value}`);
      return new CountingReceiver(child, port, lines);
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  }

  async counts(): Promise<ReceiverCounts> {
    this.child.stdin?.write("stats\n");
    const line = await withTimeout(this.#lines.next(), 5_000, "receiver did not report its counts");
    const match = /^stats (\d+) (\d+)$/.exec(line.done ? "" : line.value);
    if (match === null) throw new Error(`receiver answered ${JSON.stringify(line.value)}`);
    return { requests: Number(match[1]), distinct: Number(match[2]) };
  }

  cpuMicros(): number {
    return childCpuMicros(this.child.pid);
  }

  stop(): Promise<void> {
    return stopChild(this.child, 2_000, true);
  }
}

/** A port nobody listens on right now (the server binds it a moment later). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

/** What one `hookline serve` process runs: both halves, the API alone, or the delivery workers alone. */
type ServeRole = "api+workers" | "api+workers, one process" | "api" | "workers";

interface ServerStartOptions {
  db: string;
  role: ServeRole;
  logLevel: string;
  cpuProfDir: string | undefined;
  cpuProfName: string;
}

/** `hookline serve` in a child process: its base URL and admin key (when it runs the API), and its CPU time. */
class ServeProcess {
  readonly url: string;
  readonly adminKey: string;
  readonly child: ChildProcess;
  readonly #output: string[];

  private constructor(child: ChildProcess, url: string, adminKey: string, output: string[]) {
    this.child = child;
    this.url = url;
    this.adminKey = adminKey;
    this.#output = output;
  }

  static async start(options: ServerStartOptions): Promise<ServeProcess> {
    const api = options.role !== "workers";
    const port = api ? await freePort() : 0;
    const nodeArgs =
      options.cpuProfDir === undefined
        ? []
        : ["--cpu-prof", "--cpu-prof-dir", options.cpuProfDir, "--cpu-prof-name", options.cpuProfName];
    const args = [
      ...nodeArgs,
      CLI_PATH,
      "serve",
      "--db",
      options.db,
      "--allow-private",
      "--shutdown-timeout",
      "2000",
      // The bench has one endpoint; the default cap of 10 in flight per endpoint would measure the cap.
      "--per-endpoint",
      "64",
      // One admin key sends everything: the per-key rate limit (1,000/s by default) would measure the limit.
      "--rate-limit",
      "0",
      // A workers-only process logs no requests; at info it says when it runs, which is how we know.
      "--log-level",
      api ? options.logLevel : "info",
      ...(api ? ["--host", "127.0.0.1", "--port", String(port)] : ["--no-api"]),
      ...(options.role === "api" ? ["--no-workers"] : []),
      ...(options.role === "api+workers, one process" ? ["--processes", "1"] : []),
    ];
    // A clean environment for the flags above: no HOOKLINE_* from the caller's shell.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HOOKLINE_")));
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    killOnExit(child);
    // The last lines of output, for the error message should it fail; both pipes are drained throughout.
    const output: string[] = [];
    const keep = (line: string) => {
      output.push(line);
      if (output.length > 20) output.shift();
    };
    if (child.stdout === null || child.stderr === null) throw new Error("serve has no stdout/stderr");
    createInterface({ input: child.stderr }).on("line", keep);
    // The API prints the admin key of a new database; a workers-only process logs that it runs.
    const ready = new Promise<string>((resolveReady, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        keep(line);
        const match = /^admin API key: (hl_\S+)$/.exec(line);
        if (api && match) resolveReady(match[1] as string);
        if (!api && line.includes("delivery workers running")) resolveReady("");
      });
      child.once("exit", (code, signal) => reject(new Error(`hookline serve exited (${code ?? signal}) at start-up`)));
    });
    ready.catch(() => {});
    const url = api ? `http://127.0.0.1:${port}` : "";
    try {
      const key = await withTimeout(
        ready,
        STARTUP_TIMEOUT_MS,
        api ? "hookline serve printed no admin API key" : "hookline serve --no-api did not start its workers",
      );
      const deadline = performance.now() + STARTUP_TIMEOUT_MS;
      while (api) {
        if (child.exitCode !== null) throw new Error(`hookline serve exited (${child.exitCode}) at start-up`);
        const healthy = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(1_000) })
          .then((response) => response.status === 200 || response.status === 204)
          .catch(() => false);
        if (healthy) break;
        if (performance.now() > deadline) throw new Error(`hookline serve did not answer on ${url}`);
        await sleep(50);
      }
      return new ServeProcess(child, url, key, output);
    } catch (error) {
      child.kill("SIGKILL");
      throw new Error(`${(error as Error).message}\n  last output:\n    ${output.join("\n    ")}`, { cause: error });
    }
  }

  cpuMicros(): number {
    return childCpuMicros(this.child.pid);
  }

  lastOutput(): string {
    return this.#output.join("\n");
  }

  /** SIGTERM: the API stops, attempts in flight get 2 s, then the process exits (writing its CPU profile). */
  stop(): Promise<void> {
    return stopChild(this.child, STOP_TIMEOUT_MS);
  }
}

// ---- the load -------------------------------------------------------------------

/** A JSON call to the API that must answer `expected`; the parsed body. */
async function apiCall(
  pool: Pool,
  key: string,
  method: "GET" | "POST",
  path: string,
  body: unknown,
  expected: number[],
): Promise<Record<string, unknown>> {
  const response = await pool.request({
    method,
    path,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  const text = await response.body.text();
  if (!expected.includes(response.statusCode)) {
    throw new Error(`${method} ${path} answered ${response.statusCode}: ${text.slice(0, 200)}`);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

interface LoadTotals {
  accepted: number;
  /** Answered, but not 2xx. */
  rejected: number;
  /** No answer: connection error or timeout. */
  errors: number;
  firstError: string | null;
  latenciesMs: number[];
}

/**
 * Keeps IN_FLIGHT message-create requests outstanding until `durationMs` has
 * passed, then waits for the stragglers. Bounded by the deadline, each
 * request's timeout and MAX_FAILURES.
 */
async function drive(
  pool: Pool,
  path: string,
  key: string,
  nextBody: () => string,
  durationMs: number,
): Promise<LoadTotals> {
  const totals: LoadTotals = { accepted: 0, rejected: 0, errors: 0, firstError: null, latenciesMs: [] };
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const deadline = performance.now() + durationMs;
  const lane = async () => {
    while (performance.now() < deadline && totals.rejected + totals.errors < MAX_FAILURES) {
      const body = nextBody();
      const started = performance.now();
      try {
        const response = await pool.request({
          method: "POST",
          path,
          headers,
          body,
          headersTimeout: REQUEST_TIMEOUT_MS,
          bodyTimeout: REQUEST_TIMEOUT_MS,
        });
        const text = await response.body.text();
        totals.latenciesMs.push(performance.now() - started);
        if (response.statusCode >= 200 && response.statusCode < 300) {
          totals.accepted++;
        } else {
          totals.rejected++;
          totals.firstError ??= `HTTP ${response.statusCode} ${text.slice(0, 120)}`;
        }
      } catch (error) {
        totals.errors++;
        totals.firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return totals;
}

// ---- one run ------------------------------------------------------------------------

/** API latency under load, ms, over the measured window's answered requests. */
export interface LatencyFigures {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Share of one core each process used (1 = one core saturated; the machine's total is its core count). */
export interface CpuShares {
  server: number;
  receiver: number;
  loadGenerator: number;
  /** Everything else on the machine (other benchmarks, tests, the OS): the noise in these figures. */
  others: number;
}

/** The figures of one `hookline serve` run. */
export interface IngestRun {
  label: string;
  /** `together`: one `hookline serve`; `ingest-only`: `--no-workers`; `split`: an API and a workers process. */
  mode: RunMode;
  workers: boolean;
  warmupMs: number;
  measuredMs: number;
  /** 2xx answers in the measured window. */
  accepted: number;
  rejected: number;
  errors: number;
  firstError: string | null;
  acceptedPerSecond: number;
  /** Distinct messages that reached the receiver during the measured window, per second; NaN without workers. */
  deliveredPerSecond: number;
  /** Receiver requests beyond the first per message (at-least-once redeliveries), over the whole run. */
  duplicateRequests: number;
  /** min(accepted/s, delivered/s) while sending: what the service sustains end to end; NaN without workers. */
  acceptedAndDeliveredPerSecond: number;
  /** Every 2xx so far (warm-up included) minus the distinct messages delivered, when sending stopped. */
  backlogAtStop: number;
  /** Time from the end of sending until the receiver had every accepted message; NaN when it did not drain. */
  drainMs: number;
  /** Delivered/s during the drain (sending stopped), NaN without workers or backlog. */
  drainDeliveredPerSecond: number;
  latencyMs: LatencyFigures;
  /** While sending. */
  cpu: CpuShares;
  /** Server CPU time (every serve process) while sending, per message accepted meanwhile, µs. */
  serverCpuMicrosPerAccepted: number;
  /** Server CPU time while draining (no API load), per message delivered meanwhile, µs; NaN below 100 messages. */
  serverCpuMicrosPerDrained: number;
  /** During the drain: the server and the receiver alone. */
  drainCpu: CpuShares | null;
  /** The database's own counts after the server stopped: messages, deliveries by status. */
  stored: { messages: number; deliveries: Record<string, number> } | null;
}

/**
 * How the service runs: `together` — one `hookline serve`, API and workers (what `npm start` runs);
 * `ingest-only` — `--no-workers`; `split` — an API process (`--no-workers`) and a workers process
 * (`--no-api`) on the same SQLite file, so each can have a core.
 */
export type RunMode = "together" | "one-process" | "ingest-only" | "split";

interface RunOptions {
  label: string;
  mode: RunMode;
  warmupMs: number;
  durationMs: number;
  drainTimeoutMs: number;
  logLevel: string;
  cpuProfDir: string | undefined;
}

function latencyFigures(latencies: number[]): LatencyFigures {
  const sorted = Float64Array.from(latencies).sort();
  const values = Array.from(sorted);
  const sum = values.reduce((total, value) => total + value, 0);
  return {
    p50: quantile(values, 0.5),
    p90: quantile(values, 0.9),
    p99: quantile(values, 0.99),
    max: values.length > 0 ? (values[values.length - 1] as number) : Number.NaN,
    mean: values.length > 0 ? sum / values.length : Number.NaN,
  };
}

/** The messages and deliveries the server stored, read from its SQLite file once it has stopped. */
async function storedCounts(db: string): Promise<IngestRun["stored"]> {
  try {
    const { default: Database } = await import("better-sqlite3");
    const connection = new Database(db, { readonly: true, fileMustExist: true });
    try {
      const messages = connection.prepare("SELECT count(*) AS n FROM messages").get() as { n: number };
      const rows = connection.prepare("SELECT status, count(*) AS n FROM deliveries GROUP BY status").all() as {
        status: string;
        n: number;
      }[];
      return { messages: messages.n, deliveries: Object.fromEntries(rows.map((row) => [row.status, row.n])) };
    } finally {
      connection.close();
    }
  } catch {
    return null;
  }
}

interface CpuSample {
  /** Every serve process of the run together. */
  server: number;
  receiver: number;
  self: number;
  machine: number;
}

function cpuSample(servers: readonly { cpuMicros(): number }[], receiver: CountingReceiver): CpuSample {
  return {
    server: servers.reduce((sum, server) => sum + server.cpuMicros(), 0),
    receiver: receiver.cpuMicros(),
    self: selfCpuMicros(),
    machine: machineBusyMicros(),
  };
}

function cpuShares(from: CpuSample, to: CpuSample, elapsedMs: number): CpuShares {
  const share = (micros: number) => micros / (elapsedMs * 1_000);
  const server = share(to.server - from.server);
  const receiver = share(to.receiver - from.receiver);
  const loadGenerator = share(to.self - from.self);
  const machine = share(to.machine - from.machine);
  return { server, receiver, loadGenerator, others: Math.max(0, machine - server - receiver - loadGenerator) };
}

async function runOnce(options: RunOptions, receiver: CountingReceiver, dir: string): Promise<IngestRun> {
  const workers = options.mode !== "ingest-only";
  const db = join(dir, `${options.mode}.db`);
  const servers: ServeProcess[] = [];
  const start = async (role: ServeRole) => {
    const server = await ServeProcess.start({
      db,
      role,
      logLevel: options.logLevel,
      cpuProfDir: options.cpuProfDir,
      cpuProfName: `serve-${options.mode}-${role.replace(/\W+/g, "-")}-${process.pid}.cpuprofile`,
    });
    servers.push(server);
    return server;
  };
  let run: Omit<IngestRun, "stored">;
  try {
    // The API process first: it creates the database (and the admin key) the workers process opens.
    const role: ServeRole =
      options.mode === "together" ? "api+workers" : options.mode === "one-process" ? "api+workers, one process" : "api";
    const server = await start(role);
    if (options.mode === "split") await start("workers");
    run = await measure(options, workers, server, servers, receiver);
  } finally {
    for (const server of servers.reverse()) {
      await server.stop();
      if (server.child.exitCode !== 0 && server.child.signalCode === null) {
        console.error(`hookline serve exited with ${server.child.exitCode}; last output:\n${server.lastOutput()}`);
      }
    }
  }
  // Counted once every serve process has stopped and the file is at rest.
  return { ...run, stored: await storedCounts(db) };
}

/** Drives the load against a started service, drains it and gathers the figures. */
async function measure(
  options: RunOptions,
  workers: boolean,
  server: ServeProcess,
  servers: readonly ServeProcess[],
  receiver: CountingReceiver,
): Promise<Omit<IngestRun, "stored">> {
  const pool = new Pool(server.url, { connections: IN_FLIGHT, pipelining: 1 });
  try {
    const app = await apiCall(pool, server.adminKey, "POST", "/api/v1/app", { name: "ingest bench" }, [200, 201]);
    const appId = String(app.id);
    await apiCall(
      pool,
      server.adminKey,
      "POST",
      `/api/v1/app/${appId}/endpoint`,
      { url: `http://127.0.0.1:${receiver.port}/hook`, description: "counting receiver" },
      [200, 201],
    );
    const path = `/api/v1/app/${appId}/msg`;
    const template = newEvent(0).payload as Record<string, unknown>;
    let sequence = 0;
    const nextBody = () =>
      JSON.stringify({ eventType: EVENT_TYPE, payload: { ...template, id: `in_${options.label}_${sequence++}` } });

    const receivedBefore = await receiver.counts();
    // Warm-up: opens the connections and lets both JITs settle; its messages are delivered too.
    const warmup = await drive(pool, path, server.adminKey, nextBody, options.warmupMs);
    if (warmup.accepted === 0) throw new Error(`every warm-up request failed: ${warmup.firstError}`);

    const receivedAtStart = await receiver.counts();
    const cpuAtStart = cpuSample(servers, receiver);
    const started = performance.now();
    const load = await drive(pool, path, server.adminKey, nextBody, options.durationMs);
    const stoppedAt = performance.now();
    const receivedAtStop = await receiver.counts();
    const cpuAtStop = cpuSample(servers, receiver);
    const measuredMs = stoppedAt - started;

    const acceptedTotal = warmup.accepted + load.accepted;
    const deliveredSoFar = (counts: ReceiverCounts) => counts.distinct - receivedBefore.distinct;
    const backlogAtStop = acceptedTotal - deliveredSoFar(receivedAtStop);
    let drainMs = Number.NaN;
    let receivedAtEnd = receivedAtStop;
    if (workers) {
      // Poll until the receiver has every accepted message, bounded by the drain timeout.
      const drainDeadline = stoppedAt + options.drainTimeoutMs;
      while (deliveredSoFar(receivedAtEnd) < acceptedTotal && performance.now() < drainDeadline) {
        await sleep(DRAIN_POLL_MS);
        receivedAtEnd = await receiver.counts();
      }
      if (deliveredSoFar(receivedAtEnd) >= acceptedTotal) drainMs = performance.now() - stoppedAt;
    }
    const drainedAt = performance.now();
    const cpuAtEnd = cpuSample(servers, receiver);

    const acceptedPerSecond = (load.accepted * 1_000) / measuredMs;
    const deliveredPerSecond = workers
      ? ((receivedAtStop.distinct - receivedAtStart.distinct) * 1_000) / measuredMs
      : Number.NaN;
    const drainDelivered = receivedAtEnd.distinct - receivedAtStop.distinct;
    const drainElapsedMs = drainedAt - stoppedAt;
    return {
      label: options.label,
      mode: options.mode,
      workers,
      warmupMs: options.warmupMs,
      measuredMs,
      accepted: load.accepted,
      rejected: load.rejected + warmup.rejected,
      errors: load.errors + warmup.errors,
      firstError: warmup.firstError ?? load.firstError,
      acceptedPerSecond,
      deliveredPerSecond,
      duplicateRequests:
        receivedAtEnd.requests - receivedBefore.requests - (receivedAtEnd.distinct - receivedBefore.distinct),
      acceptedAndDeliveredPerSecond: workers ? Math.min(acceptedPerSecond, deliveredPerSecond) : Number.NaN,
      backlogAtStop,
      drainMs,
      drainDeliveredPerSecond: workers && drainDelivered > 0 ? (drainDelivered * 1_000) / drainElapsedMs : Number.NaN,
      latencyMs: latencyFigures(load.latenciesMs),
      cpu: cpuShares(cpuAtStart, cpuAtStop, measuredMs),
      serverCpuMicrosPerAccepted: (cpuAtStop.server - cpuAtStart.server) / load.accepted,
      serverCpuMicrosPerDrained:
        drainDelivered >= 100 ? (cpuAtEnd.server - cpuAtStop.server) / drainDelivered : Number.NaN,
      drainCpu: workers && drainElapsedMs > 1 ? cpuShares(cpuAtStop, cpuAtEnd, drainElapsedMs) : null,
    };
  } finally {
    await pool.close();
  }
}

// ---- the baseline ---------------------------------------------------------------------------

/**
 * The HTTP framework alone, as CommonJS for `node -e` (run from the project
 * root, so `fastify` resolves): the same route, request and JSON answer as
 * message create, without auth, validation or storage. It prints its port,
 * and exits when its stdin closes or on SIGTERM.
 */
const BARE_FASTIFY_SOURCE = `
const app = require("fastify")({ logger: false });
let sequence = 0;
app.post("/api/v1/app/:app_id/msg", async (request, reply) => {
  reply.code(202);
  const body = request.body;
  return {
    id: "msg_" + (++sequence).toString(36).padStart(26, "0"),
    eventId: null,
    eventType: body.eventType,
    payload: body.payload,
    channels: null,
    tags: null,
    timestamp: new Date().toISOString(),
  };
});
const stop = () => app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.resume();
app.listen({ host: "127.0.0.1", port: 0 }).then(() => process.stdout.write(app.server.address().port + "\\n"));
`;

/** What the bare framework reaches under the same load. */
export interface BaselineRun {
  label: string;
  acceptedPerSecond: number;
  accepted: number;
  failed: number;
  firstError: string | null;
  latencyMs: LatencyFigures;
  cpu: CpuShares;
  /** The framework process's CPU time per answered request, µs. */
  serverCpuMicrosPerAccepted: number;
}

async function runBareFastify(warmupMs: number, durationMs: number, receiver: CountingReceiver): Promise<BaselineRun> {
  const child = spawn(process.execPath, ["-e", BARE_FASTIFY_SOURCE], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  killOnExit(child);
  try {
    if (child.stdout === null) throw new Error("bare fastify has no stdout");
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await withTimeout(lines.next(), STARTUP_TIMEOUT_MS, "bare fastify did not report its port");
    const port = Number(first.value);
    if (first.done || !Number.isInteger(port) || port <= 0) throw new Error(`bare fastify printed ${first.value}`);
    const processes = [{ cpuMicros: () => childCpuMicros(child.pid) }];
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: IN_FLIGHT, pipelining: 1 });
    try {
      const template = newEvent(0).payload as Record<string, unknown>;
      let sequence = 0;
      const nextBody = () =>
        JSON.stringify({ eventType: EVENT_TYPE, payload: { ...template, id: `in_bare_${sequence++}` } });
      const path = "/api/v1/app/app_bench/msg";
      const warmup = await drive(pool, path, "none", nextBody, warmupMs);
      if (warmup.accepted === 0) throw new Error(`every warm-up request failed: ${warmup.firstError}`);
      const before = cpuSample(processes, receiver);
      const started = performance.now();
      const load = await drive(pool, path, "none", nextBody, durationMs);
      const measuredMs = performance.now() - started;
      const after = cpuSample(processes, receiver);
      return {
        label: "Z bare fastify route (baseline)",
        acceptedPerSecond: (load.accepted * 1_000) / measuredMs,
        accepted: load.accepted,
        failed: warmup.rejected + warmup.errors + load.rejected + load.errors,
        firstError: warmup.firstError ?? load.firstError,
        latencyMs: latencyFigures(load.latenciesMs),
        cpu: cpuShares(before, after, measuredMs),
        serverCpuMicrosPerAccepted: (after.server - before.server) / load.accepted,
      };
    } finally {
      await pool.close();
    }
  } finally {
    await stopChild(child, 2_000, true);
  }
}

// ---- the benchmark ------------------------------------------------------------------------

/** What `main` hands back: both runs, the headline figures and the check against the target. */
export interface IngestSummary extends BenchReport {
  targetMessagesPerSecond: number;
  /** With the service's workers delivering to the receiver. */
  withWorkers: IngestRun;
  /** `--no-workers`: the API alone, every message left queued. */
  ingestOnly: IngestRun;
  /** `--processes 1`: the API and the workers sharing one process, as before the default split. */
  oneProcess: IngestRun;
  /** min(accepted/s, delivered/s) with workers, the headline figure. */
  acceptedAndDeliveredPerSecond: number;
  /** acceptedAndDeliveredPerSecond / target. */
  ratioToTarget: number;
  /** Accepted/s with workers / accepted/s without: what delivering costs the API on shared cores. */
  acceptedWithWorkersToIngestOnly: number;
  /** Ingest-only accepted/s / target: the ceiling the API alone reaches. */
  ingestOnlyRatioToTarget: number;
  /** API p99 latency under the load with workers, ms. */
  p99LatencyMs: number;
  /**
   * Server CPU per message over its whole life, µs: ingest (B, per accepted) plus delivery (A1's
   * drain, per delivered). Steadier than rates when other processes share the machine.
   */
  serverCpuMicrosPerMessage: number;
  /** 1 s / serverCpuMicrosPerMessage: accepted-and-delivered msg/s with one core to the server alone. */
  projectedPerServerCore: number;
  /** The HTTP framework alone under the same load: the same route and JSON, no auth, validation or storage. */
  bareFastify: BaselineRun;
  /** Ingest-only accepted/s / the bare framework's: the share of the framework's rate the API keeps. */
  ingestOnlyToBareFastify: number;
  /** With BENCH_INGEST_SPLIT=1: the API and the workers in two processes on the same file. */
  split?: IngestRun;
}

function distIsStale(): string | null {
  if (!existsSync(CLI_PATH)) return `${CLI_PATH} is missing: run \`npm run build\` first`;
  return null;
}

/** The newest .ts under src/ is newer than the build: the child would run old code. */
async function staleBuildWarning(): Promise<string | null> {
  const built = statSync(CLI_PATH).mtimeMs;
  const files = (await readdir(join(ROOT, "src"), { recursive: true })).filter((file) => file.endsWith(".ts"));
  const newer = files.filter((file) => statSync(join(ROOT, "src", file)).mtimeMs > built);
  return newer.length === 0 ? null : `src/ has ${newer.length} file(s) newer than dist/ (e.g. src/${newer[0]})`;
}

const oneDecimal = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : "n/a");
const percent = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100)}%` : "n/a");

function printRuns(runs: readonly IngestRun[], baseline: BaselineRun): void {
  const baselineNa = "n/a";
  console.log(
    formatTable(
      [
        "run",
        "accepted/s",
        "delivered/s",
        "acc+dlv/s",
        "accepted",
        "failed",
        "backlog at stop",
        "drain ms",
        "drain dlv/s",
      ],
      runs
        .map((run) => [
          run.label,
          formatCount(run.acceptedPerSecond),
          formatCount(run.deliveredPerSecond),
          formatCount(run.acceptedAndDeliveredPerSecond),
          formatCount(run.accepted),
          formatCount(run.rejected + run.errors),
          formatCount(run.backlogAtStop),
          run.workers
            ? Number.isFinite(run.drainMs)
              ? formatCount(run.drainMs)
              : "DID NOT DRAIN"
            : "n/a (no workers)",
          formatCount(run.drainDeliveredPerSecond),
        ])
        .concat([
          [
            baseline.label,
            formatCount(baseline.acceptedPerSecond),
            baselineNa,
            baselineNa,
            formatCount(baseline.accepted),
            formatCount(baseline.failed),
            baselineNa,
            baselineNa,
            baselineNa,
          ],
        ]),
    ),
  );
  console.log("");
  console.log(
    formatTable(
      [
        "run",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "mean ms",
        "server CPU",
        "receiver CPU",
        "load gen CPU",
        "others CPU",
        "server µs/accepted",
      ],
      [...runs, baseline].map((run) => [
        run.label,
        oneDecimal(run.latencyMs.p50),
        oneDecimal(run.latencyMs.p90),
        oneDecimal(run.latencyMs.p99),
        oneDecimal(run.latencyMs.max),
        oneDecimal(run.latencyMs.mean),
        percent(run.cpu.server),
        percent(run.cpu.receiver),
        percent(run.cpu.loadGenerator),
        percent(run.cpu.others),
        oneDecimal(run.serverCpuMicrosPerAccepted),
      ]),
    ),
  );
  for (const run of runs) {
    if (run.drainCpu !== null) {
      console.log(
        `\n${run.label}, while draining: server CPU ${percent(run.drainCpu.server)},` +
          ` receiver CPU ${percent(run.drainCpu.receiver)}, others ${percent(run.drainCpu.others)};` +
          ` server ${oneDecimal(run.serverCpuMicrosPerDrained)} µs per delivered message` +
          (run.duplicateRequests > 0 ? `; ${formatCount(run.duplicateRequests)} duplicate deliveries` : ""),
      );
    }
    if (run.stored !== null) {
      const deliveries = Object.entries(run.stored.deliveries)
        .map(([status, count]) => `${status} ${formatCount(count)}`)
        .join(", ");
      console.log(
        `${run.label}, stored after stop: ${formatCount(run.stored.messages)} messages; deliveries: ${deliveries || "none"}`,
      );
    }
  }
}

/**
 * Runs the ingestion benchmark: with workers, then `--no-workers`; prints
 * the tables and returns the figures and the check against the target.
 */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<IngestSummary> {
  const durationMs = options.durationMs;
  const warmupMs = Math.min(1_000, Math.max(100, Math.round(durationMs / 5)));
  const drainTimeoutMs = Math.min(180_000, Math.max(10_000, durationMs * 20));
  const logLevel = process.env.BENCH_INGEST_LOG_LEVEL || "info";
  const split = process.env.BENCH_INGEST_SPLIT === "1";
  const cpuProfDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
  const missing = distIsStale();
  if (missing !== null) throw new Error(missing);
  const stale = await staleBuildWarning();
  const bodyBytes = Buffer.byteLength(JSON.stringify({ eventType: EVENT_TYPE, payload: newEvent(0).payload }));

  console.log(
    `\n## Ingestion — hookline serve (SQLite, --log-level ${logLevel}), POST /api/v1/app/{app}/msg,` +
      ` ${bodyBytes} B bodies, undici Pool ${IN_FLIGHT} connections × ${IN_FLIGHT} in flight,` +
      ` ${warmupMs} ms warm-up + ${durationMs} ms measured; workers deliver to a counting receiver in another process\n`,
  );
  if (stale !== null) console.log(`WARNING: ${stale}; run \`npm run build\` for current figures\n`);

  const dir = await mkdtemp(join(tmpdir(), "hookline-ingest-"));
  const runs: IngestRun[] = [];
  let baseline: BaselineRun | undefined;
  let receiver: CountingReceiver | undefined;
  try {
    receiver = await CountingReceiver.start();
    const common = { warmupMs, durationMs, drainTimeoutMs, logLevel, cpuProfDir };
    runs.push(await runOnce({ ...common, label: "A serve (API + workers process)", mode: "together" }, receiver, dir));
    runs.push(await runOnce({ ...common, label: "B serve --no-workers", mode: "ingest-only" }, receiver, dir));
    runs.push(await runOnce({ ...common, label: "A1 serve --processes 1", mode: "one-process" }, receiver, dir));
    if (split) {
      runs.push(
        await runOnce({ ...common, label: "C --no-workers + --no-api (2 processes)", mode: "split" }, receiver, dir),
      );
    }
    baseline = await runBareFastify(warmupMs, durationMs, receiver);
  } finally {
    await receiver?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const [withWorkers, ingestOnly, oneProcess, splitRun] = runs as [
    IngestRun,
    IngestRun,
    IngestRun,
    IngestRun | undefined,
  ];

  printRuns(runs, baseline);
  const failed = runs.reduce((sum, run) => sum + run.rejected + run.errors, baseline.failed);
  if (failed > 0) {
    const reason = [...runs, baseline].find((run) => run.firstError !== null)?.firstError;
    throw new Error(`${failed} requests failed (first: ${reason}); the ingestion figures are not valid`);
  }

  const acceptedAndDeliveredPerSecond = withWorkers.acceptedAndDeliveredPerSecond;
  const ratioToTarget = acceptedAndDeliveredPerSecond / TARGET_MESSAGES_PER_SECOND;
  const summary: IngestSummary = {
    targetMessagesPerSecond: TARGET_MESSAGES_PER_SECOND,
    withWorkers,
    ingestOnly,
    acceptedAndDeliveredPerSecond,
    ratioToTarget,
    acceptedWithWorkersToIngestOnly: withWorkers.acceptedPerSecond / ingestOnly.acceptedPerSecond,
    ingestOnlyRatioToTarget: ingestOnly.acceptedPerSecond / TARGET_MESSAGES_PER_SECOND,
    p99LatencyMs: withWorkers.latencyMs.p99,
    serverCpuMicrosPerMessage: ingestOnly.serverCpuMicrosPerAccepted + oneProcess.serverCpuMicrosPerDrained,
    projectedPerServerCore: 1_000_000 / (ingestOnly.serverCpuMicrosPerAccepted + oneProcess.serverCpuMicrosPerDrained),
    oneProcess,
    bareFastify: baseline,
    ingestOnlyToBareFastify: ingestOnly.acceptedPerSecond / baseline.acceptedPerSecond,
    ...(splitRun !== undefined && { split: splitRun }),
    checks: [],
  };
  const check: RatioCheck = {
    name: `ingest accepted+delivered msg/s / ${formatCount(TARGET_MESSAGES_PER_SECOND)}`,
    ratio: ratioToTarget,
    target: 1,
  };
  summary.checks.push(check);
  console.log(
    `\naccepted and delivered: ${formatCount(acceptedAndDeliveredPerSecond)} msg/s` +
      ` → ${formatRatio(ratioToTarget)} of the ${formatCount(TARGET_MESSAGES_PER_SECOND)}/s target;` +
      ` API p99 ${oneDecimal(summary.p99LatencyMs)} ms under that load.` +
      `\ningest-only ceiling (--no-workers): ${formatCount(ingestOnly.acceptedPerSecond)} msg/s` +
      ` → ${formatRatio(summary.ingestOnlyRatioToTarget)} of the target;` +
      ` with workers the API accepts ${formatRatio(summary.acceptedWithWorkersToIngestOnly)} of that.` +
      `\nthe workers in their own process (the default) against one process: ` +
      `${formatRatio(acceptedAndDeliveredPerSecond / oneProcess.acceptedAndDeliveredPerSecond)}` +
      ` (${formatCount(oneProcess.acceptedAndDeliveredPerSecond)} msg/s and p99 ${oneDecimal(oneProcess.latencyMs.p99)} ms with --processes 1).` +
      `\nserver CPU per message: ingest ${oneDecimal(ingestOnly.serverCpuMicrosPerAccepted)} µs (B),` +
      ` delivery ${oneDecimal(oneProcess.serverCpuMicrosPerDrained)} µs (A1, draining)` +
      ` → one core to itself would sustain ~${formatCount(summary.projectedPerServerCore)} accepted-and-delivered msg/s` +
      ` (${formatRatio(summary.projectedPerServerCore / TARGET_MESSAGES_PER_SECOND)} of the target).` +
      `\nbaseline: a bare fastify route under the same load answers ${formatCount(baseline.acceptedPerSecond)} req/s;` +
      ` the ingest-only API reaches ${formatRatio(summary.ingestOnlyToBareFastify)} of it` +
      ` (server CPU per request: ${oneDecimal(baseline.serverCpuMicrosPerAccepted)} µs bare,` +
      ` ${oneDecimal(ingestOnly.serverCpuMicrosPerAccepted)} µs hookline).`,
  );
  if (splitRun !== undefined) {
    console.log(
      `split into two processes (BENCH_INGEST_SPLIT=1): ${formatCount(splitRun.acceptedAndDeliveredPerSecond)} msg/s` +
        ` accepted and delivered → ${formatRatio(splitRun.acceptedAndDeliveredPerSecond / TARGET_MESSAGES_PER_SECOND)}` +
        ` of the target; API p99 ${oneDecimal(splitRun.latencyMs.p99)} ms.`,
    );
  }
  if (cpuProfDir !== undefined) console.log(`server CPU profiles written to ${cpuProfDir}`);
  return summary;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
